"""Stacks: dates from names, one grid (windows or reprojection), one stretch, nodata (helpers.timeseries.stack)."""

import datetime as dt

import numpy as np
import pytest
import rasterio
from affine import Affine

from helpers.errors import UserInputError
from helpers.raster import read_scene
from helpers.timeseries import Grid, open_stack


def write_raw(path, data, origin=(480000.0, 5200000.0), size=10.0, crs="EPSG:32614", nodata=None):
    """Write (B, H, W) ``data`` as a GeoTIFF with the given origin and pixel size."""
    bands, height, width = data.shape
    profile = dict(driver="GTiff", width=width, height=height, count=bands, dtype=data.dtype.name, crs=crs,
                   transform=Affine(size, 0, origin[0], 0, -size, origin[1]))
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def test_a_folder_becomes_dates_in_order_on_the_first_dates_grid(tmp_path, stack_writer):
    paths = stack_writer(tmp_path, dates=("20210702", "20190704", "20200711"))
    stack = open_stack(tmp_path)
    assert stack.labels == ["2019-07-04", "2020-07-11", "2021-07-02"]
    assert stack.dates[0].date == dt.date(2019, 7, 4)
    assert [p.name for p in stack.paths] == sorted(p.name for p in paths)
    with rasterio.open(stack.paths[0]) as first:
        assert stack.grid == Grid(first.crs, first.transform, first.width, first.height)
    assert not stack.reprojected and "same grid" in stack.describe()
    frame = stack[1]
    assert frame.image.shape == (96, 128, 3) and frame.image.dtype == np.uint8
    assert frame.crs == stack.crs and frame.transform == stack.transform and frame.name == "2020-07-11"
    with rasterio.open(stack.paths[1]) as src:  # 8-bit data on the same grid come through unchanged
        np.testing.assert_array_equal(frame.image, np.moveaxis(src.read([1, 2, 3]), 0, -1))


def test_dates_can_be_given_and_looked_up(tmp_path, stack_writer):
    stack_writer(tmp_path, dates=("a", "b", "c"), names=["x.tif", "y.tif", "z.tif"])
    stack = open_stack(sorted(tmp_path.glob("*.tif")), dates=["2015-06-01", "2009", dt.date(2012, 7, 31)])
    assert stack.labels == ["2009", "2012-07-31", "2015-06-01"]
    assert [p.name for p in stack.paths] == ["y.tif", "z.tif", "x.tif"]
    assert stack.index("2012") == 1 and stack.index(dt.date(2015, 6, 1)) == 2 and stack.index(-1) == 2
    with pytest.raises(UserInputError, match="no date 2020 in the stack"):
        stack.index(2020)
    with pytest.raises(UserInputError, match="2 dates given for 3 files"):
        open_stack(sorted(tmp_path.glob("*.tif")), dates=["2015", "2009"])


def test_a_whole_pixel_shift_is_read_as_a_window_without_resampling(tmp_path, stack_writer):
    stack_writer(tmp_path, shifts=[(0, 0), (10.0, 0), (0, 0)])  # the 2nd date starts one pixel east
    stack = open_stack(tmp_path)
    assert not stack.reprojected and "window at column -1, row 0" in stack.describe()
    with rasterio.open(stack.paths[1]) as src:
        own = src.read([1, 2, 3])
    frame = stack[1]
    np.testing.assert_array_equal(np.moveaxis(frame.image[:, 1:], -1, 0), own[:, :, :-1])
    assert not frame.valid[:, 0].any() and frame.valid[:, 1:].all()  # column 0 is outside that date
    assert (frame.image[:, 0] == 0).all()


def test_a_sub_pixel_shift_is_reprojected_onto_the_reference_grid_and_said(tmp_path, stack_writer, capsys):
    stack_writer(tmp_path, shifts=[(0, 0), (5.0, 0), (0, 0)], variant="multiband16")
    stack = open_stack(tmp_path, bands=["red", "green", "blue"])
    assert stack.reprojected == [1]
    assert "1 of 3 dates are not on the reference grid" in capsys.readouterr().out
    assert "reprojected (origin -0.50, +0.00 px off the grid" in stack.describe()
    frame = stack[1]
    assert frame.transform == stack.transform and frame.image.shape == (96, 128, 3)
    # bilinear: a reference pixel centre lies halfway between two centres of the shifted date
    data, valid = stack.read_raw(1)
    with rasterio.open(stack.paths[1]) as src:
        own = src.read([3, 2, 1]).astype(np.float32)
        own_valid = src.read_masks(1) > 0
    both = valid[:, 1:] & own_valid[:, :-1] & own_valid[:, 1:]
    expected = (own[:, :, :-1] + own[:, :, 1:]) / 2
    np.testing.assert_allclose(data[:, :, 1:][:, both], expected[:, both], rtol=0, atol=0.01)


