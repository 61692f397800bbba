"""helpers.raster: band choice, nodata/NaN/masks, scene-global stretch, SAR dB, windows, as_scene."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.transform import from_origin
from rasterio.windows import Window

from helpers import raster
from helpers.raster import open_raster, power_to_db, read_scene

TRANSFORM = from_origin(600_000.0, 5_000_000.0, 10.0, 10.0)


def write_tif(path, data, nodata=None, descriptions=None, crs="EPSG:32633", transform=TRANSFORM, mask=None):
    """Write (B,H,W) ``data`` as a GeoTIFF; ``mask`` (H,W bool) becomes an internal dataset mask."""
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    profile = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                   dtype=data.dtype.name, crs=crs, transform=transform, nodata=nodata)
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        if descriptions:
            dst.descriptions = descriptions
        if mask is not None:
            dst.write_mask(mask.astype(np.uint8) * 255)
    return path


def gradient(height=64, width=200, scale=50, dtype="uint16"):
    """Values increase left to right: a stretch computed per window would differ between windows."""
    row = (np.arange(width) * scale + 1000).astype(dtype)
    return np.broadcast_to(row, (height, width)).copy()


# -- reading -------------------------------------------------------------------------------------------


def test_uint8_rgb_passes_through_unchanged_unless_asked(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(40, 120, size=(3, 32, 48), dtype=np.uint8)
    path = write_tif(tmp_path / "rgb.tif", data)
    scene = read_scene(path)
    assert scene.image.dtype == np.uint8 and scene.image.shape == (32, 48, 3)
    assert np.array_equal(scene.image, np.moveaxis(data, 0, -1))
    assert scene.valid is None and scene.crs == "EPSG:32633" and scene.transform == TRANSFORM
    stretched = read_scene(path, stretch_uint8=True)
    assert stretched.image.max() == 255 and stretched.image.min() == 0


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32", "float64"])
def test_every_dtype_becomes_uint8_rgb(tmp_path, dtype):
    if dtype == "uint8":
        data = np.broadcast_to(np.arange(200, dtype="uint8"), (64, 200)).copy()
    else:
        offset = 0 if dtype == "uint16" else -3000  # negative values for the signed types
        data = (gradient(dtype="float64") + offset).astype(dtype)
    path = write_tif(tmp_path / f"{dtype}.tif", np.stack([data] * 3))
    scene = read_scene(path, stretch_uint8=True)
    assert scene.image.dtype == np.uint8 and scene.image.shape == (*data.shape, 3)
    assert scene.image.min() == 0 and scene.image.max() == 255
    assert np.all(np.diff(scene.image[0, :, 0].astype(int)) >= 0)  # monotone like the data


def test_stretch_is_scene_global_across_windows(tmp_path):
    data = gradient()
    path = write_tif(tmp_path / "gradient.tif", data)
    with open_raster(path, bands=1) as src:
        left = src.read_window(Window(0, 0, 100, 64))
        right = src.read_window(Window(100, 0, 100, 64))
        whole = src.read_scene()
        expected_low, expected_high = np.percentile(data, (2, 98))
        assert src.stats.low[0] == pytest.approx(expected_low)
        assert src.stats.high[0] == pytest.approx(expected_high)
    # the two halves are pieces of the whole, not each stretched to 0..255 on their own
    assert np.array_equal(np.concatenate([left.image, right.image], axis=1), whole.image)
    assert left.image.max() < 200 and right.image.min() > 55
    assert left.meta["stretch_low"] == right.meta["stretch_low"]


def test_window_has_its_own_transform_and_outside_parts_are_nodata(tmp_path):
    path = write_tif(tmp_path / "g.tif", gradient())
    with open_raster(path) as src:
        scene = src.read_window(Window(180, 50, 40, 30))  # hangs over the right and bottom edges
    assert scene.image.shape == (30, 40, 3)
    assert scene.transform == TRANSFORM @ rasterio.Affine.translation(180, 50)
    assert scene.valid[:14, :20].all() and not scene.valid[14:].any() and not scene.valid[:, 20:].any()
    assert (scene.image[~scene.valid] == 0).all()


def test_nodata_is_ignored_by_stats_and_zero_in_image(tmp_path):
    data = gradient()
    data[:, :50] = 0
    path = write_tif(tmp_path / "nodata.tif", data, nodata=0)
    scene = read_scene(path)
    assert not scene.valid[:, :50].any() and scene.valid[:, 50:].all()
    assert (scene.image[:, :50] == 0).all()
    assert scene.meta["stretch_low"][0] >= data[:, 50:].min()  # nodata 0 did not drag the low limit down
    # the same pixels as an explicit override on a file without nodata
    override = read_scene(write_tif(tmp_path / "plain.tif", data), nodata=0)
    assert np.array_equal(override.valid, scene.valid) and np.array_equal(override.image, scene.image)


def test_nodata_override_on_a_file_with_an_alpha_band(tmp_path):
    """Regression: the stats read is decimated (3-D out_shape); the alpha mask read must use (h, w)."""
    rgb = np.stack([gradient(), gradient(scale=30), gradient(scale=20)])
    rgb[:, :, :40] = 0  # nodata by the override
    alpha = np.full(rgb.shape[1:], 65535, np.uint16)
    alpha[:8] = 0  # transparent by the alpha band
    path = tmp_path / "rgba.tif"
    profile = dict(driver="GTiff", width=rgb.shape[2], height=rgb.shape[1], count=4, dtype="uint16",
                   crs="EPSG:32633", transform=TRANSFORM, photometric="RGB", alpha="YES")
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.concatenate([rgb, alpha[None]]))
    with open_raster(path, bands=[1, 2, 3], nodata=0, stats_max_size=50) as src:
        assert src.stats.sample_shape[1] < src.width  # the statistics came from a decimated read
        scene = src.read_scene()
    expected = alpha > 0
    expected[:, :40] = False
    assert np.array_equal(scene.valid, expected)


def test_nodata_pixel_needs_all_bands_at_nodata(tmp_path):
    data = np.full((3, 8, 8), 100, np.uint8)
    data[1, 0, 0] = 0  # black in one band only: still data (GDAL dataset-mask rule)
    data[:, 7, 7] = 0
    scene = read_scene(write_tif(tmp_path / "rgb0.tif", data, nodata=0))
    assert scene.valid[0, 0] and not scene.valid[7, 7] and scene.valid.sum() == 63


def test_nan_pixels_are_invalid_and_stats_finite(tmp_path):
    data = gradient(dtype="float32")
    data[10:20, 10:20] = np.nan
    with open_raster(write_tif(tmp_path / "nan.tif", data)) as src:
        scene = src.read_scene()
        assert np.isfinite(src.stats.low).all() and np.isfinite(src.stats.high).all()
    assert not scene.valid[10:20, 10:20].any() and scene.valid.sum() == data.size - 100
    assert (scene.image[10:20, 10:20] == 0).all()


def test_internal_mask_is_honoured(tmp_path):
    data = gradient()
    mask = np.ones(data.shape, bool)
    mask[:, -30:] = False
    scene = read_scene(write_tif(tmp_path / "masked.tif", data, mask=mask))
    assert np.array_equal(scene.valid, mask)


def test_band_selection_by_index_description_and_default(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.integers(100, 4000, size=(4, 16, 16)).astype("uint16")
    path = write_tif(tmp_path / "bgrn.tif", data, descriptions=("blue", "green", "red", "nir"))
    by_index = read_scene(path, bands=[3, 2, 1])
    assert by_index.meta["bands"] == [3, 2, 1]
    for choice in (("red", "green", "blue"), "3,2,1", "RED,Green,blue", None):
        assert np.array_equal(read_scene(path, bands=choice).image, by_index.image), choice
    nir = read_scene(path, bands="nir")
    assert nir.meta["bands"] == [4] and np.array_equal(nir.image[..., 0], nir.image[..., 2])


@pytest.mark.parametrize(
    "bands, message",
    [(9, "out of range"), ("swir", "not found.*blue"), ([1, 2], "1 band"), ("0,1,2", "out of range")],
)
def test_bad_band_choice_is_one_line_value_error(tmp_path, bands, message):
    names = ("blue", "green", "red", "nir")
    path = write_tif(tmp_path / "b.tif", np.ones((4, 8, 8), "uint16"), descriptions=names)
    with pytest.raises(ValueError, match=message) as info:
        read_scene(path, bands=bands)
    assert "\n" not in str(info.value)


def test_bad_paths_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="not found") as info:
        read_scene(tmp_path / "missing.tif")
    assert isinstance(info.value, FileNotFoundError)
    (tmp_path / "text.tif").write_text("hello")
    with pytest.raises(ValueError, match="not a raster") as info:
        read_scene(tmp_path / "text.tif")
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="folder"):
        read_scene(tmp_path)


def test_png_and_jpeg_read_without_crs(tmp_path):
    rows, cols = np.mgrid[0:20, 0:30]
    image = np.stack([rows * 12, cols * 8, 255 - cols * 8], axis=-1).astype(np.uint8)  # smooth: JPEG-friendly
    Image.fromarray(image).save(tmp_path / "x.png")
    Image.fromarray(image).save(tmp_path / "x.jpg", quality=95)
    png = read_scene(tmp_path / "x.png")
    assert np.array_equal(png.image, image) and png.crs is None and png.transform is None
    jpg = read_scene(tmp_path / "x.jpg")
    assert jpg.image.shape == image.shape and jpg.crs is None
    assert np.abs(jpg.image.astype(int) - image).mean() < 8


def test_single_band_becomes_grey_rgb(tmp_path):
    scene = read_scene(write_tif(tmp_path / "dem.tif", gradient(dtype="int16")))
    assert np.array_equal(scene.image[..., 0], scene.image[..., 1])
    assert np.array_equal(scene.image[..., 0], scene.image[..., 2])


# -- SAR ----------------------------------------------------------------------------------------------


def test_power_to_db_values():
    db = power_to_db(np.array([1.0, 10.0, 100.0, 0.001, 0.0, -1.0]))
    assert np.allclose(db[:4], [0.0, 10.0, 20.0, -30.0])
    assert np.isnan(db[4:]).all()


def test_sar_read_converts_to_db_clips_and_masks(tmp_path):
    power = np.array([[0.001, 0.01, 0.1, 1.0, 10.0, 1e-6, 0.0, 1000.0]], dtype=np.float32)
    path = write_tif(tmp_path / "sar.tif", np.repeat(power, 4, axis=0))
    scene = read_scene(path, sar=True, stretch=None, sar_db_range=(-30, 10))
    db = np.array([-30, -20, -10, 0, 10, -30, 0, 10])  # 1e-6 and 1000 clip to the range
    expected = (db + 30) / 40 * 255
    got = scene.image[0, :, 0].astype(float)
    assert np.allclose(np.delete(got, 6), np.delete(expected, 6), atol=1)
    assert not scene.valid[:, 6].any() and scene.valid.sum() == 4 * 7  # power 0 has no dB value
    stretched = read_scene(path, sar=True)  # percentiles of the clipped dB values
    assert stretched.meta["stretch_low"][0] >= -30 and stretched.meta["stretch_high"][0] <= 10


# -- statistics from a decimated read -----------------------------------------------------------------


def test_stats_come_from_a_decimated_read_not_the_whole_scene(tmp_path, monkeypatch):
    """A 20k x 20k uint16 scene (sparse file, 800 MB if loaded) gets its stats from <= 1024 px a side."""
    path = tmp_path / "huge.tif"
    profile = dict(driver="GTiff", width=20_000, height=20_000, count=1, dtype="uint16", crs="EPSG:32633",
                   transform=TRANSFORM, tiled=True, blockxsize=512, blockysize=512, sparse_ok=True, nodata=0)
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, 20_000, 2048):  # a few written blocks; the rest stays sparse (nodata)
            dst.write(np.full((1, 512, 512), 1000 + row // 10, "uint16"), window=Window(row, row, 512, 512))
    calls = []
    real_read, real_masks = rasterio.io.DatasetReader.read, rasterio.io.DatasetReader.read_masks

    def spy(name, real):
        def wrapper(self, *args, **kwargs):
            calls.append((name, kwargs.get("out_shape"), kwargs.get("window")))
            return real(self, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", spy("read", real_read))
    monkeypatch.setattr(rasterio.io.DatasetReader, "read_masks", spy("read_masks", real_masks))
    tracemalloc.start()
    try:
        with open_raster(path) as src:
            stats = src.stats
            tile = src.read_window(Window(0, 0, 256, 256))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert max(stats.sample_shape) <= raster.STATS_MAX_SIZE
    stats_calls = [c for c in calls if c[1] is not None]
    assert stats_calls and all(max(shape[-2:]) <= raster.STATS_MAX_SIZE for _, shape, _ in stats_calls)
    assert all(c[1] is not None or c[2].width <= 256 for c in calls)  # nothing else read more than a tile
    assert peak < 100 * 2**20  # the full scene would be 800 MB
    assert 1000 <= stats.low[0] < stats.high[0] and tile.valid[:10, :10].all()


def test_check_bands_uses_the_first_readable_file(tmp_path):
    (tmp_path / "bad.tif").write_text("not a raster")
    good = write_tif(tmp_path / "b.tif", np.ones((4, 8, 8), "uint16"), descriptions=("blue", "green", "red", "nir"))
    assert raster.check_bands([tmp_path / "bad.tif", good], "nir,red,green") == [4, 3, 2]
    assert raster.check_bands([good], None) is None
    with pytest.raises(ValueError, match="band 7 is out of range: b.tif has 4 band"):
        raster.check_bands([tmp_path / "bad.tif", good], "7")
