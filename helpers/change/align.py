"""Grids of two dates: check that they match, or put the second onto the first's grid.

Two images of one place from two dates are only comparable pixel by pixel when they share a grid: the
same CRS, the same pixel size, the same origin and the same size. Real time series often do not (NAIP
quarter quads from different years differ in origin by a few metres and in size by a row). Comparing
row/column indices of such images compares different ground: every edge (a field border, a pond shore)
then shows up as change. :func:`aligned_path` resamples the second image onto the first's grid (a
GDAL warped VRT: nothing is copied, windows are resampled as they are read).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserInputError

__all__ = ["Grid", "grid_of", "describe_difference", "aligned_path", "read_on_grid"]


@dataclass(frozen=True)
class Grid:
    """A raster grid: ``crs`` (rasterio CRS or ``None``), ``transform`` (Affine), ``width``, ``height`` (pixels)."""

    crs: object
    transform: object
    width: int
    height: int

    @property
    def pixel_size(self) -> float:
        return float(np.sqrt(abs(self.transform.determinant)))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        from rasterio.transform import array_bounds

        return tuple(float(v) for v in array_bounds(self.height, self.width, self.transform))

    def shifted(self, dx: float, dy: float) -> Grid:
        """The same grid moved by (``dx``, ``dy``) map units (east, north): to simulate misregistration."""
        from affine import Affine

        return Grid(self.crs, Affine.translation(dx, dy) @ self.transform, self.width, self.height)

    def matches(self, other: Grid, tolerance: float = 1e-3) -> bool:
        """Same CRS, same size, and transforms equal within ``tolerance`` pixels."""
        if (self.width, self.height) != (other.width, other.height) or self.crs != other.crs:
            return False
        a, b = np.array(self.transform[:6]), np.array(other.transform[:6])
        return bool(np.all(np.abs(a - b) <= tolerance * self.pixel_size))


def grid_of(path) -> Grid:
    """The :class:`Grid` of a raster file (one-line error when it has no georeferencing)."""
    import rasterio

    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"raster not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(path) as ds:
                grid = Grid(ds.crs, ds.transform, ds.width, ds.height)
    except rasterio.errors.RasterioIOError as exc:
        raise UserInputError(f"cannot read {path.name}: {str(exc).splitlines()[0]}") from None
    if grid.crs is None or grid.transform.is_identity:
        raise UserInputError(f"{path.name} has no georeferencing (CRS and transform): dates cannot be matched")
    return grid


def describe_difference(reference: Grid, other: Grid) -> str | None:
    """One line saying how ``other`` differs from ``reference`` (``None`` when they match)."""
    if reference.matches(other):
        return None
    parts = []
    if reference.crs != other.crs:
        parts.append(f"CRS {other.crs} instead of {reference.crs}")
    else:
        if abs(other.pixel_size - reference.pixel_size) > 1e-6 * reference.pixel_size:
            parts.append(f"pixel size {other.pixel_size:g} instead of {reference.pixel_size:g}")
        dx = other.transform.c - reference.transform.c
        dy = other.transform.f - reference.transform.f
        if abs(dx) > 1e-9 or abs(dy) > 1e-9:
            parts.append(f"origin shifted by ({dx:+.3g}, {dy:+.3g}) CRS units = "
                         f"{np.hypot(dx, dy) / reference.pixel_size:.2f} pixel")
    if (other.width, other.height) != (reference.width, reference.height):
        parts.append(f"{other.width} x {other.height} pixels instead of {reference.width} x {reference.height}")
    return "; ".join(parts) or "transform differs"


def _overlap_fraction(reference: Grid, other: Grid) -> float:
    from rasterio.warp import transform_bounds

    west, south, east, north = transform_bounds(other.crs, reference.crs, *other.bounds) \
        if other.crs != reference.crs else other.bounds
    rw, rs, re, rn = reference.bounds
    width, height = min(east, re) - max(west, rw), min(north, rn) - max(south, rs)
    if width <= 0 or height <= 0:
        return 0.0
    return float(width * height / ((re - rw) * (rn - rs)))


def aligned_path(path, reference, workdir, resampling: str = "bilinear", name: str | None = None) -> Path:
    """A raster of ``path`` on ``reference``'s grid: ``path`` itself when the grids match, else a warped VRT
    written into ``workdir`` (GDAL resamples windows as they are read; pixels outside ``path`` are nodata).

    Args:
        path: the raster to align (any CRS).
        reference: the reference raster path or its :class:`Grid`.
        workdir: folder for the VRT (it refers to ``path`` by absolute name; keep both while reading).
        resampling: ``"bilinear"`` (intensities, reflectances), ``"nearest"`` (classes, labels), ``"cubic"``...
        name: file name of the VRT (default ``<stem>_aligned.vrt``).

    Raises:
        UserInputError: no georeferencing, or the two rasters do not overlap.
    """
    import rasterio
    import rasterio.shutil
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    path = Path(path)
    ref = reference if isinstance(reference, Grid) else grid_of(reference)
    grid = grid_of(path)
    if ref.matches(grid):
        return path
    if _overlap_fraction(ref, grid) == 0:
        raise UserInputError(f"{path.name} does not overlap the reference grid at all: not the same place?")
    try:
        method = Resampling[resampling]
    except KeyError:
        raise UserInputError(f"unknown resampling {resampling!r}; e.g. bilinear, nearest, cubic, average") from None
    out = Path(workdir) / (name or f"{path.stem}_aligned.vrt")
    out.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path) as src:
        nodata = src.nodata
        if nodata is None:
            nodata = float("nan") if np.dtype(src.dtypes[0]).kind == "f" else 0
        with WarpedVRT(src, crs=ref.crs, transform=ref.transform, width=ref.width, height=ref.height,
                       resampling=method, src_nodata=src.nodata, nodata=nodata) as vrt:
            rasterio.shutil.copy(vrt, out, driver="VRT")
    return out


def read_on_grid(path, reference, bands=None, resampling: str = "bilinear") -> tuple[np.ndarray, np.ndarray]:
    """Read ``bands`` of ``path`` resampled onto ``reference``'s grid, in memory (small scenes).

    Args:
        path: raster to read.
        reference: reference raster path or :class:`Grid`.
        bands: 1-based band indexes (default all).
        resampling: as in :func:`aligned_path`.

    Returns:
        ``(data, valid)``: float32 (B, H, W) on the reference grid and (H, W) bool (``False`` where
        ``path`` has nodata or does not reach).
    """
    import tempfile

    import rasterio

    ref = reference if isinstance(reference, Grid) else grid_of(reference)
    with tempfile.TemporaryDirectory(prefix="samrs-align-") as tmp:
        source = aligned_path(path, ref, tmp, resampling=resampling)
        with rasterio.open(source) as ds:
            indexes = list(range(1, ds.count + 1)) if bands is None else [int(b) for b in bands]
            data = ds.read(indexes).astype(np.float32)
            with warnings.catch_warnings():  # 4-band files: nodata, not a guessed alpha band, masks pixels
                warnings.simplefilter("ignore", rasterio.errors.NodataShadowWarning)
                valid = (ds.read_masks(indexes) > 0).all(axis=0) & np.isfinite(data).all(axis=0)
    return data, valid
