"""Change objects as GIS layers: per-object log-ratio statistics, polygons with attributes, a change GeoTIFF.

Every method (threshold components, FastSAM / SAM segments, SAM prompted by blobs) ends in a uint32
label raster of objects on the pair's grid. From it and the log-ratio raster, window by window:

* :func:`zonal_stats`: pixels, mean signed log-ratio, largest ``|log-ratio|`` and the share of pixels
  over the threshold, per object;
* :func:`object_polygons`: exact pixel-footprint polygons of the objects (pieces cut by blocks joined);
* :func:`change_gdf`: the change polygons with the attributes every output carries (:data:`ATTRIBUTES`);
* :func:`write_change_raster`: the change GeoTIFF (uint8: 0 no change, 1 increase, 2 decrease,
  255 nodata) with the threshold and method in its metadata.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..atomic import atomic_output

__all__ = ["ATTRIBUTES", "NO_CHANGE", "INCREASE", "DECREASE", "NODATA", "DIRECTIONS", "zonal_stats",
           "object_polygons", "change_gdf", "write_change_raster"]

NO_CHANGE, INCREASE, DECREASE, NODATA = 0, 1, 2, 255
DIRECTIONS = {INCREASE: "increase", DECREASE: "decrease"}
ATTRIBUTES = ("id", "area_m2", "area_px", "mean_db", "max_abs_db", "change_fraction", "direction", "method",
              "threshold_db", "threshold_method")
"""Columns of every change layer (plus ``model``, ``smoke``, ``score`` ... from the segmentation)."""
_WINDOW = 1024


def _windows(width: int, height: int, size: int = _WINDOW):
    from rasterio.windows import Window

    for row in range(0, height, size):
        for col in range(0, width, size):
            yield Window(col, row, min(size, width - col), min(size, height - row))


def _open(path):
    import rasterio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        return rasterio.open(path)


def zonal_stats(labels_path, log_ratio_path, count: int, threshold: float) -> dict:
    """Log-ratio statistics of objects 1..``count`` of a label raster (valid pixels only).

    Returns:
        dict of (count,) arrays: ``pixels`` (int64), ``mean_db`` (signed mean, NaN for an object with no
        valid pixel), ``max_abs_db`` (largest magnitude), ``change_fraction`` (share of pixels with
        ``|log-ratio| > threshold``).
    """
    n = int(count) + 1
    pixels, total, over = np.zeros(n, np.int64), np.zeros(n), np.zeros(n, np.int64)
    peak = np.zeros(n)
    with _open(labels_path) as labels_ds, _open(log_ratio_path) as lr_ds:
        for window in _windows(labels_ds.width, labels_ds.height):
            labels = labels_ds.read(1, window=window).astype(np.int64)
            lr = lr_ds.read(1, window=window).astype(np.float64)
            valid = np.isfinite(lr) & (labels > 0) & (labels < n)
            ids, values = labels[valid], lr[valid]
            pixels += np.bincount(ids, minlength=n)
            total += np.bincount(ids, weights=values, minlength=n)
            over += np.bincount(ids, weights=np.abs(values) > threshold, minlength=n).astype(np.int64)
            np.maximum.at(peak, ids, np.abs(values))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / pixels
        fraction = over / pixels
    return {"pixels": pixels[1:], "mean_db": mean[1:], "max_abs_db": peak[1:], "change_fraction": fraction[1:]}


def object_polygons(labels_path):
    """Exact polygons of the objects of a label raster (:func:`helpers.vectorize.vectorize_raster`, block by
    block): a GeoDataFrame with ``id``, ``area_px``, ``area_m2`` and the geometry in the raster's CRS."""
    from ..vectorize import vectorize_raster

    return vectorize_raster(labels_path, progress=False)


