"""Prompt validation shared by every promptable backend (SAM, SAM 2, MobileSAM, FastSAM).

Conventions:

* Points are pixel-centre coordinates ``(x, y) = (column, row)``, float (N, 2): the integer point
  ``(10, 20)`` is the centre of the pixel in column 10, row 20 (segment-anything's ``SamPredictor``
  convention; its prompt encoder adds 0.5 itself). A point covers the pixel it rounds to
  (:func:`pixel_indices`), so points run from -0.5 to ``W - 0.5``.
* Boxes are XYXY pixel *edges* ``(x0, y0, x1, y1)``, float (B, 4), with x1/y1 exclusive: the box
  ``(0, 0, W, H)`` is the whole scene and ``(10, 20, 11, 21)`` exactly pixel (10, 20). This is the
  convention of :attr:`helpers.masks.Masks.boxes`, the exporters and FastSAM. SAM and SAM 2 receive the
  box numbers unchanged (as their official predictors do).
* Map coordinates: with ``crs="EPSG:4326"`` (or any CRS pyproj understands) points and boxes are
  ``(x, y)`` = (easting, northing) / (longitude, latitude) in that CRS. They are reprojected to the
  scene CRS with pyproj, then mapped through the inverse of the scene's affine transform: the map
  position of the centre of pixel (c, r) becomes the point ``(c, r)``, and a map box equal to a pixel's
  footprint becomes the pixel box ``(c, r, c + 1, r + 1)``.

Every check raises ``ValueError`` (or ``TypeError``) with one clear line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .crs import to_pyproj, transformer
from .scene import Scene

__all__ = [
    "Prompts",
    "normalise_points",
    "normalise_labels",
    "normalise_boxes",
    "normalise_mask_input",
    "pixel_indices",
    "box_window",
    "to_pixel_points",
    "to_pixel_boxes",
    "to_map_points",
    "prepare_prompts",
    "scene_bounds_text",
    "MAX_PROMPTS",
]

#: Most points (or boxes) one call takes: prompt work and memory grow with the count, and beyond this a
#: prompts file belongs in tiled batches (``helpers.segment_tiled`` / ``python -m helpers segment``).
MAX_PROMPTS = 100_000

# A point may sit anywhere on the scene's footprint: pixel centres run 0..W-1, edges -0.5..W-0.5.
_EDGE = 0.5
# Map boxes on the scene's edge come back a few ULPs off (reprojection, affine inverse): allow that.
_BOX_TOLERANCE = 1e-6


@dataclass
class Prompts:
    """Validated prompts in pixel coordinates of one scene.

    Attributes:
        points: float64 (N, 2) pixel-centre (column, row), or ``None``.
        labels: int32 (N,) 1 = foreground, 0 = background, or ``None``.
        boxes: float64 (B, 4) XYXY pixel edges (x1/y1 exclusive), or ``None``.
    """

    points: np.ndarray | None = None
    labels: np.ndarray | None = None
    boxes: np.ndarray | None = None

    @property
    def prompt_type(self) -> str:
        kinds = [k for k, v in (("points", self.points), ("boxes", self.boxes)) if v is not None]
        return "+".join(kinds)

    def as_dict(self) -> dict:
        """The prompts for ``Masks.prompts`` (only the ones given)."""
        out = {}
        if self.points is not None:
            out["points"] = self.points.copy()
            out["labels"] = self.labels.copy()
        if self.boxes is not None:
            out["boxes"] = self.boxes.copy()
        return out


# ---- shapes and values ----------------------------------------------------------------------------
def _as_float_array(values, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be numbers, got {type(values).__name__}") from None
    return array


def _check_count(array: np.ndarray, what: str) -> None:
    if array.ndim == 2 and array.shape[0] > MAX_PROMPTS:
        raise ValueError(
            f"{array.shape[0]:,} {what} in one call; give at most {MAX_PROMPTS:,} (split them, or run a prompts "
            "file tile by tile with helpers.segment_tiled / python -m helpers segment --prompts)"
        )


def _check_finite(array: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(array)):
        bad = np.flatnonzero(~np.isfinite(array).all(axis=-1))
        raise ValueError(f"{what} contain NaN or infinite coordinates (row {int(bad[0])})")


def normalise_points(points) -> np.ndarray:
    """Points ``[(x, y), ...]`` (or one ``(x, y)``) -> float64 (N, 2); N >= 1, finite."""
    array = _as_float_array(points, "points")
    if array.ndim == 1 and array.shape[0] == 2:
        array = array[None]
    if array.size == 0:
        raise ValueError("points is empty; give at least one (x, y) point or leave points=None")
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"points must be a list of (x, y) pairs, shape (N, 2); got shape {array.shape}")
    _check_count(array, "points")
    _check_finite(array, "points")
    return array


def normalise_labels(labels, n_points: int) -> np.ndarray:
    """Labels (1 = foreground, 0 = background) -> int32 (N,); ``None`` means all foreground."""
    if labels is None:
        return np.ones(n_points, dtype=np.int32)
    array = np.asarray(labels)
    if array.ndim == 0:
        array = array[None]
    if array.ndim != 1:
        raise ValueError(f"labels must be a flat list of 0/1, got shape {array.shape}")
    if array.shape[0] != n_points:
        raise ValueError(f"{n_points} point(s) but {array.shape[0]} label(s); give one label per point")
    if array.dtype.kind not in "biuf" or not np.isin(array, (0, 1)).all():
        bad = [v for v in array.tolist() if v not in (0, 1)]
        raise ValueError(f"labels must be 1 (foreground) or 0 (background), got {bad[:3]}")
    return array.astype(np.int32)


def normalise_boxes(boxes) -> np.ndarray:
    """Boxes XYXY ``[(x0, y0, x1, y1), ...]`` (or one box) -> float64 (B, 4); x0<=x1, y0<=y1, finite.

    Only shapes and values are checked here; the coordinates (pixel edges or map) are not.
    """
    array = _as_float_array(boxes, "boxes")
    if array.ndim == 1 and array.shape[0] == 4:
        array = array[None]
    if array.size == 0:
        raise ValueError("boxes is empty; give at least one (x0, y0, x1, y1) box or leave boxes=None")
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"boxes must be XYXY (x0, y0, x1, y1), shape (B, 4); got shape {array.shape}")
    _check_count(array, "boxes")
    _check_finite(array, "boxes")
    flipped = (array[:, 2] < array[:, 0]) | (array[:, 3] < array[:, 1])
    if flipped.any():
        i = int(np.flatnonzero(flipped)[0])
        raise ValueError(f"box {i} {array[i].tolist()} is not XYXY: need x0 <= x1 and y0 <= y1")
    return array


def normalise_mask_input(mask_input, n_boxes: int = 1, size: int = 256) -> np.ndarray | None:
    """Low-resolution mask logits for SAM / SAM 2's ``mask_input`` -> float32 (1 | B, size, size).

    Args:
        mask_input: ``None``, or float logits (size, size), (1, size, size) or (n_boxes, size, size),
            typically ``previous.logits[[i]]`` of an earlier result (SAM's low-res size is 256).
        n_boxes: how many boxes are predicted together (one mask input each, or one for all).
        size: the model's low-resolution mask size.

    Returns:
        ``None`` when ``mask_input`` is ``None``, else a float32 array (1 or n_boxes, size, size).

    Raises:
        ValueError: another shape, or NaN / infinite values.
    """
    if mask_input is None:
        return None
    array = np.asarray(mask_input, dtype=np.float32)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[1:] != (size, size) or array.shape[0] not in (1, n_boxes):
        raise ValueError(
            f"mask_input must be low-res logits (1, {size}, {size}) such as result.logits[[i]] "
            f"(or one per box, ({n_boxes}, {size}, {size})), got shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError("mask_input contains NaN or infinite values")
    return array


def pixel_indices(points, shape) -> tuple[np.ndarray, np.ndarray]:
    """The pixel each point falls in: pixel-centre (column, row) points -> int64 (rows, cols).

    Rounds to the nearest pixel centre (``floor(v + 0.5)``, so a map click on the centre of pixel 11
    that reprojects to 10.9999 still hits pixel 11; plain ``astype(int)`` truncation would not) and
    clips to the scene, as points up to half a pixel outside the centres are on the scene's edge pixels.

    Args:
        points: float (N, 2) pixel-centre (column, row) coordinates.
        shape: the scene's (H, W) (further dimensions are ignored).

    Returns:
        ``(rows, cols)``, two int64 (N,) arrays, ready for ``array[rows, cols]``.
    """
    array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    height, width = int(shape[0]), int(shape[1])
    cols = np.clip(np.floor(array[:, 0] + 0.5), 0, width - 1).astype(np.int64)
    rows = np.clip(np.floor(array[:, 1] + 0.5), 0, height - 1).astype(np.int64)
    return rows, cols


def box_window(box, shape) -> tuple[slice, slice]:
    """The pixels inside an XYXY pixel-edge box: ``(rows, cols)`` slices for ``array[rows, cols]``.

    Each edge is rounded to the nearest pixel edge (``floor(v + 0.5)``; float noise such as 9.9999999
    from a map box does not add or drop a row/column) and clipped to the scene, so ``(10, 20, 12, 21)``
    selects columns 10-11 of row 20 and ``(0, 0, W, H)`` the whole scene.

    Args:
        box: float (4,) XYXY pixel edges, x1/y1 exclusive.
        shape: the scene's (H, W) (further dimensions are ignored).
    """
    height, width = int(shape[0]), int(shape[1])
    x0, x1 = (int(np.clip(np.floor(float(v) + 0.5), 0, width)) for v in (box[0], box[2]))
    y0, y1 = (int(np.clip(np.floor(float(v) + 0.5), 0, height)) for v in (box[1], box[3]))
    return slice(y0, y1), slice(x0, x1)


# ---- coordinate systems ---------------------------------------------------------------------------
def _reproject(xy: np.ndarray, src, dst) -> np.ndarray:
    """(N, 2) ``xy`` from ``src`` to ``dst``; points outside the projection's domain come back NaN/inf.

    Raises:
        ValueError: no transformation exists between the two CRSs (e.g. a local engineering CRS).
    """
    if to_pyproj(src) == to_pyproj(dst):
        return xy.copy()
    try:
        x, y = transformer(src, dst).transform(xy[:, 0], xy[:, 1], errcheck=False)
    except Exception as error:  # noqa: BLE001 - pyproj raises ProjError/CRSError, not ValueError
        raise ValueError(
            f"cannot convert coordinates from {_crs_name(src)} to {_crs_name(dst)} "
            f"({' '.join(str(error).split())[:120]}); give the prompts in {_crs_name(dst)} or in pixels (crs=None)"
        ) from None
    return np.column_stack([x, y]).astype(np.float64)


def _require_georeferenced(scene: Scene, crs) -> None:
    if not scene.is_georeferenced:
        raise ValueError(
            f"crs={crs!r} given but the scene has no CRS/transform; pass pixel coordinates (crs=None) "
            "or set a georeferenced GeoTIFF"
        )


def _map_to_pixel_edges(xy_map: np.ndarray, crs, scene: Scene) -> np.ndarray:
    """Map (x, y) in ``crs`` -> float (N, 2) pixel-edge (column, row) coordinates, no bounds check.

    Edge coordinates are what the affine transform maps: the scene's top-left corner is (0, 0).
    """
    _require_georeferenced(scene, crs)
    xy = _reproject(xy_map, crs, scene.crs)
    with np.errstate(invalid="ignore"):  # NaN/inf from a failed reprojection: reported by _check_inside
        cols, rows = ~scene.transform * (xy[:, 0], xy[:, 1])  # affine.Affine maps coordinate arrays
    return np.column_stack([cols, rows]).astype(np.float64)


def _map_to_pixel(xy_map: np.ndarray, crs, scene: Scene) -> np.ndarray:
    """Map (x, y) in ``crs`` -> float (N, 2) pixel-centre (column, row) coordinates, no bounds check."""
    # Shift by half a pixel so that a pixel's centre maps onto its index.
    return _map_to_pixel_edges(xy_map, crs, scene) - _EDGE


def to_map_points(points, scene: Scene, crs=None) -> np.ndarray:
    """Pixel-centre (column, row) points -> map (x, y) of those positions, in ``crs`` (default: scene CRS).

    Args:
        points: float (N, 2) pixel-centre (column, row), or one ``(x, y)``; integers are pixel centres.
        scene: a georeferenced :class:`Scene`.
        crs: target CRS (``None``: the scene's).

    Returns:
        float64 (N, 2) map (x, y) (e.g. lon, lat for ``"EPSG:4326"``); the inverse of
        :func:`to_pixel_points`.
    """
    array = normalise_points(points)
    _require_georeferenced(scene, crs or "the scene CRS")
    x, y = scene.transform * (array[:, 0] + _EDGE, array[:, 1] + _EDGE)
    xy = np.column_stack([x, y]).astype(np.float64)
    return xy if crs is None else _reproject(xy, scene.crs, crs)


def scene_bounds_text(scene: Scene, crs=None) -> str:
    """The scene extent in pixels, and in ``crs`` (or the scene CRS) when it is georeferenced."""
    text = f"columns 0..{scene.width - 1}, rows 0..{scene.height - 1} (pixels)"
    if scene.is_georeferenced:
        target = crs if crs is not None else scene.crs
        try:
            left, bottom, right, top = _scene_bounds_in(scene, target)
            name = _crs_name(target)
            text += f"; x {left:.6g}..{right:.6g}, y {bottom:.6g}..{top:.6g} ({name})"
        except Exception:  # noqa: BLE001 - bounds text is a courtesy; never hide the real error
            pass
    return text


def _crs_name(crs) -> str:
    try:
        pcrs = to_pyproj(crs)
    except ValueError:
        return str(crs)[:60]
    epsg = pcrs.to_epsg()
    return f"EPSG:{epsg}" if epsg else pcrs.name


def _scene_bounds_in(scene: Scene, crs) -> tuple[float, float, float, float]:
    from rasterio.transform import array_bounds

    left, bottom, right, top = array_bounds(scene.height, scene.width, scene.transform)
    if to_pyproj(scene.crs) == to_pyproj(crs):
        return left, bottom, right, top
    return transformer(scene.crs, crs).transform_bounds(left, bottom, right, top, densify_pts=21)


def _check_inside(pixels: np.ndarray, scene: Scene, what: str, crs, original: np.ndarray) -> None:
    """Raise if any row of ``pixels`` ((N, 2) points or (B, 4) boxes) leaves the scene footprint.

    Points are pixel centres, from -0.5 to ``W - 0.5``; box corners are pixel edges, from 0 to ``W``
    (a mask touching the right or bottom edge has ``Masks.boxes`` ending at ``W``/``H`` exactly).
    """
    x, y = pixels[:, 0::2], pixels[:, 1::2]
    if what == "box":
        low, high, slack = 0.0, 0.0, _BOX_TOLERANCE
    else:
        low, high, slack = -_EDGE, _EDGE, 0.0
    # NaN/inf: a map coordinate outside its CRS's domain (lat/lon swapped, latitude > 90, projected
    # numbers labelled EPSG:4326) does not reproject; NaN fails every comparison, so test it explicitly.
    outside = ~np.isfinite(pixels).all(axis=1) | (
        (x < low - slack) | (x > scene.width - high + slack) | (y < low - slack) | (y > scene.height - high + slack)
    ).any(axis=1)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        given = ", ".join(f"{v:.6g}" for v in original[i])
        where = "pixels" if crs is None else _crs_name(crs)
        edges = f"; box edges run x 0..{scene.width}, y 0..{scene.height}" if what == "box" else ""
        raise ValueError(
            f"{what} {i} ({given}) [{where}] is outside the scene: {scene_bounds_text(scene, crs)}{edges}"
        )


def to_pixel_points(points, crs, scene: Scene) -> np.ndarray:
    """Points -> float64 (N, 2) pixel-centre (column, row) coordinates inside ``scene``.

    Args:
        points: ``[(x, y), ...]`` float (N, 2): pixel-centre (column, row) when ``crs`` is ``None``,
            else map coordinates in ``crs`` (e.g. ``"EPSG:4326"`` lon/lat).
        crs: ``None`` or any CRS pyproj accepts.
        scene: the :class:`Scene` being prompted.

    Raises:
        ValueError: empty/NaN/mis-shaped points, a CRS on an un-georeferenced scene, or a point outside
            the scene (the message names the scene bounds in pixels and in ``crs``).
    """
    original = normalise_points(points)
    pixels = original if crs is None else _map_to_pixel(original, crs, scene)
    _check_inside(pixels, scene, "point", crs, original)
    return pixels


def to_pixel_boxes(boxes, crs, scene: Scene) -> np.ndarray:
    """Boxes XYXY -> float64 (B, 4) XYXY pixel-edge boxes (x1/y1 exclusive) inside ``scene``.

    Args:
        boxes: ``[(x0, y0, x1, y1), ...]`` float (B, 4): pixel edges when ``crs`` is ``None`` (as
            :attr:`Masks.boxes`), else map coordinates (xmin, ymin, xmax, ymax) in ``crs``.
        crs: ``None`` or any CRS pyproj accepts.
        scene: the :class:`Scene` being prompted.

    Map boxes are reprojected along their densified edges (so a lon/lat box over a UTM scene keeps
    its full extent) and the pixel box is the envelope of the result, in edge coordinates: a map box
    equal to a pixel's footprint gives exactly that pixel, ``(c, r, c + 1, r + 1)``. Boxes must lie
    within ``[0, W] x [0, H]``; overshoots of float rounding (< 1e-6 pixel) are clipped away.

    Raises:
        ValueError: empty/NaN/mis-shaped/flipped boxes, a CRS on an un-georeferenced scene, or a box
            outside the scene (the message names the scene bounds).
    """
    original = normalise_boxes(boxes)
    if crs is None:
        pixels = original
    else:
        pixels = np.stack([_map_box_to_pixel(box, crs, scene) for box in original])
    _check_inside(pixels, scene, "box", crs, original)
    limits = [scene.width, scene.height] * 2
    return np.clip(pixels, 0.0, limits)


def _map_box_to_pixel(box: np.ndarray, crs, scene: Scene) -> np.ndarray:
    x0, y0, x1, y1 = box
    t = np.linspace(0.0, 1.0, 21)
    edge_x = np.concatenate([x0 + (x1 - x0) * t, np.full_like(t, x1), x1 - (x1 - x0) * t, np.full_like(t, x0)])
    edge_y = np.concatenate([np.full_like(t, y0), y0 + (y1 - y0) * t, np.full_like(t, y1), y1 - (y1 - y0) * t])
    pixels = _map_to_pixel_edges(np.column_stack([edge_x, edge_y]), crs, scene)
    return np.array([*pixels.min(axis=0), *pixels.max(axis=0)], dtype=np.float64)


def prepare_prompts(scene: Scene, points=None, labels=None, boxes=None, crs=None) -> Prompts:
    """Validate and convert prompts for ``scene`` into pixel coordinates.

    Args:
        scene: the current :class:`Scene`.
        points: float (N, 2) ``[(x, y), ...]`` pixel-centre (column, row), or map coordinates with
            ``crs``; or ``None``.
        labels: int (N,), one 1/0 per point (``None`` = all foreground). Labels without points are an error.
        boxes: float (B, 4) XYXY ``[(x0, y0, x1, y1), ...]``: pixel edges (x1/y1 exclusive), or map
            coordinates with ``crs``; or ``None``.
        crs: ``None`` (pixel coordinates) or the CRS of ``points``/``boxes``.

    Raises:
        ValueError: no prompt at all, or any check of :func:`to_pixel_points` /
            :func:`to_pixel_boxes` / :func:`normalise_labels` failing.
    """
    if points is None and boxes is None:
        if labels is not None:
            raise ValueError("labels given without points; pass points=[(x, y), ...] with labels")
        raise ValueError("no prompt given: pass points=[(x, y), ...] (with labels) and/or boxes=[(x0, y0, x1, y1)]")
    prompts = Prompts()
    if points is not None:
        prompts.points = to_pixel_points(points, crs, scene)
        prompts.labels = normalise_labels(labels, prompts.points.shape[0])
    elif labels is not None:
        raise ValueError("labels given without points; pass points=[(x, y), ...] with labels")
    if boxes is not None:
        prompts.boxes = to_pixel_boxes(boxes, crs, scene)
    return prompts
