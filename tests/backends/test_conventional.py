"""The conventional (scikit-image) backend: same API as SAM, no weights, meaningful segments."""

from __future__ import annotations

import numpy as np
import pytest

import helpers
from helpers.backends.conventional import BACKEND, METHODS, ConventionalModel
from helpers.data import make_synthetic_scene
from helpers.tuner import match_iou


@pytest.fixture(scope="module")
def water():
    return make_synthetic_scene("water", size=(128, 128), seed=0)


@pytest.fixture(scope="module")
def model(water):
    return helpers.load_model("conventional").set_image(water[0])


def test_load_model_builds_without_weights():
    model = helpers.load_model("conventional", method="slic")
    assert isinstance(model, ConventionalModel)
    assert model.smoke is False and model.checkpoint is None


@pytest.mark.parametrize("method", METHODS)
def test_generate_returns_disjoint_masks_covering_the_scene(model, method):
    result = model.generate(method=method)
    assert len(result) > 1
    assert result.masks.shape[1:] == model.scene.shape
    assert np.all(result.masks.sum(axis=0) <= 1)  # a partition: no overlaps
    np.testing.assert_array_equal(result.scores, 1.0)
    assert np.all(np.diff(result.areas) <= 0)  # largest first
    assert result.crs == model.scene.crs and result.prompt_type == "everything"


def test_segments_recover_synthetic_objects(model, water):
    """Felzenszwalb on clean synthetic ponds finds them (meaningful segments, not noise)."""
    result = model.generate(method="felzenszwalb", scale=300)
    assert match_iou(result, water[1])["mean_best_iou"] > 0.6


def test_parameters_change_the_segmentation(model):
    few = model.generate(method="slic", n_segments=10)
    many = model.generate(method="slic", n_segments=200)
    assert len(many) > len(few)


def test_other_methods_parameters_are_ignored(model):
    np.testing.assert_array_equal(model.generate(method="slic", scale=5).masks, model.generate(method="slic").masks)


def test_min_area_and_max_masks(model):
    everything = model.generate(method="slic", n_segments=100)
    capped = model.generate(method="slic", n_segments=100, max_masks=5)
    assert len(capped) == 5
    np.testing.assert_array_equal(capped.masks, everything.masks[:5])
    threshold = np.median(everything.areas)
    assert np.all(model.generate(method="slic", n_segments=100, min_area=threshold).areas >= threshold)


def test_predict_selects_segments_under_points(model):
    labels = model.labels(method="slic", n_segments=50)
    point = (40, 70)
    result = model.predict(points=[point], method="slic", n_segments=50)
    assert len(result) == 1
    np.testing.assert_array_equal(result.masks[0], labels == labels[point[1], point[0]])
    # a background point on the same segment removes it
    empty = model.predict(points=[point, point], labels=[1, 0], method="slic", n_segments=50)
    assert not empty.masks.any()


def test_predict_with_box_keeps_segments_mostly_inside(model):
    result = model.predict(boxes=[(0, 0, 63, 127)], method="slic", n_segments=50)
    assert len(result) == 1 and result.masks[0].any()
    assert result.masks[0][:, :64].sum() > result.masks[0][:, 64:].sum()


def _one_segment_per_pixel(scene) -> ConventionalModel:
    """A conventional model whose every pixel is its own segment: a mask shows exactly the pixels chosen."""
    model = ConventionalModel().set_image(scene)
    segments = np.arange(1, scene.height * scene.width + 1, dtype=np.int32).reshape(scene.shape)
    model.labels = lambda **params: segments
    return model


def test_map_click_on_a_pixel_centre_selects_that_pixel(water):
    from helpers.prompts import to_map_points

    model = _one_segment_per_pixel(water[0])  # EPSG:32618: lon/lat clicks come back a few ULPs off
    scene = model.scene
    wanted = np.array([(c, r) for c in range(1, scene.width, 9) for r in range(2, scene.height, 11)], float)
    lonlat = to_map_points(wanted, scene, crs="EPSG:4326")
    computed = []
    for (col, row), click in zip(wanted.astype(int), lonlat, strict=True):
        result = model.predict(points=[click], crs="EPSG:4326")
        computed.append(result.prompts["points"][0])
        assert result.masks[0].sum() == 1 and result.masks[0][row, col], (col, row)
    assert (np.array(computed) < wanted).any()  # cases where truncation would pick the pixel before


def test_map_box_of_a_pixel_footprint_selects_exactly_those_pixels(water):
    from rasterio.transform import from_origin

    from helpers.scene import Scene

    # a lon/lat grid: inverting its affine leaves float noise on the box edges, on either side
    scene = Scene(water[0].image, crs="EPSG:4326", transform=from_origin(-112.60, 41.30, 0.0005, 0.0004))
    model = _one_segment_per_pixel(scene)
    noisy = 0
    for x0, y0 in [(0, 0), (0, 15), (31, 40), (60, 90), (123, 124)]:
        x1, y1 = x0 + 5, y0 + 4
        (left, top), (right, bottom) = scene.transform @ (x0, y0), scene.transform @ (x1, y1)
        result = model.predict(boxes=[(left, bottom, right, top)], crs="EPSG:4326")
        px0, py0, px1, py1 = result.prompts["boxes"][0]
        noisy += px0 < x0 or py0 < y0 or px1 > x1 or py1 > y1  # floor/ceil would add a row or column
        expected = np.zeros(scene.shape, bool)
        expected[y0:y1, x0:x1] = True
        np.testing.assert_array_equal(result.masks[0], expected)
        np.testing.assert_array_equal(model.predict(boxes=[(x0, y0, x1, y1)]).masks[0], expected)  # in pixels
    assert noisy


@pytest.mark.parametrize(
    "params, message",
    [({"method": "kmeans"}, "unknown method"), ({"method": "slic", "scales": 3}, "unknown parameter"), ({"max_masks": 0}, "max_masks")],
)
def test_bad_parameters_raise_one_line(model, params, message):
    with pytest.raises(ValueError, match=message):
        model.generate(**params)


def test_no_weights_to_write(tmp_path):
    with pytest.raises(ValueError, match="no weights"):
        helpers.write_smoke_weights("conventional", tmp_path / "x.pth")
    assert BACKEND.write_smoke_checkpoint is None and not BACKEND.has_weights


def test_nodata_is_never_segmented():
    scene, _ = make_synthetic_scene("fields", size=(96, 96), seed=1, nodata_edge=0.2)
    assert scene.valid is not None and not scene.valid.all()
    result = helpers.load_model("conventional").set_image(scene).generate()
    assert not result.union()[~scene.valid].any()
