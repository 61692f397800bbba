"""Every method, filter and threshold scored against the known change of simulated SAR pairs.

    rows = evaluate_simulated(looks=(1, 4), filters=("none", "boxcar:5", "lee:5"), thresholds=("otsu", "ki"))
    print_table(rows, SCORE_TABLE_COLUMNS)

Each configuration runs the real pipeline (:func:`helpers.change.pipeline.detect_change`, files written
and read back) on a :func:`helpers.change.simulate.simulate_sar_pair`, and its change GeoTIFF is scored
against the truth (:func:`helpers.change.metrics.change_scores`, nodata left out). :func:`naive_scores`
scores the recipe with the classic mistakes (:func:`helpers.change.sar.naive_log_ratio`) the same way, so
the cost of the mistakes is measured, not claimed. With smoke weights the model rows are meaningless
(their ``smoke`` column says so).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from .metrics import change_scores
from .pipeline import ChangeOptions, detect_change
from .sar import estimate_looks, filter_speckle, naive_log_ratio
from .simulate import simulate_sar_pair
from .thresholds import Histogram, compute_threshold

__all__ = ["SCORE_TABLE_COLUMNS", "score_change_raster", "evaluate_pair", "evaluate_simulated", "naive_scores"]

SCORE_TABLE_COLUMNS = (("looks", "L"), ("filter", "filter"), ("threshold", "threshold"), ("threshold_db", "t (dB)"),
                       ("method", "method"), ("f1", "F1"), ("false_alarm_rate", "false alarm"),
                       ("missed_detection_rate", "missed"), ("kappa", "kappa"), ("objects", "objects"),
                       ("smoke", "smoke"), ("seconds", "s"))
"""Columns for :func:`helpers.tables.print_table` of the rows returned here."""


def score_change_raster(path, truth: np.ndarray) -> dict:
    """:func:`~helpers.change.metrics.change_scores` of a change GeoTIFF (codes 1/2 = change, 255 = nodata)
    against a truth array (non-zero = change) on the same grid."""
    import rasterio

    with rasterio.open(path) as ds:
        codes = ds.read(1)
    return change_scores((codes == 1) | (codes == 2), np.asarray(truth) > 0, valid=codes != 255)


def evaluate_pair(pair, options: ChangeOptions, model=None, workdir=None) -> dict:
    """Run ``options`` on a simulated pair and score it: one table row (scores, threshold, objects, time)."""
    with tempfile.TemporaryDirectory(prefix="samrs-change-eval-", dir=workdir) as tmp:
        paths = pair.write(Path(tmp) / "pair")
        start = time.perf_counter()
        result = detect_change(paths["before"], paths["after"], Path(tmp) / "out",
                               options.replace(formats=("tif",)), model=model)
        seconds = time.perf_counter() - start
        scores = score_change_raster(result.outputs["tif"], pair.truth)
    return {"looks": pair.looks, "filter": options.speckle_filter, "threshold": result.threshold.method,
            "threshold_db": round(result.threshold.value, 2), "method": options.method,
            "model": result.model or "", "smoke": result.smoke, "objects": result.changed,
            "seconds": round(seconds, 1), **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in scores.items()}}


def naive_scores(pair, speckle_filter: str = "lee:5", min_area: int = 10) -> dict:
    """Score the classic mistakes on ``pair``: dB images divided, epsilon added after the division
    (:func:`~helpers.change.sar.naive_log_ratio`), everything else as the baseline (same speckle filter in
    linear power, Kittler-Illingworth on ``|value|``, components of at least ``min_area`` pixels)."""
    from scipy import ndimage as ndi

    valid = pair.valid if pair.valid is not None else np.ones(pair.shape, bool)
    looks = estimate_looks(pair.before, valid)
    with np.errstate(divide="ignore"):
        before_db = 10 * np.log10(filter_speckle(pair.before.astype(np.float64), valid, speckle_filter, looks))
        after_db = 10 * np.log10(filter_speckle(pair.after.astype(np.float64), valid, speckle_filter, looks))
    value = np.abs(naive_log_ratio(before_db, after_db))
    value[~valid] = np.nan
    threshold = compute_threshold("ki", Histogram.of(value))
    change = np.nan_to_num(value, nan=0.0) > threshold.value
    labels, n = ndi.label(change, structure=np.ones((3, 3), bool))
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    keep = areas >= min_area
    keep[0] = False
    scores = change_scores(keep[labels], pair.change, valid)
    return {"looks": pair.looks, "filter": speckle_filter, "threshold": "ki", "threshold_db": float("nan"),
            "method": "naive (dB ratio, eps after /)", "model": "", "smoke": False, "objects": int(keep.sum()),
            "seconds": float("nan"), **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in scores.items()}}


def evaluate_simulated(looks=(1, 4), filters=("none", "boxcar:5", "lee:5"), thresholds=("otsu", "ki"),
                       methods=("threshold",), models: dict | None = None, size=(256, 256), seed: int = 0,
                       classes=None,
                       min_area: int = 10, params: dict | None = None, naive: bool = True,
                       model_filter: str = "lee:5", model_threshold: str = "ki", progress: bool = False) -> list[dict]:
    """Score every combination on simulated pairs (one pair per ``looks`` value, same ``seed``).

    Args:
        looks: speckle looks of the simulated pairs.
        filters, thresholds: combinations run with the ``threshold`` method.
        methods: methods to run; the model methods (``fastsam``, ``sam``, ``sam-prompted``) run once per pair
            with ``model_filter`` and ``model_threshold``.
        models: method -> loaded model or registry name (default: each method's default model).
        size, seed: the simulated pairs.
        classes: a land-cover map to simulate on (e.g. from ``classes_from_optical``) instead of the
            synthetic landscape of ``size``.
        min_area: smallest change object (pixels), for all methods.
        params: ``generate`` parameters for ``fastsam`` / ``sam`` (e.g. ``{"imgsz": 512}``).
        naive: add the row of :func:`naive_scores` per pair.
        progress: tqdm bar over runs.
    """
    from tqdm.auto import tqdm

    models = dict(models or {})
    runs = []
    for n_looks in looks:
        pair = simulate_sar_pair(size=size, looks=n_looks, seed=seed, classes=classes)
        for method in methods:
            if method == "threshold":
                runs += [(pair, ChangeOptions(speckle_filter=f, threshold=t, min_area=min_area), None)
                         for f in filters for t in thresholds]
                continue
            model = models.get(method)
            options = ChangeOptions(method=method, speckle_filter=model_filter, threshold=model_threshold,
                                    min_area=min_area, params=dict(params or {}) if method in ("fastsam", "sam") else {},
                                    model=model if isinstance(model, str) else None)
            runs.append((pair, options, None if isinstance(model, str) else model))
        if naive:
            runs.append((pair, None, None))
    rows = []
    for pair, options, model in tqdm(runs, desc="configurations", disable=not progress):
        rows.append(naive_scores(pair, min_area=min_area) if options is None else evaluate_pair(pair, options, model))
    return rows
