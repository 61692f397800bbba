"""helpers.crs: CRS parsing, cached transformers, and areas that are true ground areas in every CRS."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio.crs
import shapely
from affine import Affine
from pyproj import Geod

from helpers.crs import area_method, areas_m2, pixel_area_m2, pixel_size_m, to_pyproj, transformer

LAT = 37.8  # San Francisco Bay, the landsat7 sample scene
UTM_10N = "EPSG:32610"
# An authalic sphere (same surface as WGS84): spherical formulas agree with the ellipsoid to ~0.5 %.
R_AUTHALIC = 6_371_007.2


def _utm_square(side_m: float = 1000.0):
    """A side_m square in UTM 10N near the central meridian (-123 deg) at latitude LAT."""
    x0, y0 = transformer("EPSG:4326", UTM_10N).transform(-123.0, LAT)
    return shapely.box(x0, y0, x0 + side_m, y0 + side_m)


def _reproject(geom, src, dst):
    to_dst = transformer(src, dst)
    dense = shapely.segmentize(geom, 10.0)  # follow the curved edges
    return shapely.transform(dense, lambda xy: np.column_stack(to_dst.transform(xy[:, 0], xy[:, 1])))


def test_utm_square_is_planar_and_agrees_with_geodesic():
    square = _utm_square()
    assert area_method(UTM_10N) == "planar"
    assert areas_m2([square], UTM_10N)[0] == pytest.approx(1e6, rel=1e-12)
    # UTM's scale factor is 0.9996 near the central meridian: the true area is ~0.08 % larger
    assert areas_m2([square], UTM_10N, method="geodesic")[0] == pytest.approx(1e6 / 0.9996**2, rel=2e-4)


def test_web_mercator_area_is_geodesic_not_planar():
    square = _reproject(_utm_square(), UTM_10N, "EPSG:3857")
    assert area_method("EPSG:3857") == "geodesic"
    true_area = areas_m2([square], "EPSG:3857")[0]
    assert true_area == pytest.approx(1e6 / 0.9996**2, rel=1e-3)
    # planar Mercator metres inflate areas by 1/cos^2(latitude): ~1.6x at 37.8 N
    planar = areas_m2([square], "EPSG:3857", method="planar")[0]
    assert planar / true_area == pytest.approx(1 / np.cos(np.radians(LAT)) ** 2, rel=5e-3)


def test_geographic_area_matches_the_spherical_band_formula():
    cell = shapely.box(10.0, LAT, 11.0, LAT + 1.0)  # one degree by one degree (lon, lat)
    sphere = R_AUTHALIC**2 * np.radians(1.0) * (np.sin(np.radians(LAT + 1)) - np.sin(np.radians(LAT)))
    assert area_method("EPSG:4326") == "geodesic"
    assert areas_m2([cell], "EPSG:4326")[0] == pytest.approx(sphere, rel=5e-3)
    with pytest.raises(ValueError, match="planar areas in a geographic CRS"):
        areas_m2([cell], "EPSG:4326", method="planar")


def test_geodesic_areas_use_the_crs_ellipsoid():
    cell = shapely.box(-100.0, 40.0, -99.0, 41.0)
    clarke = abs(Geod(ellps="clrk66").geometry_area_perimeter(shapely.orient_polygons(cell))[0])
    wgs84 = abs(Geod(ellps="WGS84").geometry_area_perimeter(shapely.orient_polygons(cell))[0])
    assert clarke != pytest.approx(wgs84, rel=1e-6)  # the test can tell the two apart
    assert areas_m2([cell], "EPSG:4267")[0] == pytest.approx(clarke, rel=1e-9)  # NAD27: Clarke 1866


def test_projected_units_are_converted_to_metres():
    us_foot = 1200 / 3937
    square = shapely.box(6_000_000, 2_100_000, 6_001_000, 2_101_000)  # 1000 ft in California zone 3 (ftUS)
    assert areas_m2([square], "EPSG:2227")[0] == pytest.approx((1000 * us_foot) ** 2, rel=1e-9)


def test_holes_none_and_empty_inputs():
    ring = shapely.box(0, 0, 1, 1).difference(shapely.box(0.25, 0.25, 0.75, 0.75))
    whole = areas_m2([shapely.box(0, 0, 1, 1)], "EPSG:4326")[0]
    assert areas_m2([ring], "EPSG:4326")[0] == pytest.approx(0.75 * whole, rel=1e-3)
    out = areas_m2([None, shapely.box(0, 0, 10, 10)], UTM_10N)
    assert np.isnan(out[0]) and out[1] == pytest.approx(100.0)
    assert np.isnan(areas_m2([shapely.box(0, 0, 1, 1)], None)).all()
    assert areas_m2([], UTM_10N).shape == (0,)
    with pytest.raises(ValueError, match="area method"):
        areas_m2([ring], UTM_10N, method="exact")


def test_to_pyproj_accepts_crs_objects_and_fails_in_one_line():
    assert to_pyproj(rasterio.crs.CRS.from_epsg(3857)).to_epsg() == 3857
    assert to_pyproj(4326).to_epsg() == 4326
    with pytest.raises(ValueError, match="unknown crs 'EPSG:999999'") as info:
        to_pyproj("EPSG:999999")
    assert "\n" not in str(info.value)


def test_transformer_is_cached_and_xy_ordered():
    assert transformer("EPSG:4326", "EPSG:3857") is transformer("EPSG:4326", "EPSG:3857")
    x, y = transformer("EPSG:4326", "EPSG:3857").transform(-122.0, LAT)  # lon first, whatever the CRS says
    assert x == pytest.approx(np.radians(-122.0) * 6378137.0) and y > 4e6


def test_pixel_area_projected_geographic_and_mercator():
    assert pixel_area_m2(Affine(10, 0, 500000, 0, -10, 4500000), "EPSG:32618") == pytest.approx(100.0)
    # 1 arc-second at the equator is ~30.9 m x 30.7 m
    equator = pixel_area_m2(Affine(1 / 3600, 0, 0, 0, -1 / 3600, 0.5 / 3600), "EPSG:4326")
    assert equator == pytest.approx(30.92 * 30.72, rel=0.01)
    # the same angle covers half the ground east-west at 60 N; ``shape`` picks the centre pixel
    north = pixel_area_m2(Affine(1 / 3600, 0, 0, 0, -1 / 3600, 60.0 + 50 / 3600), "EPSG:4326", shape=(100, 100))
    assert north == pytest.approx(equator / 2, rel=0.02)
    lat = np.radians(LAT)
    northing = 6378137.0 * np.log(np.tan(np.pi / 4 + lat / 2))
    mercator = pixel_area_m2(Affine(30, 0, -13_620_000, 0, -30, northing), "EPSG:3857")
    assert mercator == pytest.approx((30 * np.cos(lat)) ** 2, rel=0.01)  # not 900
    assert pixel_area_m2(None, None) is None and pixel_area_m2(Affine.identity(), None) is None


def test_pixel_size_in_metres():
    assert pixel_size_m(Affine(10, 0, 500000, 0, -10, 4500000), "EPSG:32618") == pytest.approx((10.0, 10.0))
    width, height = pixel_size_m(Affine(1 / 3600, 0, 0, 0, -1 / 3600, 60.0), "EPSG:4326")
    assert width == pytest.approx(height / 2, rel=0.02) and height == pytest.approx(30.9, rel=0.01)
    assert pixel_size_m(Affine(2, 0, 0, 0, -3, 0), None) == pytest.approx((2.0, 3.0))
