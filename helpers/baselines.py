"""Classical remote-sensing baselines and inputs for the case studies (no weights, numpy in, numpy out).

* :func:`buildings_from_heights`: building footprints from a LiDAR height-above-ground model (height
  threshold, roof flatness, morphology, connected components, a tree rule).
* :func:`height_to_rgb`: how to show a single-band float height model to SAM / FastSAM, which want
  3-channel 8-bit images (grey, height + hillshade composite, colour map).
* :func:`ndwi` and :func:`water_pseudo_reference`: open water from green and near-infrared bands with an
  objective (Otsu) threshold. The result is a **pseudo-reference**: derived from the same image by a
  rule, fine for comparing methods, never ground truth.
* :func:`select_by_area` and :func:`select_by_mean`: keep the masks of a size range, or the masks whose
  mean index value says "water" (SAM delineates; a spectral index labels).
"""

from __future__ import annotations

import numpy as np

from .crs import pixel_area_m2
from .errors import UserInputError

__all__ = [
    "HEIGHT_RENDERINGS",
    "normalized_difference",
    "buildings_from_heights",
    "height_to_rgb",
    "interior_points",
    "ndwi",
    "plane_roughness",
    "select_by_area",
    "select_by_mean",
    "water_pseudo_reference",
]

HEIGHT_RENDERINGS = {
    "grey": "height stretched 0..max_height to 0..255, the same value in R, G and B (a grey photo of heights)",
    "height_hillshade": "R and B: stretched height (roofs bright); G: hillshade (sun from the north-west: walls "
    "and roof edges as light and shadow, so equal heights side by side still show their outline)",
    "colormap": "height through matplotlib's 'viridis' colour map: height steps become colour edges",
}
"""How :func:`height_to_rgb` can turn a height model into an 8-bit RGB image, by name."""


def _check_height(height) -> np.ndarray:
    height = np.asarray(height, dtype=np.float64)
    if height.ndim != 2:
        raise UserInputError(f"a height model must be a 2-D (H, W) array in metres, got shape {height.shape}")
    return height


def height_to_rgb(height, how: str = "grey", max_height: float | None = None, pixel_size: float = 1.0) -> np.ndarray:
    """An HxWx3 uint8 image of a height model, for models trained on photos (SAM, FastSAM).

    Args:
        height: (H, W) float heights in metres (height above ground); NaN = nodata (drawn black).
        how: one of :data:`HEIGHT_RENDERINGS`: ``"grey"``, ``"height_hillshade"`` or ``"colormap"``.
        max_height: metres mapped to 255 (heights above are clipped); default: the 99th percentile,
            so a few tall trees or towers do not flatten everything else.
        pixel_size: ground size of a pixel in metres (the hillshade's slopes depend on it).
    """
    height = _check_height(height)
    if how not in HEIGHT_RENDERINGS:
        raise UserInputError(f"unknown height rendering {how!r}; choose one of: {', '.join(HEIGHT_RENDERINGS)}")
    valid = np.isfinite(height)
    if not valid.any():
        raise UserInputError("the height model has no valid (finite) value")
    top = float(np.percentile(height[valid], 99)) if max_height is None else float(max_height)
    if not top > 0:
        raise UserInputError(f"max_height must be > 0 metres, got {top}")
    scaled = np.clip(np.where(valid, height, 0.0) / top, 0.0, 1.0)
    if how == "grey":
        channels = np.stack([scaled] * 3, axis=-1)
    elif how == "colormap":
        from matplotlib import colormaps

        channels = colormaps["viridis"](scaled)[..., :3]
    else:
        from .data.samples import hillshade

        shade = np.nan_to_num(hillshade(np.where(valid, height, np.nan), pixel_size, pixel_size), nan=0.0)
        channels = np.stack([scaled, shade, scaled], axis=-1)
    image = (channels * 255).round().astype(np.uint8)
    image[~valid] = 0
    return image


