"""Remote-sensing rasters in, 8-bit RGB scenes out: band choice, nodata, SAR dB and a scene-global stretch.

Models want HxWx3 uint8. Real inputs are 16-bit or float multiband GeoTIFFs with nodata, SAR backscatter
in linear power, and scenes far larger than memory. Everything here works on windows:

* :func:`open_raster` returns a :class:`RasterSource` whose stretch statistics are computed ONCE per scene
  from the overviews or a decimated read (``out_shape``, at most ``stats_max_size`` pixels a side), so a
  20k x 20k scene is never fully loaded and every window of a scene uses the same limits (tiles look
  identical across seams).
* :func:`read_scene` reads a whole file into a :class:`~helpers.scene.Scene`.
* :func:`as_scene` turns whatever a user passes to ``set_image`` (array, path, Scene) into a Scene.

(:mod:`helpers.preprocessing` converts whole files and folder trees with these readers.)

Conventions:

* Bands are 1-based (GDAL/rasterio) indexes or band descriptions (``"B4"``, ``"nir"``); 1 band becomes a
  grey RGB image, 3 bands map to R, G, B in the order given.
* A pixel is nodata when ALL selected bands equal the nodata value (GDAL's dataset-mask rule, so a black
  water pixel in one band of an RGB image stays valid), when an internal mask or alpha band says so, when
  any selected band is NaN/inf, or (SAR) when the power is <= 0. Nodata pixels are 0 in the image and
  ``False`` in ``Scene.valid``.
* uint8 inputs pass through unchanged by default (no stretch): they are already display-ready, which is
  what SAM/FastSAM were trained on, and stretching them would change colours users already know. Pass
  ``stretch_uint8=True`` to stretch dull 8-bit data (e.g. the 8-bit Landsat sample).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError, RasterioIOError
from rasterio.windows import Window

from .errors import RasterPathError, one_line
from .scene import Scene, check_rgb_uint8

DEFAULT_STRETCH = (2.0, 98.0)
"""Default percentile stretch (low, high) in percent, computed over the whole scene's valid pixels."""

DEFAULT_SAR_DB_RANGE = (-30.0, 10.0)
"""dB values are clipped to this range before stretching; it spans water (~-25 dB) to urban (~+5 dB)."""

STATS_MAX_SIZE = 1024
"""Longest side (pixels) of the decimated read used for statistics: ~1 M samples, plenty for percentiles."""

WINDOW_SIZE = 1024
"""Side of the square windows :func:`preprocess` reads and writes: memory stays ~30 MB for any scene."""

RASTER_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".jp2", ".img", ".vrt")
"""File endings :func:`preprocess` picks up when walking a folder (case-insensitive)."""

MAX_SCENE_PIXELS = 10_000 * 10_000
"""Largest scene :func:`read_scene` (and so ``model.set_image(path)``) reads at once: ~3.5 GB of working
memory. Larger scenes go tile by tile through :func:`helpers.tiling.segment_tiled`, which reads windows."""


@dataclass(frozen=True)
class StretchStats:
    """Scene-global stretch limits, one (low, high) pair per selected band, in the units that are stretched
    (dB for SAR).

    Attributes:
        low: (B,) float array mapped to 0.
        high: (B,) float array mapped to 255.
        percentiles: the (low, high) percentiles used, or ``None`` for fixed limits.
        sample_shape: (rows, cols) of the decimated read the limits came from; (0, 0) when no read was
            needed (uint8 pass-through, fixed limits).
    """

    low: np.ndarray
    high: np.ndarray
    percentiles: tuple[float, float] | None = None
    sample_shape: tuple[int, int] = (0, 0)

    def apply(self, data: np.ndarray) -> np.ndarray:
        """Map (B,H,W) float data to (B,H,W) uint8 with these limits (values outside are clipped)."""
        return stretch_to_uint8(data, self.low, self.high)


