"""Prompt validation shared by every promptable backend (SAM, SAM 2, MobileSAM, FastSAM).

Conventions (the same as segment-anything's ``SamPredictor``):

* Pixel coordinates are ``(x, y) = (column, row)`` *indices*: the integer point ``(10, 20)`` is the
  centre of the pixel in column 10, row 20 (SAM's prompt encoder adds 0.5 itself).
* Boxes are XYXY: ``(x0, y0, x1, y1)`` with ``x0 <= x1`` and ``y0 <= y1``, in the same pixel convention.
* Map coordinates: with ``crs="EPSG:4326"`` (or any CRS pyproj understands) points and boxes are
  ``(x, y)`` = (easting, northing) / (longitude, latitude) in that CRS. They are reprojected to the
  scene CRS with pyproj, then mapped through the inverse of the scene's affine transform; the centre
  of pixel (c, r) lands exactly on ``(c, r)``.

Every check raises ``ValueError`` (or ``TypeError``) with one clear line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .scene import Scene, check_rgb_uint8

__all__ = [
    "Prompts",
    "check_image",
    "normalise_points",
    "normalise_labels",
    "normalise_boxes",
    "to_pixel_points",
    "to_pixel_boxes",
    "to_map_points",
    "prepare_prompts",
    "scene_bounds_text",
]

# A point may sit anywhere on the scene's footprint: pixel centres run 0..W-1, edges -0.5..W-0.5.
_EDGE = 0.5


@dataclass
class Prompts:
    """Validated prompts in pixel coordinates of one scene.

    Attributes:
        points: float64 (N, 2) pixel (column, row), or ``None``.
        labels: int32 (N,) 1 = foreground, 0 = background, or ``None``.
        boxes: float64 (B, 4) XYXY pixels, or ``None``.
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


def check_image(image: np.ndarray) -> np.ndarray:
    """Validate an HxWx3 uint8 RGB array (same rules as :func:`helpers.scene.check_rgb_uint8`)."""
    return check_rgb_uint8(image)


# ---- shapes and values ----------------------------------------------------------------------------
def _as_float_array(values, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be numbers, got {type(values).__name__}") from None
    return array


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
    """Boxes XYXY ``[(x0, y0, x1, y1), ...]`` (or one box) -> float64 (B, 4); x0<=x1, y0<=y1, finite."""
    array = _as_float_array(boxes, "boxes")
    if array.ndim == 1 and array.shape[0] == 4:
        array = array[None]
    if array.size == 0:
        raise ValueError("boxes is empty; give at least one (x0, y0, x1, y1) box or leave boxes=None")
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"boxes must be XYXY (x0, y0, x1, y1), shape (B, 4); got shape {array.shape}")
    _check_finite(array, "boxes")
    flipped = (array[:, 2] < array[:, 0]) | (array[:, 3] < array[:, 1])
    if flipped.any():
        i = int(np.flatnonzero(flipped)[0])
        raise ValueError(f"box {i} {array[i].tolist()} is not XYXY: need x0 <= x1 and y0 <= y1")
    return array


# ---- coordinate systems ---------------------------------------------------------------------------
def _pyproj_crs(crs):
    from pyproj import CRS

    if hasattr(crs, "to_wkt"):  # rasterio.crs.CRS and pyproj.CRS alike
        crs = crs.to_wkt()
    try:
        return CRS.from_user_input(crs)
    except Exception as error:  # pyproj raises CRSError; keep the message on one line
        raise ValueError(f"unknown crs {crs!r}: {str(error).splitlines()[0]}") from None


@lru_cache(maxsize=32)
def _transformer(src_wkt: str, dst_wkt: str):
    from pyproj import Transformer

    # always_xy: (x, y) = (lon, lat) / (easting, northing) whatever the CRS's official axis order.
    return Transformer.from_crs(src_wkt, dst_wkt, always_xy=True)


def _reproject(xy: np.ndarray, src, dst) -> np.ndarray:
    src_wkt, dst_wkt = _pyproj_crs(src).to_wkt(), _pyproj_crs(dst).to_wkt()
    if src_wkt == dst_wkt:
        return xy.copy()
    x, y = _transformer(src_wkt, dst_wkt).transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y]).astype(np.float64)


def _require_georeferenced(scene: Scene, crs) -> None:
    if not scene.is_georeferenced:
        raise ValueError(
            f"crs={crs!r} given but the scene has no CRS/transform; pass pixel coordinates (crs=None) "
            "or set a georeferenced GeoTIFF"
        )


