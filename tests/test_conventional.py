"""The conventional (scikit-image) backend: same API as SAM, no weights, meaningful segments."""

from __future__ import annotations

import numpy as np
import pytest

import helpers
from helpers.conventional import METHODS, ConventionalModel, write_smoke_checkpoint
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
    with pytest.raises(ValueError, match="no weights"):
        write_smoke_checkpoint(helpers.get_spec("conventional"), tmp_path / "x.pth")


def test_nodata_is_never_segmented():
    scene, _ = make_synthetic_scene("fields", size=(96, 96), seed=1, nodata_edge=0.2)
    assert scene.valid is not None and not scene.valid.all()
    result = helpers.load_model("conventional").set_image(scene).generate()
    assert not result.union()[~scene.valid].any()
