"""Change-detection accuracy from a confusion matrix: F1, false-alarm rate, missed-detection rate, kappa.

Change detection reports errors per class of the *reference*: a **false alarm** is an unchanged pixel
called change (the false-alarm rate is FP / (FP + TN), the share of truly unchanged pixels flagged) and a
**missed detection** a changed pixel left out (FN / (TP + FN)). Cohen's **kappa** corrects overall
accuracy for chance agreement, which matters because unchanged pixels dominate every scene: a map
saying "no change" everywhere has 95 % accuracy on a scene with 5 % change, and kappa 0.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserInputError

__all__ = ["confusion", "change_scores", "SCORE_COLUMNS"]

SCORE_COLUMNS = ("f1", "precision", "recall", "false_alarm_rate", "missed_detection_rate", "kappa",
                 "overall_accuracy")


def confusion(pred: np.ndarray, ref: np.ndarray, valid: np.ndarray | None = None) -> dict:
    """Pixel counts ``tp``, ``fp``, ``fn``, ``tn`` of a predicted change mask against a reference.

    Args:
        pred, ref: (H, W) bool (or 0/non-zero) change masks on the same grid.
        valid: (H, W) bool: only these pixels count (nodata in either date is left out); ``None``: all.
    """
    pred = np.asarray(pred).astype(bool)
    ref = np.asarray(ref).astype(bool)
    if pred.shape != ref.shape:
        raise UserInputError(f"prediction {pred.shape} and reference {ref.shape} differ in shape")
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        pred, ref = pred[valid], ref[valid]
    tp = int(np.count_nonzero(pred & ref))
    fp = int(np.count_nonzero(pred & ~ref))
    fn = int(np.count_nonzero(~pred & ref))
    tn = int(pred.size - tp - fp - fn)
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else float("nan")


def change_scores(pred: np.ndarray, ref: np.ndarray, valid: np.ndarray | None = None) -> dict:
    """Confusion counts plus the change-detection scores (see the module docstring).

    Returns:
        dict with ``tp``, ``fp``, ``fn``, ``tn`` and ``f1``, ``precision``, ``recall``,
        ``false_alarm_rate``, ``missed_detection_rate``, ``kappa``, ``overall_accuracy`` (NaN when a
        denominator is 0, e.g. precision of an empty prediction).
    """
    c = confusion(pred, ref, valid)
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    n = tp + fp + fn + tn
    observed = _ratio(tp + tn, n)
    expected = _ratio((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn), n * n) if n else float("nan")
    kappa = _ratio(observed - expected, 1.0 - expected) if expected != 1.0 else float("nan")
    return {
        **c,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "false_alarm_rate": _ratio(fp, fp + tn),
        "missed_detection_rate": _ratio(fn, tp + fn),
        "kappa": kappa,
        "overall_accuracy": observed,
    }
