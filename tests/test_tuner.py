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
    pixel_area_m2,
    plot_sweep,
    sweep,
)


@pytest.fixture(scope="module")
def scene_and_truth():
    return make_synthetic_scene("water", size=(96, 96), seed=0)


@pytest.fixture(scope="module")
def model(scene_and_truth):
    return helpers.load_model("conventional").set_image(scene_and_truth[0])


def test_pixel_area_projected_and_geographic():
    assert pixel_area_m2("EPSG:32618", Affine(10, 0, 500000, 0, -10, 4500000)) == pytest.approx(100.0)
    # 1 arc-second at the equator is ~30.9 m x 30.7 m
    area = pixel_area_m2("EPSG:4326", Affine(1 / 3600, 0, 0, 0, -1 / 3600, 0.5 / 3600), (1, 1))
    assert area == pytest.approx(30.92 * 30.72, rel=0.01)
    # the same angle covers less ground east-west at 60 degrees north
    north = pixel_area_m2("EPSG:4326", Affine(1 / 3600, 0, 0, 0, -1 / 3600, 60.0), (1, 1))
    assert north == pytest.approx(area / 2, rel=0.02)
    assert pixel_area_m2(None, None) is None


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


def test_preset_is_valid_sam_parameters_and_explained():
    from helpers.amg import check_amg_params

    check_amg_params(RS_PRESET)
    assert set(RS_PRESET_WHY) == set(RS_PRESET)
