"""A time series of GeoTIFFs of one place, on one grid, with one stretch: :func:`open_stack`.

    stack = helpers.open_stack("naip/")             # a folder, or a list of files
    stack.labels                                     # ['2009-08-18', '2010-06-29', ...] from the names
    print(stack.describe())                          # grid, dates, which dates were reprojected
    scene = stack[3]                                 # the 4th date as a Scene on the stack's grid

What makes frames of different dates comparable:

* **One grid.** Every date is put on the reference grid (the first date's, or ``reference=``, optionally
  cropped to ``bounds=``): a date already on it is read as a window (no resampling); a date on another
  grid (other CRS, a sub-pixel origin shift, another size) is reprojected with
  ``rasterio.warp.reproject`` (``resampling``, bilinear by default) and the stack says so
  (:attr:`TimeStack.alignment`, :meth:`TimeStack.describe`). Dates that do not overlap the grid are
  refused in one line.
* **One stretch.** The percentile stretch (:mod:`helpers.raster`) is computed once from decimated
  reads of *all* dates, so a dry year does not look like a wet one (a per-date stretch would shift
  colours date by date). 8-bit data pass through unchanged by default (``stretch_uint8=True`` stretches).
* **Nodata kept.** Pixels without data (nodata value, mask, outside a date's footprint) are black in the
  frame and ``False`` in ``Scene.valid``; results never cover them.

Frames are read one at a time (memory does not grow with the number of dates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserInputError
from ..raster import RASTER_SUFFIXES, RasterSource, StretchStats, parse_bands
from ..scene import Scene
from .dates import AcquisitionDate, date_from_name, parse_date
from .grid import Grid, open_dataset

__all__ = ["RESAMPLING", "TimeStack", "find_stack_files", "open_stack"]

RESAMPLING = ("nearest", "bilinear", "cubic", "average", "lanczos")
"""Resampling methods for dates that are reprojected onto the stack's grid."""

_READ_OPTIONS = ("bands", "stretch", "stretch_uint8", "nodata", "sar", "sar_db_range", "stats_max_size")


@dataclass(frozen=True)
class DateAlignment:
    """How one date was put on the stack's grid.

    Attributes:
        method: ``"window"`` (same pixels, read directly) or ``"reprojected"``.
        offset: (columns, rows) of the stack grid's origin in the date's own pixels (NaN for another CRS);
            fractions are the sub-pixel shift that reprojection removes.
        coverage: fraction of the stack's grid that the date covers (0-1).
        source_grid: the date's own :class:`Grid`.
    """

    method: str
    offset: tuple[float, float]
    coverage: float
    source_grid: Grid

    def describe(self) -> str:
        if self.method == "window":
            text = "same grid" if self.offset == (0.0, 0.0) else f"window at column {self.offset[0]:.0f}, row {self.offset[1]:.0f}"
        elif np.isnan(self.offset[0]):
            text = "reprojected (other CRS)"
        else:
            shift = np.subtract(self.offset, np.round(self.offset))
            own = self.source_grid
            text = f"reprojected (origin {shift[0]:+.2f}, {shift[1]:+.2f} px off the grid; {own.width}x{own.height} px)"
        if self.coverage < 0.999:
            text += f"; covers {100 * self.coverage:.0f} % of the grid"
        return text


