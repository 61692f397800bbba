"""Change-detection scores from the confusion matrix, checked by hand and against scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score

from helpers.change.metrics import change_scores, confusion
from helpers.errors import UserInputError


def test_counts_and_rates_by_hand():
    ref = np.array([[1, 1, 1, 1, 0], [0, 0, 0, 0, 0]], bool)
    pred = np.array([[1, 1, 1, 0, 1], [0, 0, 0, 0, 0]], bool)
    s = change_scores(pred, ref)
    assert (s["tp"], s["fp"], s["fn"], s["tn"]) == (3, 1, 1, 5)
    assert s["false_alarm_rate"] == pytest.approx(1 / 6)  # of the 6 unchanged pixels, 1 flagged
    assert s["missed_detection_rate"] == pytest.approx(1 / 4)  # of the 4 changed pixels, 1 missed
    assert s["f1"] == pytest.approx(0.75) and s["precision"] == pytest.approx(0.75)


def test_f1_and_kappa_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    ref = rng.random((50, 60)) < 0.1
    pred = ref ^ (rng.random((50, 60)) < 0.05)
    s = change_scores(pred, ref)
    assert s["kappa"] == pytest.approx(cohen_kappa_score(ref.ravel(), pred.ravel()))
    assert s["f1"] == pytest.approx(f1_score(ref.ravel(), pred.ravel()))


def test_a_map_of_no_change_has_high_accuracy_but_zero_kappa():
    ref = np.zeros((10, 10), bool)
    ref[0, :5] = True
    s = change_scores(np.zeros((10, 10), bool), ref)
    assert s["overall_accuracy"] == 0.95 and s["kappa"] == 0.0 and s["f1"] == 0.0
    assert s["recall"] == 0.0 and s["missed_detection_rate"] == 1.0


def test_nodata_pixels_do_not_count():
    ref = np.array([[1, 0], [0, 0]], bool)
    pred = np.array([[1, 1], [1, 0]], bool)
    valid = np.array([[True, False], [False, True]])
    assert confusion(pred, ref, valid) == {"tp": 1, "fp": 0, "fn": 0, "tn": 1}
    with pytest.raises(UserInputError, match="not the same grid"):
        confusion(pred, ref[:1])
