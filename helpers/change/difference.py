"""The difference image of a SAR pair, window by window: speckle filter, log-ratio, histogram, 8-bit view.

:func:`compute_log_ratio` reads the two dates in windows (any scene size; memory is set by the window),
each with a halo of context so the speckle filter gives the same result as on the whole image, and
writes the signed log-ratio (dB) to a float32 GeoTIFF on the first date's grid, while counting the
histogram of ``|log-ratio|`` that the thresholds need. :class:`DifferenceImageSource` then serves that
raster as 8-bit RGB tiles (:func:`helpers.change.sar.difference_image`, a fixed scale, the same in every
tile) to :func:`helpers.tiling.segment_tiled`, so SAM and FastSAM segment the change image exactly as they
segment any scene.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_output
from ..errors import UserInputError
from ..raster import StretchStats, open_raster
from ..scene import Scene
from .align import aligned_path, describe_difference, grid_of
from .sar import (
    DEFAULT_EPSILON,
    DEFAULT_SCALE_DB,
    SpeckleFilter,
    check_units,
    difference_image,
    estimate_looks,
    filter_speckle,
    log_ratio,
    parse_filter,
    to_linear,
)
from .thresholds import Histogram

__all__ = ["WINDOW_SIZE", "GridWarning", "LogRatioRaster", "compute_log_ratio", "DifferenceImageSource"]

WINDOW_SIZE = 1024
"""Side of the windows the pair is processed in (memory ~ 60 MB per window, halo included)."""
_LOOKS_SAMPLE = 1024  # side of the central window the number of looks is estimated on


class GridWarning(UserWarning):
    """The second date was not on the first date's grid and was resampled onto it."""


@dataclass
class LogRatioRaster:
    """The signed log-ratio GeoTIFF of a pair and what went into it.

    Attributes:
        path: float32 GeoTIFF, dB, NaN = nodata (either date invalid), on the first date's grid.
        width, height, crs, transform: that grid.
        histogram: :class:`~helpers.change.thresholds.Histogram` of ``|log-ratio|`` over valid pixels.
        units: input units; ``speckle_filter``; ``looks`` (given or estimated, Lee only); ``epsilon``.
        aligned: ``None``, or how the second date's grid differed (it was resampled onto the first's).
        valid_pixels: number of pixels valid on both dates.
    """

    path: Path
    width: int
    height: int
    crs: object
    transform: object
    histogram: Histogram
    units: str
    speckle_filter: SpeckleFilter
    looks: float | None
    epsilon: float
    aligned: str | None = None
    valid_pixels: int = 0
    tags: dict = field(default_factory=dict)

    def read(self, window=None) -> np.ndarray:
        """float32 (h, w) signed log-ratio (dB, NaN = nodata) of a ``rasterio.windows.Window`` (or all)."""
        import rasterio

        with rasterio.open(self.path) as ds:
            return ds.read(1, window=window)


def _sample(source) -> np.ndarray:
    """Valid values of a decimated read (at most ~1 M pixels): enough to check units."""
    factor = max(1, int(np.ceil(max(source.height, source.width) / 1024)))
    shape = (int(np.ceil(source.height / factor)), int(np.ceil(source.width / factor)))
    data, valid = source.read_raw(out_shape=shape)
    return data[0][valid]


def _open(path, band: int):
    # Raw values only: fixed dummy stretch limits spare the statistics read an 8-bit view would need.
    return open_raster(path, bands=[band], stats=StretchStats(np.zeros(1), np.ones(1)))


def _halo_window(window, halo: int):
    from rasterio.windows import Window

    return Window(window.col_off - halo, window.row_off - halo, window.width + 2 * halo, window.height + 2 * halo)


