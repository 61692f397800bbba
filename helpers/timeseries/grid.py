"""The pixel grid a time series is put on: CRS, affine transform and size, and how another grid relates.

Two rasters of one place are only comparable pixel by pixel when they share a grid. Acquisitions of
different dates rarely do: NAIP quarter quads of different years start a few metres apart and differ
by a row. :meth:`Grid.window_in` recognises the cheap case (same CRS and pixel size, origins a whole
number of pixels apart: read a window, no resampling); anything else is reprojected
(:mod:`helpers.timeseries.stack`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserInputError
from ..scene import Scene

__all__ = ["ALIGN_TOLERANCE_PX", "Grid", "open_dataset"]

ALIGN_TOLERANCE_PX = 1e-3
"""Two grids line up when their pixel sizes agree and their origins differ by a whole number of pixels,
both to within this fraction of a pixel (float noise of transforms written by different software)."""


@dataclass(frozen=True)
class Grid:
    """A raster grid.

    Attributes:
        crs: ``rasterio.crs.CRS``, or ``None`` for plain images (then ``transform`` is the identity and
            coordinates are pixels).
        transform: ``affine.Affine`` mapping pixel corner (column, row) to map (x, y).
        width, height: size in pixels.
    """

    crs: object
    transform: object
    width: int
    height: int

    @classmethod
    def of(cls, dataset) -> Grid:
        """The grid of an open rasterio dataset, a :class:`helpers.raster.RasterSource` or a :class:`Scene`."""
        from affine import Affine

        transform = getattr(dataset, "transform", None)
        crs = getattr(dataset, "crs", None)
        if crs is None or transform is None:
            crs, transform = None, Affine.identity()
        width = dataset.width
        height = dataset.height
        return cls(crs, transform, int(width), int(height))

    @classmethod
    def from_file(cls, path) -> Grid:
        """The grid of a raster file."""
        with open_dataset(path) as dataset:
            georeferenced = dataset.crs is not None and not dataset.transform.is_identity
            return cls.of(dataset) if georeferenced else cls(None, _identity(), dataset.width, dataset.height)

    # ---- geometry -----------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        return self.height, self.width

    @property
    def is_georeferenced(self) -> bool:
        return self.crs is not None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of the four corners, in the grid's CRS (pixels without one)."""
        corners = np.array([self.transform @ corner for corner in self._corners()])
        return (float(corners[:, 0].min()), float(corners[:, 1].min()),
                float(corners[:, 0].max()), float(corners[:, 1].max()))

    def _corners(self):
        return [(0, 0), (self.width, 0), (self.width, self.height), (0, self.height)]

    def footprint(self, crs=None):
        """The grid's outline as a shapely polygon, in ``crs`` (default: its own), edges densified."""
        import shapely

        t = np.linspace(0.0, 1.0, 11)[:-1]
        corners = self._corners()
        ring = [
            (c0 + (c1 - c0) * s, r0 + (r1 - r0) * s)
            for (c0, r0), (c1, r1) in zip(corners, corners[1:] + corners[:1], strict=True)
            for s in t
        ]
        xy = np.array([self.transform @ point for point in ring])
        if crs is not None and self.crs is not None:
            from ..crs import to_pyproj, transformer

            if to_pyproj(crs) != to_pyproj(self.crs):
                x, y = transformer(self.crs, crs).transform(xy[:, 0], xy[:, 1])
                xy = np.column_stack([x, y])
        return shapely.Polygon(xy)

    def pixel_size(self) -> tuple[float, float]:
        """Pixel width and height in CRS units (lengths of the transform's column and row vectors)."""
        a, b, _, d, e, _ = self.transform[:6]
        return float(np.hypot(a, d)), float(np.hypot(b, e))

    def scene(self) -> Scene:
        """A :class:`Scene` of this grid with a zero-cost black image (a broadcast view), for converting
        prompts between map and pixel coordinates without reading any pixel."""
        image = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (self.height, self.width, 3))
        transform = self.transform if self.crs is not None else None
        return Scene(image=image, crs=self.crs, transform=transform, name="grid")

    # ---- relations ----------------------------------------------------------------------------------
    def same_crs(self, other: Grid) -> bool:
        if self.crs is None or other.crs is None:
            return self.crs is None and other.crs is None
        from ..crs import to_pyproj

        return self.crs == other.crs or to_pyproj(self.crs) == to_pyproj(other.crs)

    def window_in(self, source: Grid, tolerance: float = ALIGN_TOLERANCE_PX):
        """Where this grid lies in ``source``'s pixels, when no resampling is needed; else ``None``.

        Returns:
            ``rasterio.windows.Window(col_off, row_off, width, height)`` in ``source`` pixels (it may
            reach outside ``source``: those pixels are nodata) when both grids share the CRS and the pixel
            size and their origins are a whole number of pixels apart (within ``tolerance`` pixels);
            ``None`` otherwise (reprojection needed).
        """
        from rasterio.windows import Window

        if not self.same_crs(source):
            return None
        mine, theirs = (np.array([t.a, t.b, t.d, t.e]) for t in (self.transform, source.transform))
        # pixel sizes must agree so closely that the drift across the whole grid stays within tolerance
        drift = tolerance * max(self.pixel_size()) / max(self.width, self.height)
        if not np.allclose(mine, theirs, rtol=0, atol=drift):
            return None
        col, row = ~source.transform @ (self.transform.c, self.transform.f)
        if abs(col - round(col)) > tolerance or abs(row - round(row)) > tolerance:
            return None
        return Window(int(round(col)), int(round(row)), self.width, self.height)

    def offset_in(self, source: Grid) -> tuple[float, float]:
        """(columns, rows) of this grid's origin in ``source``'s pixels (fractions mean a sub-pixel shift);
        NaN when the CRSs differ."""
        if not self.same_crs(source):
            return float("nan"), float("nan")
        col, row = ~source.transform @ (self.transform.c, self.transform.f)
        return float(col), float(row)

    def overlap_fraction(self, other: Grid) -> float:
        """Fraction of this grid's area that ``other`` covers (footprints compared in this grid's CRS)."""
        mine = self.footprint()
        if mine.area == 0:
            return 0.0
        theirs = other.footprint(self.crs)
        return float(mine.intersection(theirs).area / mine.area)

    def crop(self, bounds, crs=None) -> Grid:
        """The part of this grid inside ``bounds``, snapped outwards to whole pixels.

        Args:
            bounds: (left, bottom, right, top) in ``crs`` (default: the grid's CRS; pixels without one).
            crs: the CRS of ``bounds`` (any CRS pyproj accepts), reprojected along densified edges.

        Raises:
            UserInputError: ``bounds`` do not overlap the grid, or are not (left, bottom, right, top).
        """
        from affine import Affine

        left, bottom, right, top = (float(v) for v in bounds)
        if not (right > left and top > bottom):
            raise UserInputError(f"bounds must be (left, bottom, right, top) with right > left and top > bottom, "
                                 f"got {tuple(bounds)}")
        if crs is not None and self.crs is not None:
            from rasterio.warp import transform_bounds

            left, bottom, right, top = transform_bounds(crs, self.crs, left, bottom, right, top, densify_pts=21)
        xs, ys = [left, right, right, left], [top, top, bottom, bottom]
        inverse = ~self.transform
        cols, rows = zip(*(inverse @ (x, y) for x, y in zip(xs, ys, strict=True)), strict=True)
        c0, c1 = max(0, int(np.floor(min(cols) + 1e-9))), min(self.width, int(np.ceil(max(cols) - 1e-9)))
        r0, r1 = max(0, int(np.floor(min(rows) + 1e-9))), min(self.height, int(np.ceil(max(rows) - 1e-9)))
        if c1 <= c0 or r1 <= r0:
            left0, bottom0, right0, top0 = self.bounds
            raise UserInputError(
                f"bounds {tuple(round(v, 6) for v in bounds)} do not overlap the grid "
                f"(x {left0:.6g}..{right0:.6g}, y {bottom0:.6g}..{top0:.6g})"
            )
        return Grid(self.crs, self.transform @ Affine.translation(c0, r0), c1 - c0, r1 - r0)

    def describe(self) -> str:
        """One line: size, pixel size, CRS."""
        if self.crs is None:
            return f"{self.width}x{self.height} px (no CRS: pixel coordinates)"
        from ..crs import to_pyproj

        pcrs = to_pyproj(self.crs)
        epsg = pcrs.to_epsg()
        name = f"EPSG:{epsg}" if epsg else pcrs.name
        size_x, size_y = self.pixel_size()
        return f"{self.width}x{self.height} px of {size_x:.6g} x {size_y:.6g} {pcrs.axis_info[0].unit_name}, {name}"


def open_dataset(path):
    """``rasterio.open(path)`` for reading, with one-line errors (missing file, folder, not a raster)."""
    import warnings
    from pathlib import Path

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    from ..errors import RasterPathError

    path = Path(path)
    if not path.exists():
        raise RasterPathError(f"raster not found: {path}")
    if path.is_dir():
        raise UserInputError(f"expected a raster file, got a folder: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path)
    except RasterioError as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserInputError(f"cannot read {path.name}: not a raster GDAL can open ({reason})") from None


def _identity():
    from affine import Affine

    return Affine.identity()
