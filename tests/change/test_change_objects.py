"""Object change across dates: matching by IoU, the five statuses, areas."""

import numpy as np
import pytest

from helpers.change.objects import STATUS_CODES, label_objects, match_objects_across_dates, select_segments
from helpers.errors import UserInputError


def scene():
    """Two dates of 60 x 60 with one object of each fate (ids in raster order)."""
    before, after = np.zeros((60, 60), int), np.zeros((60, 60), int)
    before[2:12, 2:12], after[2:12, 2:12] = 1, 1  # stable: identical
    before[2:12, 20:30], after[2:12, 20:40] = 2, 2  # grown: area x2, IoU 0.5
    before[20:40, 2:22], after[25:35, 7:17] = 3, 3  # shrunk: area / 4, IoU 0.25
    before[45:55, 45:55] = 4  # disappeared
    after[45:50, 2:12] = 4  # appeared
    return before, after


def test_each_object_gets_its_status_and_areas():
    before, after = scene()
    result = match_objects_across_dates(before, after, pixel_area_m2=100.0)
    by_status = {row["status"]: row for row in result.rows}
    assert set(by_status) == {"stable", "grown", "shrunk", "disappeared", "appeared"}
    assert by_status["grown"]["iou"] == 0.5 and by_status["grown"]["area_change_m2"] == 100 * 100.0
    assert by_status["shrunk"]["area_before_m2"] == 400 * 100.0 and by_status["shrunk"]["area_after_m2"] == 100 * 100.0
    assert by_status["disappeared"]["after_id"] == 0 and by_status["appeared"]["before_id"] == 0
    assert result.counts() == {"appeared": 1, "disappeared": 1, "grown": 1, "shrunk": 1, "stable": 1}
    summary = {row["status"]: row for row in result.summary_rows()}
    assert summary["appeared"]["area_change_m2"] == 50 * 100.0
    assert result.status_map[50, 50] == STATUS_CODES["disappeared"] and result.status_map[47, 5] == STATUS_CODES["appeared"]
    assert result.status_map[5, 35] == STATUS_CODES["grown"] and result.status_map[0, 0] == 0


def test_the_iou_and_area_tolerances_decide():
    before, after = np.zeros((10, 40), int), np.zeros((10, 40), int)
    before[:, 0:10], after[:, 6:16] = 1, 1  # a pond that moved: IoU 40 / 160 = 0.25, 40 % covered
    before[:, 20:30], after[:, 20:40] = 2, 2  # doubled
    default = match_objects_across_dates(before, after)
    assert sorted(r["status"] for r in default.rows) == ["grown", "stable"]
    strict = match_objects_across_dates(before, after, min_iou=0.3)  # the moved pond no longer matches
    assert sorted(r["status"] for r in strict.rows) == ["appeared", "disappeared", "grown"]
    loose = match_objects_across_dates(before, after, tolerance=1.5)  # x2 is within 150 %
    assert sorted(r["status"] for r in loose.rows) == ["stable", "stable"]


def test_ponds_swallowed_by_a_growing_lake_are_one_grown_event_not_disappeared():
    before, after = np.zeros((10, 40), int), np.zeros((10, 40), int)
    before[:, :10], before[:, 12:20], before[:, 25:27] = 1, 2, 3  # three ponds ...
    after[:, :30] = 1  # ... under one lake
    result = match_objects_across_dates(before, after)
    assert len(result.rows) == 1
    row = result.rows[0]
    assert (row["status"], row["before_id"], row["after_id"], row["n_before"], row["n_after"]) == ("grown", 1, 1, 3, 1)
    assert row["area_before_m2"] == 200 and row["area_after_m2"] == 300
    assert (result.status_map[:, :30] == STATUS_CODES["grown"]).all()


def test_a_lake_split_into_pieces_is_one_event():
    before, after = np.zeros((10, 40), int), np.zeros((10, 40), int)
    before[:, :30] = 1
    after[:, :10], after[:, 20:24] = 1, 2  # what is left of it
    rows = match_objects_across_dates(before, after).rows
    assert [(r["status"], r["n_before"], r["n_after"]) for r in rows] == [("shrunk", 1, 2)]


def test_objects_outside_the_valid_area_do_not_count_and_grids_must_match():
    before, after = scene()
    valid = np.ones_like(before, bool)
    valid[40:, :] = False
    assert match_objects_across_dates(before, after, valid=valid).counts()["appeared"] == 0
    with pytest.raises(UserInputError, match="align them"):
        match_objects_across_dates(before, after[:-1])


def test_label_objects_and_select_segments():
    mask = np.zeros((10, 10), bool)
    mask[0:3, 0:3] = mask[5, 5] = mask[6, 6] = True
    assert label_objects(mask).max() == 2  # the diagonal pair joins with 8-connectivity
    assert label_objects(mask, connectivity=4).max() == 3
    assert label_objects(mask, min_area=3).max() == 1
    segments = np.zeros((10, 10), int)
    segments[0:4, 0:4], segments[5:10, 5:10] = 7, 9
    kept = select_segments(segments, mask, min_fraction=0.5)
    assert kept.max() == 1 and (kept[0:4, 0:4] == 1).all() and (kept[5:, 5:] == 0).all()
