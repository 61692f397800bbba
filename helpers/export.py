"""Exact GIS export of masks: label GeoTIFF / COG, polygons (GeoJSON, Shapefile, GeoPackage, GeoParquet), PNG.

Conventions:

* Polygons trace pixel *edges*: a mask's polygon covers exactly its pixels (no smoothing unless
  ``simplify`` is asked for), so the area of a polygon in pixel units is its pixel count. Masks are
  vectorised in pixel coordinates ``(x, y) = (column, row)`` of pixel corners (integers, exact) and
  mapped through the scene's affine transform at the end.
* Plain images without a CRS keep pixel coordinates (y grows downwards), ``crs`` is ``None`` and
  ``area_m2`` is NaN.
* Overlapping masks (automatic generation) are vectorised separately: each keeps its own polygon.
  In a label raster (one value per pixel) the smaller mask is painted on top.
* Instance id ``i + 1`` belongs to mask ``i`` everywhere (label raster, polygons, PNG colours).
* Every file is written to a temporary name in the target folder and renamed when complete, so a
  killed run never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .atomic import atomic_output, atomic_output_handle, temp_prefix
from .maskops import label_raster, visible_pixels
from .render import draw_banner, label_colours
from .scene import check_rgb_uint8
from .smoke import SMOKE_BANNER
from .vectorize import build_gdf, vectorize_masks

__all__ = [
    "VECTOR_DRIVERS",
    "PIXEL_CRS_NAME",
    "driver_for",
    "masks_to_gdf",
    "write_vector",
    "safe_layer_name",
    "masks_to_file",
    "LabelRasterWriter",
    "write_label_geotiff",
    "masks_to_geotiff",
    "masks_to_png",
]

# File extension -> OGR driver (GeoParquet goes through geopandas/pyarrow: GDAL wheels often lack it).
VECTOR_DRIVERS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "ESRI Shapefile",
    ".gpkg": "GPKG",
    ".fgb": "FlatGeobuf",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
}
#: Name of the local engineering CRS that vector files in pixel coordinates carry (plain images
#: without a CRS): GIS software shows them as a custom/local grid, never as longitude/latitude.
PIXEL_CRS_NAME = "sam-rs pixel grid (column, row of the image; y down)"
PIXEL_CRS_WKT = (f'ENGCRS["{PIXEL_CRS_NAME}",EDATUM["image pixel grid"],CS[Cartesian,2],'
                 'AXIS["column (x)",east,ORDER[1],LENGTHUNIT["pixel",1]],'
                 'AXIS["row (y)",south,ORDER[2],LENGTHUNIT["pixel",1]]]')
# Shapefile (dBASE) field names are limited to 10 characters.
_SHAPEFILE_COLUMNS = {"stability_score": "stability", "prompt_type": "prompt", "visible_px": "visible"}
_SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


# ---- GeoDataFrame and vector files --------------------------------------------------------------
def masks_to_gdf(masks, simplify: float | None = None, to_crs=None, area_method: str = "auto",
                 connectivity: int = 4):
    """Polygons of ``masks`` (a :class:`helpers.masks.Masks`) as a GeoDataFrame, one row per non-empty mask.

    Args:
        masks: the result to export; its ``crs``/``transform`` georeference the polygons.
        simplify: optional tolerance in *pixels* for topology-preserving Douglas-Peucker simplification
            (``None``: exact pixel footprints). Areas are always of the exact footprint.
        to_crs: optional CRS to reproject the polygons to (e.g. ``"EPSG:4326"`` for RFC 7946 GeoJSON).
        area_method: see :func:`helpers.crs.areas_m2`.
        connectivity: 4 or 8, pixel neighbourhood joining pixels into one polygon part.

    Returns:
        GeoDataFrame with columns ``id`` (``i + 1``, as in the label raster), ``score``,
        ``stability_score`` (when known), ``area_px``, ``visible_px`` (pixels the mask owns in the label
        raster, where smaller overlapping masks are on top), ``hidden`` (``True`` when ``visible_px`` is
        0: the id appears in the vectors but nowhere in the raster), ``area_m2`` (NaN without CRS),
        ``model``, ``prompt_type``, ``tile_id`` (-1 when not tiled), ``smoke`` and ``geometry``;
        ``gdf.attrs`` holds ``smoke`` and ``model`` too. Polygons are the whole masks, overlaps included.
    """
    pixel_geoms = vectorize_masks(masks.masks, connectivity=connectivity, boxes=masks.boxes)
    keep = np.array([g is not None for g in pixel_geoms], dtype=bool)
    visible = visible_pixels(label_raster(masks.masks), len(masks))
    columns = {
        "id": np.arange(1, len(masks) + 1, dtype=np.int64)[keep],
        "score": np.asarray(masks.scores, dtype=np.float64)[keep],
    }
    if masks.stability_scores is not None:
        columns["stability_score"] = np.asarray(masks.stability_scores, dtype=np.float64)[keep]
    columns["area_px"] = masks.areas[keep]
    columns["visible_px"] = visible[keep]
    columns["hidden"] = visible[keep] == 0
    tile_ids = masks.tile_ids if masks.tile_ids is not None else np.full(len(masks), -1)
    return build_gdf(
        pixel_geoms[keep], columns, masks.crs, masks.transform, model=masks.model,
        prompt_type=masks.prompt_type, tile_ids=np.asarray(tile_ids)[keep], smoke=masks.smoke,
        simplify=simplify, to_crs=to_crs, area_method=area_method,
    )


def driver_for(path: Path) -> str:
    driver = VECTOR_DRIVERS.get(path.suffix.lower())
    if driver is None:
        known = ", ".join(sorted(VECTOR_DRIVERS))
        raise ValueError(f"unsupported vector format {path.suffix!r} for {path.name}; use one of {known}")
    return driver


_LAYER_PREFIX = "layer_"
_RESERVED_LAYER_PREFIXES = ("gpkg", "sqlite_")


def _layer_problem(name: str) -> str | None:
    """Why GeoPackage (GDAL) refuses ``name`` as a layer name, or ``None``."""
    if not name:
        return "it is empty"
    if any(not ch.isprintable() for ch in name):
        return "it holds a newline or another control character"
    if not (name[0].isalnum() or name[0] == "_"):
        return f"it starts with {name[0]!r} (GeoPackage wants a letter, digit or _ first)"
    if name.lower().startswith(_RESERVED_LAYER_PREFIXES):
        return "gpkg* and sqlite_* are reserved names in a GeoPackage"
    return None


def safe_layer_name(name: str) -> str:
    """``name`` made acceptable as a GeoPackage layer name (file stems such as ``-x``, ``gpkg_a``, ``a\\nb``).

    Control characters become ``_``; a name starting with something other than a letter, digit or
    ``_``, or with a reserved prefix (``gpkg``, ``sqlite_``), gets ``layer_`` in front. Acceptable names
    are returned unchanged.
    """
    name = "".join(ch if ch.isprintable() else "_" for ch in str(name))
    if _layer_problem(name) is not None:
        name = _LAYER_PREFIX + name
    return name


def write_vector(gdf, path, layer: str | None = None) -> Path:
    """Write a GeoDataFrame atomically; the format follows the extension (see ``VECTOR_DRIVERS``).

    GeoParquet is written with geopandas/pyarrow, the rest with pyogrio. A GeoDataFrame without CRS
    holds pixel coordinates (plain images): it is written with the local engineering CRS
    :data:`PIXEL_CRS_NAME`, so no GIS takes it for longitude/latitude, and GeoJSON (always read as
    longitude/latitude) is refused. The GeoPackage layer defaults to the file stem made safe
    (:func:`safe_layer_name`); a ``layer`` GeoPackage rejects is a one-line ``ValueError``. Shapefile
    column names longer than 10 characters are shortened (``stability_score`` -> ``stability``, ``prompt_type`` ->
    ``prompt``); its sidecar files are moved into place before the ``.shp`` itself.
    """
    path = Path(path)
    driver = driver_for(path)
    layer = _checked_layer(layer, path, driver)
    if gdf.crs is None:  # pixel coordinates of a plain image
        if driver == "GeoJSON":
            raise ValueError(
                f"{path.name}: GeoJSON is always read as longitude/latitude (RFC 7946), but these polygons are in "
                "pixel coordinates (the image has no CRS); write .gpkg instead (marked as a pixel grid), or "
                "georeference the image"
            )
        gdf = gdf.set_crs(PIXEL_CRS_WKT)
    if driver == "GeoParquet":
        with atomic_output(path) as tmp:
            gdf.to_parquet(tmp, index=False)
        return path
    import pyogrio

    if driver == "ESRI Shapefile":
        return _write_shapefile(gdf.rename(columns=_SHAPEFILE_COLUMNS), path)
    with atomic_output(path) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GeoJSON driver notes a non-WGS84 CRS
            pyogrio.write_dataframe(gdf, tmp, driver=driver, layer=layer)
    return path


def _checked_layer(layer, path: Path, driver: str) -> str:
    """The layer name to write: the file stem made safe by default; a chosen one must be valid."""
    if layer is None:
        return safe_layer_name(path.stem) if driver == "GPKG" else path.stem
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a string, got {type(layer).__name__}")
    problem = _layer_problem(layer) if driver == "GPKG" else None
    if problem:
        raise ValueError(f"layer name {layer!r} cannot be used in a GeoPackage: {problem}; "
                         f"e.g. layer={safe_layer_name(layer)!r}")
    return layer


def _write_shapefile(gdf, path: Path) -> Path:
    import pyogrio

    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=temp_prefix(path.stem), dir=path.parent))
    try:
        pyogrio.write_dataframe(gdf, tmpdir / path.name, driver="ESRI Shapefile", encoding="UTF-8")
        for sidecar in _SHAPEFILE_SIDECARS:  # the .shp goes last: its presence means complete
            if (tmpdir / path.with_suffix(sidecar).name).exists():
                os.replace(tmpdir / path.with_suffix(sidecar).name, path.with_suffix(sidecar))
        os.replace(tmpdir / path.name, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return path


def masks_to_file(masks, path, simplify: float | None = None, to_crs=None, layer: str | None = None,
                  **options) -> Path:
    """Write the polygons of ``masks`` to ``path`` (.geojson, .shp, .gpkg, .parquet, .fgb) atomically.

    ``simplify``/``to_crs``/``options`` as in :func:`masks_to_gdf`; ``layer`` names the layer
    (GeoPackage; default: the file stem). Returns the path.
    """
    path = Path(path)
    driver_for(path)  # fail before the (possibly slow) vectorisation
    return write_vector(masks_to_gdf(masks, simplify=simplify, to_crs=to_crs, **options), path, layer=layer)


# ---- label GeoTIFF / COG --------------------------------------------------------------------------
class LabelRasterWriter:
    """Write a uint32 instance-label GeoTIFF window by window; the file appears only on :meth:`close`.

    Args:
        path: output path.
        width, height: raster size in pixels.
        crs, transform: georeferencing (``None`` for plain images).
        cog: write a Cloud Optimized GeoTIFF (GDAL COG driver, nearest-neighbour overviews).
        compress: ``"deflate"`` (default), ``"zstd"``, ``"lzw"`` or ``"none"``.
        blocksize: internal tile size (multiple of 16).
        tags: metadata tags (model, prompt type, smoke...).

    The label data are written to a hidden temporary tiled GeoTIFF opened read/write (``read`` gives
    back what was written, which tiled inference uses), then renamed or converted to COG.
    """

    def __init__(self, path, width: int, height: int, crs=None, transform=None, cog: bool = False,
                 compress: str = "deflate", blocksize: int = 256, tags: dict | None = None):
        import rasterio

        self.path = Path(path)
        self.cog = cog
        self.compress = compress
        self.blocksize = blocksize
        self._stack = contextlib.ExitStack()
        self._output = self._stack.enter_context(atomic_output_handle(self.path))
        self._tmp = self._output.path
        profile = dict(
            driver="GTiff", width=int(width), height=int(height), count=1, dtype="uint32", nodata=0,
            crs=crs, transform=transform, tiled=True, blockxsize=blocksize, blockysize=blocksize,
            BIGTIFF="IF_SAFER",
        )
        if compress and compress != "none":
            profile.update(compress=compress, predictor=2)
        if transform is None:
            profile.pop("transform")
        work = self._tmp.with_suffix(".work.tif") if cog else self._tmp
        self._work = work
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
                self.dataset = rasterio.open(work, "w+", **profile)
        except BaseException:
            self._output.discard()
            self._stack.close()
            raise
        self.dataset.set_band_description(1, "instance_id")
        if tags:
            self.dataset.update_tags(**{k: str(v) for k, v in tags.items()})

    @property
    def temp_path(self) -> Path:
        """The file being written (hidden, next to ``path``) until :meth:`close`."""
        return self._work

    def write(self, labels: np.ndarray, window) -> None:
        """Write uint32 (h, w) ``labels`` at ``window`` (``rasterio.windows.Window``)."""
        self.dataset.write(np.asarray(labels, dtype=np.uint32), 1, window=window)

    def read(self, window) -> np.ndarray:
        """What was written at ``window`` so far (0 where nothing was)."""
        return self.dataset.read(1, window=window)

    def close(self) -> Path:
        """Finish the file (COG conversion if asked) and move it into place; returns the path."""
        import rasterio.shutil

        try:
            self.dataset.close()
            if self.cog:
                options = {"BLOCKSIZE": self.blocksize, "OVERVIEW_RESAMPLING": "NEAREST", "BIGTIFF": "IF_SAFER"}
                if self.compress and self.compress != "none":
                    options.update(COMPRESS=self.compress.upper(), PREDICTOR="YES")
                rasterio.shutil.copy(self._work, self._tmp, driver="COG", **options)
        except BaseException:
            self.abort()
            raise
        finally:
            if self.cog and self._work.exists():
                self._work.unlink()
        self._stack.close()
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; nothing appears at ``path``."""
        if not self.dataset.closed:
            self.dataset.close()
        self._work.unlink(missing_ok=True)
        self._output.discard()
        self._stack.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