def change_gdf(objects, stats: dict, keep: np.ndarray, directions: np.ndarray, method: str, threshold,
               model: str = "", smoke: bool = False, extra: dict | None = None):
    """The change layer: one row per kept object with :data:`ATTRIBUTES` (plus ``extra``, ``model``, ``smoke``).

    Args:
        objects: :func:`object_polygons` of the label raster (``id`` = label value).
        stats: :func:`zonal_stats` of the objects (index ``id - 1``).
        keep: (count,) bool: objects that are change (method-specific decision).
        directions: (count,) 1 = increase, 2 = decrease.
        method: ``"threshold"``, ``"fastsam"``, ``"sam"``, ``"sam-prompted"``.
        threshold: the :class:`~helpers.change.thresholds.Threshold` used.
        model, smoke: provenance (``smoke``: untrained weights, the objects are meaningless).
        extra: more (count,) columns to carry (e.g. ``score`` from the model).
    """
    index = objects["id"].to_numpy(np.int64) - 1
    chosen = np.asarray(keep, bool)[index] if len(index) else np.zeros(0, bool)
    gdf = objects[chosen].reset_index(drop=True)
    index = index[chosen]
    n = len(index)
    gdf["mean_db"] = np.round(np.asarray(stats["mean_db"])[index], 3)
    gdf["max_abs_db"] = np.round(np.asarray(stats["max_abs_db"])[index], 3)
    gdf["change_fraction"] = np.round(np.asarray(stats["change_fraction"])[index], 3)
    gdf["direction"] = np.array([DIRECTIONS.get(int(d), "change") for d in np.asarray(directions)[index]],
                                dtype=object)
    gdf["method"] = np.full(n, method, dtype=object)
    gdf["threshold_db"] = np.full(n, round(float(threshold.value), 4))
    gdf["threshold_method"] = np.full(n, threshold.method, dtype=object)
    for name, values in (extra or {}).items():
        gdf[name] = np.asarray(values)[index]
    gdf["model"] = np.full(n, model, dtype=object)
    gdf["smoke"] = np.full(n, bool(smoke))
    ordered = [c for c in ATTRIBUTES if c in gdf.columns]
    gdf = gdf[ordered + [c for c in gdf.columns if c not in ordered and c != "geometry"] + ["geometry"]]
    gdf.attrs.update({"threshold_db": float(threshold.value), "threshold_method": threshold.method,
                      "method": method, "smoke": bool(smoke), "model": model})
    return gdf


def write_change_raster(labels_path, log_ratio_path, codes: np.ndarray, out_path, tags: dict | None = None) -> Path:
    """Write the change GeoTIFF: each object's pixels get ``codes[id]`` (1 increase, 2 decrease, 0 not change),
    nodata (either date invalid) 255.

    Args:
        labels_path: uint32 object labels on the pair's grid.
        log_ratio_path: the log-ratio raster (its NaN pixels are nodata).
        codes: uint8 (count + 1,) code per id, ``codes[0] = 0``.
        out_path: output GeoTIFF (written atomically, tiled, deflate).
        tags: metadata (threshold, method, model, smoke...).
    """
    import rasterio

    codes = np.asarray(codes, np.uint8)
    with _open(labels_path) as labels_ds, _open(log_ratio_path) as lr_ds:
        profile = dict(driver="GTiff", width=labels_ds.width, height=labels_ds.height, count=1, dtype="uint8",
                       nodata=NODATA, crs=lr_ds.crs, transform=lr_ds.transform, tiled=True, blockxsize=256,
                       blockysize=256, compress="deflate")
        with atomic_output(out_path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
            dst.set_band_description(1, "change: 0 none, 1 increase, 2 decrease, 255 nodata")
            dst.update_tags(**{k: str(v) for k, v in (tags or {}).items()})
            for window in _windows(labels_ds.width, labels_ds.height):
                labels = labels_ds.read(1, window=window).astype(np.int64)
                labels[labels >= len(codes)] = 0
                out = codes[labels]
                out[~np.isfinite(lr_ds.read(1, window=window))] = NODATA
                dst.write(out, 1, window=window)
    return Path(out_path)
