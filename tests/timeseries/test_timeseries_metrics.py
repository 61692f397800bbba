"""Temporal consistency and agreement, checked on masks whose answers are known by hand."""

import datetime as dt

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from helpers.timeseries import TrackResult, agreement, consecutive_iou, temporal_consistency
from helpers.timeseries.metrics import area_jumps, iou


def result_of(masks, method="m"):
    masks = np.asarray(masks, bool)
    t, n = masks.shape[:2]
    return TrackResult(masks=masks, scores=np.ones((t, n)), object_ids=list(range(1, n + 1)),
                       labels=[str(2000 + k) for k in range(t)], dates=[dt.date(2000 + k, 1, 1) for k in range(t)],
                       crs=CRS.from_epsg(32614), transform=Affine(10, 0, 0, 0, -10, 0), method=method)


def steady_then_jumping():
    masks = np.zeros((3, 1, 10, 10), bool)
    masks[0, 0, 0:4, 0:4] = True  # 16 px
    masks[1, 0, 0:4, 2:6] = True  # moved 2 columns: overlap 8, union 24
    masks[2, 0, 6:10, 6:8] = True  # jumped away, half the size: no overlap
    return result_of(masks)


def test_iou_and_jumps_between_consecutive_dates():
    result = steady_then_jumping()
    np.testing.assert_allclose(consecutive_iou(result)[:, 0], [8 / 24, 0.0])
    np.testing.assert_allclose(area_jumps(result)[:, 0], [0.0, 8 / 16])
    assert iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0  # both empty: they agree


def test_temporal_consistency_per_object():
    row = temporal_consistency(steady_then_jumping()).iloc[0]
    assert row["mean_iou"] == pytest.approx(4 / 24) and row["min_iou"] == 0.0
    assert row["max_jump"] == pytest.approx(0.5) and row["empty_dates"] == 0
    assert row["mean_area_m2"] == pytest.approx((16 + 16 + 8) / 3 * 100)


def test_agreement_with_a_reference():
    result = steady_then_jumping()
    reference = result_of(np.repeat(result.masks[:1], 3, axis=0), method="reference")
    table = agreement(result, reference)
    assert list(table["iou"]) == pytest.approx([1.0, 8 / 24, 0.0])
    with pytest.raises(ValueError, match="share the grid and the dates"):
        agreement(result, result_of(np.zeros((2, 1, 10, 10))))