def write_label_geotiff(labels: np.ndarray, path, crs=None, transform=None, cog: bool = False,
                        tags: dict | None = None, **options) -> Path:
    """Write a uint32 (H, W) label array as a tiled, compressed GeoTIFF (nodata 0) or COG, atomically."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be (H, W), got shape {labels.shape}")
    from rasterio.windows import Window

    with LabelRasterWriter(path, labels.shape[1], labels.shape[0], crs=crs, transform=transform,
                           cog=cog, tags=tags, **options) as writer:
        writer.write(labels, Window(0, 0, labels.shape[1], labels.shape[0]))
    return Path(path)


def _tags(masks) -> dict:
    return {"model": masks.model, "prompt_type": masks.prompt_type, "smoke": str(bool(masks.smoke)).lower(),
            "software": "sam-rs"}


def masks_to_geotiff(masks, path, cog: bool = False, **options) -> Path:
    """Write ``masks`` as uint32 instance labels (mask ``i`` -> ``i + 1``, 0 = nodata/background).

    Uses the masks' CRS/transform; tiled and deflate-compressed; ``cog=True`` writes a COG with
    overviews. Where masks overlap the smaller one is on top. ``options``: see
    :class:`LabelRasterWriter` (``compress``, ``blocksize``, ``tags``).
    """
    tags = {**_tags(masks), **options.pop("tags", {})}
    return write_label_geotiff(label_raster(masks.masks), path, crs=masks.crs,
                               transform=masks.transform, cog=cog, tags=tags, **options)


# ---- PNG ------------------------------------------------------------------------------------------
def write_png(array: np.ndarray, path, text: dict | None = None) -> Path:
    """Write a uint8 array (H, W) or (H, W, 3) as PNG atomically, with optional tEXt metadata."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, str(value))
    with atomic_output(path, suffix=".png") as tmp:
        Image.fromarray(np.asarray(array, dtype=np.uint8)).save(tmp, format="PNG", pnginfo=info)
    return Path(path)


