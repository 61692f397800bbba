"""Tuner, sweeps and statistics, on the conventional backend (fast, meaningful, no weights)."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

import helpers
from helpers.data import make_synthetic_scene
from helpers.masks import Masks
from helpers.tuner import (
    RS_PRESET,
    RS_PRESET_WHY,
    Tuner,
    mask_stats,
    match_iou,
    plot_sweep,
    sweep,
)


@pytest.fixture(scope="module")
def scene_and_truth():
    return make_synthetic_scene("water", size=(96, 96), seed=0)


@pytest.fixture(scope="module")
def model(scene_and_truth):
    return helpers.load_model("conventional").set_image(scene_and_truth[0])


def test_mask_stats_areas_are_true_ground_areas_in_web_mercator():
    """EPSG:3857 metres are not ground metres: at 37.8 N a 30 m Mercator pixel covers ~(30 cos lat)^2."""
    masks = np.zeros((1, 10, 10), bool)
    masks[0, :4, :5] = True  # 20 px
    lat = np.radians(37.8)
    northing = 6378137.0 * np.log(np.tan(np.pi / 4 + lat / 2))  # spherical Mercator y of 37.8 N
    result = Masks(masks, np.ones(1), crs="EPSG:3857", transform=Affine(30, 0, -13_620_000, 0, -30, northing))
    stats = mask_stats(result)
    assert stats["min_area_m2"] == pytest.approx(20 * (30 * np.cos(lat)) ** 2, rel=0.01)
    assert stats["min_area_m2"] < 20 * 30 * 30 / 1.5  # the planar value would be ~1.6x too large


def test_mask_stats_counts_coverage_and_areas():
    masks = np.zeros((2, 10, 10), bool)
    masks[0, :2, :5] = True  # 10 px
    masks[1, 5:, :] = True  # 50 px
    result = Masks(masks, np.ones(2), crs="EPSG:32618", transform=Affine(2, 0, 0, 0, -2, 0))
    stats = mask_stats(result, seconds=1.5)
    assert stats["count"] == 2 and stats["coverage_pct"] == pytest.approx(60.0)
    assert stats["median_area_px"] == 30 and stats["min_area_px"] == 10
    assert stats["min_area_m2"] == pytest.approx(40.0) and stats["time_s"] == 1.5
    assert np.isnan(mask_stats(Masks(masks, np.ones(2)))["median_area_m2"])


def test_match_iou_definition():
    gt = np.zeros((10, 10), np.uint32)
    gt[:5, :5] = 1
    gt[6:, 6:] = 2
    perfect = np.stack([gt == 1, gt == 2])
    assert match_iou(perfect, gt) == {"mean_best_iou": 1.0, "recall_50": 1.0}
    half = np.zeros((1, 10, 10), bool)
    half[0, :5, :5] = True
    half[0, 5, :5] = True  # IoU 25/30 with object 1, nothing for object 2
    result = match_iou(half, gt)
    assert result["mean_best_iou"] == pytest.approx((25 / 30 + 0) / 2)
    assert result["recall_50"] == 0.5


def test_sweep_one_row_per_combination(model, scene_and_truth):
    grid = {"method": ["slic"], "n_segments": [5, 40], "compactness": [1.0, 20.0]}
    df = sweep(model, grid, ground_truth=scene_and_truth[1])
    assert len(df) == 4
    assert {"count", "coverage_pct", "median_area_m2", "min_area_px", "time_s", "mean_best_iou"} <= set(df.columns)
    counts = df.groupby("n_segments")["count"].mean()
    assert counts[40] > counts[5]
    assert df["median_area_m2"].notna().all()  # the synthetic scene is georeferenced
    axes = plot_sweep(df, x="n_segments", y=["count", "time_s"], hue="compactness")
    assert len(axes) == 2 and axes[0].get_xlabel() == "n_segments"
    with pytest.raises(ValueError, match="not in the sweep"):
        plot_sweep(df, x="points_per_side")


def test_sweep_rejects_empty_grid(model):
    with pytest.raises(ValueError, match="grid"):
        sweep(model, {})


def test_tuner_programmatic_twin(model):
    tuner = Tuner(model, params={"method": "slic", "n_segments": 10})
    first = tuner.run()
    tuner.set(n_segments=60)
    second = tuner.run()
    assert len(second) > len(first)
    history = tuner.history
    assert list(history["run"]) == [0, 1] and list(history["n_segments"]) == [10, 60]
    assert history.loc[1, "count"] == len(second)
    fig = tuner.compare(0, 1)
    assert len(fig.axes) == 2 and "run 1" in fig.axes[1].get_title()


def test_tuner_widget_runs_headless(model):
    tuner = Tuner(model, params={"method": "slic"})
    panel = tuner.widget(names=["method", "n_segments"])
    controls = panel.children[0].children
    controls[1].value = 20  # touch n_segments
    run_button = panel.children[0].children[-1].children[0]
    run_button.click()
    assert len(tuner.runs) == 1 and tuner.runs[0][0]["n_segments"] == 20


class _SceneStub:
    """Just enough of a model for the widget: a backend contract (controls, defaults) and a scene."""

    def __init__(self, name):
        from helpers.backends import backend_for
        from helpers.scene import Scene

        self.name, self.scene, self.backend = name, Scene(np.zeros((4, 4, 3), np.uint8)), backend_for(name)

    def require_scene(self):
        return self.scene


def _start_values(tuner) -> dict:
    panel = tuner.widget()
    return {c.description: c.value for c in panel.children[0].children[:-1]}


def test_untouched_controls_start_at_the_backend_defaults(model):
    from helpers.amg import AMG_DEFAULTS
    from helpers.backends.conventional import COMMON_PARAMS, METHOD_PARAMS
    from helpers.backends.fastsam import EVERYTHING_DEFAULTS

    sam = _start_values(Tuner(_SceneStub("sam_vit_b")))
    assert sam["pred_iou_thresh"] == pytest.approx(AMG_DEFAULTS["pred_iou_thresh"])  # 0.88, not the minimum
    assert sam["points_per_side"] == AMG_DEFAULTS["points_per_side"]
    assert sam["stability_score_thresh"] == pytest.approx(AMG_DEFAULTS["stability_score_thresh"])
    fast = _start_values(Tuner(_SceneStub("fastsam_s")))
    assert {k: fast[k] for k in EVERYTHING_DEFAULTS} == pytest.approx(EVERYTHING_DEFAULTS)
    conventional = Tuner(model)
    values = _start_values(conventional)
    assert values["method"] == COMMON_PARAMS["method"] and values["n_segments"] == METHOD_PARAMS["slic"]["n_segments"]
    assert values["scale"] == METHOD_PARAMS["felzenszwalb"]["scale"]
    assert values["sigma"] == pytest.approx(METHOD_PARAMS[COMMON_PARAMS["method"]]["sigma"])
    conventional.widget().children[0].children[-1].children[0].click()  # untouched: nothing passed
    assert conventional.runs[0][0] == {}


def test_preset_is_valid_sam_parameters_and_explained():
    from helpers.amg import check_amg_params

    check_amg_params(RS_PRESET)
    assert set(RS_PRESET_WHY) == set(RS_PRESET)


# ---- the tuner is bound to its scene ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_scenes():
    water, _ = make_synthetic_scene("water", size=(96, 96), seed=0)
    fields, _ = make_synthetic_scene("fields", size=(64, 80), seed=1)
    return water, fields


def test_tuner_runs_on_its_own_scene_after_the_model_moved_on(two_scenes):
    """Notebook 04's bug: later cells set other scenes on the model, then the widget's "run" segmented those."""
    own, other = two_scenes
    model = helpers.load_model("conventional")
    params = {"method": "slic", "n_segments": 20}
    direct = model.set_image(own).generate(**params)
    tuner = Tuner(model, own, params=params)
    model.set_image(other)  # a later cell works on another scene with the same model
    masks = tuner.run()
    assert masks.shape == own.shape != other.shape
    assert np.array_equal(masks.masks, direct.masks)
    assert model.scene is own  # the tuner set its scene again
    assert list(tuner.history["scene"]) == [helpers.scene_label(own)]
    panel = tuner.widget()  # the widget's "run" button after the model moved on again
    model.set_image(other)
    panel.children[0].children[-1].children[0].click()
    assert tuner.runs[-1].masks.shape == own.shape and tuner.runs[-1].scene is own
    assert helpers.scene_label(own) in panel.children[1].children[0].value  # the widget names its scene


def test_tuner_history_names_the_scene_and_compare_refuses_two_scenes(two_scenes):
    own, other = two_scenes
    tuner = Tuner(helpers.load_model("conventional"), own, params={"method": "slic", "n_segments": 10})
    tuner.run()
    tuner.set(n_segments=30).run()
    tuner.set_scene(other).run()
    labels = list(tuner.history["scene"])
    assert labels[0] == labels[1] != labels[2]
    assert labels[0].startswith(own.name) and labels[2] == helpers.scene_label(other)
    assert len(tuner.compare(0, 1).axes) == 2  # same scene: fine
    with pytest.raises(ValueError, match="different scenes") as error:
        tuner.compare(1, 2)
    assert "\n" not in str(error.value)
    assert tuner.show(2).get_images()[0].get_array().shape[:2] == other.shape  # each run drawn on its own scene


def test_scene_label_tells_crops_of_one_scene_apart(two_scenes):
    own, _ = two_scenes
    a, b = own.crop(0, 0, 48, 48), own.crop(48, 48, 48, 48)
    assert a.name == b.name and helpers.scene_label(a) != helpers.scene_label(b)
    assert helpers.scene_label(a) == helpers.scene_label(own.crop(0, 0, 48, 48))


def test_history_shows_the_value_each_run_used_with_integers_kept(two_scenes):
    tuner = Tuner(helpers.load_model("conventional"), two_scenes[0], params={"method": "slic"})
    tuner.run()  # n_segments not set: the backend default was used
    tuner.set(n_segments=25).run()
    history = tuner.history
    from helpers.backends.conventional import METHOD_PARAMS

    assert list(history["n_segments"]) == [METHOD_PARAMS["slic"]["n_segments"], 25]
    assert history["n_segments"].dtype.kind == "i"  # not 150.0 / NaN


def test_parameter_table_in_full_with_integer_defaults():
    from helpers.amg import AMG_DEFAULTS, AMG_PARAM_DOCS

    table = helpers.parameter_table("sam_vit_b")
    row = next(r for r in table.rows if r["parameter"] == "points_per_side")
    assert row["default"] == AMG_DEFAULTS["points_per_side"] and isinstance(row["default"], int)
    assert f"| `{AMG_DEFAULTS['points_per_side']}` |" in table._repr_markdown_()  # 32, not 32.0
    longest = max(AMG_PARAM_DOCS.values(), key=len)
    assert len(longest) > 50 and longest in repr(table)  # not cut at pandas' 50 characters
    preset = helpers.parameter_table("sam_vit_b", RS_PRESET, RS_PRESET_WHY)
    assert [row["parameter"] for row in preset.rows] == list(RS_PRESET)
    assert RS_PRESET_WHY["crop_n_layers"] in repr(preset)