def find_stack_files(inputs) -> list[Path]:
    """Raster files of a stack: the files given, or the rasters in one folder (not recursive, hidden
    files skipped, sorted by name).

    Raises:
        UserInputError: a missing path, a folder among several inputs, a file of another type, or no raster.
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    inputs = [Path(item) for item in inputs]
    if not inputs:
        raise UserInputError("no input given: pass a folder of rasters or a list of raster files")
    for item in inputs:
        if not item.exists():
            raise UserInputError(f"no such file or folder: {item}")
    folders = [item for item in inputs if item.is_dir()]
    if folders:
        if len(inputs) > 1:
            raise UserInputError(f"give one folder or a list of files, not both ({folders[0]} is a folder)")
        files = sorted(p for p in folders[0].iterdir()
                       if p.is_file() and p.suffix.lower() in RASTER_SUFFIXES and not p.name.startswith("."))
        if not files:
            raise UserInputError(f"no rasters in {folders[0]} (looked for {', '.join(RASTER_SUFFIXES)})")
        return files
    for item in inputs:
        if item.suffix.lower() not in RASTER_SUFFIXES:
            raise UserInputError(f"{item.name} is not a raster file (expected {', '.join(RASTER_SUFFIXES)})")
    return inputs


class TimeStack:
    """Dates of one place on one grid with one stretch; made by :func:`open_stack`.

    ``len(stack)`` dates, ``stack[i]`` the :class:`Scene` of date ``i`` (HxWx3 uint8 on :attr:`grid`,
    ``valid`` False on nodata), in date order.

    Attributes:
        paths: the files, in date order.
        dates: :class:`~helpers.timeseries.dates.AcquisitionDate` per file (``.date``, ``.label``).
        grid: the :class:`Grid` every frame is on.
        stats: the stack-wide :class:`helpers.raster.StretchStats` (the same for every date).
        alignment: how each date was put on the grid (:class:`DateAlignment`).
        resampling: the resampling used for reprojected dates.
        read_options: the :func:`helpers.raster.open_raster` options of every read (``bands``, ...).
    """

    def __init__(self, paths, dates, grid, stats, alignment, resampling, read_options, band_names):
        self.paths: list[Path] = list(paths)
        self.dates: list[AcquisitionDate] = list(dates)
        self.grid: Grid = grid
        self.stats: StretchStats = stats
        self.alignment: list[DateAlignment] = list(alignment)
        self.resampling = resampling
        self.read_options = dict(read_options)
        self.band_names = list(band_names)

    # ---- sequence -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index) -> Scene:
        return self.frame(index)

    def __iter__(self):
        for i in range(len(self)):
            yield self.frame(i)

    @property
    def labels(self) -> list[str]:
        """The dates as text, as precisely as known (``"2009-08-18"``, ``"1985"``)."""
        return [d.label for d in self.dates]

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of every frame."""
        return self.grid.shape

    @property
    def crs(self):
        return self.grid.crs

    @property
    def transform(self):
        return self.grid.transform

    @property
    def reprojected(self) -> list[int]:
        """Indexes of the dates that were resampled onto the grid."""
        return [i for i, a in enumerate(self.alignment) if a.method == "reprojected"]

    def index(self, date) -> int:
        """The position of ``date`` in the stack.

        Args:
            date: an int position (negative counts from the end), or a date (``datetime.date``,
                ``"2012-07-31"``, ``"20120731"``, ``"2012"``: a year matches the one date of that year).

        Raises:
            UserInputError: no such date, or a year with several dates.
        """
        if isinstance(date, (int, np.integer)) and not isinstance(date, bool) and not (1900 <= date <= 2100):
            if not -len(self) <= date < len(self):
                raise UserInputError(f"date index {date} is out of range: the stack has {len(self)} dates")
            return int(date) % len(self)
        wanted = parse_date(date)
        if wanted.precision == "day":
            hits = [i for i, d in enumerate(self.dates) if d.date == wanted.date]
        elif wanted.precision == "month":
            hits = [i for i, d in enumerate(self.dates) if (d.date.year, d.date.month) == (wanted.date.year, wanted.date.month)]
        else:
            hits = [i for i, d in enumerate(self.dates) if d.date.year == wanted.date.year]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise UserInputError(f"no date {wanted.label} in the stack; it has {', '.join(self.labels)}")
        raise UserInputError(f"{wanted.label} matches {len(hits)} dates ({', '.join(self.labels[i] for i in hits)}); "
                             "give the full date")

    # ---- reading ------------------------------------------------------------------------------------
    def _source(self, index: int, bands=None) -> RasterSource:
        options = dict(self.read_options)
        stats = self.stats
        if bands is not None:  # a raw band read for an index: its own selection, no stretch needed
            options["bands"] = bands
            count = len(parse_bands(bands))
            stats = StretchStats(np.zeros(count), np.ones(count))
        return RasterSource(self.paths[index], **options, stats=stats)

    def read_raw(self, index, bands=None) -> tuple[np.ndarray, np.ndarray]:
        """Date ``index`` on the grid in analysis units (reflectance/DN, dB for SAR), before stretching.

        Args:
            index: a position or a date (see :meth:`index`).
            bands: ``None`` (the stack's bands) or 1 or 3 other 1-based bands / descriptions, e.g. ``4``
                for NIR (for spectral indices).

        Returns:
            ``(data, valid)``: float32 (B, H, W) (0 where invalid) and bool (H, W).
        """
        from rasterio.enums import Resampling
        from rasterio.warp import reproject

        i = self.index(index)
        alignment = self.alignment[i]
        with self._source(i, bands) as source:
            window = self.grid.window_in(alignment.source_grid)
            if window is not None:
                return source.read_raw(window)
            source_window = _source_window(self.grid, alignment.source_grid)
            data, valid = source.read_raw(source_window)
            window_transform = source.transform @ _translation(source_window.col_off, source_window.row_off)
        data[:, ~valid] = np.nan
        out = np.full((data.shape[0], *self.grid.shape), np.nan, dtype=np.float32)
        reproject(
            source=data, destination=out,
            src_transform=window_transform, src_crs=alignment.source_grid.crs, src_nodata=np.nan,
            dst_transform=self.grid.transform, dst_crs=self.grid.crs, dst_nodata=np.nan,
            resampling=Resampling[self.resampling],
        )
        valid = np.isfinite(out).all(axis=0)
        out[:, ~valid] = 0.0
        return out, valid

    def frame(self, index) -> Scene:
        """Date ``index`` as an 8-bit RGB :class:`Scene` on the grid, with the stack-wide stretch.

        ``scene.valid`` is ``False`` on nodata (``None`` when every pixel is valid); ``scene.name`` is the
        date label; ``scene.meta`` holds ``date``, ``alignment``, bands and stretch limits.
        """
        i = self.index(index)
        data, valid = self.read_raw(i)
        bands = self.stats.apply(data)  # 8-bit pass-through: limits 0-255 round resampled values, keep the rest
        if bands.shape[0] == 1:
            bands = np.repeat(bands, 3, axis=0)
        image = np.ascontiguousarray(np.moveaxis(bands, 0, -1))
        image[~valid] = 0
        meta = {
            "date": self.dates[i].date, "label": self.labels[i], "alignment": self.alignment[i].describe(),
            "band_names": list(self.band_names), "stretch_low": self.stats.low.tolist(),
            "stretch_high": self.stats.high.tolist(), "percentiles": self.stats.percentiles,
        }
        transform = self.grid.transform if self.grid.is_georeferenced else None
        return Scene(image=image, crs=self.grid.crs, transform=transform, valid=None if valid.all() else valid,
                     source=self.paths[i], name=self.labels[i], meta=meta)

    # ---- reporting ----------------------------------------------------------------------------------
    def describe(self) -> str:
        """Several lines: the grid, the bands and stretch, and how each date was put on the grid."""
        first, last = self.labels[0], self.labels[-1]
        lines = [f"{len(self)} dates {first} .. {last} on a grid of {self.grid.describe()}",
                 f"bands {', '.join(self.band_names)}; {self._stretch_text()}"]
        moved = self.reprojected
        if moved:
            lines.append(f"{len(moved)} of {len(self)} dates reprojected onto the grid ({self.resampling} resampling)")
        for label, path, alignment in zip(self.labels, self.paths, self.alignment, strict=True):
            lines.append(f"  {label}  {path.name}: {alignment.describe()}")
        return "\n".join(lines)

    def _stretch_text(self) -> str:
        if self.stats.percentiles is None and np.all(self.stats.low == 0) and np.all(self.stats.high == 255):
            return "8-bit values unchanged (no stretch)"
        low, high = (", ".join(f"{v:.4g}" for v in values) for values in (self.stats.low, self.stats.high))
        how = (f"{self.stats.percentiles[0]:g}-{self.stats.percentiles[1]:g} % percentiles"
               if self.stats.percentiles else "fixed limits")
        return f"one stretch for all dates ({how} of the whole stack): {low} -> {high}"

    def __repr__(self) -> str:
        moved = f", {len(self.reprojected)} reprojected" if self.reprojected else ""
        return (f"TimeStack({len(self)} dates {self.labels[0]}..{self.labels[-1]}, "
                f"{self.grid.width}x{self.grid.height}{moved})")


