"""The fine-tuning data set: tiles, connected-component objects, leak-free splits, manifest, labels in any form."""

import hashlib
import json

import numpy as np
import pytest
import rasterio
from scipy import ndimage

from helpers.data import write_synthetic_geotiff
from helpers.errors import UserInputError
from helpers.finetune import TileDataset, build_finetune_dataset, instance_labels


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A 192 x 192 synthetic buildings GeoTIFF (EPSG:32618) with its uint32 label raster."""
    folder = tmp_path_factory.mktemp("ft_dataset")
    labels = folder / "labels.tif"
    image = write_synthetic_geotiff(folder / "scene.tif", "buildings", size=(192, 192), seed=3, labels_path=labels)
    return image, labels


def test_instance_labels_are_connected_components_of_each_label():
    labels = np.zeros((20, 20), np.int32)
    labels[2:6, 2:6] = 7
    labels[2:6, 6:10] = 8  # touches 7: another object
    labels[12:18, 2:4] = 7  # the same id elsewhere: a separate component
    labels[15:16, 15:16] = 9  # one pixel: below min_instance_px
    found = instance_labels(labels, min_instance_px=2)
    assert found.dtype == np.uint32 and found.max() == 3
    assert len(np.unique(found[2:6, 2:6])) == 1 and found[2, 2] != found[2, 6]
    assert found[15, 15] == 0
    binary = labels > 0
    expected, n = ndimage.label(binary & (labels != 9))
    # for a bool mask: scipy's 4-connected components, up to numbering
    assert instance_labels(binary & (labels != 9), 1).max() == n == 2
    assert ((instance_labels(binary & (labels != 9), 1) > 0) == (expected > 0)).all()


def test_tiles_manifest_and_objects(scene):
    image, labels = scene
    ds = build_finetune_dataset(image, labels, tile_size=64, overlap=16, max_empty=0.99, block_size=96, seed=1,
                                min_instance_px=10)
    manifest = ds.manifest
    with rasterio.open(image) as src, rasterio.open(labels) as lab:
        transform, crs = src.transform, src.crs
        rgb = np.moveaxis(src.read(), 0, -1)
        reference = lab.read(1)
    assert manifest["inputs"][0]["sha256"] == hashlib.sha256(image.read_bytes()).hexdigest()
    assert manifest["inputs"][1]["sha256"] == hashlib.sha256(labels.read_bytes()).hexdigest()
    assert len(manifest["tiles"]) == len(ds.tiles) == manifest["counts"]["train"] + manifest["counts"]["val"]
    for entry, tile in zip(manifest["tiles"], ds.tiles, strict=True):
        col, row, width, height = entry["window"]
        assert entry["crs"] == crs.to_string() == "EPSG:32618"
        left, top = transform @ (col, row)
        right, bottom = transform @ (col + width, row + height)
        assert np.allclose(entry["bounds"], (left, bottom, right, top))
        assert (tile.image == rgb[row : row + height, col : col + width]).all()
        # objects: the label raster's connected parts inside the tile, small ones dropped
        assert (tile.instances == instance_labels(reference[row : row + height, col : col + width], 10)).all()
        assert tile.n_instances == entry["n_instances"] >= 1
        assert tile.masks().shape == (tile.n_instances, height, width)
    # the same settings and seed give the same data set
    again = build_finetune_dataset(image, labels, tile_size=64, overlap=16, max_empty=0.99, block_size=96, seed=1,
                                   min_instance_px=10)
    assert again.fingerprint == ds.fingerprint


def test_block_split_never_shares_pixels_or_blocks(scene):
    image, labels = scene
    ds = build_finetune_dataset(image, labels, tile_size=64, overlap=32, max_empty=0.99, block_size=64, seed=0,
                                min_instance_px=4, val_fraction=0.3)
    assert ds.train and ds.val
    val_blocks = {t.block for t in ds.val}
    assert not val_blocks & {t.block for t in ds.train}  # every block wholly on one side
    for train in ds.train:
        c, r, w, h = train.window
        for val in ds.val:
            vc, vr, vw, vh = val.window
            assert c + w <= vc or vc + vw <= c or r + h <= vr or vr + vh <= r, "a training tile overlaps validation"
    assert ds.manifest["counts"]["dropped_overlap"] > 0  # with 50 % overlap some had to go


def test_max_empty_drops_mostly_empty_tiles(scene):
    image, labels = scene
    loose = build_finetune_dataset(image, labels, tile_size=64, max_empty=1.0, block_size=64, min_instance_px=4)
    strict = build_finetune_dataset(image, labels, tile_size=64, max_empty=0.8, block_size=64, min_instance_px=4)
    assert len(strict.tiles) < len(loose.tiles)
    assert all((t.instances == 0).mean() <= 0.8 for t in strict.tiles)


def test_vector_labels_in_another_crs_give_the_same_objects(scene, tmp_path):
    import geopandas as gpd

    from helpers.vectorize import vectorize_raster

    image, labels = scene
    polygons = vectorize_raster(labels, progress=False).to_crs("EPSG:4326")  # reprojected footprints
    vector = tmp_path / "footprints.geojson"
    polygons.to_file(vector)
    from_raster = build_finetune_dataset(image, labels, tile_size=64, max_empty=1.0, block_size=64, min_instance_px=4)
    from_vector = build_finetune_dataset(image, gpd.read_file(vector), tile_size=64, max_empty=1.0, block_size=64,
                                         min_instance_px=4)
    assert [t.window for t in from_vector.tiles] == [t.window for t in from_raster.tiles]
    for a, b in zip(from_vector.tiles, from_raster.tiles, strict=True):
        assert (a.instances == b.instances).mean() > 0.995  # only pixels cut by a reprojected edge may differ
        assert a.n_instances == b.n_instances


def test_scene_split_keeps_whole_scenes_apart(scene, tmp_path):
    image, labels = scene
    other_labels = tmp_path / "other_labels.tif"
    other = write_synthetic_geotiff(tmp_path / "other.tif", "buildings", size=(128, 128), seed=4,
                                    labels_path=other_labels)
    ds = build_finetune_dataset([image, other], [labels, other_labels], tile_size=64, max_empty=1.0,
                                split="scene", val_scenes=[1], min_instance_px=4)
    assert {t.scene for t in ds.val} == {1} and {t.scene for t in ds.train} == {0}
    with pytest.raises(UserInputError, match="at least two scenes"):
        build_finetune_dataset(image, labels, tile_size=64, split="scene")


@pytest.mark.parametrize("kwargs, message", [
    ({"split": "random"}, "never random tiles"),
    ({"max_empty": 1.5}, "max_empty"),
    ({"val_fraction": 0.0}, "val_fraction"),
    ({"tile_size": 16}, "at least 32"),
    ({"block_size": 1000}, "one 1000-px block"),
])
def test_bad_settings_are_one_line_errors(scene, kwargs, message):
    image, labels = scene
    settings = {"tile_size": 64, "max_empty": 1.0, "min_instance_px": 4, **kwargs}
    with pytest.raises(UserInputError, match=message) as info:
        build_finetune_dataset(image, labels, **settings)
    assert "\n" not in str(info.value)


def test_save_and_load_round_trip(scene, tmp_path):
    image, labels = scene
    ds = build_finetune_dataset(image, labels, tile_size=64, max_empty=1.0, block_size=64, min_instance_px=4)
    ds.save(tmp_path / "ds")
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["tiles"][0]["sha256"] == ds.manifest["tiles"][0]["sha256"]
    loaded = TileDataset.load(tmp_path / "ds")
    assert loaded.fingerprint == ds.fingerprint
    for a, b in zip(loaded.tiles, ds.tiles, strict=True):
        assert (a.image == b.image).all() and (a.instances == b.instances).all()
        assert a.split == b.split and a.transform == b.transform and a.crs == b.crs
