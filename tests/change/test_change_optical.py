"""Optical dates: normalised differences, water masks (pseudo-references), reading onto a common grid."""

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from helpers.change.optical import NAIP_BANDS, normalized_difference, read_bands, water_index, water_mask
from helpers.errors import UserInputError


def test_normalized_difference_is_nan_where_undefined():
    out = normalized_difference(np.array([3.0, 0.0, 1.0]), np.array([1.0, 0.0, 1.0]))
    assert out[0] == pytest.approx(0.5) and np.isnan(out[1]) and out[2] == 0


def test_water_index_needs_its_bands():
    bands = {"green": np.array([[60.0, 40.0]]), "nir": np.array([[20.0, 120.0]])}
    assert water_index(bands, "ndwi")[0].tolist() == pytest.approx([0.5, -0.5])
    with pytest.raises(UserInputError, match="swir1"):
        water_index(bands, "mndwi")
    with pytest.raises(UserInputError, match="unknown water index"):
        water_index(bands, "ndvi")


def test_water_mask_by_otsu_or_value_and_small_regions_dropped():
    rng = np.random.default_rng(0)
    index = rng.normal(-0.3, 0.03, (40, 40))
    index[10:20, 10:20] = rng.normal(0.5, 0.05, (10, 10))
    index[30, 30] = 0.6  # one speck of water
    mask, threshold = water_mask(index)
    water = index > 0
    assert index[~water].max() < threshold < index[water].min() and mask.sum() == 101
    mask, threshold = water_mask(index, threshold=0.0, min_area=5)
    assert threshold == 0.0 and mask.sum() == 100


def test_read_bands_onto_another_grid(tmp_path):
    data = (np.arange(4 * 12 * 16).reshape(4, 12, 16) % 250 + 1).astype(np.uint8)
    profile = dict(driver="GTiff", width=16, height=12, count=4, dtype="uint8", crs="EPSG:26914", nodata=0)
    with rasterio.open(tmp_path / "a.tif", "w", transform=from_origin(485900, 5209250, 5, 5), **profile) as dst:
        dst.write(data)
    with rasterio.open(tmp_path / "b.tif", "w", transform=from_origin(485905, 5209250, 5, 5), **profile) as dst:
        dst.write(data)  # one pixel east
    own, valid, grid = read_bands(tmp_path / "a.tif", NAIP_BANDS)
    assert own["nir"].tolist() == data[3].astype(np.float32).tolist() and valid.all()
    moved, valid, _ = read_bands(tmp_path / "b.tif", NAIP_BANDS, reference=grid)
    assert not valid[:, 0].any() and np.array_equal(moved["red"][:, 1:], data[0][:, :-1].astype(np.float32))
    with pytest.raises(UserInputError, match="4 bands"):
        read_bands(tmp_path / "a.tif", {"swir1": 5})