def _translation(col, row):
    from affine import Affine

    return Affine.translation(float(col), float(row))


def _source_window(grid: Grid, source: Grid):
    """The window of ``source`` pixels covering ``grid`` (plus a margin for the resampling kernel)."""
    from rasterio.windows import Window

    inverse = ~source.transform
    footprint = grid.footprint(source.crs) if grid.crs is not None else grid.footprint()
    xs, ys = footprint.exterior.xy
    cols, rows = zip(*(inverse @ (x, y) for x, y in zip(xs, ys, strict=True)), strict=True)
    margin = 3
    c0, r0 = int(np.floor(min(cols))) - margin, int(np.floor(min(rows))) - margin
    c1, r1 = int(np.ceil(max(cols))) + margin, int(np.ceil(max(rows))) + margin
    c0, r0 = max(c0, 0), max(r0, 0)
    c1, r1 = min(c1, source.width), min(r1, source.height)
    return Window(c0, r0, max(c1 - c0, 1), max(r1 - r0, 1))


def _band_count(path, bands) -> int:
    parsed = parse_bands(bands)
    if parsed is not None:
        return len(parsed)
    with open_dataset(path) as dataset:
        return 1 if dataset.count < 3 else 3


def _stack_stats(paths: Sequence[Path], read_options: dict) -> tuple[StretchStats, list[str]]:
    """One :class:`StretchStats` from decimated reads of every date (see :mod:`helpers.raster`)."""
    count = _band_count(paths[0], read_options.get("bands"))
    placeholder = StretchStats(np.zeros(count), np.full(count, 255.0))
    options = {k: v for k, v in read_options.items() if k != "stats_max_size"}
    max_size = int(read_options.get("stats_max_size", 1024))
    with RasterSource(paths[0], **options, stats=placeholder) as first:
        band_names, passthrough, stretch, sar = first.band_names, first.passthrough, first.stretch, first.sar
        sar_range = first.sar_db_range
    if passthrough:
        return placeholder, band_names
    if stretch is None and sar:
        return StretchStats(np.full(count, sar_range[0]), np.full(count, sar_range[1])), band_names
    samples, shape = [], (0, 0)
    for path in paths:
        with RasterSource(path, **options, stats=placeholder) as source:
            factor = max(1, int(np.ceil(max(source.height, source.width) / max_size)))
            shape = (int(np.ceil(source.height / factor)), int(np.ceil(source.width / factor)))
            data, valid = source.read_raw(out_shape=shape)
            samples.append(data[:, valid])
    pooled = np.concatenate(samples, axis=1)
    if pooled.shape[1] == 0:
        raise UserInputError("no date of the stack has valid pixels (all nodata/NaN)")
    percentiles = stretch if stretch is not None else (0.0, 100.0)
    low, high = np.percentile(pooled, percentiles, axis=1).astype(np.float64)
    return StretchStats(low, high, stretch, shape), band_names