def test_a_date_elsewhere_is_refused_in_one_line(tmp_path, stack_writer):
    stack_writer(tmp_path, shifts=[(0, 0), (50_000.0, 0), (0, 0)])
    with pytest.raises(UserInputError, match=r"scene_20200711.tif \(2020-07-11\) does not overlap") as info:
        open_stack(tmp_path)
    assert "\n" not in str(info.value)


def test_one_stretch_for_the_whole_stack_keeps_a_dark_year_dark(tmp_path):
    rng = np.random.default_rng(0)
    bright = rng.integers(800, 4000, (3, 64, 64)).astype(np.uint16)
    dark = (bright // 2).astype(np.uint16)  # the same place, half as bright (another season, a dry year)
    write_raw(tmp_path / "a_2019.tif", bright)
    write_raw(tmp_path / "b_2020.tif", dark)
    stack = open_stack(tmp_path)
    pooled = np.concatenate([bright.reshape(3, -1), dark.reshape(3, -1)], axis=1).astype(np.float32)
    np.testing.assert_allclose(stack.stats.low, np.percentile(pooled, 2, axis=1), rtol=1e-6)
    np.testing.assert_allclose(stack.stats.high, np.percentile(pooled, 98, axis=1), rtol=1e-6)
    one, two = stack[0].image.astype(float), stack[1].image.astype(float)
    assert one.mean() - two.mean() > 50  # the dark date stays dark
    per_date = [read_scene(p).image.astype(float).mean() for p in stack.paths]
    assert abs(per_date[0] - per_date[1]) < 5  # a per-date stretch would make them look alike
    assert "one stretch for all dates" in stack.describe()


def test_nodata_stays_nodata(tmp_path, stack_writer):
    stack_writer(tmp_path, variant="multiband16")  # a nodata wedge on the left edge
    stack = open_stack(tmp_path, bands="red,green,blue")
    frame = stack[0]
    with rasterio.open(stack.paths[0]) as src:
        file_valid = src.dataset_mask() > 0
    np.testing.assert_array_equal(frame.valid, file_valid)
    assert (frame.image[~frame.valid] == 0).all()


def test_a_reference_file_and_bounds_choose_the_grid(tmp_path, stack_writer):
    stack_writer(tmp_path / "dates")
    write_raw(tmp_path / "ref.tif", np.zeros((1, 20, 30), np.uint8), origin=(480105.0, 5199895.0), size=5.0)
    stack = open_stack(tmp_path / "dates", reference=tmp_path / "ref.tif", quiet=True)
    assert stack.grid == Grid.from_file(tmp_path / "ref.tif") and stack.reprojected == [0, 1, 2]
    assert stack[0].image.shape == (20, 30, 3)
    cropped = open_stack(tmp_path / "dates", bounds=(480200, 5199500, 480400, 5199800))
    assert cropped.shape == (30, 20) and not cropped.reprojected
    with rasterio.open(cropped.paths[2]) as src:
        own = src.read([1, 2, 3], window=((20, 50), (20, 40)))
    np.testing.assert_array_equal(np.moveaxis(cropped[2].image, -1, 0), own)


def test_bad_stacks_are_refused_in_one_line(tmp_path, stack_writer):
    stack_writer(tmp_path / "same", dates=("20190704", "20190704"), names=["a_20190704.tif", "b_20190704.tif"])
    with pytest.raises(UserInputError, match="have the same date 2019-07-04"):
        open_stack(tmp_path / "same")
    (tmp_path / "bands").mkdir()
    write_raw(tmp_path / "bands" / "x_2019.tif", np.ones((3, 8, 8), np.uint8))
    write_raw(tmp_path / "bands" / "x_2020.tif", np.ones((4, 8, 8), np.uint8))
    with pytest.raises(UserInputError, match="different numbers of bands"):
        open_stack(tmp_path / "bands")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserInputError, match="no rasters in"):
        open_stack(tmp_path / "empty")
    with pytest.raises(UserInputError, match="unknown option"):
        open_stack(tmp_path / "same", brightness=2)


def test_the_real_naip_decade_is_aligned_onto_the_2009_grid(real_data):
    paths = [real_data(f"naip_{year}") for year in (2009, 2010, 2012, 2014, 2015, 2016, 2017, 2018, 2019, 2020)]
    stack = open_stack(paths, quiet=True)
    assert stack.labels[0] == "2009-08-18" and len(stack) == 10
    assert stack.grid == Grid.from_file(paths[0]) and stack.shape == (724, 934)
    assert len(stack.reprojected) >= 8  # origins 1-3 m (0.2-0.6 px) off, one row fewer
    frame = stack["2010"]
    assert frame.image.shape == (724, 934, 3) and frame.transform == stack.transform
    assert frame.valid is not None and not frame.valid[-1].any()  # 2010 has 723 rows: the last is nodata
    assert frame.valid[:-2].mean() > 0.99
