"""Object change across dates: objects of two dates matched by overlap, then appeared / disappeared /
grown / shrunk / stable, with areas.

Pixel change maps answer "which pixels changed"; a manager asks "which ponds are new, which dried up,
which grew". Here each date is a set of objects (a label raster: ponds from a water mask, or segments
from SAM / FastSAM), and:

1. every pair of objects that overlap gets its IoU (intersection over union, in pixels);
2. pairs are matched one to one, greedily by decreasing IoU, when ``IoU >= min_iou`` (a pond that doubled
   still has IoU 0.5 with its former self; a lake that moved its shore a little has a high IoU);
3. **merges and splits**: an object left unmatched that is mostly (``min_cover``) covered by an object of
   the other date joins that object's event (ponds swallowed by a growing lake make the lake's event
   *grown* from all of them, not "disappeared");
4. an event is **grown** when its area rose by more than ``tolerance`` (after/before > 1 + tol),
   **shrunk** when it fell by as much (before/after > 1 + tol), **stable** otherwise; an object of the
   first date still unmatched **disappeared**, one of the second date **appeared**.

Each row of the result is one event (``n_before`` / ``n_after`` objects, areas summed). Both dates must be
on one grid (see :mod:`helpers.change.align`).
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
        rows: one dict per event: ``status``, ``before_id`` / ``after_id`` (the largest object of each date
            in the event, 0 when none), ``n_before`` / ``n_after`` (objects of each date in the event),
            ``iou`` (of the one-to-one match; NaN for events made by merging or unmatched objects),
            ``area_before_m2``, ``area_after_m2``, ``area_change_m2`` (summed over the event's objects).
        status_map: uint8 (H, W): each pixel of an object gets its event's status code
            (:data:`STATUS_CODES`): appeared objects are drawn from the second date, disappeared ones from the
            first, the others as the union of their footprints on both dates.
        pixel_area_m2: ground area of one pixel (areas are pixel counts times this).
    """

    rows: list
    status_map: np.ndarray
    pixel_area_m2: float

    def counts(self) -> dict:
        """status -> number of events."""
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
        """One row per status: ``status``, ``events``, ``objects_before``, ``objects_after``,
        ``area_before_m2``, ``area_after_m2``, ``area_change_m2``."""
        table = []
        for status in STATUSES:
            rows = [r for r in self.rows if r["status"] == status]
            before = float(sum(r["area_before_m2"] for r in rows))
            after = float(sum(r["area_after_m2"] for r in rows))
            table.append({"status": status, "events": len(rows), "objects_before": sum(r["n_before"] for r in rows),
                          "objects_after": sum(r["n_after"] for r in rows), "area_before_m2": before,
                          "area_after_m2": after, "area_change_m2": after - before})
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
                               valid: np.ndarray | None = None, min_cover: float = 0.5) -> ObjectChange:
    """Match the objects of two dates and classify each event (see the module docstring).

    Args:
        before, after: (H, W) int label rasters (0 = none) on ONE grid.
        min_iou: smallest IoU of a one-to-one match.
        tolerance: relative area change below which an event is stable (0.25 = 25 %).
        pixel_area_m2: ground area of a pixel, for the areas in m².
        valid: (H, W) bool: pixels valid on both dates (objects are counted inside it only).
        min_cover: an object left unmatched joins the event of the object of the other date that covers
            at least this share of it (merges and splits).
    """
    before = np.asarray(before).astype(np.int64)
    after = np.asarray(after).astype(np.int64)
    if before.shape != after.shape:
        raise UserInputError(f"the two dates are on different grids: {before.shape} vs {after.shape}; align them "
                             "first (helpers.change.align)")
    if not 0 < min_iou <= 1 or tolerance < 0 or not 0 < min_cover <= 1:
        raise UserInputError(f"need 0 < min_iou <= 1, tolerance >= 0 and 0 < min_cover <= 1, got {min_iou}, "
                             f"{tolerance}, {min_cover}")
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
    # 1. one-to-one matches by decreasing IoU
    event_of_b, event_of_a, events = {}, {}, []
    for k in np.argsort(-iou, kind="stable"):
        if iou[k] < min_iou:
            break
        b, a = int(ib[k]), int(ia[k])
        if b in event_of_b or a in event_of_a:
            continue
        event_of_b[b] = event_of_a[a] = len(events)
        events.append({"before": [b], "after": [a], "iou": float(iou[k])})
    # 2. merges and splits: an unmatched object joins the event of the object that covers most of it
    best_after, best_before = {}, {}
    for b, a, n in zip(ib.tolist(), ia.tolist(), inter.tolist(), strict=True):
        if n >= min_cover * area_b[b] and n > best_after.get(b, (0, 0))[1]:
            best_after[b] = (a, n)
        if n >= min_cover * area_a[a] and n > best_before.get(a, (0, 0))[1]:
            best_before[a] = (b, n)
    for b in range(1, nb + 1):
        if area_b[b] and b not in event_of_b and b in best_after:
            a = best_after[b][0]
            if a not in event_of_a:
                event_of_a[a] = len(events)
                events.append({"before": [], "after": [a], "iou": float("nan")})
            event_of_b[b] = event_of_a[a]
            events[event_of_a[a]]["before"].append(b)
    for a in range(1, na + 1):
        if area_a[a] and a not in event_of_a and a in best_before:
            b = best_before[a][0]
            if b not in event_of_b:
                event_of_b[b] = len(events)
                events.append({"before": [b], "after": [], "iou": float("nan")})
            event_of_a[a] = event_of_b[b]
            events[event_of_b[b]]["after"].append(a)
    # 3. the rest appeared or disappeared
    for b in range(1, nb + 1):
        if area_b[b] and b not in event_of_b:
            event_of_b[b] = len(events)
            events.append({"before": [b], "after": [], "iou": float("nan")})
    for a in range(1, na + 1):
        if area_a[a] and a not in event_of_a:
            event_of_a[a] = len(events)
            events.append({"before": [], "after": [a], "iou": float("nan")})
    rows = []
    status_before = np.zeros(nb + 1, np.uint8)
    status_after = np.zeros(na + 1, np.uint8)
    for event in events:
        px_before = int(sum(area_b[b] for b in event["before"]))
        px_after = int(sum(area_a[a] for a in event["after"]))
        if not px_after:
            status = "disappeared"
        elif not px_before:
            status = "appeared"
        else:
            ratio = px_after / px_before
            status = "grown" if ratio > 1 + tolerance else "shrunk" if 1 / ratio > 1 + tolerance else "stable"
        status_before[event["before"]] = STATUS_CODES[status]
        status_after[event["after"]] = STATUS_CODES[status]
        main_b = max(event["before"], key=lambda i: area_b[i], default=0)
        main_a = max(event["after"], key=lambda i: area_a[i], default=0)
        rows.append({"status": status, "before_id": int(main_b), "after_id": int(main_a),
                     "n_before": len(event["before"]), "n_after": len(event["after"]),
                     "iou": round(event["iou"], 3), "area_before_m2": px_before * float(pixel_area_m2),
                     "area_after_m2": px_after * float(pixel_area_m2),
                     "area_change_m2": (px_after - px_before) * float(pixel_area_m2)})
    # where footprints of events with different fates overlap, the higher code is drawn
    status_map = np.maximum(status_before[before], status_after[after])
    return ObjectChange(rows, status_map.astype(np.uint8), float(pixel_area_m2))