def open_stack(
    inputs,
    dates=None,
    reference=None,
    bounds=None,
    bounds_crs=None,
    resampling: str = "bilinear",
    quiet: bool = False,
    **read_options,
) -> TimeStack:
    """Open a time series of rasters of one place as a :class:`TimeStack`.

    Args:
        inputs: a folder (its rasters, not recursive) or a list of raster files, in any order.
        dates: ``None`` parses each file name (see :mod:`helpers.timeseries.dates`: ``YYYYMMDD``,
            ``YYYY-MM-DD``, ``YYYY``...); or one date per file, in the order of ``inputs``
            (``datetime.date`` or text).
        reference: the grid every date is put on: ``None`` (the earliest date's grid), a raster file (its
            grid), or a :class:`~helpers.timeseries.grid.Grid`.
        bounds: optional (left, bottom, right, top) to crop the reference grid to (an area of interest;
            snapped outwards to whole pixels), in ``bounds_crs`` (default: the grid's CRS).
        bounds_crs: the CRS of ``bounds`` (any CRS pyproj accepts), e.g. ``"EPSG:4326"``.
        resampling: how dates on another grid are resampled: one of :data:`RESAMPLING`.
        quiet: do not print the one line saying which dates were reprojected.
        **read_options: :func:`helpers.raster.open_raster` options used for every date: ``bands`` (the
            same bands for every date, e.g. ``[4, 1, 2]`` or ``"nir,red,green"``), ``stretch``,
            ``stretch_uint8``, ``nodata``, ``sar``, ``sar_db_range``, ``stats_max_size``.

    Raises:
        UserInputError: no rasters; a name without a date (and no ``dates``); two files of one date; a
            different number of bands between dates; a date that does not overlap the grid; files with and
            without georeferencing mixed.
    """
    unknown = sorted(set(read_options) - set(_READ_OPTIONS))
    if unknown:
        raise UserInputError(f"unknown option(s) {', '.join(unknown)}; read options: {', '.join(_READ_OPTIONS)}")
    if resampling not in RESAMPLING:
        raise UserInputError(f"resampling must be one of {', '.join(RESAMPLING)}, got {resampling!r}")
    paths = find_stack_files(inputs)
    if dates is None:
        parsed = [date_from_name(p) for p in paths]
    else:
        dates = list(dates)
        if len(dates) != len(paths):
            raise UserInputError(f"{len(dates)} dates given for {len(paths)} files; give one date per file")
        parsed = [parse_date(d) for d in dates]
    order = sorted(range(len(paths)), key=lambda k: (parsed[k].date, paths[k].name))
    paths, parsed = [paths[k] for k in order], [parsed[k] for k in order]
    for a, b in zip(range(len(paths)), range(1, len(paths))):
        if parsed[a].date == parsed[b].date:
            raise UserInputError(f"{paths[a].name} and {paths[b].name} have the same date {parsed[a].label}; "
                                 "one file per date (give dates= to tell them apart)")
    grids = [Grid.from_file(p) for p in paths]
    georeferenced = {g.is_georeferenced for g in grids}
    if len(georeferenced) > 1:
        plain = next(p for p, g in zip(paths, grids, strict=True) if not g.is_georeferenced)
        raise UserInputError(f"{plain.name} has no georeferencing but other dates do; a stack is all one or the other")
    grid = _reference_grid(reference, grids[0])
    if bounds is not None:
        grid = grid.crop(bounds, crs=bounds_crs)
    alignment = [_align(grid, own, path, date) for path, own, date in zip(paths, grids, parsed, strict=True)]
    _check_band_counts(paths, read_options.get("bands"))
    stats, band_names = _stack_stats(paths, read_options)
    stack = TimeStack(paths, parsed, grid, stats, alignment, resampling, read_options, band_names)
    if stack.reprojected and not quiet:
        shifts = [abs(np.subtract(a.offset, np.round(a.offset))).max() for a in alignment if a.method == "reprojected"]
        worst = f" (origins up to {max(shifts):.2f} px off)" if not np.isnan(max(shifts)) else ""
        print(f"open_stack: {len(stack.reprojected)} of {len(stack)} dates are not on the reference grid{worst}: "
              f"reprojected onto it with {resampling} resampling")
    return stack