def power_to_db(power: np.ndarray) -> np.ndarray:
    """Linear SAR power (sigma0/gamma0, > 0) -> decibels ``10 * log10(power)``; power <= 0 gives NaN."""
    power = np.asarray(power, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        db = 10.0 * np.log10(power)
    db[~(power > 0)] = np.nan
    return db


def stretch_to_uint8(data: np.ndarray, low, high) -> np.ndarray:
    """Linear stretch of (B,H,W) data: ``low`` -> 0, ``high`` -> 255 per band, clipped, rounded.

    A band with ``high <= low`` (constant data) maps to 0. NaN maps to 0 (callers mask it as nodata).
    """
    low = np.asarray(low, dtype=np.float32).reshape(-1, 1, 1)
    high = np.asarray(high, dtype=np.float32).reshape(-1, 1, 1)
    span = high - low
    scale = np.divide(255.0, span, out=np.zeros_like(span), where=span > 0)
    out = (np.asarray(data, dtype=np.float32) - low) * scale
    np.clip(out, 0.0, 255.0, out=out)
    np.nan_to_num(out, copy=False, nan=0.0)
    return np.rint(out).astype(np.uint8)


def parse_bands(bands) -> list | None:
    """Normalise a band choice: ``None``, an int, a name, a sequence, or ``"4,3,2"`` / ``"B4,B3,B2"``.

    Returns a list of 1-based ints and/or description strings (resolved against a file later).
    """
    if bands is None:
        return None
    if isinstance(bands, str):
        items = [item.strip() for item in bands.split(",") if item.strip()]
    elif isinstance(bands, (int, np.integer)):
        items = [bands]
    else:
        items = list(bands)
    parsed = []
    for item in items:
        if isinstance(item, str) and item.lstrip("-").isdigit():
            item = int(item)
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer, str)):
            raise TypeError(f"band must be a 1-based index or a band description, got {item!r}")
        parsed.append(int(item) if isinstance(item, (int, np.integer)) else item)
    if len(parsed) not in (1, 3):
        raise ValueError(f"give 1 band (grey) or 3 bands (R,G,B), got {len(parsed)}: {parsed}")
    return parsed


def _default_bands(ds) -> list[int]:
    """1-2 bands -> band 1 as grey; else R,G,B by colour interpretation or description; else 1,2,3."""
    if ds.count < 3:
        return [1]
    interp = list(ds.colorinterp)
    rgb = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
    if all(c in interp for c in rgb):
        return [interp.index(c) + 1 for c in rgb]
    names = [(d or "").lower() for d in ds.descriptions]
    if all(n in names for n in ("red", "green", "blue")):
        return [names.index(n) + 1 for n in ("red", "green", "blue")]
    return [1, 2, 3]


def _resolve_bands(ds, bands, path) -> list[int]:
    """Band choice -> 1-based indexes of ``ds``; ValueError naming the valid choices otherwise."""
    parsed = parse_bands(bands)
    if parsed is None:
        return _default_bands(ds)
    descriptions = [d or "" for d in ds.descriptions]
    indexes = []
    for item in parsed:
        if isinstance(item, int):
            if not 1 <= item <= ds.count:
                name = Path(path).name
                raise ValueError(f"band {item} is out of range: {name} has {ds.count} band(s) (1-{ds.count})")
            indexes.append(item)
            continue
        matches = [i + 1 for i, d in enumerate(descriptions) if d.lower() == item.lower()]
        if not matches:
            named = ", ".join(f"{i + 1}={d}" for i, d in enumerate(descriptions) if d) or "none"
            raise ValueError(f"band {item!r} not found in {Path(path).name}; band descriptions: {named}")
        indexes.append(matches[0])
    return indexes


