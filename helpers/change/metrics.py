"""Change-detection accuracy from a confusion matrix: F1, false-alarm rate, missed-detection rate, kappa.

The shared pixel scores (counts, precision, recall, F1 = Dice) come from :func:`helpers.metrics.pixel_scores`;
this module adds what only change detection reports: true negatives, the two error rates and kappa.

Change detection reports errors per class of the *reference*: a **false alarm** is an unchanged pixel
called change (the false-alarm rate is FP / (FP + TN), the share of truly unchanged pixels flagged) and a
**missed detection** a changed pixel left out (FN / (TP + FN)). Cohen's **kappa** corrects overall
accuracy for chance agreement, which matters because unchanged pixels dominate every scene: a map
saying "no change" everywhere has 95 % accuracy on a scene with 5 % change, and kappa 0.
"""

from __future__ import annotations

import numpy as np

__all__ = ["confusion", "change_scores", "SCORE_COLUMNS"]

SCORE_COLUMNS = ("f1", "precision", "recall", "false_alarm_rate", "missed_detection_rate", "kappa",
                 "overall_accuracy")


def confusion(pred: np.ndarray, ref: np.ndarray, valid: np.ndarray | None = None) -> dict:
    """Pixel counts ``tp``, ``fp``, ``fn``, ``tn`` of a predicted change mask against a reference.

    Args:
        pred, ref: (H, W) bool (or 0/non-zero) change masks on the same grid.
        valid: (H, W) bool: only these pixels count (nodata in either date is left out); ``None``: all.
    """
    from ..metrics import pixel_scores

    scores = pixel_scores(pred, ref, region=None if valid is None else np.asarray(valid, dtype=bool))
    total = int(np.asarray(pred).size if valid is None else np.count_nonzero(valid))
    tp, fp, fn = scores["tp"], scores["fp"], scores["fn"]
    return {"tp": tp, "fp": fp, "fn": fn, "tn": total - tp - fp - fn}


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else float("nan")


def change_scores(pred: np.ndarray, ref: np.ndarray, valid: np.ndarray | None = None) -> dict:
    """Confusion counts plus the change-detection scores (see the module docstring).

    Args:
        pred, ref: (H, W) bool (or 0/non-zero) change masks on the same grid.
        valid: (H, W) bool: only these pixels count; ``None``: all.

    Returns:
        dict with ``tp``, ``fp``, ``fn``, ``tn`` and ``f1`` (= Dice), ``precision``, ``recall`` (as
        :func:`helpers.metrics.pixel_scores`: an empty prediction has precision 1), ``false_alarm_rate``,
        ``missed_detection_rate``, ``kappa``, ``overall_accuracy`` (NaN when a denominator is 0).
    """
    from ..metrics import pixel_scores

    region = None if valid is None else np.asarray(valid, dtype=bool)
    shared = pixel_scores(pred, ref, region=region)
    c = confusion(pred, ref, valid)
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    n = tp + fp + fn + tn
    observed = _ratio(tp + tn, n)
    expected = _ratio((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn), n * n) if n else float("nan")
    kappa = _ratio(observed - expected, 1.0 - expected) if expected != 1.0 else float("nan")
    return {
        **c,
        "f1": shared["dice"],
        "precision": shared["precision"],
        "recall": shared["recall"],
        "false_alarm_rate": _ratio(fp, fp + tn),
        "missed_detection_rate": _ratio(fn, tp + fn),
        "kappa": kappa,
        "overall_accuracy": observed,
    }