def masks_to_png(masks, path, image: np.ndarray | None = None, alpha: float = 0.45, seed: int = 0,
                 banner: bool = True) -> Path:
    """Write a PNG of ``masks``.

    Args:
        masks: the :class:`helpers.masks.Masks` to draw.
        path: output ``.png``.
        image: HxWx3 uint8 scene: writes an overlay (masks in random colours, like SAM's
            ``show_anns``). Without it: one mask -> black/white (0/255) PNG; several -> RGB instance
            map (each mask in its colour on black, smaller masks on top).
        alpha: mask opacity in the overlay.
        seed: colour seed (same colours as ``Masks.overlay``).
        banner: print "untrained weights — masks are meaningless" on smoke results.

    The PNG carries tEXt metadata: model, prompt_type, smoke.
    """
    if image is not None:
        check_rgb_uint8(image)
        if image.shape[:2] != masks.shape:
            raise ValueError(f"image is {image.shape[:2]} but masks are {masks.shape} (H, W)")
        array = masks.overlay(image, alpha=alpha, seed=seed)
    elif len(masks) == 1:
        array = masks.masks[0].astype(np.uint8) * 255
    else:
        array = label_colours(len(masks), seed)[label_raster(masks.masks)]
    if masks.smoke and banner and array.ndim == 3:
        array = draw_banner(array, SMOKE_BANNER.replace("\u2014", "-"))
    return write_png(array, path, text=_tags(masks))
