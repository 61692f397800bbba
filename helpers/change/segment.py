"""Segmentation of the difference image into change objects, by each method.

========================  =======================================================================
method                    what makes the objects
========================  =======================================================================
``threshold``             the classical baseline: connected regions of ``|log-ratio| > t`` (one
                          direction each), smaller than ``min_area`` dropped. No weights.
``fastsam``, ``sam``      the model's automatic masks ("everything") on the 8-bit difference image,
                          tiled like any scene; a segment is change when most of its pixels
                          (``min_change_fraction``) exceed the threshold: the model draws the outlines,
                          the threshold decides.
``sam-prompted``          SAM prompted by the threshold's blobs (their boxes, or their peak pixels as
                          points): one object per blob, outlined by SAM.
========================  =======================================================================

All methods end in the same place: a uint32 label raster of objects on the pair's grid, the objects'
log-ratio statistics, which objects are change, and their direction (see
:mod:`helpers.change.vectors`). Models are used through the backend contract only (a prompted method
needs a backend whose ``prompts`` include boxes or points).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserInputError
from ..export import LabelRasterWriter
from ..tiling import segment_tiled
from .components import label_change
from .difference import DifferenceImageSource, LogRatioRaster
from .thresholds import Threshold
from .vectors import DECREASE, INCREASE, zonal_stats

__all__ = ["METHODS", "DEFAULT_MODELS", "PROMPT_KINDS", "EVERYTHING_METHODS", "Segmentation", "check_prompted_model",
           "segment_change"]

METHODS = ("threshold", "fastsam", "sam", "sam-prompted")
EVERYTHING_METHODS = ("fastsam", "sam")
DEFAULT_MODELS = {"fastsam": "fastsam_s", "sam": "sam_vit_b", "sam-prompted": "sam_vit_b"}
"""Registry model each method uses unless another is named (any registry model may be named)."""
PROMPT_KINDS = ("boxes", "points")


@dataclass
class Segmentation:
    """Change objects of one pair, before they become a layer.

    Attributes:
        labels_path: uint32 label raster (ids 1..count, 0 = none) on the pair's grid.
        count: number of objects (segments, components or prompted masks).
        stats: :func:`~helpers.change.vectors.zonal_stats` of the objects.
        keep: (count,) bool: which objects are change.
        directions: (count,) int8: 1 increase, 2 decrease (the sign of the object's mean log-ratio, or
            of its pixels for signed threshold components).
        extra: per-object columns from the model (``score``).
        model, smoke: provenance; prompts: number of prompts given to a prompted model.
    """

    labels_path: Path
    count: int
    stats: dict
    keep: np.ndarray
    directions: np.ndarray
    extra: dict = field(default_factory=dict)
    model: str = ""
    smoke: bool = False
    prompts: int = 0


def _directions_from_mean(mean_db: np.ndarray) -> np.ndarray:
    return np.where(np.nan_to_num(mean_db) >= 0, INCREASE, DECREASE).astype(np.int8)


def _empty_labels(path, lr: LogRatioRaster) -> Path:
    from rasterio.windows import Window

    with LabelRasterWriter(path, lr.width, lr.height, crs=lr.crs, transform=lr.transform) as writer:
        writer.write(np.zeros((1, 1), np.uint32), Window(0, 0, 1, 1))
    return Path(path)


def _scores_by_id(result, count: int) -> dict:
    scores = np.full(count, np.nan)
    if result.gdf is not None and len(result.gdf):
        ids = result.gdf["id"].to_numpy(np.int64)
        scores[ids - 1] = result.gdf["score"].to_numpy(np.float64)
    return {"score": np.round(scores, 4)}


def check_prompted_model(model, prompt: str) -> None:
    """A prompted method needs a backend that takes ``prompt`` (boxes / points): checked via the contract."""
    backend = getattr(model, "backend", None)
    if backend is not None and prompt not in backend.prompts:
        raise UserInputError(f"{getattr(model, 'name', 'this model')} does not take {prompt} prompts "
                             f"(it takes {', '.join(backend.prompts) or 'none'})")


def segment_change(method: str, lr: LogRatioRaster, threshold: Threshold, labels_path, model=None, *,
                   min_area: int = 10, connectivity: int = 8, signed: bool = True, prompt: str = "boxes",
                   min_change_fraction: float = 0.5, scale_db: float = 10.0, style: str = "signed",
                   tile_size: int = 1024, overlap: int = 128, params: dict | None = None,
                   progress: bool = False) -> Segmentation:
    """Change objects of a log-ratio raster by ``method`` (see the module docstring).

    Args:
        method: one of :data:`METHODS`.
        lr: the pair's :class:`~helpers.change.difference.LogRatioRaster`.
        threshold: the :class:`~helpers.change.thresholds.Threshold` in use.
        labels_path: where the uint32 object label raster is written.
        model: a loaded model for the model methods (``fastsam``, ``sam``, ``sam-prompted``).
        min_area: smallest object in pixels (threshold components and segments alike).
        connectivity: 8 or 4, for the threshold components.
        signed: threshold components of one direction each (increase / decrease kept apart).
        prompt: ``"boxes"`` or ``"points"`` for ``sam-prompted``.
        min_change_fraction: share of a segment's pixels over the threshold that makes it change
            (``fastsam`` / ``sam``).
        scale_db, style: the 8-bit difference image the models see.
        tile_size, overlap: tiling of the model methods (see :func:`helpers.tiling.segment_tiled`).
        params: ``generate`` parameters of the model (everything methods).
        progress: tqdm bars.
    """
    if method not in METHODS:
        raise UserInputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    labels_path = Path(labels_path)
    tags = {"method": method, **threshold.as_tags(), "software": "sam-rs"}
    with DifferenceImageSource(lr, scale_db=scale_db, style=style) as source:
        if method == "threshold":
            comps = label_change(source.read_log_ratio, lr.width, lr.height, threshold.value, out_path=labels_path,
                                 crs=lr.crs, transform=lr.transform, min_area=min_area, connectivity=connectivity,
                                 signed=signed, tags=tags)
            stats = zonal_stats(labels_path, lr.path, comps.count, threshold.value)
            directions = comps.directions if signed else _directions_from_mean(stats["mean_db"])
            return Segmentation(labels_path, comps.count, stats, np.ones(comps.count, bool), directions)
        if model is None:
            raise UserInputError(f"method {method!r} needs a model")
        run = dict(tile_size=tile_size, overlap=overlap, progress=progress, out_path=labels_path)
        name, smoke = getattr(model, "name", ""), bool(getattr(model, "smoke", False))
        if method in EVERYTHING_METHODS:
            result = segment_tiled(model, source, mode="everything", params=params, **run)
            count = len(result)
            stats = zonal_stats(labels_path, lr.path, count, threshold.value)
            keep = (stats["change_fraction"] >= min_change_fraction) & (stats["pixels"] >= min_area)
            return Segmentation(labels_path, count, stats, keep, _directions_from_mean(stats["mean_db"]),
                                _scores_by_id(result, count), name, smoke)
        if prompt not in PROMPT_KINDS:
            raise UserInputError(f"prompt must be one of {', '.join(PROMPT_KINDS)}; got {prompt!r}")
        check_prompted_model(model, prompt)
        blobs = label_change(source.read_log_ratio, lr.width, lr.height, threshold.value, min_area=min_area,
                             connectivity=connectivity, signed=signed)
        if blobs.count == 0:  # nothing over the threshold: nothing to prompt
            _empty_labels(labels_path, lr)
            return Segmentation(labels_path, 0, zonal_stats(labels_path, lr.path, 0, threshold.value),
                                np.zeros(0, bool), np.zeros(0, np.int8), {"score": np.zeros(0)}, name, smoke)
        prompts = {"boxes": blobs.boxes} if prompt == "boxes" else {"points": blobs.peaks}
        result = segment_tiled(model, source, mode=prompt, prompts=prompts, **run)
        count = len(result)
        stats = zonal_stats(labels_path, lr.path, count, threshold.value)
        return Segmentation(labels_path, count, stats, stats["pixels"] >= 1, _directions_from_mean(stats["mean_db"]),
                            _scores_by_id(result, count), name, smoke, prompts=blobs.count)
