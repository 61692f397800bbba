"""Accuracy of a segmentation against reference data: pixel, boundary and object scores.

    ev = helpers.evaluate(masks, "footprints.geojson", tolerance_m=2)   # Masks vs vectors in any CRS
    print(ev)                     # summary table (says so when the masks came from smoke weights)
    ev.objects                    # one row per reference object: matched id, IoU, areas, diagnosis

Three views of the same comparison, because each hides what the others show:

* **pixel** (:func:`pixel_scores`): IoU (Jaccard), Dice (= pixel F1), precision, recall of the
  foreground. Big objects dominate; two touching buildings merged into one blob score perfectly.
* **boundary** (:func:`boundary_f`): the DAVIS boundary F-measure (Perazzi et al., CVPR 2016): the share of
  predicted boundary pixels lying within a tolerance of a reference boundary pixel (precision), and the
  reverse (recall). The tolerance is given in metres for georeferenced scenes (converted with the
  pixel size, :func:`helpers.crs.pixel_size_m`) or in pixels.
* **object** (:func:`match_objects`): predicted instances matched one-to-one to reference instances with
  IoU >= a threshold (0.5, as in COCO/PASCAL; at >0.5 a match is unique by construction, the
  assignment solves ties at lower thresholds); precision = matched / predicted, recall = matched /
  reference, F1, and the mean IoU of the matches. Splits and merges count as errors here.

Empty inputs follow one rule everywhere (as in DAVIS): predicting nothing claims nothing false
(precision 1), a reference with nothing in it cannot be missed (recall 1); so empty vs empty scores 1
on every measure (IoU, Dice, precision, recall, F), and empty vs non-empty scores 0 on IoU, Dice and F.

Inputs are numpy arrays (H, W) on one pixel grid: bool masks (foreground) or integer label rasters
(0 = background, each other value one object). :func:`reference_labels` brings any reference (label
raster, binary mask, vector file or GeoDataFrame in any CRS) onto a scene's grid; :func:`evaluate`
does everything for a :class:`~helpers.masks.Masks`, a label raster or a mask. A reference is often
complete only in part of a scene: ``region=`` scores only there (objects mostly inside, pixels inside).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .crs import pixel_area_m2, pixel_size_m
from .errors import UserInputError
from .maskops import boxes_from_masks
from .smoke import SMOKE_BANNER
from .tables import format_table

__all__ = [
    "DAVIS_BOUNDARY_FRACTION",
    "Evaluation",
    "Grid",
    "ObjectMatch",
    "VECTOR_SUFFIXES",
    "boundary_f",
    "boundary_map",
    "evaluate",
    "evaluations_frame",
    "evaluations_table",
    "match_objects",
    "scores_by_size",
    "pixel_scores",
    "reference_labels",
]

DAVIS_BOUNDARY_FRACTION = 0.008
"""DAVIS's default boundary tolerance when none is given: 0.8 % of the image diagonal, rounded up (px)."""

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".parquet", ".geoparquet", ".fgb", ".kml", ".gml")
"""File endings read as vector references (anything else is opened as a raster)."""

# Diagnosis thresholds for unmatched reference objects (shares of an object's area).
_PART_SHARE = 0.2  # a prediction covering >= 20% of a reference is a real part of it (split detection)
_COVER_SHARE = 0.5  # a prediction covering >= 50% of a reference "finds" it (merge / too large)
_MISSED_SHARE = 0.1  # no prediction covers 10% of the reference: missed


