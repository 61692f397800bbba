"""Grids of two dates: a match is used as is, a shifted grid is resampled onto the reference."""

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from helpers.change.align import aligned_path, describe_difference, grid_of, read_on_grid
from helpers.errors import UserInputError


def write(path, data, origin=(500000.0, 4500000.0), res=10.0, crs="EPSG:32618"):
    profile = dict(driver="GTiff", width=data.shape[1], height=data.shape[0], count=1, dtype="float32",
                   crs=crs, transform=from_origin(*origin, res, res), nodata=np.nan)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype(np.float32), 1)
    return path


@pytest.fixture
def ramp():
    return np.add.outer(np.arange(20.0), np.arange(30.0) * 100)  # value = row + 100 * col


def test_a_matching_grid_is_used_as_is(tmp_path, ramp):
    a, b = write(tmp_path / "a.tif", ramp), write(tmp_path / "b.tif", ramp * 2)
    assert describe_difference(grid_of(a), grid_of(b)) is None
    assert aligned_path(b, a, tmp_path / "work") == b
    assert not (tmp_path / "work").exists()


def test_a_grid_shifted_by_one_pixel_is_resampled_onto_the_reference(tmp_path, ramp):
    a = write(tmp_path / "a.tif", ramp)
    b = write(tmp_path / "b.tif", ramp, origin=(500010.0, 4500000.0))  # one column to the east
    text = describe_difference(grid_of(a), grid_of(b))
    assert "origin shifted by (+10, +0)" in text and "1.00 pixel" in text
    data, valid = read_on_grid(b, a)
    assert data.shape == (1, 20, 30)
    # reference column c is column c - 1 of b; the first column is outside b: nodata
    assert not valid[:, 0].any() and valid[:, 1:].all()
    assert np.allclose(data[0, :, 1:], ramp[:, :-1])


def test_rasters_that_do_not_overlap_are_refused(tmp_path, ramp):
    a = write(tmp_path / "a.tif", ramp)
    far = write(tmp_path / "far.tif", ramp, origin=(600000.0, 4500000.0))
    with pytest.raises(UserInputError, match="does not overlap"):
        aligned_path(far, a, tmp_path)


def test_other_crs_and_size_are_described_and_handled(tmp_path, ramp):
    a = write(tmp_path / "a.tif", ramp)
    b = write(tmp_path / "b.tif", ramp[:-1], origin=(500000.0, 4500000.0))
    assert "30 x 19 pixels instead of 30 x 20" in describe_difference(grid_of(a), grid_of(b))
    c = write(tmp_path / "c.tif", ramp, origin=(-75.0, 40.65), res=0.0001, crs="EPSG:4326")
    assert "CRS" in describe_difference(grid_of(a), grid_of(c))


def test_plain_images_cannot_be_matched(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "plain.png")
    with pytest.raises(UserInputError, match="no georeferencing"):
        grid_of(tmp_path / "plain.png")
