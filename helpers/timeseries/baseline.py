"""Baselines beside the tracker: every date on its own.

* :func:`predict_each_date`: the same prompts predicted independently on each date with an image model
  (SAM 2's image predictor via :func:`helpers.load_model`, or any promptable model): encode the date,
  predict, forget. No memory links the dates, so nothing keeps a mask from jumping to a neighbouring
  field when the object changes.
* :func:`index_masks`: for water, a normalised-difference index per date (NDWI from green and NIR,
  MNDWI from green and SWIR1), thresholded, keeping the water body under each object's prompt. It is a
  **pseudo-reference**: an index threshold is not ground truth (shadows, turbid or vegetated water, mixed
  pixels), but it is independent of both models and uses bands SAM never sees.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import UserInputError
from .prompts import PlacedPrompt, place_prompts
from .result import TrackResult

__all__ = ["PER_DATE_METHOD", "index_masks", "predict_each_date", "prompt_for_each_date"]

PER_DATE_METHOD = "per-date image prediction"


def prompt_for_each_date(placed: list[PlacedPrompt], n_dates: int) -> dict[int, list[PlacedPrompt]]:
    """Object id -> the prompt used on each date: the object's prompt on the nearest prompted date
    (the earlier one on ties). All dates share one grid, so pixel prompts carry over unchanged."""
    by_object: dict[int, list[PlacedPrompt]] = {}
    for prompt in placed:
        by_object.setdefault(prompt.object_id, []).append(prompt)
    chosen = {}
    for object_id, prompts in by_object.items():
        chosen[object_id] = [min(prompts, key=lambda p, t=t: (abs(p.frame - t), p.frame)) for t in range(n_dates)]
    return chosen


def predict_each_date(stack, model, prompts, progress: bool = True) -> TrackResult:
    """The tracker's prompts predicted independently on every date with an image model.

    Args:
        stack: a :class:`~helpers.timeseries.stack.TimeStack`.
        model: a loaded promptable model (``helpers.load_model("sam2.1_hiera_t")``; its backend must take
            point and/or box prompts). Its embedding cache applies as usual.
        prompts: as for :meth:`VideoTracker.track`; each object uses its prompt from the nearest
            prompted date on every date.
        progress: a progress bar over the dates.

    Returns:
        :class:`TrackResult` (method ``"per-date image prediction"``): one mask per object and date (a
        single foreground click gets SAM's three candidates and keeps the best, as in SAM's own
        examples; otherwise one mask), scores = predicted IoU; ``timings`` holds ``encode_s`` and
        ``predict_s`` per date (lists).
    """
    from tqdm.auto import tqdm

    kinds = set(getattr(model.backend, "prompts", ()))
    if not kinds & {"points", "boxes"}:
        raise UserInputError(f"{model.name} does not take point or box prompts")
    placed = place_prompts(prompts, stack)
    object_ids = sorted({p.object_id for p in placed})
    chosen = prompt_for_each_date(placed, len(stack))
    masks = np.zeros((len(stack), len(object_ids), *stack.shape), dtype=bool)
    scores = np.full((len(stack), len(object_ids)), np.nan, dtype=np.float32)
    encode_s, predict_s, valid_fraction = [], [], []
    for t in tqdm(range(len(stack)), desc="per-date prediction", unit="date", disable=not progress):
        scene = stack[t]
        valid_fraction.append(1.0 if scene.valid is None else float(scene.valid.mean()))
        start = time.perf_counter()
        model.set_image(scene)
        encode_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        for n, object_id in enumerate(object_ids):
            prompt = chosen[object_id][t]
            if (prompt.points is not None and "points" not in kinds) or (prompt.box is not None and "boxes" not in kinds):
                raise UserInputError(f"{model.name} takes {', '.join(sorted(kinds))} prompts only")
            single_click = prompt.box is None and prompt.points is not None and len(prompt.points) == 1
            result = model.predict(points=prompt.points, labels=prompt.labels,
                                   boxes=None if prompt.box is None else prompt.box[None], multimask=single_click)
            if len(result):
                best = result.best()
                masks[t, n], scores[t, n] = best.masks[0], best.scores[0]
        predict_s.append(time.perf_counter() - start)
    return TrackResult(
        masks=masks, scores=scores, object_ids=object_ids, labels=stack.labels,
        dates=[d.date for d in stack.dates], crs=stack.crs,
        transform=stack.transform if stack.grid.is_georeferenced else None, method=PER_DATE_METHOD,
        model=model.name, smoke=bool(getattr(model, "smoke", False)),
        prompt_frames={oid: sorted({p.frame for p in placed if p.object_id == oid}) for oid in object_ids},
        valid_fraction=np.array(valid_fraction, dtype=np.float32),
        timings={"encode_s": encode_s, "predict_s": predict_s,
                 "seconds": float(np.sum(encode_s) + np.sum(predict_s))},
    )


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a - b) / (a + b)`` per pixel, float32; NaN where ``a + b == 0``."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    total = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - b) / total
    out[total == 0] = np.nan
    return out


def index_masks(stack, prompts, bands, threshold=0.0, name: str | None = None, below: bool = False,
                connectivity: int = 8) -> TrackResult:
    """Per-date masks from a spectral index, one connected region per object (pseudo-reference).

    On each date: the index (a raw band, or the normalised difference ``(A - B) / (A + B)`` of two raw
    bands, on the stack's grid before any stretch) is thresholded on valid pixels, and each object keeps
    the connected regions that contain one of its foreground points (or, for a box-only prompt, the part
    inside its box). An object whose click falls on dry land that date gets an empty mask (dried out).

    Args:
        stack: a :class:`~helpers.timeseries.stack.TimeStack`.
        prompts: as for :meth:`VideoTracker.track` (each object's nearest prompted date's prompt is used).
        bands: one band (its values are the index), or (A, B) for ``(A - B) / (A + B)``; 1-based indexes
            or band descriptions. Water: NDWI = (green, NIR) (McFeeters 1996; NAIP R,G,B,NIR: ``(2, 4)``),
            MNDWI = (green, SWIR1) (Xu 2006; the Landsat stack SWIR1,NIR,Red,Green: ``(4, 1)``), or dark
            NIR (``4`` with ``below=True``; robust on uncalibrated 8-bit NAIP).
        threshold: a number, or ``"otsu"`` for Otsu's threshold of each date's valid index values
            (``skimage.filters.threshold_otsu``; adapts to dates with other sensors or light).
        name: the index's name for the result's ``method`` (default: derived from ``bands``).
        below: count pixels below the threshold (e.g. dark NIR) instead of above it.
        connectivity: 4 or 8 neighbours joining pixels into one water body.

    Returns:
        :class:`TrackResult` with ``method = "<name> > <threshold> (pseudo-reference)"``, NaN scores and
        ``extra["thresholds"]`` (the threshold used on each date).
    """
    from scipy import ndimage

    bands = list(bands) if isinstance(bands, (list, tuple)) else [bands]
    if len(bands) not in (1, 2):
        raise UserInputError(f"bands must be one band or two (A, B) for (A - B) / (A + B), got {bands!r}")
    if connectivity not in (4, 8):
        raise UserInputError(f"connectivity must be 4 or 8, got {connectivity}")
    if not (threshold == "otsu" or isinstance(threshold, (int, float, np.floating))):
        raise UserInputError(f"threshold must be a number or 'otsu', got {threshold!r}")
    name = name or (f"band {bands[0]}" if len(bands) == 1 else f"ND(band {bands[0]}, band {bands[1]})")
    placed = place_prompts(prompts, stack)
    object_ids = sorted({p.object_id for p in placed})
    chosen = prompt_for_each_date(placed, len(stack))
    structure = np.ones((3, 3), bool) if connectivity == 8 else ndimage.generate_binary_structure(2, 1)
    masks = np.zeros((len(stack), len(object_ids), *stack.shape), dtype=bool)
    valid_fraction, thresholds = [], []
    for t in range(len(stack)):
        index, valid = _index(stack, t, bands)
        valid_fraction.append(float(valid.mean()))
        level = _threshold(index[valid], threshold)
        thresholds.append(level)
        values = np.nan_to_num(index, nan=np.inf if below else -np.inf)
        hit = valid & ((values < level) if below else (values > level))
        regions, _ = ndimage.label(hit, structure=structure)
        for n, object_id in enumerate(object_ids):
            masks[t, n] = _region_of(chosen[object_id][t], regions, hit)
    relation = "<" if below else ">"
    level_text = "Otsu" if threshold == "otsu" else f"{threshold:g}"
    return TrackResult(
        masks=masks, scores=np.full(masks.shape[:2], np.nan, np.float32), object_ids=object_ids,
        labels=stack.labels, dates=[d.date for d in stack.dates], crs=stack.crs,
        transform=stack.transform if stack.grid.is_georeferenced else None,
        method=f"{name} {relation} {level_text} (pseudo-reference)", model="",
        prompt_frames={oid: sorted({p.frame for p in placed if p.object_id == oid}) for oid in object_ids},
        valid_fraction=np.array(valid_fraction, dtype=np.float32),
        extra={"bands": tuple(bands), "threshold": threshold, "thresholds": thresholds, "index": name},
    )


def _index(stack, t: int, bands: list) -> tuple[np.ndarray, np.ndarray]:
    first, valid = stack.read_raw(t, bands=bands[0])
    if len(bands) == 1:
        return first[0], valid
    second, valid_second = stack.read_raw(t, bands=bands[1])
    return normalized_difference(first[0], second[0]), valid & valid_second


def _threshold(values: np.ndarray, threshold) -> float:
    if threshold != "otsu":
        return float(threshold)
    from skimage.filters import threshold_otsu

    finite = values[np.isfinite(values)]
    return float(threshold_otsu(finite)) if finite.size and np.ptp(finite) > 0 else float("nan")


def _region_of(prompt: PlacedPrompt, regions: np.ndarray, wet: np.ndarray) -> np.ndarray:
    from ..prompts import box_window, pixel_indices

    if prompt.points is not None and (prompt.labels == 1).any():
        rows, cols = pixel_indices(prompt.points[prompt.labels == 1], regions.shape)
        ids = np.unique(regions[rows, cols])
        ids = ids[ids > 0]
        mask = np.isin(regions, ids) if ids.size else np.zeros(regions.shape, bool)
    else:
        mask = np.zeros(regions.shape, bool)
        rows, cols = box_window(prompt.box, regions.shape)
        mask[rows, cols] = wet[rows, cols]
    if prompt.box is not None and prompt.points is not None:
        inside = np.zeros(regions.shape, bool)
        rows, cols = box_window(prompt.box, regions.shape)
        inside[rows, cols] = True
        mask &= inside
    return mask
