"""helpers.data: real sample scenes (facts checked against the files) and synthetic ground truth."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from helpers import data
from helpers.data import (
    make_synthetic_scene,
    sample_scene,
    sample_scene_path,
    samples,
    synthetic,
    write_synthetic_geotiff,
)
from helpers.raster import read_scene

ROOT = Path(__file__).resolve().parents[1]


# -- real sample scenes ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", data.list_sample_scenes())
def test_sample_scene_descriptions_match_the_files(name):
    """CRS, size, band count and dtype written in each one-line description are those of the file."""
    description = data.SAMPLE_SCENES[name]
    assert "\n" not in description
    with rasterio.open(sample_scene_path(name)) as ds:
        epsg = re.search(r"EPSG:(\d+)", description).group(1)
        assert ds.crs.to_epsg() == int(epsg)
        assert f"{ds.width}x{ds.height}" in description
        assert f"{ds.count} band" in description and ds.dtypes[0] in description
        if ds.nodata is not None and ds.dtypes[0] == "uint8":
            assert f"nodata {ds.nodata:g}" in description


def test_sample_scene_names_and_errors(tmp_path, monkeypatch):
    assert data.list_sample_scenes() == ["bahamas_rgb", "landsat", "landsat7", "co_elevation_roi", "srtm90"]
    with pytest.raises(ValueError, match="unknown sample scene 'nope'.*bahamas_rgb.*srtm90"):
        sample_scene_path("nope")
    # a prefetch folder wins over the wheel's copy
    copied = data.copy_sample_scenes(tmp_path / "prefetch", names=["bahamas_rgb"])
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "prefetch"))
    assert sample_scene_path("bahamas_rgb") == copied[0]
    assert sample_scene_path("landsat").is_file() and tmp_path not in sample_scene_path("landsat").parents


def test_sample_scenes_are_found_in_the_scenes_folders(tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("SAMRS_CACHE_DIR", str(tmp_path / "cache"))
    cached = data.copy_sample_scenes(tmp_path / "cache" / "scenes", names=["landsat7"])[0]
    assert sample_scene_path("landsat7") == cached  # prefetch's layout: cache_dir()/scenes
    in_data_dir = data.copy_sample_scenes(tmp_path / "data" / "scenes", names=["landsat7"])[0]
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "data"))
    assert sample_scene_path("landsat7") == in_data_dir  # $SAMRS_DATA_DIR wins over the cache


def test_copy_sample_scenes_replaces_a_truncated_copy_and_leaves_nothing_on_failure(tmp_path, monkeypatch):
    dest = tmp_path / "scenes"
    dest.mkdir()
    (dest / "bahamas_rgb.tif").write_bytes(b"truncated")
    (copied,) = data.copy_sample_scenes(dest, names=["bahamas_rgb"])
    assert copied.read_bytes() == samples._wheel_data_dir().joinpath("bahamas_rgb.tif").read_bytes()

    def failing_copy(source, target):
        Path(target).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(samples.shutil, "copyfile", failing_copy)
    with pytest.raises(OSError, match="disk full"):
        data.copy_sample_scenes(dest, names=["landsat"])
    assert sorted(p.name for p in dest.iterdir()) == ["bahamas_rgb.tif"]


def test_bahamas_passes_through_with_its_nodata_mask():
    scene = sample_scene("bahamas_rgb")
    with rasterio.open(sample_scene_path("bahamas_rgb")) as ds:
        raw = np.moveaxis(ds.read(), 0, -1)
        mask = ds.dataset_mask() > 0
    assert scene.name == "bahamas_rgb" and scene.crs == "EPSG:32618"
    assert np.array_equal(scene.valid, mask) and 0.5 < mask.mean() < 0.9
    assert np.array_equal(scene.image[mask], raw[mask])  # 8-bit RGB unchanged


def test_landsat_default_is_stretched_true_colour_and_composites_work():
    scene = sample_scene("landsat")
    assert scene.meta["bands"] == [3, 2, 1] and scene.image.shape == (1482, 1489, 3)
    assert scene.image.max() == 255  # stretched: the raw 8-bit bands stop at ~140
    swir = sample_scene("landsat", bands=data.LANDSAT_COMPOSITES["swir"])
    assert swir.meta["bands"] == [7, 4, 2]


def test_dem_sample_is_hillshaded_grey():
    scene = sample_scene("co_elevation_roi")
    assert scene.meta.get("hillshade") and scene.image.shape == (633, 1007, 3)
    assert np.array_equal(scene.image[..., 0], scene.image[..., 2]) and scene.image.std() > 20
    plain = sample_scene("co_elevation_roi", hillshade=False)
    assert "hillshade" not in plain.meta and not np.array_equal(plain.image, scene.image)


def test_hillshade_lights_slopes_facing_the_sun():
    # A slope faces downhill: terrain rising to the east faces west, towards the default north-west sun.
    cols = np.arange(50, dtype=float)
    facing_west = np.tile(cols, (50, 1))
    facing_east = np.tile(-cols, (50, 1))
    facing_north = np.tile(cols[:, None], (1, 50))  # rows grow southwards: rising to the south faces north
    flat = np.zeros((50, 50))
    lit, dark, north, level = (data.hillshade(e, 1.0, 1.0).mean() for e in (facing_west, facing_east, facing_north, flat))
    assert lit > level > dark and north > level
    assert level == pytest.approx(np.sin(np.radians(45)))
    with_hole = facing_west.copy()
    with_hole[10, 10] = np.nan
    shaded = data.hillshade(with_hole, 1.0, 1.0)
    assert np.isnan(shaded[10, 10]) and np.isfinite(np.delete(shaded.ravel(), 10 * 50 + 10)).all()


# -- synthetic scenes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", data.SYNTHETIC_KINDS)
def test_synthetic_scene_has_ground_truth_and_georeferencing(kind):
    scene, labels = make_synthetic_scene(kind, size=(200, 300), seed=3)
    assert scene.image.shape == (200, 300, 3) and scene.image.dtype == np.uint8
    assert labels.shape == (200, 300) and labels.dtype == np.uint32
    ids = np.unique(labels)
    assert ids[0] == 0 and len(ids) > 1 and ids.max() == scene.meta["n_objects"]
    assert scene.crs == "EPSG:32618" and scene.transform.a == data.DEFAULT_RESOLUTION[kind]
    # objects differ from their surroundings: per-object mean colour is far from the background mean
    grey = scene.image.astype(float).mean(axis=2)
    background = grey[labels == 0].mean() if (labels == 0).any() else None
    if background is not None:
        contrasts = [abs(grey[labels == i].mean() - background) for i in ids[1:]]
        assert np.median(contrasts) > 15


def test_synthetic_scene_is_deterministic_per_seed():
    a, la = make_synthetic_scene("buildings", size=(128, 128), seed=7)
    b, lb = make_synthetic_scene("buildings", size=(128, 128), seed=7)
    c, lc = make_synthetic_scene("buildings", size=(128, 128), seed=8)
    assert np.array_equal(a.image, b.image) and np.array_equal(la, lb)
    assert not np.array_equal(la, lc)


def test_objects_are_placed_exactly_where_asked():
    objects = [
        (10, 20, 30, 50),  # pixel XYXY rectangle: cols 10..29, rows 20..49
        {"polygon": [(60, 60), (90, 60), (60, 90)], "value": (250, 0, 0)},  # triangle
        data.rectangle(95, 0, 128, 10),  # crosses the right edge: clipped
    ]
    scene, labels = make_synthetic_scene("buildings", size=(100, 120), objects=objects, speckle=False)
    expected = np.zeros((100, 120), np.uint32)
    expected[20:50, 10:30] = 1
    assert np.array_equal(labels == 1, expected == 1)
    assert (labels == 2).sum() == pytest.approx(30 * 30 / 2, rel=0.08)
    assert np.abs(scene.image[labels == 2].mean(axis=0) - (250, 0, 0)).max() < 15
    assert np.array_equal(np.argwhere(labels == 3).min(axis=0), [0, 95]) and (labels == 3).sum() == 10 * 25
    with pytest.raises(ValueError, match="x0 < x1"):
        make_synthetic_scene(objects=[(5, 5, 5, 9)])


def test_sar_speckle_is_multiplicative_gamma():
    obj = [(0, 0, 1, 1)]  # one tiny object: the rest is homogeneous land
    _, _ = make_synthetic_scene("sar", size=(64, 64), objects=obj)
    plan = synthetic._make_plan("sar", (256, 256), 0, obj, None, 0.0)
    power, _, _ = synthetic._render(plan, 0, 0, 256, 256)
    flat_plan = synthetic._make_plan("sar", (256, 256), 0, obj, False, 0.0)
    flat, _, _ = synthetic._render(flat_plan, 0, 0, 256, 256)
    ratio = power / flat
    assert ratio.mean() == pytest.approx(1.0, abs=0.03)
    assert ratio.var() == pytest.approx(1 / 4, rel=0.15)  # gamma with 4 looks: variance 1/L


def test_nodata_edge_masks_scene_and_labels():
    scene, labels = make_synthetic_scene("water", size=(128, 128), nodata_edge=0.2)
    assert not scene.valid[:, :12].any() and scene.valid[:, 60:].all()
    assert (labels[~scene.valid] == 0).all() and (scene.image[~scene.valid] == 0).all()
    with pytest.raises(ValueError, match="kind"):
        make_synthetic_scene("forest")
    with pytest.raises(ValueError, match="8x8"):
        make_synthetic_scene(size=(4, 4))


def test_geotiff_written_in_blocks_equals_the_in_memory_scene(tmp_path):
    kwargs = dict(kind="fields", size=(150, 170), seed=2, crs="EPSG:4326")
    scene, labels = make_synthetic_scene(**kwargs)
    labels_path = tmp_path / "f_labels.tif"
    path = write_synthetic_geotiff(tmp_path / "f.tif", labels_path=labels_path, window_size=37, **kwargs)
    with rasterio.open(path) as img, rasterio.open(tmp_path / "f_labels.tif") as lab:
        assert img.crs == scene.crs and img.transform == scene.transform and lab.transform == scene.transform
        assert np.array_equal(np.moveaxis(img.read(), 0, -1), scene.image)
        assert np.array_equal(lab.read(1), labels) and lab.dtypes[0] == "uint32" and lab.nodata == 0
    assert scene.transform.a == pytest.approx(10.0 / 111_320.0)  # 10 m in degrees for a geographic CRS


def test_multiband16_variant_needs_a_stretch_and_has_nodata(tmp_path):
    path = write_synthetic_geotiff(tmp_path / "ms.tif", "fields", size=(96, 96), variant="multiband16")
    with rasterio.open(path) as ds:
        assert ds.count == 4 and ds.dtypes[0] == "uint16" and ds.nodata == 0
        assert ds.descriptions == ("blue", "green", "red", "nir")
        values = ds.read(masked=True)
        assert values.min() >= 200 and values.max() > 255 and values.mask.any()
    scene = read_scene(path)
    assert scene.meta["bands"] == [3, 2, 1]  # red, green, blue found by description
    assert not scene.valid.all() and scene.image[scene.valid].max() == 255


def test_sar_power_variant_reads_back_as_db(tmp_path):
    path = write_synthetic_geotiff(tmp_path / "sar.tif", "sar", size=(192, 192),
                                   labels_path=tmp_path / "l.tif")
    with rasterio.open(path) as ds, rasterio.open(tmp_path / "l.tif") as lab:
        assert ds.dtypes[0] == "float32" and ds.nodata == 0 and ds.count == 1
        power, labels = ds.read(1), lab.read(1)
    scene = read_scene(path, sar=True)
    assert np.array_equal(scene.valid, power > 0)
    db = 10 * np.log10(power[power > 0])
    assert -16 < np.median(db) < -3  # land backscatter
    grey = scene.image[..., 0].astype(float)
    water = [i for i in np.unique(labels)[1:] if np.median(power[labels == i]) < 10 ** -1.7]
    land = grey[(labels == 0) & scene.valid].mean()
    assert water and all(grey[labels == i].mean() < land for i in water)
    with pytest.raises(ValueError, match="sar_power"):
        write_synthetic_geotiff(tmp_path / "x.tif", "buildings", variant="sar_power")


def test_fake_dataset_script_writes_small_files(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["make_fake_data.py", str(tmp_path / "fake"), "--size", "64", "64"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "data" / "make_fake_data.py"), run_name="__main__")
    assert exit_info.value.code == 0
    files = sorted(p for p in (tmp_path / "fake").rglob("*") if p.is_file())
    assert len(files) == 10 and sum(p.stat().st_size for p in files) < 500_000
    with rasterio.open(tmp_path / "fake" / "optical" / "nested" / "deeper" / "water.tif") as ds:
        assert ds.crs == "EPSG:32618" and ds.count == 3
