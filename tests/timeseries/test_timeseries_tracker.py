"""Tracking with SAM 2's video predictor: equal to sam2's own predictor, georeferenced outputs, alignment,
prompts on later dates, several objects (helpers.timeseries.tracker). Smoke weights: masks are meaningless,
the plumbing is what is checked."""

import warnings

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import torch
from PIL import Image

from helpers.errors import UserInputError
from helpers.prompts import to_map_points
from helpers.timeseries import ObjectPrompt, load_tracker, open_stack


def official_predictor(smoke_weights, image_size):
    """sam2's own video predictor, built by sam2's own builder, at the tests' image size."""
    from sam2.build_sam import build_sam2_video_predictor

    from helpers.backends.sam2 import _sam2_configs
    from helpers.registry import get_spec

    with _sam2_configs():
        return build_sam2_video_predictor(
            get_spec("sam2.1_hiera_t").arch, ckpt_path=str(smoke_weights("sam2.1_hiera_t")), device="cpu",
            hydra_overrides_extra=[f"++model.image_size={image_size}"],
        )


def jpeg_stack(folder, frames):
    """A JPEG folder for sam2's loader and GeoTIFFs of the very pixels it decodes (so both see one video)."""
    from affine import Affine

    (folder / "jpeg").mkdir(parents=True)
    (folder / "tif").mkdir()
    for t, image in enumerate(frames):
        Image.fromarray(image).save(folder / "jpeg" / f"{t:05d}.jpg", quality=90)
        decoded = np.asarray(Image.open(folder / "jpeg" / f"{t:05d}.jpg").convert("RGB"))
        with rasterio.open(folder / "tif" / f"frame_{2015 + t}.tif", "w", driver="GTiff", width=decoded.shape[1],
                           height=decoded.shape[0], count=3, dtype="uint8", crs="EPSG:32614",
                           transform=Affine(10, 0, 480000, 0, -10, 5200000)) as dst:
            dst.write(np.moveaxis(decoded, -1, 0))
    return folder / "jpeg", folder / "tif"


