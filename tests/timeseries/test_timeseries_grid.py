"""Grids and how they relate: windows without resampling, crops, footprints (helpers.timeseries.grid)."""

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from helpers.errors import UserInputError
from helpers.timeseries.grid import Grid

UTM = CRS.from_epsg(32614)
BASE = Grid(UTM, Affine(10, 0, 480000, 0, -10, 5200000), 128, 96)


def _window(window):
    return window.col_off, window.row_off, window.width, window.height


def shifted(dx=0.0, dy=0.0, width=128, height=96, size=10.0, crs=UTM):
    return Grid(crs, Affine(size, 0, 480000 + dx, 0, -size, 5200000 + dy), width, height)


def test_a_grid_is_a_window_of_itself_and_of_grids_a_whole_pixel_apart():
    assert _window(BASE.window_in(BASE)) == (0, 0, 128, 96)
    # the source starts 2 px east and 1 px north: the reference origin is at its column -2, row +1
    assert _window(BASE.window_in(shifted(dx=20, dy=10))) == (-2, 1, 128, 96)
    assert BASE.window_in(shifted(dx=20 + 1e-6)) is not None  # float noise of other software


@pytest.mark.parametrize("other", [
    shifted(dx=3.0),  # 0.3 px: NAIP dates are this far apart
    shifted(size=10.001),  # drifts 0.13 px across 128 px
    shifted(crs=CRS.from_epsg(32615)),
])
def test_sub_pixel_shifts_other_pixel_sizes_and_crss_need_resampling(other):
    assert BASE.window_in(other) is None


def test_offsets_are_in_source_pixels():
    assert BASE.offset_in(shifted(dx=3.0, dy=-5.0)) == pytest.approx((-0.3, -0.5))
    assert np.isnan(BASE.offset_in(shifted(crs=CRS.from_epsg(32615)))[0])


def test_a_crop_snaps_outwards_to_whole_pixels_and_keeps_the_pixels():
    crop = BASE.crop((480015, 5199500, 480101, 5199981))
    # x 480015..480101 touches columns 1.5..10.1 -> 1..10; y 5199981..5199500 rows 1.9..50 -> 1..49
    assert (crop.width, crop.height) == (10, 49)
    assert crop.transform == BASE.transform @ Affine.translation(1, 1)
    assert _window(crop.window_in(BASE)) == (1, 1, 10, 49) and _window(BASE.window_in(crop)) == (-1, -1, 128, 96)


def test_a_crop_in_lon_lat_covers_the_same_ground():
    from pyproj import Transformer

    to_lonlat = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    lon0, lat0 = to_lonlat.transform(480200, 5199600)
    lon1, lat1 = to_lonlat.transform(480400, 5199800)
    crop = BASE.crop((lon0, lat0, lon1, lat1), crs="EPSG:4326")
    left, bottom, right, top = crop.bounds
    assert left <= 480200 and right >= 480400 and bottom <= 5199600 and top >= 5199800
    assert crop.width <= 22 and crop.height <= 22  # a degree box reprojected is barely larger


def test_a_crop_outside_the_grid_is_one_line():
    with pytest.raises(UserInputError, match="do not overlap the grid") as info:
        BASE.crop((0, 0, 10, 10))
    assert "\n" not in str(info.value)


def test_overlap_fraction_of_footprints():
    assert BASE.overlap_fraction(BASE) == pytest.approx(1.0)
    assert BASE.overlap_fraction(shifted(dx=640)) == pytest.approx(0.5)
    assert BASE.overlap_fraction(shifted(dx=5000)) == 0.0


def test_the_grid_scene_converts_prompts_without_pixels():
    scene = BASE.scene()
    assert scene.shape == (96, 128) and scene.crs == UTM and scene.image.base is not None  # a view
    assert "10 x 10 metre, EPSG:32614" in BASE.describe()
