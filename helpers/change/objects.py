"""Object change across dates: objects of two dates matched by overlap, then appeared / disappeared /
grown / shrunk / stable, with areas.

Pixel change maps answer "which pixels changed"; a manager asks "which ponds are new, which dried up,
which grew". Here each date is a set of objects (a label raster: ponds from a water mask, or segments
from SAM / FastSAM), and:

1. every pair of objects that overlap gets its IoU (intersection over union, in pixels);
2. pairs are matched one to one, greedily by decreasing IoU, when ``IoU >= min_iou`` (a pond that doubled
   still has IoU 0.5 with its former self; a lake that moved its shore a little has a high IoU);
3. a matched pair is **grown** when its area rose by more than ``tolerance`` (after/before > 1 + tol),
   **shrunk** when it fell by as much (before/after > 1 + tol), **stable** otherwise; an object of the
   first date left unmatched **disappeared**, one of the second date **appeared**.

Merges and splits (two ponds becoming one) are one-to-one matched to the best partner; the rest of the
pieces count as appeared / disappeared. Both dates must be on one grid (see :mod:`helpers.change.align`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserInputError

__all__ = ["STATUSES", "STATUS_CODES", "ObjectChange", "label_objects", "select_segments", "match_objects_across_dates"]

STATUSES = ("appeared", "disappeared", "grown", "shrunk", "stable")
STATUS_CODES = {name: code for code, name in enumerate(STATUSES, start=1)}
"""Values of :attr:`ObjectChange.status_map` (0 = no object on either date)."""


@dataclass
class ObjectChange:
    """Objects of two dates matched across them.

    Attributes:
        rows: one dict per event: ``status``, ``before_id`` / ``after_id`` (0 when absent),
            ``area_before_m2``, ``area_after_m2``, ``area_change_m2``, ``iou`` (NaN when unmatched).
        status_map: uint8 (H, W): each pixel of an object gets its object's status code
            (:data:`STATUS_CODES`); appeared objects are drawn from the second date, disappeared ones from the
            first, matched ones as the union of both footprints.
        pixel_area_m2: ground area of one pixel (areas are pixel counts times this).
    """

    rows: list
    status_map: np.ndarray
    pixel_area_m2: float

    def counts(self) -> dict:
        """status -> number of objects."""
        found = {s: 0 for s in STATUSES}
        for row in self.rows:
            found[row["status"]] += 1
        return found

    def areas_m2(self) -> dict:
        """status -> total area change (m², after minus before) of the objects with that status."""
        found = {s: 0.0 for s in STATUSES}
        for row in self.rows:
            found[row["status"]] += row["area_change_m2"]
        return found

    def summary_rows(self) -> list[dict]:
        """One row per status: ``status``, ``objects``, ``area_before_m2``, ``area_after_m2``, ``area_change_m2``."""
        table = []
        for status in STATUSES:
            rows = [r for r in self.rows if r["status"] == status]
            before = float(sum(r["area_before_m2"] for r in rows))
            after = float(sum(r["area_after_m2"] for r in rows))
            table.append({"status": status, "objects": len(rows), "area_before_m2": before, "area_after_m2": after,
                          "area_change_m2": after - before})
        return table


def label_objects(mask: np.ndarray, min_area: int = 1, connectivity: int = 8) -> np.ndarray:
    """uint32 labels of the connected regions of a bool mask (regions under ``min_area`` pixels dropped)."""
    from scipy import ndimage as ndi

    structure = np.ones((3, 3), bool) if connectivity == 8 else None
    labels, n = ndi.label(np.asarray(mask, bool), structure=structure)
    if n == 0:
        return labels.astype(np.uint32)
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    keep = areas >= min_area
    keep[0] = False
    lut = np.zeros(n + 1, np.uint32)
    lut[keep] = np.arange(1, int(keep.sum()) + 1)
    return lut[labels]


def select_segments(labels: np.ndarray, mask: np.ndarray, min_fraction: float = 0.5, min_area: int = 1) -> np.ndarray:
    """Relabelled (1..k) segments of a label raster lying mostly inside ``mask`` (e.g. water segments).

    Args:
        labels: (H, W) int segment ids (0 = none), e.g. ``label_raster(masks.masks)``.
        mask: (H, W) bool, e.g. a water pseudo-reference.
        min_fraction: share of a segment's pixels inside ``mask`` needed to keep it.
        min_area: smallest segment kept (pixels).
    """
    labels = np.asarray(labels).astype(np.int64)
    n = int(labels.max(initial=0))
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    inside = np.bincount(labels.ravel(), weights=np.asarray(mask, bool).ravel(), minlength=n + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (inside / areas >= min_fraction) & (areas >= min_area)
    keep[0] = False
    lut = np.zeros(n + 1, np.uint32)
    lut[keep] = np.arange(1, int(keep.sum()) + 1)
    return lut[labels]


def match_objects_across_dates(before: np.ndarray, after: np.ndarray, min_iou: float = 0.2,
                               tolerance: float = 0.25, pixel_area_m2: float = 1.0,
                               valid: np.ndarray | None = None) -> ObjectChange:
    """Match the objects of two dates and classify each (see the module docstring).

    Args:
        before, after: (H, W) int label rasters (0 = none) on ONE grid.
        min_iou: smallest IoU of a match.
        tolerance: relative area change below which a matched object is stable (0.25 = 25 %).
        pixel_area_m2: ground area of a pixel, for the areas in m².
        valid: (H, W) bool: pixels valid on both dates (objects are counted inside it only).
    """
    before = np.asarray(before).astype(np.int64)
    after = np.asarray(after).astype(np.int64)
    if before.shape != after.shape:
        raise UserInputError(f"the two dates are on different grids: {before.shape} vs {after.shape}; align them "
                             "first (helpers.change.align)")
    if not 0 < min_iou <= 1 or tolerance < 0:
        raise UserInputError(f"need 0 < min_iou <= 1 and tolerance >= 0, got {min_iou}, {tolerance}")
    if valid is not None:
        before = np.where(valid, before, 0)
        after = np.where(valid, after, 0)
    nb, na = int(before.max(initial=0)), int(after.max(initial=0))
    area_b = np.bincount(before.ravel(), minlength=nb + 1)
    area_a = np.bincount(after.ravel(), minlength=na + 1)
    both = (before > 0) & (after > 0)
    keys, inter = np.unique(before[both] * (na + 1) + after[both], return_counts=True)
    ib, ia = keys // (na + 1), keys % (na + 1)
    iou = inter / (area_b[ib] + area_a[ia] - inter)
    matched_b, matched_a = {}, set()
    for k in np.argsort(-iou, kind="stable"):
        if iou[k] < min_iou:
            break
        b, a = int(ib[k]), int(ia[k])
        if b in matched_b or a in matched_a:
            continue
        matched_b[b] = (a, float(iou[k]))
        matched_a.add(a)
    rows = []
    status_before = np.zeros(nb + 1, np.uint8)
    status_after = np.zeros(na + 1, np.uint8)
    for b in range(1, nb + 1):
        if area_b[b] == 0:
            continue
        if b in matched_b:
            a, overlap = matched_b[b]
            ratio = area_a[a] / area_b[b]
            status = "grown" if ratio > 1 + tolerance else "shrunk" if 1 / ratio > 1 + tolerance else "stable"
            status_after[a] = STATUS_CODES[status]
        else:
            a, overlap, status = 0, float("nan"), "disappeared"
        status_before[b] = STATUS_CODES[status]
        rows.append({"status": status, "before_id": b, "after_id": a, "iou": round(overlap, 3),
                     "area_before_m2": float(area_b[b] * pixel_area_m2),
                     "area_after_m2": float(area_a[a] * pixel_area_m2) if a else 0.0})
    for a in range(1, na + 1):
        if area_a[a] and a not in matched_a:
            status_after[a] = STATUS_CODES["appeared"]
            rows.append({"status": "appeared", "before_id": 0, "after_id": a, "iou": float("nan"),
                         "area_before_m2": 0.0, "area_after_m2": float(area_a[a] * pixel_area_m2)})
    for row in rows:
        row["area_change_m2"] = row["area_after_m2"] - row["area_before_m2"]
    status_map = np.maximum(status_before[before], status_after[after])
    # where footprints of objects with different fates overlap (rare), the higher code is drawn
    return ObjectChange(rows, status_map.astype(np.uint8), float(pixel_area_m2))
