"""Remote-sensing rasters in, 8-bit RGB scenes out: band choice, nodata, SAR dB and a scene-global stretch.

Models want HxWx3 uint8. Real inputs are 16-bit or float multiband GeoTIFFs with nodata, SAR backscatter
in linear power, and scenes far larger than memory. Everything here works on windows:

* :func:`open_raster` returns a :class:`RasterSource` whose stretch statistics are computed ONCE per scene
  from the overviews or a decimated read (``out_shape``, at most ``stats_max_size`` pixels a side), so a
  20k x 20k scene is never fully loaded and every window of a scene uses the same limits (tiles look
  identical across seams).
* :func:`read_scene` reads a whole file into a :class:`~helpers.scene.Scene`.
* :func:`preprocess` (and ``python -m helpers preprocess``) converts a file or a folder tree into 8-bit
  3-band GeoTIFFs with identical georeferencing, window by window, with atomic writes.

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

import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError, RasterioIOError
from rasterio.windows import Window
from tqdm.auto import tqdm

from .atomic import atomic_output
from .scene import Scene

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


class RasterPathError(FileNotFoundError, ValueError):
    """A raster path that does not exist: both a ``FileNotFoundError`` and a one-line ``ValueError``."""


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


def _open_dataset(path):
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
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
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
            ds = _open_dataset(path)
        except ValueError:
            continue
        with ds:
            return _resolve_bands(ds, bands, path)
    return None


def _read_failure(path: Path, exc: RasterioIOError) -> ValueError:
    """GDAL's "Read failed. See previous exception" -> one line naming the file and GDAL's own reason."""
    detail = str(exc.__cause__ or exc).strip().splitlines()[0] if str(exc.__cause__ or exc).strip() else ""
    detail = detail.split(": ", 1)[1] if detail.startswith(path.name) and ": " in detail else detail
    reason = f" ({detail})" if detail else ""
    return ValueError(f"cannot read {path.name}: not a readable raster, corrupt or truncated data{reason}")


def _is_georeferenced(ds) -> bool:
    return ds.crs is not None and not ds.transform.is_identity


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
        self._ds = _open_dataset(self.path)
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
        self.sar = bool(sar)
        self.sar_db_range = tuple(float(v) for v in sar_db_range)
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
        data = raw.astype(np.float32)
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

    def read_scene(self) -> Scene:
        """The whole raster as one :class:`Scene` (use :meth:`read_window` for scenes larger than memory)."""
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


def read_scene(path, **options) -> Scene:
    """Read a whole raster as an 8-bit RGB :class:`Scene` (keyword options as in :func:`open_raster`)."""
    with open_raster(path, **options) as source:
        return source.read_scene()


# -- preprocessing ---------------------------------------------------------------------------------------


@dataclass
class PreprocessSummary:
    """What :func:`preprocess` did.

    Attributes:
        written: output GeoTIFFs written.
        failed: (input path, one-line reason) for every input that could not be converted.
    """

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def _is_raster_name(path: Path) -> bool:
    return path.suffix.lower() in RASTER_SUFFIXES


def _single_output(source: Path, output: Path) -> Path:
    """A file input's output: ``output`` itself when it ends in .tif/.tiff, else a file inside that folder.

    Only an existing folder or a path without an ending is a folder: ``out/x.png`` is a mistake, not a
    folder named ``x.png``.
    """
    if output.suffix.lower() in (".tif", ".tiff"):
        return output
    if output.is_dir() or not output.suffix:
        return output / f"{source.stem}.tif"
    raise ValueError(f"output {output} must end in .tif/.tiff (a GeoTIFF) or be a folder (no file ending)")


def _plan_jobs(source: Path, output: Path, recursive: bool) -> list[tuple[Path, Path]]:
    """(input, output) pairs: a file -> a file (or into a folder); a folder -> a mirrored folder tree."""
    if not source.exists():
        raise RasterPathError(f"input not found: {source}")
    if source.is_file():
        return [(source, _single_output(source, output))]
    pattern = "**/*" if recursive else "*"
    out_resolved = output.resolve()
    jobs = []
    for path in sorted(source.glob(pattern)):
        if not path.is_file() or not _is_raster_name(path) or path.name.startswith("."):
            continue
        if out_resolved in path.resolve().parents:  # output folder nested inside the input tree
            continue
        jobs.append((path, output / path.relative_to(source).with_suffix(".tif")))
    if not jobs:
        where = "under" if recursive else "directly in"
        raise ValueError(f"no rasters found {where} {source} (looked for {', '.join(RASTER_SUFFIXES)})")
    return jobs


@contextmanager
def removing_new_empty_folders(outputs):
    """On exit, remove the folders that the block created for ``outputs`` and left empty.

    Writers create output folders as they go (:func:`helpers.atomic.atomic_output`); when inputs fail
    or the user presses Ctrl-C, no empty folder should be left to suggest something was written.

    Args:
        outputs: the file paths the block may write; only their missing parent folders (as of entry)
            are candidates, so folders that existed before are never touched.
    """
    missing = set()
    for path in outputs:
        for folder in Path(path).parents:
            if folder.exists():
                break
            missing.add(folder)
    try:
        yield
    finally:
        for folder in sorted(missing, key=lambda p: len(p.parts), reverse=True):  # deepest first
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def _convert_file(src_path: Path, dst_path: Path, read_options: dict, window_size: int, progress: bool = True) -> Path:
    """One raster -> 8-bit 3-band GeoTIFF with the same size/CRS/transform, window by window, atomically."""
    with open_raster(src_path, **read_options) as src:
        profile = {
            "driver": "GTiff",
            "width": src.width,
            "height": src.height,
            "count": 3,
            "dtype": "uint8",
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "compress": "deflate",
            "photometric": "RGB",
        }
        if src.transform is not None:
            profile.update(crs=src.crs, transform=src.transform)
        if src.has_mask:
            profile["nodata"] = 0
        with atomic_output(dst_path) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(tmp, "w", **profile) as dst:
                windows = list(src.windows(window_size))
                bar = tqdm(windows, desc=src_path.name, leave=False, disable=not progress or len(windows) < 4)
                for window in bar:
                    dst.write(_output_block(src.read_window(window), src.has_mask), window=window)
                dst.update_tags(
                    SAMRS_SOURCE=src_path.name,
                    SAMRS_BANDS=",".join(map(str, src.bands)),
                    SAMRS_SAR=str(src.sar),
                    SAMRS_STRETCH_LOW=",".join(f"{v:.6g}" for v in src.stats.low),
                    SAMRS_STRETCH_HIGH=",".join(f"{v:.6g}" for v in src.stats.high),
                )
    return dst_path


def _output_block(scene: Scene, nodata_zero: bool) -> np.ndarray:
    """(3,h,w) uint8 for writing; with nodata 0, valid pixels are lifted to >= 1 so they stay valid."""
    image = scene.image
    if nodata_zero and scene.valid is not None:
        image = image.copy()
        image[scene.valid] = np.maximum(image[scene.valid], 1)
        image[~scene.valid] = 0
    return np.moveaxis(image, -1, 0)


def preprocess(
    input,
    output,
    bands=None,
    stretch=DEFAULT_STRETCH,
    sar: bool = False,
    recursive: bool = True,
    window_size: int = WINDOW_SIZE,
    progress: bool = True,
    **read_options,
) -> PreprocessSummary:
    """Convert rasters into 8-bit 3-band GeoTIFFs ready for SAM/FastSAM, keeping georeferencing exactly.

    Each output has the input's size, CRS and transform; it is written window by window (memory does
    not grow with the scene), to a temporary file renamed into place at the end (a killed run never
    leaves a half-written output). Nodata stays nodata: the output's nodata is 0 and valid pixels are
    lifted to at least 1. The stretch limits used are stored as ``SAMRS_STRETCH_*`` tags.

    Args:
        input: a raster file, or a folder whose rasters (``RASTER_SUFFIXES``) are all converted.
        output: for a file input, an output path ending in ``.tif``/``.tiff``, or a folder (an existing
            one, or a path without a file ending); for a folder input, the folder that receives the
            mirrored tree (``a/b/x.png`` -> ``OUTPUT/a/b/x.tif``).
        bands, stretch, sar: as in :func:`open_raster`.
        recursive: walk sub-folders of a folder input.
        window_size: side of the square windows read and written.
        progress: show tqdm progress bars.
        **read_options: further :func:`open_raster` options (``nodata``, ``sar_db_range``, ...).

    Returns:
        :class:`PreprocessSummary`. A single-file input that fails raises ``ValueError``; in a folder,
        failures are collected and the batch goes on. Folders this call created and left empty are
        removed.

    Raises:
        ValueError: a missing input, a folder without rasters, a single-file output with another ending.
    """
    source, output = Path(input), Path(output)
    jobs = _plan_jobs(source, output, recursive)
    if source.is_file():
        parse_bands(bands)  # a typo in --bands fails before anything is written
    options = dict(read_options, bands=bands, stretch=stretch, sar=sar)
    summary = PreprocessSummary()
    with removing_new_empty_folders(dst for _, dst in jobs):
        bar = tqdm(jobs, desc="preprocess", unit="file", disable=not progress or len(jobs) < 2)
        for src_path, dst_path in bar:
            try:
                summary.written.append(_convert_file(src_path, dst_path, options, window_size, progress))
            except (ValueError, TypeError, OSError, RasterioError) as exc:
                if source.is_file():
                    raise
                summary.failed.append((src_path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
    return summary


# -- command line ----------------------------------------------------------------------------------------


def register_cli(subparsers) -> None:
    """Add ``python -m helpers preprocess INPUT OUTPUT [--bands 4,3,2] [--stretch 2 98] [--sar]``."""
    parser = subparsers.add_parser(
        "preprocess",
        help="convert rasters (file or folder tree) to 8-bit 3-band GeoTIFFs with the same georeferencing",
        description=preprocess.__doc__.splitlines()[0],
    )
    parser.add_argument("input", help="raster file or folder (walked recursively)")
    parser.add_argument(
        "output", help="file input: output .tif/.tiff, or a folder (existing, or a path without an ending); "
        "folder input: output folder (mirrored tree)",
    )
    parser.add_argument("--bands", help="1-based indexes or band descriptions, e.g. 4,3,2 or B4,B3,B2")
    parser.add_argument(
        "--stretch", nargs=2, type=float, default=list(DEFAULT_STRETCH), metavar=("LOW", "HIGH"),
        help="scene-global percentile stretch (default: 2 98)",
    )
    parser.add_argument("--no-stretch", action="store_true", help="map data min/max (SAR: dB range) instead")
    parser.add_argument("--sar", action="store_true", help="input is linear SAR power: convert to dB first")
    parser.add_argument(
        "--sar-db-range", nargs=2, type=float, default=list(DEFAULT_SAR_DB_RANGE), metavar=("LOW", "HIGH"),
        help="dB clip range for --sar (default: -30 10)",
    )
    parser.add_argument("--stretch-uint8", action="store_true", help="stretch 8-bit inputs too")
    parser.add_argument(
        "--no-recursive", dest="recursive", action="store_false", help="do not walk sub-folders"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run_preprocess_cli)


def _run_preprocess_cli(args) -> int:
    summary = preprocess(
        args.input,
        args.output,
        bands=args.bands,
        stretch=None if args.no_stretch else tuple(args.stretch),
        sar=args.sar,
        recursive=args.recursive,
        sar_db_range=tuple(args.sar_db_range),
        stretch_uint8=args.stretch_uint8,
        progress=not args.quiet,
    )
    for path, reason in summary.failed:
        print(f"failed: {path}: {reason}", file=sys.stderr)
    print(f"preprocess: {len(summary.written)} written, {len(summary.failed)} failed -> {args.output}")
    return 0 if summary.ok else 1


__all__: Sequence[str] = (
    "DEFAULT_STRETCH",
    "DEFAULT_SAR_DB_RANGE",
    "RASTER_SUFFIXES",
    "PreprocessSummary",
    "RasterPathError",
    "RasterSource",
    "StretchStats",
    "check_bands",
    "open_raster",
    "parse_bands",
    "power_to_db",
    "preprocess",
    "read_scene",
    "register_cli",
    "removing_new_empty_folders",
    "stretch_to_uint8",
)