def plane_roughness(height, size: int = 3) -> np.ndarray:
    """Standard deviation (metres) of the heights around each pixel from the best-fitting plane.

    A roof is a plane (flat or pitched) to within the LiDAR noise, so its roughness is small; a tree
    crown is a rough dome. Computed with box filters over a ``size`` x ``size`` window (odd, pixels).
    """
    from scipy import ndimage

    height = np.nan_to_num(_check_height(height), nan=0.0)
    if size < 3 or size % 2 == 0:
        raise UserInputError(f"size must be an odd number of pixels >= 3, got {size}")
    reach = size // 2
    rows, cols = np.mgrid[-reach : reach + 1, -reach : reach + 1].astype(np.float64)
    count = size * size
    mean = ndimage.uniform_filter(height, size)
    mean_sq = ndimage.uniform_filter(height * height, size)
    # least-squares slopes along x and y of a symmetric window: sum(x*h) / sum(x*x)
    slope_x = ndimage.correlate(height, cols / count)
    slope_y = ndimage.correlate(height, rows / count)
    spread = (cols**2).mean()
    variance = mean_sq - mean**2 - (slope_x**2 + slope_y**2) / spread
    return np.sqrt(np.maximum(variance, 0.0))


def buildings_from_heights(height, pixel_size: float = 2.0, min_height: float = 2.5, max_roughness: float = 0.5,
                           min_area_m2: float = 60.0, tree_height: float = 11.0,
                           tree_max_area_m2: float = 240.0) -> np.ndarray:
    """Building footprints from a height-above-ground model: uint32 instance labels (0 = background).

    The rules, each with its reason:

    1. **tall enough**: ``height > min_height`` (2.5 m: above cars, fences and hedges; below the eaves of
       a one-storey building);
    2. **flat**: :func:`plane_roughness` < ``max_roughness`` (0.5 m): roofs are planes, tree crowns are
       not; then a 3x3 opening removes one-pixel bridges between roofs and canopy;
    3. **connected components** (4-connected, so two roofs touching at a corner stay apart), smaller
       than ``min_area_m2`` dropped (60 m²: garden sheds and canopy fragments; a row house is larger);
    4. **the tree rule**: a component taller on average than ``tree_height`` (11 m) but smaller than
       ``tree_max_area_m2`` (240 m²) is a tree crown: a building that tall (4+ storeys) is a large
       apartment block, while a single crown is 5-15 m across. Street trees in these blocks are taller
       than the 2-3 storey row houses (median footprint height 6.5 m in the reference attributes);
    5. each building grows back by one pixel into tall pixels: the roughness window eats roof edges
       (a wall is a 5 m step inside the window).

    Args:
        height: (H, W) float heights above ground in metres (NaN = nodata).
        pixel_size: ground size of a pixel in metres (2.0 for the Alexandria LiDAR model).
        min_height, max_roughness, tree_height: metres; min_area_m2, tree_max_area_m2: square metres.
    """
    from scipy import ndimage
    from skimage.segmentation import expand_labels

    height = _check_height(height)
    if not pixel_size > 0:
        raise UserInputError(f"pixel_size must be > 0 metres, got {pixel_size}")
    filled = np.nan_to_num(height, nan=0.0)
    tall = filled > min_height
    flat = ndimage.binary_opening(tall & (plane_roughness(filled) < max_roughness))
    labels, count = ndimage.label(flat)
    if count == 0:
        return np.zeros(height.shape, np.uint32)
    index = np.arange(1, count + 1)
    area_m2 = ndimage.sum_labels(flat, labels, index) * pixel_size**2
    mean_height = ndimage.mean(filled, labels, index)
    is_tree = (mean_height > tree_height) & (area_m2 < tree_max_area_m2)
    keep = np.r_[False, (area_m2 >= min_area_m2) & ~is_tree]
    new_ids = np.zeros(count + 1, np.uint32)
    new_ids[keep] = np.arange(1, int(keep.sum()) + 1)
    buildings = new_ids[labels]
    return (expand_labels(buildings, 1) * tall).astype(np.uint32)


