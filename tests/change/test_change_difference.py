"""The windowed log-ratio pass: equal to the whole-image computation, nodata, units, grids."""

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from helpers.change.difference import DifferenceImageSource, GridWarning, compute_log_ratio
from helpers.change.sar import boxcar, lee, log_ratio
from helpers.errors import UserInputError


@pytest.mark.parametrize("speckle_filter", ["lee:5", "boxcar:7", "none"])
def test_windows_with_a_halo_give_the_whole_image_result(sim_pair, pair_files, tmp_path, speckle_filter):
    pair, files = sim_pair(4, nodata_edge=0.15), pair_files(4, nodata_edge=0.15)
    lr = compute_log_ratio(files["before"], files["after"], tmp_path / "lr.tif", speckle_filter=speckle_filter,
                           looks=4.0, window_size=64)
    valid = pair.valid
    if speckle_filter == "lee:5":
        first, second = lee(pair.before, 5, 4.0, valid), lee(pair.after, 5, 4.0, valid)
    elif speckle_filter == "boxcar:7":
        first, second = boxcar(pair.before, 7, valid), boxcar(pair.after, 7, valid)
    else:
        first, second = pair.before, pair.after
    expected = log_ratio(first, second, valid=valid)
    got = lr.read()
    assert np.array_equal(np.isnan(got), ~valid)  # nodata where either date has none
    assert np.allclose(got[valid], expected[valid], atol=1e-4)
    assert lr.histogram.total == valid.sum() == lr.valid_pixels
    with rasterio.open(lr.path) as ds:
        assert ds.tags()["speckle_filter"] == speckle_filter and ds.tags()["units"] == "linear"


def test_db_input_gives_the_same_log_ratio_as_linear_input(pair_files, tmp_path):
    linear, db = pair_files(4), pair_files(4, units="db")
    a = compute_log_ratio(linear["before"], linear["after"], tmp_path / "a.tif", looks=4.0).read()
    b = compute_log_ratio(db["before"], db["after"], tmp_path / "b.tif", units="db", looks=4.0).read()
    assert np.allclose(a, b, atol=1e-3)


def test_wrong_units_are_refused_before_anything_is_written(pair_files, tmp_path):
    db = pair_files(4, units="db")
    with pytest.raises(UserInputError, match="looks like dB"):
        compute_log_ratio(db["before"], db["after"], tmp_path / "lr.tif", units="linear")
    assert not (tmp_path / "lr.tif").exists()


def test_lee_looks_are_estimated_when_not_given(pair_files, tmp_path):
    files = pair_files(4)
    lr = compute_log_ratio(files["before"], files["after"], tmp_path / "lr.tif")
    assert 3.0 < lr.looks < 4.5  # texture and edges make the estimate a little low


def test_a_second_date_on_another_grid_is_resampled_with_a_warning(pair_files, tmp_path):
    files = pair_files(4)
    with rasterio.open(files["after"]) as src:
        profile, data = src.profile, src.read(1)
        transform = src.transform
    profile.update(transform=transform @ transform.translation(2, 1), height=src.height - 3, width=src.width - 2)
    shifted = tmp_path / "after_shifted.tif"
    with rasterio.open(shifted, "w", **profile) as dst:  # starts 2 columns right, 1 row down; 3 rows shorter
        dst.write(data[1:-2, 2:], 1)
    with pytest.warns(GridWarning, match="origin shifted.*resampled"):
        lr = compute_log_ratio(files["before"], shifted, tmp_path / "lr.tif", speckle_filter="none")
    reference = compute_log_ratio(files["before"], files["after"], tmp_path / "ref.tif", speckle_filter="none")
    got, expected = lr.read(), reference.read()
    assert got.shape == expected.shape and lr.transform == reference.transform and lr.aligned
    assert np.isnan(got[:, :2]).all() and np.isnan(got[0]).all()  # outside the shifted file
    assert np.allclose(got[1:-2, 2:], expected[1:-2, 2:], atol=1e-3)


def test_pairs_without_common_valid_pixels_are_refused(sim_pair, tmp_path):
    pair = sim_pair(4, size=(96, 96))
    files = pair.write(tmp_path / "a")
    with rasterio.open(files["after"], "r+") as ds:
        ds.write(np.zeros((96, 96), np.float32), 1)  # all nodata
    with pytest.raises(UserInputError, match="no valid pixels"):
        compute_log_ratio(files["before"], files["after"], tmp_path / "lr.tif")


def test_difference_source_serves_georeferenced_8bit_tiles(pair_files, tmp_path):
    files = pair_files(4)
    lr = compute_log_ratio(files["before"], files["after"], tmp_path / "lr.tif", looks=4.0)
    with DifferenceImageSource(lr) as source:
        scene = source.read_window(Window(100, 50, 64, 32))
        assert scene.image.shape == (32, 64, 3) and scene.image.dtype == np.uint8
        assert scene.transform == lr.transform @ lr.transform.translation(100, 50)
        assert np.array_equal(scene.meta["log_ratio"], lr.read(Window(100, 50, 64, 32)), equal_nan=True)
        outside = source.read_window(Window(240, 240, 32, 32))  # half outside the raster: nodata
        assert not outside.valid[-10:, -10:].any() and (outside.image[-10:, -10:] == 0).all()
