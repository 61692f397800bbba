"""Array operations on stacks of boolean masks: bounding boxes and label rasters.

Both follow one convention everywhere in sam-rs (``Masks``, exports, tiling):

* boxes are XYXY pixel edges with x1/y1 exclusive (last pixel + 1); an empty mask has ``[0, 0, 0, 0]``;
* a label raster gives mask ``i`` the id ``i + 1`` (0 = background); where masks overlap, the **smaller
  mask is on top** (painted last), so small objects inside large ones stay visible. A mask fully covered
  by smaller ones has no pixel in the raster: exports mark it as hidden.
"""

from __future__ import annotations

import numpy as np

__all__ = ["boxes_from_masks", "label_raster", "visible_pixels"]


def boxes_from_masks(masks: np.ndarray) -> np.ndarray:
    """float32 (N, 4) XYXY pixel boxes enclosing each bool (N, H, W) mask; x1/y1 exclusive.

    An empty mask gets ``[0, 0, 0, 0]``.
    """
    masks = np.asarray(masks, dtype=bool)
    n = masks.shape[0]
    boxes = np.zeros((n, 4), dtype=np.float32)
    if n == 0:
        return boxes
    rows_any = masks.any(axis=2)  # (N, H)
    cols_any = masks.any(axis=1)  # (N, W)
    present = rows_any.any(axis=1)
    height, width = masks.shape[1:]
    top = rows_any.argmax(axis=1)
    bottom = height - rows_any[:, ::-1].argmax(axis=1)
    left = cols_any.argmax(axis=1)
    right = width - cols_any[:, ::-1].argmax(axis=1)
    boxes[present] = np.stack([left, top, right, bottom], axis=1)[present]
    return boxes


def label_raster(masks: np.ndarray) -> np.ndarray:
    """uint32 (H, W) labels of bool (N, H, W) masks: mask ``i`` -> ``i + 1``, smaller masks on top."""
    masks = np.asarray(masks, dtype=bool)
    labels = np.zeros(masks.shape[1:], dtype=np.uint32)
    areas = masks.sum(axis=(1, 2))
    for i in np.argsort(-areas, kind="stable"):  # large first: small objects end on top
        labels[masks[i]] = i + 1
    return labels


def visible_pixels(labels: np.ndarray, n: int) -> np.ndarray:
    """int64 (n,) pixel count of ids 1..n in a label raster (0 for a mask hidden under smaller ones)."""
    return np.bincount(np.asarray(labels).ravel(), minlength=n + 1)[1 : n + 1].astype(np.int64)
