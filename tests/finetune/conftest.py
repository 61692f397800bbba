"""Fixtures of the fine-tuning tests: one tiny georeferenced scene, its tiles, and one tiny training run.

SAM 2 encodes every tile at 1024 x 1024 whatever its size (about 6 s of CPU for Hiera-T), so the data
set has two 64-pixel tiles (one per split) and every test shares them; the run trains a few decoder
steps. Embeddings land in the shared disk cache, so later runs of the suite do not encode again.
"""

import pytest

from helpers.data import write_synthetic_geotiff

ROOF = (215, 205, 190)  # one roof colour: the validation tile looks like the training tile
# pixel XYXY rectangles (x1/y1 exclusive): three buildings in each 64-pixel half of a 64 x 128 scene
BUILDINGS = [(4, 4, 22, 26), (32, 6, 58, 20), (10, 36, 44, 58), (68, 8, 92, 30), (100, 10, 124, 28), (74, 38, 118, 58)]


def write_tiny_scene(folder):
    """(image, labels) GeoTIFF paths (EPSG:32618, 0.5 m) of six bright roofs on grass."""
    labels = folder / "labels.tif"
    objects = [{"box": box, "value": ROOF} for box in BUILDINGS]
    image = write_synthetic_geotiff(folder / "scene.tif", "buildings", size=(64, 128), seed=0, objects=objects,
                                    labels_path=labels)
    return image, labels


@pytest.fixture(scope="session")
def tiny_scene(tmp_path_factory):
    return write_tiny_scene(tmp_path_factory.mktemp("finetune_scene"))


@pytest.fixture(scope="session")
def tiny_dataset(tiny_scene):
    from helpers.finetune import build_finetune_dataset

    image, labels = tiny_scene
    return build_finetune_dataset(image, labels, tile_size=64, block_size=64, val_fraction=0.5, min_instance_px=8)


TINY_SETTINGS = dict(epochs=2, lr=1e-3, objects_per_step=3, box_probability=0.0, max_points=1,
                     eval_prompts=("point",), select_by="loss", seed=0)


@pytest.fixture(scope="session")
def tiny_settings():
    """The tiny run's settings (a test repeating the run uses the same)."""
    return dict(TINY_SETTINGS)


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset, tmp_path_factory):
    """A finished tiny run (single clicks: SAM 2's multimask path) and the starting weights' path."""
    import helpers
    from helpers.finetune import finetune_sam2

    out = tmp_path_factory.mktemp("finetune_run")
    result = finetune_sam2(tiny_dataset, out, device="cpu", progress=False, **TINY_SETTINGS)
    return result, helpers.ensure_smoke_weights("sam2.1_hiera_t")
