"""Scenes for the app: the catalog of named scenes (pluggable providers) and uploaded files."""

import numpy as np
import pytest
import rasterio
from PIL import Image

from helpers.app.scenes import SceneCatalog, SceneProvider, describe_raster, read_upload
from helpers.data import list_sample_scenes, make_synthetic_scene, write_synthetic_geotiff
from helpers.errors import UserInputError
from helpers.raster import read_scene
from helpers.scene import Scene


def test_the_default_catalog_lists_synthetic_and_sample_scenes(catalog):
    choices = catalog.choices()
    assert choices[:3] == ["synthetic: buildings", "synthetic: fields", "synthetic: water"]
    assert [c.split(": ")[1] for c in choices if c.startswith("sample: ")] == list_sample_scenes()


def test_a_named_scene_loads_with_its_crs(catalog):
    scene = catalog.load("synthetic: buildings")
    expected, _ = make_synthetic_scene("buildings", size=(256, 256), seed=0)
    np.testing.assert_array_equal(scene.image, expected.image)
    assert scene.crs == expected.crs and scene.transform == expected.transform
    assert "EPSG:32618" in catalog.describe("synthetic: buildings")


def test_unknown_scene_names_the_choices(catalog):
    with pytest.raises(UserInputError, match="unknown scene 'sample: nowhere'; choose one of: synthetic: buildings"):
        catalog.load("sample: nowhere")


def test_a_provider_of_more_scenes_plugs_in():
    image = np.zeros((8, 8, 3), np.uint8)
    loaded = []

    def load(name):
        loaded.append(name)
        return Scene(image=image + len(name))

    catalog = SceneCatalog([SceneProvider("case study", lambda: ["naip_ponds", "lidar"], load, lambda n: f"about {n}")])
    assert catalog.choices() == ["case study: naip_ponds", "case study: lidar"]
    scene = catalog.load("case study: lidar")
    assert loaded == ["lidar"] and scene.image[0, 0, 0] == 5 and scene.name == "lidar"
    assert catalog.load("case study: lidar") is scene and loaded == ["lidar"]  # kept, not loaded again
    assert catalog.describe("case study: naip_ponds") == "about naip_ponds"
    with pytest.raises(ValueError, match="already in the catalog"):
        catalog.add(SceneProvider("case study", list, load))
    with pytest.raises(ValueError, match="without ': '"):
        catalog.add(SceneProvider("a: b", list, load))


@pytest.fixture(scope="module")
def multiband(tmp_path_factory):
    """A 4-band uint16 GeoTIFF (blue, green, red, nir; nodata wedge) in EPSG:32618."""
    return write_synthetic_geotiff(tmp_path_factory.mktemp("upload") / "fields.tif", "fields", size=(64, 80),
                                   variant="multiband16")


def test_an_uploaded_multiband_geotiff_uses_the_chosen_bands_and_the_package_stretch(multiband):
    info = describe_raster(multiband)
    assert info["count"] == 4 and info["dtype"] == "uint16" and info["crs"] == "EPSG:32618"
    scene = read_upload(multiband, bands="4,3,2")
    reference = read_scene(multiband, bands=[4, 3, 2])  # the package's scene-global stretch
    np.testing.assert_array_equal(scene.image, reference.image)
    np.testing.assert_array_equal(scene.valid, reference.valid)
    assert scene.meta["bands"] == [4, 3, 2] and scene.name == "fields"
    with rasterio.open(multiband) as ds:
        assert scene.crs == ds.crs and scene.transform == ds.transform
    default = read_upload(multiband)  # red, green, blue found by band description
    np.testing.assert_array_equal(default.image, read_scene(multiband).image)
    assert not np.array_equal(default.image, scene.image)


def test_upload_band_errors_name_the_bands(multiband):
    with pytest.raises(UserInputError, match="band 7 is out of range: fields.tif has 4 band"):
        read_upload(multiband, bands="7,3,2")


def test_a_plain_png_has_pixel_coordinates(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(path)
    scene = read_upload(path)
    assert scene.crs is None and scene.transform is None and scene.image.shape == (20, 30, 3)


def test_upload_limits_say_what_the_limit_is(multiband):
    size_mb = multiband.stat().st_size / 1e6
    with pytest.raises(UserInputError, match=rf"fields.tif is {size_mb:.3g} MB; the app takes files up to 0.01 MB"):
        read_upload(multiband, max_mb=0.01)
    with pytest.raises(UserInputError, match=r"fields.tif is 80x64 pixels \(0.00512 M\); the app takes up to 0.005 M"):
        read_upload(multiband, max_pixels=5000)
    assert read_upload(multiband, max_mb=size_mb * 1.01, max_pixels=80 * 64).shape == (64, 80)


def test_bad_uploads_are_one_line_errors(tmp_path, multiband, garble_first_block):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(UserInputError, match=r"unsupported file type '.txt'; upload a GeoTIFF, PNG or JPEG"):
        read_upload(text)
    junk = tmp_path / "junk.tif"
    junk.write_bytes(np.random.default_rng(1).integers(0, 255, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(UserInputError, match="cannot read junk.tif: not a raster GDAL can open") as info:
        read_upload(junk)
    assert "\n" not in str(info.value)
    broken = tmp_path / "broken.tif"
    broken.write_bytes(multiband.read_bytes())
    garble_first_block(broken)
    with pytest.raises(UserInputError, match="cannot read broken.tif: not a readable raster, corrupt or truncated"):
        read_upload(broken)


def test_complex_data_is_refused_with_its_type(tmp_path):
    path = tmp_path / "slc.tif"
    profile = dict(driver="GTiff", width=8, height=8, count=1, dtype="complex64", crs="EPSG:32618",
                   transform=rasterio.transform.from_origin(500000, 4500000, 10, 10))
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.ones((1, 8, 8), np.complex64))
    with pytest.raises(UserInputError, match="unsupported data type complex64"):
        read_upload(path)
