"""Optical dates: band reading (on a common grid), water indices and water masks (pseudo-references).

Water reflects almost no near or short-wave infrared, while vegetation and soils are bright there, so
normalised differences separate it well:

* NDWI (McFeeters 1996) = (green - NIR) / (green + NIR), for sensors without SWIR (NAIP);
* MNDWI (Xu 2006) = (green - SWIR1) / (green + SWIR1), sharper where built-up areas or soils darken NIR
  (Landsat).

A water mask from an index is a **pseudo-reference**: good for teaching and for comparing methods, not a
surveyed truth (turbid or vegetated water, shadows and wet soil are misclassified). Call it that.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import UserInputError

__all__ = ["LANDSAT_BANDS", "NAIP_BANDS", "normalized_difference", "read_bands", "water_index", "water_mask",
           "false_colour"]

LANDSAT_BANDS = {"swir1": 1, "nir": 2, "red": 3, "green": 4}
"""Band order of the Landsat Pucallpa composites (not RGB!)."""
NAIP_BANDS = {"red": 1, "green": 2, "blue": 3, "nir": 4}
"""Band order of NAIP quarter quads."""
WATER_INDICES = {"ndwi": ("green", "nir"), "mndwi": ("green", "swir1")}


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a - b) / (a + b)`` as float32, NaN where ``a + b == 0`` (e.g. nodata zeros)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - b) / (a + b)
    out[~np.isfinite(out)] = np.nan
    return out.astype(np.float32)


def read_bands(path, bands: dict, reference=None, resampling: str = "bilinear") -> tuple[dict, np.ndarray, object]:
    """Named bands of a raster as float32 arrays, optionally resampled onto another raster's grid.

    Args:
        path: raster file.
        bands: name -> 1-based band index (e.g. :data:`NAIP_BANDS`).
        reference: ``None`` (the file's own grid), or a raster path / :class:`~helpers.change.align.Grid`
            to resample onto (:func:`~helpers.change.align.read_on_grid`).
        resampling: resampling for ``reference`` (``"bilinear"`` for reflectances).

    Returns:
        ``(bands, valid, grid)``: name -> (H, W) float32, the (H, W) valid mask, and the grid read on.
    """
    import rasterio

    from .align import grid_of, read_on_grid

    indexes = list(bands.values())
    if reference is None:
        with rasterio.open(path) as ds:
            missing = [i for i in indexes if not 1 <= i <= ds.count]
            if missing:
                raise UserInputError(f"{Path(path).name} has {ds.count} bands; asked for band(s) {missing}")
            data = ds.read(indexes).astype(np.float32)
            with warnings.catch_warnings():  # 4-band files: nodata, not a guessed alpha band, masks pixels
                warnings.simplefilter("ignore", rasterio.errors.NodataShadowWarning)
                valid = (ds.read_masks(indexes) > 0).all(axis=0)
        grid = grid_of(path)
    else:
        data, valid = read_on_grid(path, reference, bands=indexes, resampling=resampling)
        grid = reference if not isinstance(reference, (str, Path)) else grid_of(reference)
    return dict(zip(bands, data, strict=True)), valid, grid


def water_index(bands: dict, index: str = "ndwi") -> np.ndarray:
    """NDWI (green, NIR; :func:`helpers.baselines.ndwi`) or MNDWI (green, SWIR1) of named bands (see the
    module docstring); NaN where undefined."""
    from ..baselines import ndwi

    try:
        first, second = WATER_INDICES[index]
    except KeyError:
        raise UserInputError(f"unknown water index {index!r}; choose one of {', '.join(WATER_INDICES)}") from None
    missing = [b for b in (first, second) if b not in bands]
    if missing:
        raise UserInputError(f"{index} needs band(s) {', '.join(missing)}; have {', '.join(bands)}")
    if index == "ndwi":
        return ndwi(bands[first], bands[second])
    return normalized_difference(bands[first], bands[second])


def water_mask(index: np.ndarray, valid: np.ndarray | None = None, threshold="otsu", min_area: int = 0):
    """Water where the index exceeds a threshold: ``"otsu"`` (per date, from its own histogram) or a value.

    Args:
        index: (H, W) water index (NaN = undefined).
        valid: (H, W) bool mask of usable pixels (``None``: where the index is finite).
        threshold: ``"otsu"`` or a number (NDWI/MNDWI > 0 is the textbook value).
        min_area: drop water regions smaller than this many pixels (0: keep all).

    Returns:
        ``(mask, threshold)``: (H, W) bool water pseudo-reference and the threshold used.
    """
    from skimage.filters import threshold_otsu
    from skimage.morphology import remove_small_objects

    index = np.asarray(index, np.float32)
    ok = np.isfinite(index) if valid is None else (np.asarray(valid, bool) & np.isfinite(index))
    if not ok.any():
        raise UserInputError("no valid pixel to threshold")
    value = float(threshold_otsu(index[ok])) if threshold == "otsu" else float(threshold)
    mask = ok & (np.nan_to_num(index, nan=-np.inf) > value)
    if min_area > 1:
        mask = remove_small_objects(mask, max_size=min_area - 1)
    return mask, value


def false_colour(bands: dict, names=("nir", "red", "green"), percentiles=(2, 98)) -> np.ndarray:
    """HxWx3 uint8 composite of three named bands, each stretched between its percentiles (for figures)."""
    out = []
    for name in names:
        band = np.asarray(bands[name], np.float32)
        finite = band[np.isfinite(band)]
        lo, hi = np.percentile(finite, percentiles) if finite.size else (0.0, 1.0)
        out.append(np.clip((band - lo) / max(hi - lo, 1e-9) * 255, 0, 255))
    return np.rint(np.stack(out, axis=-1)).astype(np.uint8)