def _estimate_looks(source, units: str) -> float:
    from rasterio.windows import Window

    side_w, side_h = min(source.width, _LOOKS_SAMPLE), min(source.height, _LOOKS_SAMPLE)
    window = Window((source.width - side_w) // 2, (source.height - side_h) // 2, side_w, side_h)
    data, valid = source.read_raw(window)
    power, ok = to_linear(data[0], units, valid)
    return estimate_looks(power, ok)


def compute_log_ratio(before, after, out_path, units: str = "linear", speckle_filter="lee:5",
                      looks: float | None = None, epsilon: float = DEFAULT_EPSILON, band: int = 1,
                      window_size: int = WINDOW_SIZE, workdir=None, progress: bool = False) -> LogRatioRaster:
    """Write the signed log-ratio of a SAR pair (dB) to ``out_path`` window by window.

    Args:
        before, after: single-date SAR intensity rasters (GeoTIFF...), ``band`` holding sigma0/gamma0.
            ``after`` is resampled onto ``before``'s grid (bilinear) when the grids differ, with a
            :class:`GridWarning` saying how they differ.
        out_path: the float32 log-ratio GeoTIFF to write (atomically).
        units: ``"linear"`` power or ``"db"``; obvious mistakes are refused (:func:`~helpers.change.sar.check_units`).
        speckle_filter: ``"none"``, ``"boxcar:N"`` or ``"lee:N"`` (N odd, pixels), or a ``SpeckleFilter``.
        looks: equivalent number of looks for Lee (``None``: estimated on the first date, see
            :func:`~helpers.change.sar.estimate_looks`).
        epsilon: added to both powers before dividing (linear units).
        band: 1-based band index in both files.
        window_size: processing window side (pixels).
        workdir: folder for the aligned VRT when the grids differ (default: beside ``out_path``, removed).
        progress: tqdm bar over windows.

    Returns:
        :class:`LogRatioRaster`.
    """
    import tempfile

    import rasterio
    from rasterio.windows import Window
    from tqdm.auto import tqdm

    speckle_filter = parse_filter(speckle_filter)
    before, after, out_path = Path(before), Path(after), Path(out_path)
    if window_size < 64:
        raise UserInputError(f"window_size must be at least 64 pixels, got {window_size}")
    reference = grid_of(before)
    difference = describe_difference(reference, grid_of(after))
    with tempfile.TemporaryDirectory(prefix="samrs-change-", dir=workdir) as scratch:
        if difference is not None:
            warnings.warn(f"{after.name} is not on {before.name}'s grid ({difference}): resampled onto it (bilinear)",
                          GridWarning, stacklevel=2)
        after_source = aligned_path(after, reference, scratch)
        with _open(before, band) as first, _open(after_source, band) as second:
            check_units(_sample(first), units, before.name)
            check_units(_sample(second), units, after.name)
            if speckle_filter.kind == "lee" and looks is None:
                looks = _estimate_looks(first, units)
            halo = speckle_filter.halo
            hist = Histogram()
            valid_pixels = 0
            tags = {"units": units, "speckle_filter": str(speckle_filter), "epsilon": repr(float(epsilon)),
                    "looks": "" if looks is None else f"{looks:.3f}", "aligned": difference or "",
                    "quantity": "10*log10((after+eps)/(before+eps)) in dB, linear-domain ratio",
                    "software": "sam-rs"}
            profile = dict(driver="GTiff", width=first.width, height=first.height, count=1, dtype="float32",
                           nodata=float("nan"), crs=first.crs, transform=first.transform, tiled=True,
                           blockxsize=256, blockysize=256, compress="deflate", predictor=3, BIGTIFF="IF_SAFER")
            windows = [Window(c, r, min(window_size, first.width - c), min(window_size, first.height - r))
                       for r in range(0, first.height, window_size) for c in range(0, first.width, window_size)]
            with atomic_output(out_path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
                dst.set_band_description(1, "log_ratio_db")
                dst.update_tags(**tags)
                for window in tqdm(windows, desc="log-ratio", unit="window", disable=not progress):
                    padded = _halo_window(window, halo)
                    filtered = []
                    for source in (first, second):
                        data, valid = source.read_raw(padded)
                        power, ok = to_linear(data[0], units, valid)
                        filtered.append((filter_speckle(power, ok, speckle_filter, looks), ok))
                    inner = (slice(halo, halo + int(window.height)), slice(halo, halo + int(window.width)))
                    valid = filtered[0][1][inner] & filtered[1][1][inner]
                    lr = log_ratio(filtered[0][0][inner], filtered[1][0][inner], epsilon, valid=valid)
                    hist.add(np.abs(lr))
                    valid_pixels += int(np.count_nonzero(np.isfinite(lr)))
                    dst.write(lr, 1, window=window)
    if valid_pixels == 0:
        out_path.unlink(missing_ok=True)
        raise UserInputError(f"{before.name} and {after.name} have no valid pixel in common")
    return LogRatioRaster(out_path, reference.width, reference.height, reference.crs, reference.transform, hist,
                          units, speckle_filter, looks, float(epsilon), difference, valid_pixels, tags)


class DifferenceImageSource:
    """Windows of a log-ratio raster as 8-bit RGB :class:`~helpers.scene.Scene` tiles, for ``segment_tiled``.

    Each scene carries the float log-ratio of its window in ``scene.meta["log_ratio"]`` (dB, NaN = nodata).

    Args:
        log_ratio: a :class:`LogRatioRaster` (or the path of a log-ratio GeoTIFF).
        scale_db: ``|log-ratio|`` shown as 255 (see :func:`~helpers.change.sar.difference_image`).
        style: ``"signed"`` or ``"grey"``.
    """

    def __init__(self, log_ratio, scale_db: float = DEFAULT_SCALE_DB, style: str = "signed"):
        import rasterio

        path = log_ratio.path if isinstance(log_ratio, LogRatioRaster) else Path(log_ratio)
        difference_image(np.zeros((1, 1), np.float32), scale_db, style)  # checks both, one line each
        self.scale_db, self.style = float(scale_db), style
        self._ds = rasterio.open(path)
        self.path = path
        self.width, self.height = self._ds.width, self._ds.height
        self.crs, self.transform = self._ds.crs, self._ds.transform

    def read_log_ratio(self, window) -> np.ndarray:
        """float32 (h, w) log-ratio of ``window``; outside the raster: NaN."""
        return self._ds.read(1, window=window, boundless=True, fill_value=np.nan)

    def read_window(self, window) -> Scene:
        window = window.round_offsets().round_lengths()
        lr = self.read_log_ratio(window)
        valid = np.isfinite(lr)
        meta = {"window": (int(window.col_off), int(window.row_off), int(window.width), int(window.height)),
                "log_ratio": lr, "scale_db": self.scale_db, "style": self.style}
        return Scene(image=difference_image(lr, self.scale_db, self.style), crs=self.crs,
                     transform=self._ds.window_transform(window), valid=valid, source=self.path,
                     name=self.path.stem, meta=meta)

    def read_scene(self) -> Scene:
        from rasterio.windows import Window

        return self.read_window(Window(0, 0, self.width, self.height))

    def close(self) -> None:
        self._ds.close()

    def __enter__(self) -> DifferenceImageSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