def _reference_grid(reference, first: Grid) -> Grid:
    if reference is None:
        return first
    if isinstance(reference, Grid):
        return reference
    if isinstance(reference, (str, Path)):
        return Grid.from_file(reference)
    raise UserInputError(f"reference must be a raster file or a Grid, got {type(reference).__name__}")


def _align(grid: Grid, own: Grid, path: Path, date: AcquisitionDate) -> DateAlignment:
    if grid.is_georeferenced != own.is_georeferenced:
        raise UserInputError(f"{path.name}: the reference grid and the file disagree on georeferencing")
    if not grid.is_georeferenced and own.shape != grid.shape and grid.window_in(own) is None:
        raise UserInputError(f"{path.name} is {own.width}x{own.height} px without georeferencing; "
                             f"cannot align it to {grid.width}x{grid.height}")
    coverage = grid.overlap_fraction(own)
    if coverage <= 0:
        left, bottom, right, top = grid.bounds
        raise UserInputError(f"{path.name} ({date.label}) does not overlap the reference grid "
                             f"(x {left:.6g}..{right:.6g}, y {bottom:.6g}..{top:.6g}); it shows another place")
    window = grid.window_in(own)
    offset = grid.offset_in(own)
    return DateAlignment("window" if window is not None else "reprojected", offset, min(coverage, 1.0), own)


def _check_band_counts(paths, bands) -> None:
    from ..raster import check_bands

    counts = {}
    for path in paths:
        with open_dataset(path) as dataset:
            counts[path] = dataset.count
    if bands is None and len(set(counts.values())) > 1:
        listed = ", ".join(f"{p.name}: {n}" for p, n in counts.items())
        raise UserInputError(f"the dates have different numbers of bands ({listed}); choose the bands with bands=")
    if bands is not None:
        for path in paths:
            check_bands([path], bands)  # one line naming the file's bands when one is missing