def test_masks_equal_sam2s_own_video_predictor(tmp_path, smoke_tracker, smoke_weights, frame_painter):
    jpeg, tifs = jpeg_stack(tmp_path, frame_painter(3))
    stack = open_stack(tifs)
    click, background, box = [(30.0, 28.0)], [(60.0, 10.0)], (70.0, 48.0, 112.0, 82.0)
    ours = smoke_tracker.track(stack, [
        ObjectPrompt(1, points=click + background, labels=[1, 0], date=1),
        ObjectPrompt(2, box=box, date=1),
    ], progress=False)

    official = official_predictor(smoke_weights, smoke_tracker.image_size)
    expected = np.zeros_like(ours.masks)
    presence = np.zeros(ours.scores.shape, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sam2 warns on every frame that it skips hole filling on a CPU
        state = official.init_state(str(jpeg))
        official.add_new_points_or_box(state, frame_idx=1, obj_id=1, points=click + background, labels=[1, 0])
        official.add_new_points_or_box(state, frame_idx=1, obj_id=2, box=box)
        for reverse in (False, True):
            for frame, ids, logits in official.propagate_in_video(state, start_frame_idx=1, reverse=reverse):
                for k, object_id in enumerate(ids):
                    expected[frame, object_id - 1] = (logits[k, 0] > 0.0).numpy()
                    outputs = state["output_dict_per_obj"][k]
                    out = outputs["cond_frame_outputs"].get(frame) or outputs["non_cond_frame_outputs"][frame]
                    presence[frame, object_id - 1] = torch.sigmoid(out["object_score_logits"]).item()

    assert ours.object_ids == [1, 2] and ours.masks.shape == (3, 2, 96, 128)
    assert expected.any(axis=(2, 3)).all()  # the comparison is not between empty masks
    np.testing.assert_array_equal(ours.masks, expected)
    np.testing.assert_allclose(ours.scores, presence, rtol=0, atol=1e-6)
    assert ours.extra["frames_processed"] == 4  # forward 1, 2; backward 1, 0


def test_a_shifted_stack_tracks_two_objects_prompted_on_different_dates(tmp_path, smoke_tracker, stack_writer):
    stack_writer(tmp_path / "dates", shifts=[(0, 0), (4.0, -3.0), (0, 0)], variant="multiband16")
    stack = open_stack(tmp_path / "dates", bands="red,green,blue", quiet=True)
    assert stack.reprojected == [1]
    lonlat = to_map_points([(100.0, 70.0)], stack.grid.scene(), crs="EPSG:4326")
    result = smoke_tracker.track(stack, [
        ObjectPrompt(7, points=[(32.0, 32.0)]),
        ObjectPrompt(3, points=lonlat, crs="EPSG:4326", date="2021-07-02"),  # the last date only
    ], progress=False)
    assert result.object_ids == [3, 7] and result.prompt_frames == {3: [2], 7: [0]}
    assert result.extra["groups"] == {0: [7], 2: [3]}  # one propagation per first prompt date
    assert result.labels == stack.labels and result.smoke
    assert result.crs == stack.crs and result.transform == stack.transform
    assert np.isfinite(result.scores).all() and ((0 <= result.scores) & (result.scores <= 1)).all()
    for t in range(len(stack)):
        valid = stack[t].valid
        assert not result.masks[t][:, ~valid].any()  # never on nodata

    written = result.write(tmp_path / "out")
    assert [p.name for p in written["labels"]] == [f"labels_{label}.tif" for label in stack.labels]
    for t, path in enumerate(written["labels"]):
        with rasterio.open(path) as ds:
            assert (ds.crs, ds.transform, ds.shape) == (stack.crs, stack.transform, stack.shape)
            assert ds.dtypes[0] == "uint32" and ds.nodata == 0 and ds.tags()["date"] == stack.labels[t]
            np.testing.assert_array_equal(ds.read(1), result.label_raster(t))
            assert set(np.unique(ds.read(1))) <= {0, 3, 7}
    layer = gpd.read_file(written["vector"])
    assert layer.crs == stack.crs
    assert sorted(layer["date"].astype(str).str[:10].unique()) == sorted(
        label for t, label in enumerate(stack.labels) if result.masks[t].any())
    table = result.areas()
    assert len(table) == 6 and (table["area_m2"] == table["area_px"] * 100.0).all()  # 10 m pixels, UTM


def test_only_families_with_a_video_predictor_track():
    with pytest.raises(UserInputError, match="sam_vit_b cannot track .*sam2.1_hiera_t") as info:
        load_tracker("sam_vit_b")
    assert "\n" not in str(info.value)
    with pytest.raises(UserInputError, match="image_size must be a multiple of 32"):
        load_tracker("sam2.1_hiera_t", image_size=100)
    with pytest.raises(UserInputError, match="unknown option.*valid: image_size"):
        load_tracker("sam2.1_hiera_t", colour=True)
    with pytest.raises(UserInputError, match="half=True needs a CUDA device"):
        load_tracker("sam2.1_hiera_t", device="cpu", half=True)


def test_bounded_memory_forgets_only_what_sam2_cannot_reach(tmp_path, smoke_tracker, frame_painter):
    from affine import Affine

    for t, image in enumerate(frame_painter(12, size=(32, 32))):
        with rasterio.open(tmp_path / f"f_{2000 + t}.tif", "w", driver="GTiff", width=32, height=32, count=3,
                           dtype="uint8", crs="EPSG:32614", transform=Affine(10, 0, 0, 0, -10, 0)) as dst:
            dst.write(np.moveaxis(image, -1, 0))
    stack = open_stack(tmp_path)
    # object 1 from the first date (forward only), object 2 from the third (forward, then backward)
    prompts = [ObjectPrompt(1, points=[(10.0, 10.0)]), ObjectPrompt(2, points=[(24.0, 20.0)], date=2)]
    predictor = smoke_tracker.predictor
    saved = predictor.max_obj_ptrs_in_encoder
    predictor.max_obj_ptrs_in_encoder = 2  # a short reach (memories: 7 frames) so that 12 dates exceed it
    try:
        assert smoke_tracker.memory_window == 8
        bounded = smoke_tracker.track(stack, prompts, progress=False)
        smoke_tracker.bounded_memory = False
        unbounded = smoke_tracker.track(stack, prompts, progress=False)
    finally:
        predictor.max_obj_ptrs_in_encoder = saved
        smoke_tracker.bounded_memory = True
    # window 8. Object 1, forward from 0: frames 1, 2, 3 fall out of reach at 9, 10, 11 (0 is its prompt).
    # Object 2, forward from 2: nothing (its backward pass will need 2..9); backward: 10, 11 at frame 2,
    # 9 at frame 1, 8 at frame 0. (A window of 3 changes the masks: the equality below can fail.)
    assert bounded.extra["outputs_forgotten"] == 3 + 4 and unbounded.extra["outputs_forgotten"] == 0
    np.testing.assert_array_equal(bounded.masks, unbounded.masks)
    np.testing.assert_array_equal(bounded.scores, unbounded.scores)
    assert bounded.masks.any()
