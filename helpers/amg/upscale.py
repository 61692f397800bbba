"""``Sam.postprocess_masks`` as two matrix products over the region a mask can occupy, with exact bounds.

The upscaling the official generator does for every candidate (256² logits -> crop size, bilinear twice)
is a separable linear map. :class:`UpscaleGeometry` builds its matrices and uses low-resolution bounds to
skip rows and columns no mask pixel can reach, and to reject candidates whose stability score cannot
reach the threshold before anything is upscaled.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["UpscaleGeometry", "stability_upper_bound", "window_max", "window_extreme", "resize_matrix"]

_BOUND_MARGIN = 1e-3  # logit units added to bounds to cover float rounding in the interpolation


def window_max(values: torch.Tensor) -> torch.Tensor:
    """Max of ``values`` (..., L) along the last axis over positions ``c-1 .. c+3`` of each c (clamped)."""
    n = values.shape[-1]
    pooled = torch.nn.functional.max_pool1d(values.reshape(-1, 1, n), 5, stride=1, padding=2).view(values.shape)
    return pooled[..., torch.clamp(torch.arange(n, device=values.device) + 1, max=n - 1)]


def window_extreme(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Max or min (``kind``) of low-res logits (N, h, w) over rows/columns ``c-1 .. c+3`` of each cell c.

    That window holds every low-res cell an upscaled pixel with home cell c can depend on (see
    :class:`UpscaleGeometry`), with one cell of slack for float rounding in the source index.
    """
    sign = 1.0 if kind == "max" else -1.0
    along_cols = window_max(sign * logits)
    return sign * window_max(along_cols.transpose(1, 2).contiguous()).transpose(1, 2)


def resize_matrix(low: int, big: int, kept: int, out: int):
    """One axis of ``Sam.postprocess_masks`` as an (out, low) float32 matrix, with each row's nonzero band.

    Built by running the same two bilinear resizes (low -> big, keep the first ``kept``, -> out) on an
    identity matrix; returns the matrix and the first / last nonzero column of each row.
    """
    resize = torch.nn.functional.interpolate
    eye = torch.eye(low, dtype=torch.float64)[None, None]
    up = resize(eye, size=(big, low), mode="bilinear", align_corners=False)[:, :, :kept]
    matrix = resize(up, size=(out, low), mode="bilinear", align_corners=False)[0, 0]
    nonzero = (matrix != 0).int()
    first = nonzero.argmax(dim=1)
    last = low - 1 - nonzero.flip(1).argmax(dim=1)
    return matrix.float(), first.tolist(), last.tolist()


