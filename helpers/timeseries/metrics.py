"""Temporal consistency of per-date masks, and agreement with a reference.

A lake or a pond changes slowly between acquisitions compared with how wrong a mask can be: a mask
that jumps to the neighbouring field on one date and back on the next is an error, not hydrology. Two
numbers capture it per object:

* **area jumps**: ``|A(t) - A(t-1)| / max(A(t), A(t-1))`` between consecutive dates (0: same area,
  1: appeared or vanished);
* **IoU between consecutive dates**: the overlap of the masks of dates ``t-1`` and ``t`` (all on one grid):
  a jump to another object has a low IoU even when the areas happen to match.

Neither says which mask is right; :func:`agreement` compares with a reference (e.g. the spectral-index
pseudo-reference of :func:`helpers.timeseries.baseline.index_masks`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["agreement", "area_jumps", "consecutive_iou", "iou", "temporal_consistency"]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks; 1.0 when both are empty (they agree), NaN never."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else float(np.count_nonzero(a & b) / union)


def consecutive_iou(result) -> np.ndarray:
    """float (T-1, N): IoU of each object's masks on dates ``t`` and ``t+1`` (both empty: 1)."""
    masks = result.masks
    out = np.ones((max(len(result) - 1, 0), masks.shape[1]), dtype=np.float64)
    for t in range(len(result) - 1):
        for n in range(masks.shape[1]):
            out[t, n] = iou(masks[t, n], masks[t + 1, n])
    return out


def area_jumps(result) -> np.ndarray:
    """float (T-1, N): ``|A(t+1) - A(t)| / max(A(t), A(t+1))`` in pixels (0 when both are empty)."""
    areas = result.pixel_areas().astype(np.float64)
    before, after = areas[:-1], areas[1:]
    larger = np.maximum(before, after)
    return np.divide(np.abs(after - before), larger, out=np.zeros_like(larger), where=larger > 0)


def temporal_consistency(result):
    """Per object: how steadily its mask evolves through the dates (pandas DataFrame).

    Columns: ``object_id``, ``method``, ``mean_area_m2`` (mean over dates, from the pixel count times the
    grid's pixel area; NaN without CRS), ``empty_dates`` (dates without a mask), ``mean_jump`` and
    ``max_jump`` (area jumps, 0-1), ``mean_iou`` and ``min_iou`` (IoU between consecutive dates).
    """
    import pandas as pd

    from ..crs import pixel_area_m2

    jumps, ious = area_jumps(result), consecutive_iou(result)
    pixels = result.pixel_areas()
    pixel_m2 = pixel_area_m2(result.transform, result.crs, result.shape) if result.crs is not None else None
    rows = []
    for n, object_id in enumerate(result.object_ids):
        has_pairs = jumps.shape[0] > 0
        rows.append({
            "object_id": object_id,
            "method": result.method,
            "mean_area_m2": float(pixels[:, n].mean() * pixel_m2) if pixel_m2 else float("nan"),
            "empty_dates": int((pixels[:, n] == 0).sum()),
            "mean_jump": float(jumps[:, n].mean()) if has_pairs else float("nan"),
            "max_jump": float(jumps[:, n].max()) if has_pairs else float("nan"),
            "mean_iou": float(ious[:, n].mean()) if has_pairs else float("nan"),
            "min_iou": float(ious[:, n].min()) if has_pairs else float("nan"),
        })
    return pd.DataFrame(rows)


def agreement(result, reference):
    """IoU of ``result`` with ``reference`` per date and object (pandas DataFrame).

    Both must be on one grid with the same dates; objects are matched by id. Columns: ``date``,
    ``object_id``, ``iou``, ``area_px``, ``reference_area_px``, ``method``, ``reference``.
    """
    import pandas as pd

    if result.shape != reference.shape or list(result.labels) != list(reference.labels):
        raise ValueError("result and reference must share the grid and the dates")
    rows = []
    for object_id in result.object_ids:
        if object_id not in reference.object_ids:
            continue
        mine, theirs = result.column(object_id), reference.column(object_id)
        for t, label in enumerate(result.labels):
            a, b = result.masks[t, mine], reference.masks[t, theirs]
            rows.append({"date": label, "object_id": object_id, "iou": iou(a, b),
                         "area_px": int(a.sum()), "reference_area_px": int(b.sum()),
                         "method": result.method, "reference": reference.method})
    return pd.DataFrame(rows)