# ---- pixel level ----------------------------------------------------------------------------------
def _foreground(array, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2:
        raise UserInputError(f"{what} must be a 2-D (H, W) mask or label raster, got shape {array.shape}")
    return array if array.dtype == bool else array > 0


def _same_shape(pred: np.ndarray, ref: np.ndarray) -> None:
    if pred.shape != ref.shape:
        raise UserInputError(f"prediction is {pred.shape} but reference is {ref.shape} (H, W): not the same grid")


def _ratio(num: float, den: float, empty: float) -> float:
    return float(num) / float(den) if den else float(empty)


def _f_score(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _region(region, shape) -> np.ndarray | None:
    if region is None:
        return None
    region = np.asarray(region)
    if region.shape != tuple(shape):
        raise UserInputError(f"region is {region.shape} but the grid is {tuple(shape)} (H, W)")
    if region.dtype != bool:
        raise UserInputError(f"region must be a bool (H, W) mask, got {region.dtype}")
    if not region.any():
        raise UserInputError("region is empty: no pixel would be scored")
    return region


def pixel_scores(pred, ref, region=None) -> dict:
    """Pixel-level agreement of a predicted foreground with a reference foreground.

    Args:
        pred, ref: (H, W) bool masks or integer label rasters (every non-zero label is foreground).
        region: optional bool (H, W) mask of the pixels to score (where the reference is complete);
            pixels outside it are ignored.

    Returns:
        ``{"iou", "dice", "precision", "recall", "tp", "fp", "fn"}``: IoU (Jaccard) = tp / (tp+fp+fn);
        Dice = pixel F1 = 2tp / (2tp+fp+fn); precision = tp / (tp+fp); recall = tp / (tp+fn); tp, fp, fn
        are pixel counts. Empty prediction: precision 1; empty reference: recall 1; both empty: every
        score 1 (nothing to find, nothing claimed).
    """
    p, r = _foreground(pred, "prediction"), _foreground(ref, "reference")
    _same_shape(p, r)
    inside = _region(region, p.shape)
    if inside is not None:
        p, r = p & inside, r & inside
    tp = int(np.count_nonzero(p & r))
    fp = int(np.count_nonzero(p)) - tp
    fn = int(np.count_nonzero(r)) - tp
    empty_both = 1.0 if fp == fn == tp == 0 else 0.0
    return {
        "iou": _ratio(tp, tp + fp + fn, empty_both),
        "dice": _ratio(2 * tp, 2 * tp + fp + fn, empty_both),
        "precision": _ratio(tp, tp + fp, 1.0),
        "recall": _ratio(tp, tp + fn, 1.0),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


# ---- boundary level -------------------------------------------------------------------------------
def boundary_map(labels) -> np.ndarray:
    """bool (H, W): the one-pixel-thin boundary of a mask or label raster, as DAVIS draws it.

    A pixel is on the boundary when its label differs from its east, south or south-east neighbour
    inside the image (the image edge itself is no boundary). For a bool mask this is DAVIS's
    ``seg2bmap`` at full resolution; for a label raster the wall between two touching objects counts
    too, so two buildings merged into one blob lose the boundary between them.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise UserInputError(f"a boundary needs a 2-D (H, W) mask or label raster, got shape {labels.shape}")
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    edge[:-1, :-1] |= labels[:-1, :-1] != labels[1:, 1:]
    return edge


def tolerance_pixels(shape, tolerance_px=None, tolerance_m=None, transform=None, crs=None) -> float:
    """The boundary tolerance in pixels (see :func:`boundary_f` for the arguments).

    ``tolerance_m`` is divided by the mean ground size of the centre pixel (:func:`helpers.crs.pixel_size_m`);
    with neither tolerance, DAVIS's default ceil(0.008 x image diagonal).
    """
    if tolerance_px is not None and tolerance_m is not None:
        raise UserInputError("give the boundary tolerance in pixels or in metres, not both")
    if tolerance_m is not None:
        if transform is None:
            raise UserInputError(
                "a boundary tolerance in metres needs a georeferenced grid (transform and crs); "
                "give tolerance_px for plain images"
            )
        if not tolerance_m >= 0:
            raise UserInputError(f"tolerance_m must be >= 0 metres, got {tolerance_m}")
        width_m, height_m = pixel_size_m(transform, crs, shape)
        return float(tolerance_m) / ((abs(width_m) + abs(height_m)) / 2)
    if tolerance_px is not None:
        if not tolerance_px >= 0:
            raise UserInputError(f"tolerance_px must be >= 0 pixels, got {tolerance_px}")
        return float(tolerance_px)
    return float(math.ceil(DAVIS_BOUNDARY_FRACTION * math.hypot(*shape)))


def _disk(radius: float) -> np.ndarray:
    """uint8 footprint of the pixels within ``radius`` of the centre (skimage's ``disk`` for whole radii)."""
    reach = int(math.floor(radius + 1e-9))
    rows, cols = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    return (rows**2 + cols**2 <= radius**2 + 1e-9).astype(np.uint8)


def _within(boundary: np.ndarray, other: np.ndarray, radius: float) -> int:
    """How many ``boundary`` pixels lie within ``radius`` pixels (centre to centre) of an ``other`` pixel."""
    import cv2  # OpenCV (an ultralytics dependency) dilates 10x faster than scipy; DAVIS uses it too

    if not boundary.any() or not other.any():
        return 0
    near = cv2.dilate(other.view(np.uint8), _disk(radius)) if radius >= 1 else other
    return int(np.count_nonzero(near.view(bool) & boundary))


def boundary_f(pred, ref, tolerance_px=None, tolerance_m=None, transform=None, crs=None, region=None) -> dict:
    """DAVIS boundary F-measure of a prediction against a reference, with a tolerance in pixels or metres.

    Args:
        pred, ref: (H, W) bool masks or integer label rasters on the same grid (label rasters: the walls
            between touching objects are boundaries too, see :func:`boundary_map`).
        tolerance_px: a boundary pixel is matched when a pixel of the other boundary lies within this
            Euclidean distance (pixel centres; DAVIS dilates with a disk of this radius).
        tolerance_m: the same in metres on the ground, for georeferenced grids (``transform``, ``crs``):
            converted with the pixel size at the scene centre.
        transform: ``affine.Affine`` of the grid (pixel corner -> map), for ``tolerance_m``.
        crs: CRS of the grid (anything :func:`helpers.crs.to_pyproj` takes), for ``tolerance_m``.
            With neither tolerance: DAVIS's default, ceil(0.008 x image diagonal) pixels.
        region: optional bool (H, W) mask: only boundary pixels inside it are counted (they may still
            be matched by boundary pixels just outside).

    Returns:
        ``{"precision", "recall", "f", "tolerance_px"}``: the share of predicted boundary pixels near a
        reference boundary, the share of reference boundary pixels near a predicted one, their harmonic
        mean, and the tolerance used. No predicted boundary: precision 1; no reference boundary:
        recall 1 (both: F = 1).
    """
    p, r = np.asarray(pred), np.asarray(ref)
    for array, what in ((p, "prediction"), (r, "reference")):
        _foreground(array, what)  # checks the shape
    _same_shape(p, r)
    radius = tolerance_pixels(p.shape, tolerance_px, tolerance_m, transform, crs)
    pred_edge, ref_edge = boundary_map(p), boundary_map(r)
    inside = _region(region, p.shape)
    counted_pred, counted_ref = (pred_edge, ref_edge) if inside is None else (pred_edge & inside, ref_edge & inside)
    n_pred, n_ref = int(counted_pred.sum()), int(counted_ref.sum())
    precision = _ratio(_within(counted_pred, ref_edge, radius), n_pred, 1.0)
    recall = _ratio(_within(counted_ref, pred_edge, radius), n_ref, 1.0)
    return {"precision": precision, "recall": recall, "f": _f_score(precision, recall), "tolerance_px": radius}


# ---- object level ---------------------------------------------------------------------------------
def _check_labels(labels, what: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise UserInputError(f"{what} must be a 2-D (H, W) label raster, got shape {labels.shape}")
    if labels.dtype == bool:
        return _label_components(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise UserInputError(f"{what} must be an integer label raster or a bool mask, got {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise UserInputError(f"{what} has negative labels; 0 is background and objects are 1, 2, ...")
    return labels


def _label_components(mask: np.ndarray) -> np.ndarray:
    """uint32 labels of the 8-connected components of a bool mask (diagonal neighbours join)."""
    from scipy import ndimage

    labels, _ = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    return labels.astype(np.uint32)


def _label_overlaps(pred: np.ndarray, ref: np.ndarray):
    """(pred ids, ref ids, shared pixels) of every overlapping pair of two label rasters."""
    both = (pred > 0) & (ref > 0)
    ref_span = int(ref.max()) + 1 if ref.size else 1
    keys = pred[both].astype(np.int64) * ref_span + ref[both].astype(np.int64)
    keys, counts = np.unique(keys, return_counts=True)
    return keys // ref_span, keys % ref_span, counts.astype(np.int64)


def _mask_overlaps(masks: np.ndarray, ref: np.ndarray):
    """(mask index + 1, ref ids, shared pixels) for a (N, H, W) stack of possibly overlapping masks."""
    pred_ids, ref_ids, shared = [], [], []
    for i, (x0, y0, x1, y1) in enumerate(boxes_from_masks(masks).astype(int)):
        window = np.s_[y0:y1, x0:x1]
        ids = ref[window][masks[i][window]]
        ids, counts = np.unique(ids[ids > 0], return_counts=True)
        pred_ids.append(np.full(ids.size, i + 1, dtype=np.int64))
        ref_ids.append(ids.astype(np.int64))
        shared.append(counts.astype(np.int64))
    if not pred_ids:
        return (np.zeros(0, np.int64),) * 3
    return np.concatenate(pred_ids), np.concatenate(ref_ids), np.concatenate(shared)


def _areas(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids present, pixel count of each), background excluded."""
    counts = np.bincount(labels.ravel().astype(np.int64)) if labels.size else np.zeros(1, np.int64)
    ids = np.flatnonzero(counts)
    ids = ids[ids > 0]
    return ids, counts[ids].astype(np.int64)


def _assign(pred_index, ref_index, iou, n_pred, n_ref, threshold):
    """One-to-one matching maximising total IoU over the candidate pairs (IoU >= threshold).

    Candidate pairs form a sparse bipartite graph; a pair whose prediction and reference have no other
    candidate is matched at once (always the case above 0.5), and each remaining connected group is
    solved with ``scipy.optimize.linear_sum_assignment`` on its small dense IoU matrix.
    Returns (pred index, ref index, IoU) arrays of the matches.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    keep = iou >= threshold
    p, r, w = pred_index[keep], ref_index[keep], iou[keep]
    single = (np.bincount(p, minlength=n_pred)[p] == 1) & (np.bincount(r, minlength=n_ref)[r] == 1)
    matches = [(p[single], r[single], w[single])]
    p, r, w = p[~single], r[~single], w[~single]
    if p.size:
        graph = coo_matrix((np.ones(p.size), (p, n_pred + r)), shape=(n_pred + n_ref,) * 2)
        group = connected_components(graph, directed=False)[1][p]
        order = np.argsort(group, kind="stable")
        starts = np.flatnonzero(np.diff(group[order])) + 1
        for chunk in np.split(order, starts):
            rows, row_of = np.unique(p[chunk], return_inverse=True)
            cols, col_of = np.unique(r[chunk], return_inverse=True)
            weights = np.zeros((rows.size, cols.size))
            weights[row_of, col_of] = w[chunk]
            best_rows, best_cols = linear_sum_assignment(weights, maximize=True)
            best = weights[best_rows, best_cols]
            real = best >= threshold
            matches.append((rows[best_rows[real]], cols[best_cols[real]], best[real]))
    return tuple(np.concatenate(parts) for parts in zip(*matches, strict=True))


@dataclass
class ObjectMatch:
    """Result of :func:`match_objects`: scores, and one row per reference and per predicted object.

    Attributes:
        precision, recall, f1: matched / predicted, matched / reference, their harmonic mean.
        mean_iou: mean IoU of the matched pairs (NaN without any match).
        tp, fp, fn: matched pairs, unmatched predictions, unmatched references.
        n_pred, n_ref: objects on each side; iou_threshold: the IoU a match needs.
        objects: DataFrame, one row per reference object: ``ref_id``, ``pred_id`` (matched prediction,
            0 = none), ``iou`` (of the match, 0 = none), ``best_iou`` and ``best_pred_id`` (the
            prediction overlapping it best, matched or not), ``ref_area_px``, ``pred_area_px``,
            ``n_parts`` (predictions each covering >= 20% of it) and ``diagnosis``: ``matched``,
            ``missed`` (no prediction covers 10% of it), ``split`` (>= 2 parts), ``merged`` (its best
            prediction covers >= 50% of it and of another reference), ``too large`` (covered >= 50%
            by a prediction much larger than it), ``too small`` (its best prediction lies mostly
            inside it but covers < 50%), ``shifted`` (anything else: partial overlap).
        predictions: DataFrame, one row per predicted object: ``pred_id``, ``pred_area_px``,
            ``ref_id`` (matched reference, 0 = none: a false positive), ``iou``, ``best_iou``.
    """

    precision: float
    recall: float
    f1: float
    mean_iou: float
    tp: int
    fp: int
    fn: int
    n_pred: int
    n_ref: int
    iou_threshold: float
    objects: object = field(repr=False)
    predictions: object = field(repr=False)

    @property
    def summary(self) -> dict:
        """The scores as a dict (no per-object rows)."""
        return {k: getattr(self, k) for k in ("precision", "recall", "f1", "mean_iou", "tp", "fp", "fn",
                                               "n_pred", "n_ref", "iou_threshold")}


def _take(values: np.ndarray, index: np.ndarray, missing=0) -> np.ndarray:
    """``values[index]`` where ``index >= 0``, ``missing`` where it is -1 (works on empty ``values``)."""
    out = np.full(index.shape, missing, dtype=np.result_type(values.dtype, type(missing)))
    found = index >= 0
    out[found] = values[index[found]]
    return out


def _best_overlap(index: np.ndarray, other: np.ndarray, iou: np.ndarray, size: int):
    """For each of ``size`` objects, the overlapping partner with the highest IoU (-1, 0.0 if none)."""
    best, best_iou = np.full(size, -1), np.zeros(size)
    if index.size:
        order = np.lexsort((-iou, index))  # by object, then IoU high first
        first = order[np.r_[True, index[order][1:] != index[order][:-1]]]
        best[index[first]] = other[first]
        best_iou[index[first]] = iou[first]
    return best, best_iou


def _match(pred_ids, pred_areas, ref_ids, ref_areas, pair_pred, pair_ref, shared, threshold) -> ObjectMatch:
    """Score overlapping pairs (object ids and shared pixels) given every object's id and pixel area."""
    import pandas as pd

    if not 0 < threshold <= 1:
        raise UserInputError(f"iou_threshold must be in (0, 1], got {threshold}")
    n_pred, n_ref = pred_ids.size, ref_ids.size
    pi, ri = np.searchsorted(pred_ids, pair_pred), np.searchsorted(ref_ids, pair_ref)
    iou = shared / np.maximum(pred_areas[pi] + ref_areas[ri] - shared, 1)
    match_p, match_r, match_iou = _assign(pi, ri, iou, n_pred, n_ref, threshold)
    ref_match, pred_match = np.full(n_ref, -1), np.full(n_pred, -1)
    ref_match[match_r], pred_match[match_p] = match_p, match_r
    ref_iou, pred_iou = np.zeros(n_ref), np.zeros(n_pred)
    ref_iou[match_r], pred_iou[match_p] = match_iou, match_iou
    ref_best, ref_best_iou = _best_overlap(ri, pi, iou, n_ref)
    _, pred_best_iou = _best_overlap(pi, ri, iou, n_pred)

    # Why an unmatched reference failed: how much of it each overlapping prediction covers.
    cover = shared / ref_areas[ri]
    parts = np.bincount(ri[cover >= _PART_SHARE], minlength=n_ref)
    best_cover = np.zeros(n_ref)
    is_best = ref_best[ri] == pi
    best_cover[ri[is_best]] = cover[is_best]
    covers_many = np.bincount(pi[cover >= _COVER_SHARE], minlength=n_pred) >= 2  # a merging prediction
    best_area = _take(pred_areas, ref_best).astype(float)
    inside_share = np.divide(best_cover * ref_areas, best_area, out=np.zeros(n_ref), where=best_area > 0)
    diagnosis = np.full(n_ref, "shifted", dtype=object)
    diagnosis[(best_cover >= _COVER_SHARE) & (best_area > ref_areas)] = "too large"
    diagnosis[(best_cover < _COVER_SHARE) & (inside_share >= _COVER_SHARE)] = "too small"
    diagnosis[(best_cover >= _COVER_SHARE) & _take(covers_many, ref_best, False)] = "merged"
    diagnosis[parts >= 2] = "split"
    diagnosis[best_cover < _MISSED_SHARE] = "missed"
    diagnosis[ref_match >= 0] = "matched"

    objects = pd.DataFrame({
        "ref_id": ref_ids.astype(np.int64),
        "pred_id": _take(pred_ids, ref_match).astype(np.int64),
        "iou": ref_iou,
        "best_iou": ref_best_iou,
        "best_pred_id": _take(pred_ids, ref_best).astype(np.int64),
        "ref_area_px": ref_areas.astype(np.int64),
        "pred_area_px": _take(pred_areas, ref_match).astype(np.int64),
        "n_parts": parts.astype(np.int64),
        "diagnosis": diagnosis,
    })
    predictions = pd.DataFrame({
        "pred_id": pred_ids.astype(np.int64),
        "pred_area_px": pred_areas.astype(np.int64),
        "ref_id": _take(ref_ids, pred_match).astype(np.int64),
        "iou": pred_iou,
        "best_iou": pred_best_iou,
    })
    tp = int(match_p.size)
    precision, recall = _ratio(tp, n_pred, 1.0), _ratio(tp, n_ref, 1.0)
    return ObjectMatch(
        precision=precision, recall=recall, f1=_f_score(precision, recall),
        mean_iou=float(match_iou.mean()) if tp else float("nan"),
        tp=tp, fp=int(n_pred - tp), fn=int(n_ref - tp), n_pred=int(n_pred), n_ref=int(n_ref),
        iou_threshold=float(threshold), objects=objects, predictions=predictions,
    )


def _mostly_inside(areas: np.ndarray, inside_counts: np.ndarray) -> np.ndarray:
    """bool per object: at least half of its pixels lie inside the scored region."""
    return inside_counts * 2 >= areas


def _keep_pairs(pairs, pred_ids, ref_ids):
    pair_pred, pair_ref, shared = pairs
    keep = np.isin(pair_pred, pred_ids) & np.isin(pair_ref, ref_ids)
    return pair_pred[keep], pair_ref[keep], shared[keep]


def _label_inside_counts(labels: np.ndarray, ids: np.ndarray, region: np.ndarray) -> np.ndarray:
    counts = np.bincount(labels[region].astype(np.int64), minlength=int(ids.max(initial=0)) + 1)
    return counts[ids]


def match_objects(pred_labels, ref_labels, iou_threshold: float = 0.5, region=None) -> ObjectMatch:
    """Match predicted objects to reference objects one-to-one and score the matches.

    Args:
        pred_labels, ref_labels: (H, W) integer label rasters on one grid (0 = background, each other
            value one object), or bool masks (each 8-connected component becomes one object).
        iou_threshold: IoU a pair needs to count as a match, in (0, 1] (0.5 default: above 0.5 a match
            is unique by construction; below, ``linear_sum_assignment`` picks the pairs with the
            highest total IoU).
        region: optional bool (H, W) mask of the area where the reference is complete: objects (on
            either side) with less than half of their pixels inside it are ignored.

    Only pairs that share pixels are ever compared (sparse), so 10,000 x 10,000 objects take well
    under a second. Returns an :class:`ObjectMatch` (scores, per-reference and per-prediction rows).
    """
    pred = _check_labels(pred_labels, "prediction")
    ref = _check_labels(ref_labels, "reference")
    _same_shape(pred, ref)
    pred_ids, pred_areas = _areas(pred)
    ref_ids, ref_areas = _areas(ref)
    pairs = _label_overlaps(pred, ref)
    inside = _region(region, pred.shape)
    if inside is not None:
        keep_pred = _mostly_inside(pred_areas, _label_inside_counts(pred, pred_ids, inside))
        keep_ref = _mostly_inside(ref_areas, _label_inside_counts(ref, ref_ids, inside))
        pred_ids, pred_areas = pred_ids[keep_pred], pred_areas[keep_pred]
        ref_ids, ref_areas = ref_ids[keep_ref], ref_areas[keep_ref]
        pairs = _keep_pairs(pairs, pred_ids, ref_ids)
    return _match(pred_ids, pred_areas, ref_ids, ref_areas, *pairs, iou_threshold)


def _match_masks(masks: np.ndarray, ref: np.ndarray, iou_threshold: float, region=None) -> ObjectMatch:
    """:func:`match_objects` for a (N, H, W) stack of masks that may overlap (mask i -> id i + 1)."""
    masks = np.asarray(masks, dtype=bool)
    if masks.shape[1:] != ref.shape:
        raise UserInputError(f"masks are {masks.shape[1:]} but reference is {ref.shape} (H, W): not the same grid")
    areas = masks.sum(axis=(1, 2)).astype(np.int64)
    keep = areas > 0
    ref_ids, ref_areas = _areas(ref)
    inside = _region(region, ref.shape)
    if inside is not None:
        keep &= _mostly_inside(areas, (masks & inside).sum(axis=(1, 2)))
        keep_ref = _mostly_inside(ref_areas, _label_inside_counts(ref, ref_ids, inside))
        ref_ids, ref_areas = ref_ids[keep_ref], ref_areas[keep_ref]
    present = np.flatnonzero(keep)
    pairs = _keep_pairs(_mask_overlaps(masks, ref), present + 1, ref_ids)
    return _match(present + 1, areas[present], ref_ids, ref_areas, *pairs, iou_threshold)


# ---- references on a scene grid -------------------------------------------------------------------
@dataclass(frozen=True)
class Grid:
    """A pixel grid: ``shape`` (H, W), and its ``transform`` / ``crs`` (``None`` for plain images)."""

    shape: tuple[int, int]
    transform: object | None = None
    crs: object | None = None

    @property
    def is_georeferenced(self) -> bool:
        return self.transform is not None and self.crs is not None

    def bounds_text(self) -> str:
        from rasterio.transform import array_bounds

        west, south, east, north = array_bounds(*self.shape, self.transform)
        return f"{_coords_text((west, south, east, north))} in {_crs_name(self.crs)}"


def _coords_text(values) -> str:
    """``(w, s, e, n)`` with decimals that suit metres (1) or degrees (6)."""
    return "(" + ", ".join(f"{v:.1f}" if abs(v) > 1000 else f"{v:.6f}" for v in values) + ")"


def _crs_name(crs) -> str:
    from .crs import to_pyproj

    pcrs = to_pyproj(crs)
    epsg = pcrs.to_epsg()
    return f"EPSG:{epsg}" if epsg else pcrs.name


def _is_vector_path(path: Path) -> bool:
    return path.suffix.lower() in VECTOR_SUFFIXES


def _grid_of(like) -> Grid:
    """The pixel grid of a Scene, Masks, raster path, Grid, (H, W) tuple or (H, W) array."""
    if isinstance(like, Grid):
        return like
    if isinstance(like, (str, Path)):
        path = Path(like)
        if not path.is_file():
            raise UserInputError(f"raster {path} does not exist")
        import rasterio

        with rasterio.open(path) as ds:
            georeferenced = ds.crs is not None and not ds.transform.is_identity
            return Grid((ds.height, ds.width), ds.transform if georeferenced else None,
                        ds.crs if georeferenced else None)
    if hasattr(like, "shape") and hasattr(like, "transform") and hasattr(like, "crs"):  # Scene, Masks
        return Grid(tuple(int(v) for v in like.shape[:2]), like.transform, like.crs)
    if isinstance(like, np.ndarray):
        return Grid(tuple(int(v) for v in like.shape[:2]))
    if isinstance(like, tuple) and len(like) == 2:
        return Grid((int(like[0]), int(like[1])))
    raise UserInputError(f"cannot tell the pixel grid from a {type(like).__name__}; pass a Scene, Masks or raster")


def _read_raster(path: Path):
    """(band 1 array, Grid, tags) of a raster file."""
    import rasterio

    if not path.is_file():
        raise UserInputError(f"raster {path} does not exist")
    with rasterio.open(path) as ds:
        data = ds.read(1)
        georeferenced = ds.crs is not None and not ds.transform.is_identity
        grid = Grid((ds.height, ds.width), ds.transform if georeferenced else None, ds.crs if georeferenced else None)
        return data, grid, ds.tags()


def _same_grid(a: Grid, b: Grid) -> bool:
    if a.shape != b.shape:
        return False
    if not (a.is_georeferenced and b.is_georeferenced):
        return True
    from .crs import to_pyproj

    return a.transform.almost_equals(b.transform) and to_pyproj(a.crs) == to_pyproj(b.crs)


def _raster_onto(data: np.ndarray, source: Grid, grid: Grid, what: str) -> np.ndarray:
    """A label raster on ``grid``: as is when the grids agree, else reprojected (nearest neighbour)."""
    if _same_grid(source, grid):
        return data
    if not (source.is_georeferenced and grid.is_georeferenced):
        raise UserInputError(
            f"{what} is {source.shape[0]}x{source.shape[1]} (HxW) but the scene is {grid.shape[0]}x{grid.shape[1]} "
            "and one of them has no georeferencing to resample with"
        )
    from rasterio.warp import Resampling, reproject

    out = np.zeros(grid.shape, dtype=data.dtype)
    reproject(data, out, src_transform=source.transform, src_crs=source.crs, dst_transform=grid.transform,
              dst_crs=grid.crs, resampling=Resampling.nearest, src_nodata=0, dst_nodata=0)
    return out


def _vector_labels(gdf, grid: Grid, what: str) -> np.ndarray:
    """Rasterise polygons onto ``grid``: feature i (in the given order) -> label i + 1, small on top."""
    import shapely
    from rasterio import features

    if not grid.is_georeferenced:
        raise UserInputError(f"{what} is a vector layer but the scene has no georeferencing to place it on")
    if gdf.crs is None:
        raise UserInputError(f"{what} has no CRS; set one (gdf.set_crs(...)) so it can be placed on the scene")
    if len(gdf) == 0:
        raise UserInputError(f"{what} is empty: no features")
    geoms = gdf.geometry.to_crs(grid.crs).to_numpy()
    present = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
    areas = np.where(present, shapely.area(np.where(present, geoms, None)), 0.0)
    labels = np.zeros(grid.shape, dtype=np.uint32)
    order = [i for i in np.argsort(-areas, kind="stable") if present[i]]  # large first: small on top
    if order:
        features.rasterize(((geoms[i], i + 1) for i in order), out=labels, transform=grid.transform)
    if not labels.any():
        bounds = shapely.total_bounds(geoms[present]) if present.any() else None
        where = f"features span {_coords_text(bounds)}" if bounds is not None else "no geometry"
        raise UserInputError(
            f"{what} does not cover any pixel of the scene ({where} in {_crs_name(grid.crs)}; "
            f"scene bounds {grid.bounds_text()})"
        )
    return labels


def reference_labels(reference, like, binary: bool | None = None) -> np.ndarray:
    """A reference as uint32 instance labels (H, W) on a scene's pixel grid.

    Args:
        reference: one of
            * a label raster: integer (H, W) array or raster file (0 = background, each value one
              object); a file on another georeferenced grid is resampled (nearest neighbour);
            * a binary mask: bool (H, W) array (each 8-connected component becomes one object);
            * a vector file (``.geojson``, ``.gpkg``, ``.shp``, ``.parquet``, ...), a GeoDataFrame or
              GeoSeries of polygons in ANY CRS: reprojected to the scene's CRS and rasterised with
              ``rasterio.features`` (pixel centres inside a polygon; feature ``i`` in row order gets
              label ``i + 1``, so rows map back to the features; where polygons overlap the smaller
              is on top).
        like: the scene grid: a :class:`~helpers.scene.Scene`, :class:`~helpers.masks.Masks`, a raster
            path, a :class:`Grid`, or an (H, W) array/tuple (no georeferencing).
        binary: ``True`` treats a non-zero integer raster as one binary mask (components become
            objects), e.g. a 0/255 water mask; ``None`` (default) does so for bool arrays only.

    Raises:
        UserInputError: one line, for a reference that is empty, lies outside the scene, has no CRS, is
            on another grid without georeferencing, or is not a mask, label raster or vector.
    """
    grid = _grid_of(like)
    what = "reference"
    if isinstance(reference, (str, Path)):
        path = Path(reference)
        what = f"reference {path.name}"
        if _is_vector_path(path):
            if not path.is_file():
                raise UserInputError(f"reference {path} does not exist")
            import geopandas

            return _vector_labels(geopandas.read_file(path), grid, what)
        data, source, _ = _read_raster(path)
        labels = _raster_onto(data, source, grid, what)
    elif hasattr(reference, "geometry") or type(reference).__name__ == "GeoSeries":
        import geopandas

        gdf = reference if isinstance(reference, geopandas.GeoDataFrame) else geopandas.GeoDataFrame(geometry=reference)
        return _vector_labels(gdf, grid, what)
    else:
        labels = np.asarray(reference)
        if labels.ndim != 2:
            raise UserInputError(f"reference must be (H, W), got shape {labels.shape}")
        if labels.shape != grid.shape:
            raise UserInputError(
                f"reference is {labels.shape[0]}x{labels.shape[1]} (HxW) but the scene is "
                f"{grid.shape[0]}x{grid.shape[1]}"
            )
    if binary or labels.dtype == bool:
        labels = _label_components(labels > 0 if labels.dtype != bool else labels)
    elif not np.issubdtype(labels.dtype, np.integer):
        raise UserInputError(f"{what} must be an integer label raster or a bool mask, got {labels.dtype}")
    elif labels.size and labels.min() < 0:
        raise UserInputError(f"{what} has negative labels; 0 is background and objects are 1, 2, ...")
    if not labels.any():
        raise UserInputError(f"{what} is empty: no object on the scene's {grid.shape[0]}x{grid.shape[1]} grid")
    return labels.astype(np.uint32, copy=False)


# ---- everything at once ---------------------------------------------------------------------------
SUMMARY_COLUMNS = (
    ("method", "method"),
    ("n_pred", "pred"),
    ("n_ref", "ref"),
    ("object_f1", "obj F1"),
    ("object_precision", "obj P"),
    ("object_recall", "obj R"),
    ("mean_iou", "mean IoU"),
    ("pixel_iou", "px IoU"),
    ("pixel_dice", "px Dice"),
    ("boundary_f", "bnd F"),
    ("time_s", "time s"),
)
"""Columns of :func:`evaluations_table` and ``Evaluation.table()``: (summary key, header)."""


@dataclass
class Evaluation:
    """Everything :func:`evaluate` measured for one prediction.

    Attributes:
        summary: dict: ``method``, ``smoke``, ``n_pred``, ``n_ref``, ``object_precision``,
            ``object_recall``, ``object_f1``, ``mean_iou`` (of matches), ``tp``/``fp``/``fn`` (objects),
            ``iou_threshold``, ``pixel_iou``, ``pixel_dice``, ``pixel_precision``, ``pixel_recall``,
            ``boundary_precision``, ``boundary_recall``, ``boundary_f``, ``tolerance_px``,
            ``tolerance_m`` (``None`` when given in pixels), ``time_s`` (``None`` when unknown),
            ``region_share`` (share of the scene scored: 1.0 without a region).
        objects: DataFrame, one row per reference object (see :class:`ObjectMatch`), plus
            ``ref_area_m2`` / ``pred_area_m2`` on georeferenced grids (centre pixel area x pixels).
        predictions: DataFrame, one row per predicted object (unmatched rows are false positives).
        smoke: the prediction came from untrained smoke weights: its scores are meaningless.
    """

    summary: dict
    objects: object = field(repr=False)
    predictions: object = field(repr=False)

    @property
    def smoke(self) -> bool:
        return bool(self.summary.get("smoke"))

    def table(self) -> str:
        """The summary as a plain-text table (with the smoke banner when it applies)."""
        return evaluations_table([self])

    def __str__(self) -> str:
        return self.table()

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython / Jupyter show the table
        printer.text(self.table())

    def to_csv(self, path) -> Path:
        """Write the per-reference-object rows (``objects``) to a CSV file, atomically."""
        from .tables import write_csv

        return write_csv(self.objects.to_dict("records"), path, columns=list(self.objects.columns))


def evaluations_frame(evaluations) -> object:
    """A pandas DataFrame with one row per :class:`Evaluation` summary (for plots and CSV)."""
    import pandas as pd

    return pd.DataFrame([ev.summary for ev in evaluations])


def evaluations_table(evaluations, title: str | None = None) -> str:
    """Plain-text table comparing several :class:`Evaluation` summaries, one row per method.

    Rows from smoke weights are marked ``(smoke)`` and the table ends with the smoke banner.
    """
    rows = []
    for ev in evaluations:
        row = dict(ev.summary)
        if ev.smoke:
            row["method"] = f"{row.get('method', '')} (smoke)"
        rows.append(row)
    text = format_table(rows, SUMMARY_COLUMNS)
    first = evaluations[0].summary if evaluations else {}
    tolerance = (f"{first.get('tolerance_m'):g} m" if first.get("tolerance_m") is not None
                 else f"{first.get('tolerance_px', float('nan')):.3g} px")
    note = (f"objects matched at IoU >= {first.get('iou_threshold', 0.5):g}; boundary F within {tolerance}"
            if first else "")
    parts = [title] if title else []
    parts += [text, note]
    if any(ev.smoke for ev in evaluations):
        parts.append(f"(smoke) {SMOKE_BANNER}: these scores say nothing about the method")
    return "\n".join(p for p in parts if p)


def scores_by_size(evaluation, bins, labels=None):
    """Recall of the reference objects per size class: where a method misses small objects.

    Args:
        evaluation: an :class:`Evaluation` (or its ``objects`` DataFrame).
        bins: increasing class edges in m² when the objects have ``ref_area_m2`` (georeferenced), else
            in pixels, e.g. ``[0, 500, 5000, inf]``.
        labels: class names (one fewer than ``bins``); default ``"a-b m²"``.

    Returns:
        DataFrame, one row per class: ``size_class``, ``n_ref``, ``matched``, ``recall``,
        ``mean_best_iou`` (how close the best prediction came, matched or not).
    """
    import pandas as pd

    objects = getattr(evaluation, "objects", evaluation)
    column, unit = ("ref_area_m2", "m²") if "ref_area_m2" in objects else ("ref_area_px", "px")
    bins = [float(b) for b in bins]
    if len(bins) < 2 or any(b >= c for b, c in zip(bins, bins[1:], strict=False)):
        raise UserInputError(f"bins must be at least two increasing edges, got {bins}")
    if labels is None:
        labels = [f"{a:g}-{b:g} {unit}" for a, b in zip(bins, bins[1:], strict=False)]
    if len(labels) != len(bins) - 1:
        raise UserInputError(f"{len(bins) - 1} size classes but {len(labels)} labels")
    classes = pd.cut(objects[column], bins, labels=labels, right=False)
    rows = []
    for label in labels:
        members = objects[classes == label]
        matched = int((members["pred_id"] > 0).sum())
        rows.append({"size_class": label, "n_ref": len(members), "matched": matched,
                     "recall": matched / len(members) if len(members) else float("nan"),
                     "mean_best_iou": float(members["best_iou"].mean()) if len(members) else float("nan")})
    return pd.DataFrame(rows)


def _prediction(pred, grid: Grid | None):
    """(labels or None, masks stack or None, Grid, smoke, method, time) of what evaluate accepts."""
    if hasattr(pred, "to_label_raster") and hasattr(pred, "masks"):  # a Masks (duck-typed: no import cycle)
        timings = getattr(pred, "timings", {}) or {}
        time_s = float(sum(v for v in timings.values() if isinstance(v, (int, float)))) if timings else None
        name = " ".join(str(v) for v in (pred.model, pred.prompt_type) if v) or "prediction"
        return None, np.asarray(pred.masks, dtype=bool), _grid_of(pred), bool(pred.smoke), name, time_s
    if isinstance(pred, (str, Path)):
        path = Path(pred)
        data, source, tags = _read_raster(path)
        if not np.issubdtype(data.dtype, np.integer):
            raise UserInputError(f"prediction {path.name} must be an integer label raster, got {data.dtype}")
        target = grid or source
        return (_raster_onto(data, source, target, f"prediction {path.name}"), None, target,
                tags.get("smoke") == "true", tags.get("model") or path.stem, None)
    labels = _check_labels(pred, "prediction")
    return labels, None, grid or Grid(labels.shape), False, "prediction", None


def evaluate(pred, reference, like=None, iou_threshold: float = 0.5, tolerance_m: float | None = None,
             tolerance_px: float | None = None, method: str | None = None, time_s: float | None = None,
             binary_reference: bool | None = None, region=None) -> Evaluation:
    """Score a prediction against reference data: object, pixel and boundary metrics in one go.

    Args:
        pred: a :class:`~helpers.masks.Masks` (masks may overlap: each is one object; its grid,
            ``smoke`` flag and timings come along), an integer label raster (H, W), a bool mask (each
            8-connected component one object), or a label GeoTIFF path (what ``segment`` writes).
        reference: anything :func:`reference_labels` takes (label raster, bool mask, vector file or
            GeoDataFrame in any CRS).
        like: the grid to put a vector reference on when ``pred`` is a plain array (Scene, raster path,
            Grid); defaults to the prediction's own grid.
        iou_threshold: IoU an object match needs (0.5).
        tolerance_m, tolerance_px: boundary tolerance in metres (georeferenced grids) or pixels;
            neither: DAVIS's default (0.8 % of the diagonal).
        method: name for the tables (default: the model and prompt type of a ``Masks``).
        time_s: seconds the method took for this scene (default: the sum of ``Masks.timings``).
        binary_reference: treat an integer reference raster as one binary mask (see
            :func:`reference_labels`).
        region: the area where the reference is complete (a reference often covers only part of a
            scene): a bool (H, W) mask, or polygons (vector file / GeoDataFrame in any CRS). Objects with
            less than half of their pixels inside are ignored, and only pixels inside are scored.

    Returns:
        :class:`Evaluation` (``.summary``, ``.objects``, ``.predictions``; ``print(ev)`` shows a table).
    """
    labels, masks, grid, smoke, default_name, default_time = _prediction(pred, _grid_of(like) if like is not None else None)
    ref = reference_labels(reference, grid, binary=binary_reference)
    inside = None
    if region is not None:
        inside = np.asarray(region) if isinstance(region, np.ndarray) else reference_labels(region, grid) > 0
    if masks is not None:
        match = _match_masks(masks, ref, iou_threshold, region=inside)
        pred_labels = np.zeros(grid.shape, np.uint32)
        areas = masks.sum(axis=(1, 2))
        for i in np.argsort(-areas, kind="stable"):  # the label-raster rule: smaller masks on top
            pred_labels[masks[i]] = i + 1
    else:
        pred_labels = labels
        _same_shape(pred_labels, ref)
        match = match_objects(pred_labels, ref, iou_threshold, region=inside)
    pixels = pixel_scores(pred_labels, ref, region=inside)
    boundary = boundary_f(pred_labels, ref, tolerance_px=tolerance_px, tolerance_m=tolerance_m,
                          transform=grid.transform, crs=grid.crs, region=inside)
    objects, predictions = match.objects, match.predictions
    if grid.is_georeferenced:
        area = pixel_area_m2(grid.transform, grid.crs, grid.shape)
        objects["ref_area_m2"] = objects["ref_area_px"] * area
        objects["pred_area_m2"] = objects["pred_area_px"] * area
        predictions["pred_area_m2"] = predictions["pred_area_px"] * area
    summary = {
        "method": method or default_name,
        "smoke": smoke,
        "n_pred": match.n_pred,
        "n_ref": match.n_ref,
        "object_precision": match.precision,
        "object_recall": match.recall,
        "object_f1": match.f1,
        "mean_iou": match.mean_iou,
        "tp": match.tp,
        "fp": match.fp,
        "fn": match.fn,
        "iou_threshold": match.iou_threshold,
        "pixel_iou": pixels["iou"],
        "pixel_dice": pixels["dice"],
        "pixel_precision": pixels["precision"],
        "pixel_recall": pixels["recall"],
        "boundary_precision": boundary["precision"],
        "boundary_recall": boundary["recall"],
        "boundary_f": boundary["f"],
        "tolerance_px": boundary["tolerance_px"],
        "tolerance_m": None if tolerance_m is None else float(tolerance_m),
        "time_s": time_s if time_s is not None else default_time,
        "region_share": 1.0 if inside is None else float(inside.mean()),
    }
    return Evaluation(summary=summary, objects=objects, predictions=predictions)