class UpscaleGeometry:
    """``Sam.postprocess_masks`` for one crop, computed only where a mask can be, plus bounds on it.

    ``postprocess_masks`` resizes 256² logits to 1024² (bilinear), crops the padding, then resizes to the
    crop size (bilinear): a linear, separable map, ``R @ low @ C.T`` with (H, 256) and (W, 256) matrices
    (:func:`resize_matrix`). Each output pixel is a convex combination of low-res logits from at most 3
    consecutive rows and columns starting at a "home" cell c, which bounds it by the min/max of the window
    c-1 .. c+3 (:func:`window_extreme`). ``rows[c]``/``cols[c]`` count the output pixels whose home
    row/column is c. :meth:`upscale` uses the bound to skip output rows and columns that are below every
    cut, so a small object costs a small matrix product instead of a full-size resize.
    """

    def __init__(self, low: int, encoder_size: int, input_hw, output_hw):
        self.home_rows = torch.as_tensor(self._home_cells(low, encoder_size, input_hw[0], output_hw[0]))
        self.home_cols = torch.as_tensor(self._home_cells(low, encoder_size, input_hw[1], output_hw[1]))
        self.rows = torch.bincount(self.home_rows, minlength=low).double()
        self.cols = torch.bincount(self.home_cols, minlength=low).double()
        self.row_matrix, self.row_first, self.row_last = resize_matrix(low, encoder_size, input_hw[0], output_hw[0])
        self.col_matrix, self.col_first, self.col_last = resize_matrix(low, encoder_size, input_hw[1], output_hw[1])

    @staticmethod
    def _home_cells(low: int, big: int, kept: int, out: int) -> np.ndarray:
        # output pixel -> source pixel in the cropped 1024 grid (left neighbour) -> source low-res cell
        j = np.arange(out, dtype=np.float64)
        src = np.clip((j + 0.5) * (kept / out) - 0.5, 0, None)
        i = np.floor(src).astype(np.int64)
        return np.clip(np.floor(np.clip((i + 0.5) * (low / big) - 0.5, 0, None)).astype(np.int64), 0, low - 1)

    def count_bounds(self, lo: torch.Tensor, hi: torch.Tensor, cut: float):
        """(lower, upper) bounds of the number of output pixels with logit > ``cut``."""
        rows, cols = self.rows.to(lo.device), self.cols.to(lo.device)
        surely = (lo > cut + _BOUND_MARGIN).double()
        maybe = (hi > cut - _BOUND_MARGIN).double()
        lower = torch.einsum("nhw,h,w->n", surely, rows, cols)
        upper = torch.einsum("nhw,h,w->n", maybe, rows, cols)
        return lower, upper

    def boxes(self, low_res: torch.Tensor, threshold: float) -> torch.Tensor:
        """Exact inclusive XYXY boxes (N, 4) int64 of the upscaled masks ``logits > threshold``, without
        upscaling whole masks: a cheap bound rules out the rows and columns no mask pixel can reach, and the
        remaining ones are computed exactly from each side inwards, a few at a time for all candidates at
        once, until the first row (column) holding a mask pixel. An empty mask gets ``[0, 0, 0, 0]`` like
        segment-anything's ``batched_mask_to_box``.

        For image-sized masks (untrained weights, or low thresholds) this costs a few small products per
        candidate instead of a full-size upscale, so box NMS can run before any mask is upscaled.
        """
        lowest = threshold - _BOUND_MARGIN
        row_maybe = (window_max(low_res.amax(dim=2)) > lowest)[:, self.home_rows].numpy()  # (N, H)
        col_maybe = (window_max(low_res.amax(dim=1)) > lowest)[:, self.home_cols].numpy()  # (N, W)

        def rows_positive(n, rows):  # (P,) candidates, (P, k) output rows -> (P, k) bool
            values = (self.row_matrix[rows] @ low_res[n]) @ self.col_matrix.T
            return (values > threshold).any(dim=2)

        def cols_positive(n, cols):
            values = self.row_matrix @ (low_res[n] @ self.col_matrix[cols].transpose(1, 2))
            return (values > threshold).any(dim=1)

        top = _first_positive(row_maybe, rows_positive)
        bottom = _first_positive(row_maybe[:, ::-1], rows_positive, reverse=True)
        left = _first_positive(col_maybe, cols_positive)
        right = _first_positive(col_maybe[:, ::-1], cols_positive, reverse=True)
        boxes = np.stack([left, top, right, bottom], axis=1)
        boxes[top < 0] = 0  # empty masks
        return torch.as_tensor(boxes)

    def upscale(self, low_res: torch.Tensor, threshold: float, offset: float):
        """Binary masks, boxes and stability scores of low-res logits (N, 256, 256) on the CPU, as the official
        generator gets them from ``postprocess_masks`` (values equal to float rounding).

        Returns ``pieces`` (list of N bool arrays, each mask cropped to its box; ``[[False]]`` if empty),
        ``boxes`` (N, 4) int64 inclusive XYXY in the crop frame (``[0, 0, 0, 0]`` if empty) and
        ``stability`` (N,) float32 (NaN when no pixel exceeds ``threshold - offset``, as the official score).
        """
        lowest = threshold - abs(offset) - _BOUND_MARGIN
        live_rows = (window_max(low_res.amax(dim=2)) > lowest)[:, self.home_rows].numpy()  # (N, H)
        live_cols = (window_max(low_res.amax(dim=1)) > lowest)[:, self.home_cols].numpy()  # (N, W)
        pieces, boxes, stability = [], np.zeros((len(low_res), 4), dtype=np.int64), np.full(len(low_res), np.nan, dtype=np.float32)
        for n, (rows, cols) in enumerate(zip(live_rows, live_cols)):
            ys, xs = np.flatnonzero(rows), np.flatnonzero(cols)
            if ys.size == 0 or xs.size == 0:
                pieces.append(np.zeros((1, 1), dtype=bool))
                continue
            y0, y1, x0, x1 = ys[0], ys[-1], xs[0], xs[-1]
            r0, r1 = self.row_first[y0], self.row_last[y1] + 1
            c0, c1 = self.col_first[x0], self.col_last[x1] + 1
            logits = self.row_matrix[y0 : y1 + 1, r0:r1] @ low_res[n, r0:r1, c0:c1] @ self.col_matrix[x0 : x1 + 1, c0:c1].T
            union = int(torch.count_nonzero(logits > threshold - offset))
            if union:
                stability[n] = int(torch.count_nonzero(logits > threshold + offset)) / union
            mask = (logits > threshold).cpu().numpy()
            mask_rows, mask_cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            if mask_rows.size == 0:
                pieces.append(np.zeros((1, 1), dtype=bool))
                continue
            top, bottom, left, right = mask_rows[0], mask_rows[-1], mask_cols[0], mask_cols[-1]
            pieces.append(mask[top : bottom + 1, left : right + 1])
            boxes[n] = (x0 + left, y0 + top, x0 + right, y0 + bottom)
        return pieces, torch.as_tensor(boxes), torch.as_tensor(stability)