def normalized_difference(a, b) -> np.ndarray:
    """``(a - b) / (a + b)`` per pixel as float32 in [-1, 1] for reflectances; NaN where ``a + b == 0`` (nodata
    zeros) or not finite. The one normalised-difference index of the package (NDWI, MNDWI, NDVI...)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise UserInputError(f"the two bands differ in shape: {a.shape} and {b.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - b) / (a + b)
    out[~np.isfinite(out)] = np.nan
    return out.astype(np.float32)


def ndwi(green, nir) -> np.ndarray:
    """McFeeters' Normalised Difference Water Index (G - NIR) / (G + NIR), float32 in [-1, 1].

    Water reflects green light and absorbs near-infrared, so it is positive; vegetation reflects NIR
    strongly and is negative. Pixels where both bands are 0 (nodata) are NaN.
    """
    return normalized_difference(green, nir)


def water_pseudo_reference(green, nir, min_area_px: int = 4) -> tuple[np.ndarray, float]:
    """Open water as a **pseudo-reference**: NDWI above its Otsu threshold, specks removed.

    Otsu's method picks the threshold that best separates the two modes of the NDWI histogram (water
    and land), so no number is tuned by hand and the rule is the same for every date. It is still a
    rule applied to the same image the methods see: it shares that image's errors (shadows, turbid
    or vegetated water, mixed shore pixels), which is why it is a pseudo-reference, not ground truth.

    Args:
        green, nir: (H, W) bands (any numeric type; 0 in both = nodata).
        min_area_px: water bodies smaller than this many pixels are removed (speckle).

    Returns:
        (bool (H, W) water mask, the NDWI threshold Otsu chose).
    """
    from skimage.filters import threshold_otsu
    from skimage.morphology import remove_small_objects

    index = ndwi(green, nir)
    valid = np.isfinite(index)
    if valid.sum() < 2 or np.ptp(index[valid]) == 0:
        raise UserInputError("NDWI is constant or empty: no water/land contrast to threshold")
    threshold = float(threshold_otsu(index[valid]))
    water = valid & (np.nan_to_num(index, nan=-1.0) > threshold)
    if min_area_px > 1:
        water = remove_small_objects(water, max_size=int(min_area_px) - 1)
    return water, threshold


def interior_points(labels) -> np.ndarray:
    """One point per object, as far inside it as possible: float (N, 2) pixel (column, row), ids 1..N.

    The pixel farthest from the object's edge (maximum of the Euclidean distance transform): what a
    person clicking "in the middle of the pond" does, and always inside the object (a centroid of a
    crescent-shaped pond is not). Objects are the labels present, in increasing id order.

    Args:
        labels: (H, W) integer label raster (0 = background) or a bool mask (one object).
    """
    from scipy import ndimage

    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise UserInputError(f"labels must be (H, W), got shape {labels.shape}")
    labels = labels.astype(np.int64)
    ids = np.unique(labels[labels > 0])
    if ids.size == 0:
        return np.zeros((0, 2), np.float32)
    # distance to the nearest pixel of another label (background included), object by object
    padded = np.pad(labels, 1)
    edges = np.zeros(padded.shape, bool)
    for axis in (0, 1):
        step = np.diff(padded, axis=axis) != 0
        edges[tuple(slice(0, -1) if a == axis else slice(None) for a in (0, 1))] |= step
        edges[tuple(slice(1, None) if a == axis else slice(None) for a in (0, 1))] |= step
    depth = ndimage.distance_transform_edt(~edges)[1:-1, 1:-1] * (labels > 0)
    rows_cols = np.array(ndimage.maximum_position(depth, labels, ids), dtype=np.float32).reshape(-1, 2)
    return rows_cols[:, ::-1].copy()


def _pixel_area(masks) -> float:
    area = pixel_area_m2(masks.transform, masks.crs, masks.shape)
    if area is None:
        raise UserInputError("areas in square metres need georeferenced masks (crs and transform)")
    return area


def select_by_area(masks, min_area_m2: float | None = None, max_area_m2: float | None = None):
    """The masks whose ground area lies within [``min_area_m2``, ``max_area_m2``] (square metres).

    Args:
        masks: a georeferenced :class:`~helpers.masks.Masks`.
        min_area_m2, max_area_m2: bounds in m² (``None``: no bound). Areas use the centre pixel's size.
    """
    areas = masks.areas * _pixel_area(masks)
    keep = np.ones(len(masks), dtype=bool)
    if min_area_m2 is not None:
        keep &= areas >= min_area_m2
    if max_area_m2 is not None:
        keep &= areas <= max_area_m2
    return masks.select(np.flatnonzero(keep))


def select_by_mean(masks, values, minimum: float):
    """The masks whose mean of ``values`` (an (H, W) index such as NDWI; NaN ignored) is >= ``minimum``."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape != masks.shape:
        raise UserInputError(f"values are {values.shape} but the masks are {masks.shape} (H, W)")
    finite = np.isfinite(values)
    filled = np.where(finite, values, 0.0)
    sums = np.array([filled[m].sum() for m in masks.masks])
    counts = np.array([np.count_nonzero(finite[m]) for m in masks.masks])
    means = np.divide(sums, counts, out=np.full(len(masks), -np.inf), where=counts > 0)
    return masks.select(np.flatnonzero(means >= minimum))
