"""Coordinate reference systems: parsing, cached transformers and areas in square metres.

Every area sam-rs reports (polygon ``area_m2``, pixel areas for tuning, hillshade pixel sizes) comes
from here, so they agree:

* geographic CRSs (degrees) and Mercator CRSs (Web Mercator / EPSG:3857 inflates areas by
  1/cos²(latitude)) use geodesic areas on the CRS's own ellipsoid;
* other projected CRSs (UTM, State Plane in US feet, ...) use planar areas times the unit's metre
  factor squared.

Coordinates are always ``(x, y)`` = (easting, northing) or (longitude, latitude), the order of raster
transforms, whatever the CRS's official axis order.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .errors import one_line

__all__ = ["to_pyproj", "transformer", "area_method", "areas_m2", "pixel_area_m2", "pixel_size_m"]

_AREA_METHODS = ("auto", "planar", "geodesic")


def to_pyproj(crs):
    """A ``pyproj.CRS`` from anything naming one: ``"EPSG:4326"``, WKT, an EPSG int, rasterio/pyproj CRS.

    Raises:
        ValueError: one line naming the input when it is not a CRS.
    """
    from pyproj import CRS

    if isinstance(crs, CRS):
        return crs
    if hasattr(crs, "to_wkt"):  # rasterio.crs.CRS
        crs = crs.to_wkt()
    try:
        return CRS.from_user_input(crs)
    except Exception as error:  # pyproj raises CRSError with a multi-line message: keep its first line
        raise ValueError(f"unknown crs {crs!r}: {one_line(error, with_type=False)}") from None


@lru_cache(maxsize=32)
def _transformer(src_wkt: str, dst_wkt: str):
    from pyproj import Transformer

    return Transformer.from_crs(src_wkt, dst_wkt, always_xy=True)


def transformer(src, dst):
    """A cached ``pyproj.Transformer`` from ``src`` to ``dst`` taking and giving ``(x, y)`` (always_xy)."""
    return _transformer(to_pyproj(src).to_wkt(), to_pyproj(dst).to_wkt())


def area_method(crs) -> str:
    """``"geodesic"`` for geographic and (non-transverse) Mercator CRSs, ``"planar"`` otherwise."""
    pcrs = to_pyproj(crs)
    if pcrs.is_geographic:
        return "geodesic"
    operation = pcrs.coordinate_operation
    method = (operation.method_name if operation else "").lower()
    # Mercator's scale grows as 1/cos(latitude): its planar areas are too large by 1/cos² away from the
    # equator (x2.2 at 48°N). Transverse Mercator (UTM) is conformal near its meridian: planar is right.
    if "mercator" in method and "transverse" not in method:
        return "geodesic"
    return "planar"


def areas_m2(geometries, crs, method: str = "auto") -> np.ndarray:
    """Area in square metres of each geometry; NaN where unknown.

    Args:
        geometries: sequence of shapely geometries in ``crs`` map coordinates (``None`` -> NaN).
        crs: the CRS of the coordinates (anything :func:`to_pyproj` takes), or ``None`` for pixel
            coordinates of a plain image (every area is NaN).
        method: ``"auto"`` (see :func:`area_method`), ``"planar"`` (planar area times the unit's metre
            factor squared) or ``"geodesic"`` (on the CRS's ellipsoid).

    Returns:
        (N,) float64.
    """
    import shapely

    geometries = np.asarray(geometries, dtype=object).reshape(-1)
    areas = np.full(geometries.shape[0], np.nan)
    if method not in _AREA_METHODS:
        raise ValueError(f"area method must be 'auto', 'planar' or 'geodesic', got {method!r}")
    if crs is None or geometries.size == 0:
        return areas
    pcrs = to_pyproj(crs)
    method = area_method(pcrs) if method == "auto" else method
    present = np.array([g is not None for g in geometries], dtype=bool)
    geoms = geometries[present]
    if method == "planar":
        if pcrs.is_geographic:
            raise ValueError("planar areas in a geographic CRS are meaningless; use method='geodesic'")
        factor = pcrs.axis_info[0].unit_conversion_factor
        areas[present] = shapely.area(geoms) * factor**2
    else:
        areas[present] = _geodesic_areas(geoms, pcrs)
    return areas


def _to_lonlat(geoms: np.ndarray, pcrs) -> np.ndarray:
    import shapely

    if pcrs.is_geographic:
        return geoms
    to_lonlat = transformer(pcrs, pcrs.geodetic_crs)
    return shapely.transform(geoms, lambda xy: np.column_stack(to_lonlat.transform(xy[:, 0], xy[:, 1])))


def _geodesic_areas(geoms: np.ndarray, pcrs) -> np.ndarray:
    import shapely

    geod = pcrs.geodetic_crs.get_geod()  # the CRS's own ellipsoid (GRS80 for NAD83, WGS84, ...)
    # Counter-clockwise shells in lon/lat give positive areas and make holes subtract.
    geoms = shapely.orient_polygons(_to_lonlat(geoms, pcrs))
    return np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in geoms], dtype=np.float64)


def _pixel_polygon(transform, col: int, row: int):
    """The (col, row) pixel's footprint in map coordinates (a parallelogram for rotated transforms)."""
    import shapely
    from shapely.affinity import affine_transform

    return affine_transform(shapely.box(col, row, col + 1, row + 1), transform.to_shapely())


def _centre_pixel(shape) -> tuple[int, int]:
    height, width = shape if shape is not None else (1, 1)
    return int(width) // 2, int(height) // 2


def pixel_area_m2(transform, crs, shape: tuple[int, int] | None = None) -> float | None:
    """Ground area in m² of the centre pixel of a raster (``None`` without georeferencing).

    Args:
        transform: ``affine.Affine`` pixel corner (col, row) -> map (x, y), or ``None``.
        crs: the raster's CRS, or ``None``.
        shape: (height, width) of the raster; ``None`` measures pixel (0, 0).

    In geographic and Mercator CRSs the pixel area changes with latitude: this is the value at the
    centre (use :func:`areas_m2` on the polygons for exact per-object areas).
    """
    if crs is None or transform is None:
        return None
    col, row = _centre_pixel(shape)
    return float(areas_m2([_pixel_polygon(transform, col, row)], crs)[0])


def pixel_size_m(transform, crs, shape: tuple[int, int] | None = None) -> tuple[float, float]:
    """Ground width and height in metres of the centre pixel (along its column and row edges).

    Args: as :func:`pixel_area_m2`. Without a CRS the transform's units are returned unchanged.
    """
    col, row = _centre_pixel(shape)
    origin, right, below = (transform @ corner for corner in ((col, row), (col + 1, row), (col, row + 1)))
    if crs is None or area_method(crs) == "planar":
        factor = 1.0 if crs is None else to_pyproj(crs).axis_info[0].unit_conversion_factor
        return tuple(float(np.hypot(*np.subtract(corner, origin)) * factor) for corner in (right, below))
    pcrs = to_pyproj(crs)
    to_lonlat = transformer(pcrs, pcrs.geodetic_crs)
    lons, lats = to_lonlat.transform(*zip(origin, right, below))
    geod = pcrs.geodetic_crs.get_geod()
    width = geod.inv(lons[0], lats[0], lons[1], lats[1])[2]
    height = geod.inv(lons[0], lats[0], lons[2], lats[2])[2]
    return float(width), float(height)