def _first_positive(maybe: np.ndarray, positive, reverse: bool = False, step: int = 4) -> np.ndarray:
    """For each candidate n, the first index along ``maybe[n]`` (bool (N, L), the rows or columns that may hold
    a mask pixel, in search order) that does, -1 when none does; ``positive(candidates, indices)`` tests
    (P, step) indices of P candidates in one batched call. ``reverse``: ``maybe`` runs from the far end."""
    count, length = maybe.shape
    found = np.full(count, -1, dtype=np.int64)
    lists = [np.flatnonzero(row) for row in maybe]
    position = np.zeros(count, dtype=np.int64)
    pending = np.array([n for n in range(count) if len(lists[n])], dtype=np.int64)
    while pending.size:
        chunks = np.stack([np.resize(lists[n][position[n] : position[n] + step], step) for n in pending])
        indices = length - 1 - chunks if reverse else chunks
        hits = positive(torch.from_numpy(pending), torch.from_numpy(indices)).numpy()
        first = np.where(hits.any(axis=1), hits.argmax(axis=1), -1)
        done = first >= 0
        found[pending[done]] = indices[done, first[done]]
        position[pending] += step
        exhausted = np.array([position[n] >= len(lists[n]) for n in pending], dtype=bool)
        pending = pending[~done & ~exhausted]
    return found


def stability_upper_bound(low_res: torch.Tensor, geometry: UpscaleGeometry, threshold: float, offset: float):
    """Upper bound (N,) of the stability score each low-res logit map (N, 256, 256) can reach once upscaled."""
    hi = window_extreme(low_res, "max")
    lo = window_extreme(low_res, "min")
    _, inter_hi = geometry.count_bounds(lo, hi, threshold + offset)
    union_lo, _ = geometry.count_bounds(lo, hi, threshold - offset)
    # inter <= union always; an empty union gives NaN in the official score (never kept)
    return torch.where(union_lo > 0, inter_hi / union_lo.clamp(min=1), torch.ones_like(inter_hi))