def _map_to_pixel(xy_map: np.ndarray, crs, scene: Scene) -> np.ndarray:
    """Map (x, y) in ``crs`` -> pixel (column, row) indices (float), no bounds check."""
    _require_georeferenced(scene, crs)
    xy = _reproject(xy_map, crs, scene.crs)
    cols, rows = _apply_affine(~scene.transform, xy[:, 0], xy[:, 1])
    # The affine maps pixel *edges*; shift by half a pixel so a pixel centre maps onto its index.
    return np.column_stack([cols, rows]).astype(np.float64) - _EDGE


def to_map_points(points, scene: Scene, crs=None) -> np.ndarray:
    """Pixel (column, row) indices -> map (x, y) of the pixel centres, in ``crs`` (default: scene CRS)."""
    array = normalise_points(points)
    _require_georeferenced(scene, crs or "the scene CRS")
    x, y = _apply_affine(scene.transform, array[:, 0] + _EDGE, array[:, 1] + _EDGE)
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
    pcrs = _pyproj_crs(crs)
    epsg = pcrs.to_epsg()
    return f"EPSG:{epsg}" if epsg else pcrs.name


def _scene_bounds_in(scene: Scene, crs) -> tuple[float, float, float, float]:
    from rasterio.transform import array_bounds

    left, bottom, right, top = array_bounds(scene.height, scene.width, scene.transform)
    src_wkt, dst_wkt = _pyproj_crs(scene.crs).to_wkt(), _pyproj_crs(crs).to_wkt()
    if src_wkt == dst_wkt:
        return left, bottom, right, top
    return _transformer(src_wkt, dst_wkt).transform_bounds(left, bottom, right, top, densify_pts=21)


def _apply_affine(transform, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``transform`` (an ``affine.Affine``) applied to coordinate arrays."""
    a, b, c, d, e, f = transform[:6]
    return a * x + b * y + c, d * x + e * y + f


def _check_inside(pixels: np.ndarray, scene: Scene, what: str, crs, original: np.ndarray) -> None:
    """Raise if any row of ``pixels`` ((N, 2) points or (B, 4) boxes) leaves the scene footprint.

    Points are pixel centres (up to ``W - 0.5``); box corners are pixel edges, so a box may end at
    ``W``/``H`` exactly, as ``Masks.boxes`` of a mask touching the right or bottom edge does.
    """
    x, y = pixels[:, 0::2], pixels[:, 1::2]
    high = 0.0 if what == "box" else _EDGE
    outside = ((x < -_EDGE) | (x > scene.width - high) | (y < -_EDGE) | (y > scene.height - high)).any(axis=1)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        given = ", ".join(f"{v:.6g}" for v in original[i])
        where = "pixels" if crs is None else _crs_name(crs)
        raise ValueError(
            f"{what} {i} ({given}) [{where}] is outside the scene: {scene_bounds_text(scene, crs)}"
        )


def to_pixel_points(points, crs, scene: Scene) -> np.ndarray:
    """Points -> float64 (N, 2) pixel (column, row) indices inside ``scene``.

    Args:
        points: ``[(x, y), ...]`` pixel (column, row) when ``crs`` is ``None``, else map coordinates
            in ``crs`` (e.g. ``"EPSG:4326"`` lon/lat).
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
    """Boxes XYXY -> float64 (B, 4) XYXY pixel boxes inside ``scene``.

    Map boxes (``crs`` given) are reprojected corner by corner (with densified edges, so a lon/lat box
    over a UTM scene keeps its full extent) and the pixel box is the envelope of the result.
    """
    original = normalise_boxes(boxes)
    if crs is None:
        pixels = original
    else:
        pixels = np.stack([_map_box_to_pixel(box, crs, scene) for box in original])
    _check_inside(pixels, scene, "box", crs, original)
    return pixels


def _map_box_to_pixel(box: np.ndarray, crs, scene: Scene) -> np.ndarray:
    x0, y0, x1, y1 = box
    t = np.linspace(0.0, 1.0, 21)
    edge_x = np.concatenate([x0 + (x1 - x0) * t, np.full_like(t, x1), x1 - (x1 - x0) * t, np.full_like(t, x0)])
    edge_y = np.concatenate([np.full_like(t, y0), y0 + (y1 - y0) * t, np.full_like(t, y1), y1 - (y1 - y0) * t])
    pixels = _map_to_pixel(np.column_stack([edge_x, edge_y]), crs, scene)
    return np.array([*pixels.min(axis=0), *pixels.max(axis=0)], dtype=np.float64)


def prepare_prompts(scene: Scene, points=None, labels=None, boxes=None, crs=None) -> Prompts:
    """Validate and convert prompts for ``scene`` into pixel coordinates.

    Args:
        scene: the current :class:`Scene`.
        points: ``[(x, y), ...]`` or ``None``.
        labels: one 1/0 per point (``None`` = all foreground). Labels without points are an error.
        boxes: XYXY ``[(x0, y0, x1, y1), ...]`` or ``None``.
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
