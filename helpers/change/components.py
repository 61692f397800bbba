"""Connected components of a change map, window by window, for scenes of any size.

The classical change map is a threshold of the log-ratio: pixels with ``log-ratio > t`` increased,
``< -t`` decreased. Its connected regions are the change *objects* of the classical baseline (and the
prompts for SAM). :func:`label_change` finds them without holding the scene in memory:

1. each window is labelled on its own (:func:`scipy.ndimage.label`), with provisional ids, into a
   disk-backed scratch raster;
2. where a window touches the windows above and to its left, touching pixels of the same direction
   make their ids equivalent; the equivalence graph's connected components
   (:func:`scipy.sparse.csgraph.connected_components`) join pieces split by window edges;
3. objects smaller than ``min_area`` pixels are dropped (speckle blobs), the rest get consecutive ids
   in raster order, written to a uint32 label GeoTIFF (0 = no change).

Per object it also returns the pixel box and the peak (the pixel of largest ``|log-ratio|``), which
become box and point prompts.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserInputError
from ..export import LabelRasterWriter

__all__ = ["Components", "label_change", "threshold_classes"]

_WINDOW = 1024


@dataclass
class Components:
    """Change objects of a thresholded log-ratio raster.

    Attributes:
        labels_path: uint32 label GeoTIFF (0 = no change), or ``None`` when not written.
        count: number of objects (ids 1..count).
        areas: int64 (count,) pixels per object.
        boxes: float64 (count, 4) XYXY pixel boxes (x1/y1 exclusive).
        peaks: float64 (count, 2) pixel-centre (column, row) of each object's largest ``|log-ratio|``.
        directions: int8 (count,) 1 = increase, 2 = decrease (``signed``), 0 = change of either sign.
    """

    labels_path: Path | None
    count: int
    areas: np.ndarray
    boxes: np.ndarray
    peaks: np.ndarray
    directions: np.ndarray


def threshold_classes(lr: np.ndarray, threshold: float, signed: bool = True) -> np.ndarray:
    """uint8 change classes of a log-ratio window: 0 none, 1 increase (``lr > t``), 2 decrease (``lr < -t``);
    with ``signed=False`` 1 = change either way. NaN (nodata) is 0."""
    lr = np.nan_to_num(np.asarray(lr, np.float32), nan=0.0)
    out = np.zeros(lr.shape, np.uint8)
    if signed:
        out[lr > threshold] = 1
        out[lr < -threshold] = 2
    else:
        out[np.abs(lr) > threshold] = 1
    return out


def _structure(connectivity: int) -> np.ndarray:
    if connectivity not in (4, 8):
        raise UserInputError(f"connectivity must be 4 or 8, got {connectivity}")
    return np.ones((3, 3), bool) if connectivity == 8 else np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)


def _seam_pairs(block: np.ndarray, above: np.ndarray | None, left: np.ndarray | None, connectivity: int):
    """(id, id) pairs touching across the top and left edges of ``block``.

    ``above``: the scratch row above the block from one column left to one column right (len w + 2, 0 where
    outside); ``left``: the scratch column left of the block (len h). Ids of both directions live in one
    numbering, so equal direction is checked by the caller.
    """
    pairs = []
    if above is not None:
        top = block[0]
        shifts = (-1, 0, 1) if connectivity == 8 else (0,)
        for shift in shifts:
            neighbour = above[1 + shift: 1 + shift + len(top)]
            both = (top > 0) & (neighbour > 0)
            pairs.append(np.stack([top[both], neighbour[both]], axis=1))
    if left is not None:
        first = block[:, 0]
        shifts = (-1, 0, 1) if connectivity == 8 else (0,)
        for shift in shifts:
            lo, hi = max(0, -shift), len(first) - max(0, shift)
            own = first[lo:hi]
            neighbour = left[lo + shift: hi + shift]
            both = (own > 0) & (neighbour > 0)
            pairs.append(np.stack([own[both], neighbour[both]], axis=1))
    return np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)


def label_change(read_log_ratio, width: int, height: int, threshold: float, out_path=None, crs=None,
                 transform=None, min_area: int = 1, connectivity: int = 8, signed: bool = True,
                 window: int = _WINDOW, tags: dict | None = None) -> Components:
    """Label the change objects of a log-ratio raster (see the module docstring).

    Args:
        read_log_ratio: ``read(window) -> float32 (h, w)`` signed log-ratio in dB (NaN = nodata), e.g.
            :meth:`helpers.change.difference.DifferenceImageSource.read_log_ratio`.
        width, height: raster size (pixels).
        threshold: ``|log-ratio|`` threshold in dB.
        out_path: uint32 label GeoTIFF to write (``None``: statistics only).
        crs, transform: georeferencing of ``out_path``.
        min_area: smallest object kept, in pixels.
        connectivity: 8 (diagonal neighbours join) or 4.
        signed: separate objects for increase and decrease (a flooded field next to a new building stays
            two objects); ``False``: one object per region of change of either sign.
        window: processing window side (pixels).
        tags: metadata tags of ``out_path``.
    """
    from rasterio.windows import Window
    from scipy import ndimage as ndi
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    structure = _structure(connectivity)
    if min_area < 1:
        raise UserInputError(f"min_area must be at least 1 pixel, got {min_area}")
    windows = [Window(c, r, min(window, width - c), min(window, height - r))
               for r in range(0, height, window) for c in range(0, width, window)]
    areas, kinds, boxes, peaks, peak_values, pairs = [np.zeros(1, np.int64)], [np.zeros(1, np.int8)], \
        [np.zeros((1, 4))], [np.zeros((1, 2))], [np.full(1, -np.inf)], []
    count = 0
    with tempfile.TemporaryDirectory(prefix="samrs-components-") as scratch:
        work = LabelRasterWriter(Path(scratch) / "work.tif", width, height, compress="zstd")
        try:
            for win in windows:
                col, row, w, h = int(win.col_off), int(win.row_off), int(win.width), int(win.height)
                lr = read_log_ratio(win)
                classes = threshold_classes(lr, threshold, signed)
                block = np.zeros((h, w), np.int64)
                for kind in (1, 2) if signed else (1,):
                    local, n = ndi.label(classes == kind, structure=structure)
                    if n == 0:
                        continue
                    ids = np.arange(count + 1, count + n + 1)
                    block[local > 0] = local[local > 0] + count
                    areas.append(np.bincount(local.ravel(), minlength=n + 1)[1:])
                    kinds.append(np.full(n, kind if signed else 0, np.int8))
                    slices = ndi.find_objects(local)
                    boxes.append(np.array([[s[1].start + col, s[0].start + row, s[1].stop + col, s[0].stop + row]
                                           for s in slices], np.float64))
                    magnitude = np.abs(np.nan_to_num(lr, nan=0.0))
                    index = np.arange(1, n + 1)
                    positions = ndi.maximum_position(magnitude, local, index)
                    peaks.append(np.array([(c + col, r + row) for r, c in positions], np.float64))
                    peak_values.append(np.asarray(ndi.maximum(magnitude, local, index), np.float64))
                    count = int(ids[-1])
                above = left = None
                if row > 0:
                    c0, c1 = max(col - 1, 0), min(col + w + 1, width)
                    strip = work.read(Window(c0, row - 1, c1 - c0, 1))[0].astype(np.int64)
                    above = np.zeros(w + 2, np.int64)
                    above[c0 - (col - 1): c0 - (col - 1) + len(strip)] = strip
                if col > 0:
                    left = work.read(Window(col - 1, row, 1, h))[:, 0].astype(np.int64)
                found = _seam_pairs(block, above, left, connectivity)
                if len(found):
                    pairs.append(found)
                work.write(block.astype(np.uint32), win)
            work.dataset.close()
            areas_all = np.concatenate(areas)
            kinds_all = np.concatenate(kinds)
            edges = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)
            edges = edges[kinds_all[edges[:, 0]] == kinds_all[edges[:, 1]]] if len(edges) else edges
            graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count + 1, count + 1))
            _, group = connected_components(graph, directed=False)
            group_area = np.bincount(group, weights=areas_all, minlength=group.max() + 1)
            keep_group = group_area >= min_area
            keep_group[group[0]] = False  # background
            first = np.full(group.max() + 1, count + 1, np.int64)  # smallest id of each group: raster order
            np.minimum.at(first, group, np.arange(count + 1))
            kept_groups = np.flatnonzero(keep_group)
            kept_groups = kept_groups[np.argsort(first[kept_groups], kind="stable")]
            final_of_group = np.zeros(group.max() + 1, np.int64)
            final_of_group[kept_groups] = np.arange(1, len(kept_groups) + 1)
            lut = final_of_group[group].astype(np.uint32)
            n_final = len(kept_groups)
            boxes_all, peaks_all = np.concatenate(boxes), np.concatenate(peaks)
            values_all = np.concatenate(peak_values)
            final = lut.astype(np.int64)
            pieces = np.flatnonzero(final)  # provisional ids kept, and their final index
            owner = final[pieces] - 1
            out_areas = np.bincount(owner, weights=areas_all[pieces], minlength=n_final).astype(np.int64)
            out_kinds = np.zeros(n_final, np.int8)
            out_kinds[owner] = kinds_all[pieces]
            out_boxes = np.zeros((n_final, 4))
            if n_final:
                out_boxes[:, :2], out_boxes[:, 2:] = np.inf, -np.inf
                for k, reduce in ((0, np.minimum), (1, np.minimum), (2, np.maximum), (3, np.maximum)):
                    reduce.at(out_boxes[:, k], owner, boxes_all[pieces, k])
            order = np.lexsort((-values_all[pieces], owner))  # by object, largest peak first
            _, first_of = np.unique(owner[order], return_index=True)
            out_peaks = np.zeros((n_final, 2))
            out_peaks[owner[order][first_of]] = peaks_all[pieces[order][first_of]]
            if out_path is not None:
                import warnings

                import rasterio

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
                    scratch_ds = rasterio.open(work.temp_path)
                with scratch_ds, \
                        LabelRasterWriter(out_path, width, height, crs=crs, transform=transform,
                                          tags=tags) as writer:
                    for win in windows:
                        writer.write(lut[scratch_ds.read(1, window=win)], win)
        finally:
            work.abort()
    return Components(None if out_path is None else Path(out_path), n_final, out_areas, out_boxes, out_peaks,
                      out_kinds)