def open_dataset(path):
    """rasterio.open with one-line errors: missing path, or a file GDAL cannot read."""
    path = Path(path)
    if not path.exists():
        raise RasterPathError(f"raster not found: {path}")
    if path.is_dir():
        raise ValueError(f"expected a raster file, got a folder: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path)
    except RasterioError as exc:
        reason = one_line(exc, with_type=False)
        raise ValueError(f"cannot read {path.name}: not a raster GDAL can open ({reason})") from None


def check_bands(paths, bands) -> list[int] | None:
    """Check a band choice against the first of ``paths`` that GDAL can open, before a batch starts.

    Args:
        paths: raster files (unreadable ones are skipped: they fail on their own later).
        bands: as in :func:`open_raster` (``None``, indexes, descriptions or ``"4,3,2"``).

    Returns:
        The 1-based band indexes in that file, or ``None`` when ``bands`` is ``None`` or no file opens.

    Raises:
        ValueError: bad syntax, or bands that file does not have (one line naming its bands).
    """
    if parse_bands(bands) is None:
        return None
    for path in paths:
        try:
            ds = open_dataset(path)
        except ValueError:
            continue
        with ds:
            return _resolve_bands(ds, bands, path)
    return None


def _read_failure(path: Path, exc: RasterioIOError) -> ValueError:
    """GDAL's "Read failed. See previous exception" -> one line naming the file and GDAL's own reason."""
    cause = exc.__cause__ or exc
    detail = one_line(cause, with_type=False) if str(cause).strip() else ""
    detail = detail.split(": ", 1)[1] if detail.startswith(path.name) and ": " in detail else detail
    reason = f" ({detail})" if detail else ""
    return ValueError(f"cannot read {path.name}: not a readable raster, corrupt or truncated data{reason}")


def _is_georeferenced(ds) -> bool:
    return ds.crs is not None and not ds.transform.is_identity


def _is_complex(dtype: str) -> bool:
    return str(dtype).startswith("complex")


def check_georeferencing_kept(source) -> None:
    """Refuse, in one line, a raster whose georeferencing sam-rs's outputs cannot carry.

    Masks, polygons and label rasters are placed with an affine transform and a CRS. A file placed
    by ground control points or RPCs only (no geotransform), or with a geotransform but no CRS, would
    come out in pixel coordinates, silently misplaced: it is refused with the way forward
    (``preprocess`` keeps such georeferencing exactly; ``gdalwarp`` / ``gdal_edit.py`` fix the file).

    Args:
        source: a :class:`RasterSource`.

    Raises:
        UserInputError: see above.
    """
    from .errors import UserInputError

    problem = source.georeferencing_problem
    if problem:
        raise UserInputError(problem)


class RasterSource:
    """An open raster with a fixed band choice and scene-global stretch, read window by window.

    Create with :func:`open_raster`; use as a context manager (``with open_raster(p) as src: ...``).

    Attributes:
        path: the file.
        width, height, count: size in pixels and number of bands in the FILE.
        bands: the selected 1-based band indexes (1 or 3).
        crs, transform: georeferencing (``None`` for plain PNG/JPEG).
        nodata: the nodata value in use (the ``nodata`` override, else the file's), or ``None``.
        dtype: the file's data type name (``"uint16"`` ...).
        sar: whether power is converted to dB.
        passthrough: ``True`` when uint8 data is copied unchanged (no stretch).
        has_mask: ``True`` when some pixels may be nodata (scenes then carry a ``valid`` array).
        stats: :class:`StretchStats`, the same for every window.
    """

    def __init__(
        self,
        path,
        *,
        bands=None,
        stretch=DEFAULT_STRETCH,
        sar: bool = False,
        nodata=None,
        sar_db_range=DEFAULT_SAR_DB_RANGE,
        stretch_uint8: bool = False,
        stats: StretchStats | None = None,
        stats_max_size: int = STATS_MAX_SIZE,
    ):
        self.path = Path(path)
        self._ds = open_dataset(self.path)
        try:
            self._setup(bands, stretch, sar, nodata, sar_db_range, stretch_uint8, stats, stats_max_size)
        except Exception:
            self._ds.close()
            raise

    def _setup(self, bands, stretch, sar, nodata, sar_db_range, stretch_uint8, stats, stats_max_size):
        ds = self._ds
        self.width, self.height, self.count = ds.width, ds.height, ds.count
        self.dtype = ds.dtypes[0]
        self.crs = ds.crs if _is_georeferenced(ds) else None
        self.transform = ds.transform if _is_georeferenced(ds) else None
        gcps, gcp_crs = ds.gcps
        self.gcps = (list(gcps), gcp_crs) if gcps else None
        self.rpcs = ds.rpcs
        self.file_crs = ds.crs
        self.file_transform = None if ds.transform.is_identity else ds.transform
        self.sar = bool(sar)
        self.sar_db_range = check_db_range(sar_db_range)
        if _is_complex(self.dtype) and not self.sar:
            raise ValueError(
                f"{self.path.name} holds complex values ({self.dtype}, e.g. single-look complex SAR): pass "
                "sar=True (--sar) to use the power |z|^2 in dB, or convert it to amplitude or power first"
            )
        if isinstance(stats_max_size, bool) or not isinstance(stats_max_size, (int, np.integer)) or stats_max_size < 1:
            raise ValueError(f"stats_max_size must be a whole number of pixels >= 1, got {stats_max_size!r}")
        self.nodata = ds.nodata if nodata is None else float(nodata)
        self._nodata_override = nodata is not None
        self._palette = bands is None and ds.count == 1 and ds.colorinterp[0] == ColorInterp.palette
        self.bands = [1] if self._palette else _resolve_bands(ds, bands, self.path)
        self.band_names = [ds.descriptions[i - 1] or f"band {i}" for i in self.bands]
        if stretch is not None:
            stretch = (float(stretch[0]), float(stretch[1]))
            if not 0 <= stretch[0] < stretch[1] <= 100:
                raise ValueError(f"stretch must be two percentiles 0 <= low < high <= 100, got {stretch}")
        self.stretch = stretch
        flags = [ds.mask_flag_enums[i - 1] for i in self.bands]
        self._file_masked = any(MaskFlags.all_valid not in f for f in flags)
        self._dataset_mask = any(MaskFlags.per_dataset in f or MaskFlags.alpha in f for f in flags)
        self.has_mask = (
            self._file_masked or self._nodata_override or self.sar or np.dtype(self.dtype).kind == "f"
        )
        self.passthrough = (
            (self.dtype == "uint8" and not self.sar and not stretch_uint8) or self._palette
        )
        self.stats = stats if stats is not None else self._compute_stats(stats_max_size)
        if len(self.stats.low) != len(self.bands):
            n_stats, n_bands = len(self.stats.low), len(self.bands)
            raise ValueError(f"stats have {n_stats} band(s) but {n_bands} band(s) are selected")

    @property
    def georeferencing_problem(self) -> str | None:
        """Why outputs of this raster would be misplaced (see :func:`check_georeferencing_kept`), or ``None``."""
        if self.transform is not None:
            return None
        name = self.path.name
        if self.gcps is not None or self.rpcs is not None:
            kind = "ground control points" if self.gcps is not None else "RPCs"
            return (f"{name} is georeferenced by {kind} only (no geotransform): outputs would be in pixel "
                    f"coordinates; warp it first (gdalwarp -t_srs EPSG:<code> {name} warped.tif)")
        if self.file_transform is not None:
            return (f"{name} has a geotransform but no CRS: outputs would carry coordinates nobody can place; "
                    f"set its CRS first (gdal_edit.py -a_srs EPSG:<code> {name})")
        return None

    # -- context manager ---------------------------------------------------------------------------
    def close(self) -> None:
        self._ds.close()

    def __enter__(self) -> RasterSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RasterSource({self.path.name}, {self.width}x{self.height}, bands={self.bands}, {self.dtype})"

    # -- statistics ----------------------------------------------------------------------------------
    def _compute_stats(self, max_size: int) -> StretchStats:
        """Per-band limits from a decimated read (GDAL serves it from overviews when the file has them)."""
        n = len(self.bands)
        if self.passthrough:
            return StretchStats(np.zeros(n), np.full(n, 255.0))
        if self.stretch is None and self.sar:
            lo, hi = self.sar_db_range
            return StretchStats(np.full(n, lo), np.full(n, hi))
        factor = max(1, int(np.ceil(max(self.height, self.width) / max_size)))
        shape = (int(np.ceil(self.height / factor)), int(np.ceil(self.width / factor)))
        data, valid = self.read_raw(out_shape=shape)
        if not valid.any():
            raise ValueError(f"{self.path.name} has no valid pixels (all nodata/NaN)")
        percentiles = self.stretch if self.stretch is not None else (0.0, 100.0)
        samples = data[:, valid]
        low, high = np.percentile(samples, percentiles, axis=1).astype(np.float64)
        return StretchStats(low, high, self.stretch, shape)

    # -- reading -------------------------------------------------------------------------------------
    def read_raw(self, window: Window | None = None, out_shape: tuple[int, int] | None = None):
        """Selected bands as float32 in analysis units (dB for SAR), plus the valid mask.

        Args:
            window: pixel window (``rasterio.windows.Window``, col_off/row_off/width/height); parts outside
                the raster come back as invalid. ``None`` reads the whole extent.
            out_shape: (rows, cols) to decimate to (nearest neighbour; overviews are used when present).

        Returns:
            ``(data, valid)``: (B,h,w) float32 (SAR values clipped to ``sar_db_range``) and (h,w) bool.
        """
        full = Window(0, 0, self.width, self.height)
        window = full if window is None else window.round_offsets().round_lengths()
        if out_shape is not None:
            return self._read_inside(window, out_shape)
        if int(window.width) < 1 or int(window.height) < 1:
            raise ValueError(f"window must be at least 1x1 pixels, got {window}")
        inner = _intersect(window, full)
        h, w = int(window.height), int(window.width)
        data = np.zeros((len(self.bands), h, w), dtype=np.float32)
        valid = np.zeros((h, w), dtype=bool)
        if inner is not None:
            r0, c0 = int(inner.row_off - window.row_off), int(inner.col_off - window.col_off)
            part, part_valid = self._read_inside(inner, None)
            data[:, r0 : r0 + part.shape[1], c0 : c0 + part.shape[2]] = part
            valid[r0 : r0 + part.shape[1], c0 : c0 + part.shape[2]] = part_valid
        return data, valid

    def _read_inside(self, window: Window, out_shape):
        ds = self._ds
        shape = None if out_shape is None else (len(self.bands), *out_shape)
        kwargs = {"window": window, "out_shape": shape, "resampling": Resampling.nearest}
        try:
            raw = ds.read(self.bands, **kwargs)
            valid = self._valid_mask(raw, kwargs)
        except RasterioIOError as exc:  # the header opened but the pixel data cannot be decoded
            raise _read_failure(self.path, exc) from None
        # complex samples (SAR SLC; only read with sar=True): the power |z|^2, never the real part alone
        data = np.square(np.abs(raw)).astype(np.float32) if np.iscomplexobj(raw) else raw.astype(np.float32)
        if self.sar:
            data = power_to_db(data)
            np.clip(data, *self.sar_db_range, out=data)
        valid &= np.isfinite(data).all(axis=0)
        data[:, ~valid] = 0.0
        return data, valid

    def _valid_mask(self, raw: np.ndarray, read_kwargs: dict) -> np.ndarray:
        if self._nodata_override:
            nodata = self.nodata
            is_nodata = np.isnan(raw) if np.isnan(nodata) else raw == nodata
            valid = ~is_nodata.all(axis=0)
            if self._dataset_mask:  # an internal mask / alpha band still applies
                valid &= self._ds.read_masks(self.bands[0], **self._mask_read_kwargs(read_kwargs)) > 0
            return valid
        if not self._file_masked:
            return np.ones(raw.shape[1:], dtype=bool)
        return (self._ds.read_masks(self.bands, **read_kwargs) > 0).any(axis=0)

    @staticmethod
    def _mask_read_kwargs(read_kwargs: dict) -> dict:
        """``read_kwargs`` for ONE band's mask: the decimated shape without the band axis."""
        shape = read_kwargs.get("out_shape")
        return {**read_kwargs, "out_shape": None if shape is None else shape[1:]}

    def read_window(self, window: Window) -> Scene:
        """One window as a :class:`Scene` with the scene-global stretch and the window's transform.

        Args:
            window: ``rasterio.windows.Window(col_off, row_off, width, height)`` in pixels; parts outside
                the raster are returned as nodata (image 0, valid ``False``), so fixed-size tiles work at
                the scene edge. ``Scene.valid`` is ``None`` only when the file has no nodata/mask/NaN
                possibility and the window lies inside the raster.
        """
        window = window.round_offsets().round_lengths()
        data, valid = self.read_raw(window)
        image = self._to_rgb(data)
        image[~valid] = 0
        transform = self._ds.window_transform(window) if self.transform is not None else None
        meta = {
            "bands": list(self.bands),
            "band_names": list(self.band_names),
            "dtype": self.dtype,
            "nodata": self.nodata,
            "sar": self.sar,
            "passthrough": self.passthrough,
            "stretch_low": self.stats.low.tolist(),
            "stretch_high": self.stats.high.tolist(),
            "percentiles": self.stats.percentiles,
            "window": (int(window.col_off), int(window.row_off), int(window.width), int(window.height)),
        }
        return Scene(
            image=image,
            crs=self.crs,
            transform=transform,
            valid=valid if self.has_mask or not valid.all() else None,
            source=self.path,
            name=self.path.stem,
            meta=meta,
        )

    def read_scene(self, max_pixels: int = MAX_SCENE_PIXELS) -> Scene:
        """The whole raster as one :class:`Scene` (use :meth:`read_window` for scenes larger than memory).

        Raises:
            ValueError: the raster has more than ``max_pixels`` pixels (checked before allocating).
        """
        _check_scene_size(self.width, self.height, self.path.name, max_pixels)
        return self.read_window(Window(0, 0, self.width, self.height))

    def windows(self, size: int = WINDOW_SIZE) -> Iterator[Window]:
        """Non-overlapping square windows of ``size`` pixels covering the raster (edge windows clipped)."""
        for row in range(0, self.height, size):
            for col in range(0, self.width, size):
                yield Window(col, row, min(size, self.width - col), min(size, self.height - row))

    def _to_rgb(self, data: np.ndarray) -> np.ndarray:
        """(B,h,w) float -> (h,w,3) uint8; 1 band becomes grey RGB, a palette band its colours."""
        if self._palette:
            lut = np.zeros((256, 3), dtype=np.uint8)
            for value, rgba in self._ds.colormap(1).items():
                lut[value] = rgba[:3]
            return lut[data[0].astype(np.uint8)]
        if self.passthrough:
            bands = data.astype(np.uint8)
        else:
            bands = self.stats.apply(data)
        if bands.shape[0] == 1:
            bands = np.repeat(bands, 3, axis=0)
        return np.ascontiguousarray(np.moveaxis(bands, 0, -1))


def walk_rasters(root, exclude=(), marker: str | None = None, recursive: bool = True) -> list[Path]:
    """Raster files (:data:`RASTER_SUFFIXES`, any letter case) under folder ``root``, sorted.

    Hidden files and folders are skipped, and so are the folders in ``exclude`` and (when ``marker``
    is given) every sub-folder holding a file named ``marker``: the output trees of earlier runs, so
    outputs are never taken for inputs.
    """
    import os

    root = Path(root)
    excluded = {Path(p).resolve() for p in exclude}
    found = []
    for current, dirs, files in os.walk(root):
        here = Path(current)
        dirs[:] = [] if not recursive else sorted(
            d for d in dirs if not d.startswith(".") and (here / d).resolve() not in excluded
            and not (marker and (here / d / marker).is_file()))
        found.extend(here / f for f in files if not f.startswith(".") and Path(f).suffix.lower() in RASTER_SUFFIXES)
    return sorted(found)


def check_db_range(sar_db_range) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in sar_db_range)
    except (TypeError, ValueError):
        raise ValueError(f"sar_db_range must be two numbers (low, high) in dB, got {sar_db_range!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"sar_db_range must be (low, high) in dB with low < high, e.g. (-30, 10); got ({low:g}, {high:g})")
    return low, high


def _check_scene_size(width: int, height: int, name: str, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ValueError(
            f"{name} is {width}x{height} pixels ({width * height / 1e6:,.0f} M), more than one scene read "
            f"allows ({max_pixels / 1e6:,.0f} M): segment it tile by tile with helpers.segment_tiled(model, "
            "path) or 'python -m helpers segment', which read windows"
        )


def _intersect(window: Window, full: Window) -> Window | None:
    c0, r0 = max(window.col_off, 0), max(window.row_off, 0)
    c1 = min(window.col_off + window.width, full.width)
    r1 = min(window.row_off + window.height, full.height)
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def open_raster(path, **options) -> RasterSource:
    """Open a GeoTIFF/PNG/JPEG for windowed 8-bit RGB reads with scene-global statistics.

    ``open_raster(path, **options)`` is ``RasterSource(path, **options)``; every option is keyword-only.

    Args:
        path: raster file (anything GDAL reads: GeoTIFF, COG, PNG, JPEG, JP2, VRT).
        bands: ``None`` (R,G,B by colour interpretation or by the descriptions ``red``/``green``/``blue``,
            else bands 1,2,3; band 1 as grey for 1-2 band files), 1 or 3 1-based indexes (``[4, 3, 2]``),
            band descriptions (``["B4", "B3", "B2"]``), or a comma-separated string (``"4,3,2"``).
        stretch: (low, high) percentiles mapped to 0 and 255 per band, computed over the whole scene's
            valid pixels; ``None`` maps the data min/max (SAR: ``sar_db_range``) instead. Ignored for uint8
            data unless ``stretch_uint8``.
        sar: treat values as linear SAR power: convert to dB (power <= 0 becomes nodata), clip to
            ``sar_db_range``, then stretch.
        nodata: nodata value overriding the file's (``float("nan")`` allowed); ``None`` uses the file's
            nodata / internal masks.
        sar_db_range: (low, high) dB clip range for ``sar=True``.
        stretch_uint8: stretch uint8 data too (default: uint8 passes through unchanged).
        stats: reuse :class:`StretchStats` from another source (e.g. a time series stretched alike).
        stats_max_size: longest side of the decimated statistics read.
    """
    return RasterSource(path, **options)


def read_scene(path, max_pixels: int = MAX_SCENE_PIXELS, **options) -> Scene:
    """Read a whole raster as an 8-bit RGB :class:`Scene` (keyword options as in :func:`open_raster`).

    Args:
        max_pixels: refuse (one-line ``ValueError``, before anything is allocated) rasters with more
            pixels than this; read those tile by tile (:func:`helpers.tiling.segment_tiled`).
    """
    with open_raster(path, **options) as source:
        return source.read_scene(max_pixels=max_pixels)


def as_scene(image, **read_options) -> Scene:
    """Turn what a user passed to ``set_image`` into a :class:`Scene`.

    Args:
        image: a :class:`Scene`; an HxWx3 uint8 RGB numpy array (no georeferencing); or a path
            (``str``/``Path``) to a GeoTIFF, PNG or JPEG. GeoTIFFs keep their CRS/transform and go
            through :func:`read_scene` (band choice, scene-global stretch, nodata).
        **read_options: passed to :func:`read_scene` for paths.
    """
    if isinstance(image, Scene):
        return image
    if isinstance(image, (str, Path)):
        return read_scene(image, **read_options)
    return Scene(image=check_rgb_uint8(image))


__all__: Sequence[str] = (
    "DEFAULT_STRETCH",
    "DEFAULT_SAR_DB_RANGE",
    "RASTER_SUFFIXES",
    "RasterPathError",
    "RasterSource",
    "StretchStats",
    "as_scene",
    "check_bands",
    "open_dataset",
    "check_georeferencing_kept",
    "check_db_range",
    "walk_rasters",
    "MAX_SCENE_PIXELS",
    "open_raster",
    "parse_bands",
    "power_to_db",
    "read_scene",
    "stretch_to_uint8",
)
