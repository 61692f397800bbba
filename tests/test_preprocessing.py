"""helpers.preprocessing and ``python -m helpers preprocess``: files and folder trees -> 8-bit RGB GeoTIFFs."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import rasterio
from test_raster import gradient, write_tif

from helpers import raster
from helpers.cli.preprocess import register
from helpers.preprocessing import preprocess
from helpers.raster import read_scene


def test_preprocess_keeps_georeferencing_and_nodata(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.integers(300, 9000, size=(4, 70, 90)).astype("uint16")
    data[:, :, :10] = 0
    src_path = write_tif(tmp_path / "ms.tif", data, nodata=0, descriptions=("b", "g", "r", "n"),
                         crs="EPSG:3035")
    out = tmp_path / "out" / "ms_8bit.tif"
    summary = preprocess(src_path, out, bands="4,3,2", window_size=32)  # several windows per file
    assert summary.written == [out] and summary.ok
    with rasterio.open(src_path) as s, rasterio.open(out) as d:
        assert (d.crs, d.transform, d.width, d.height) == (s.crs, s.transform, s.width, s.height)
        assert d.count == 3 and d.dtypes == ("uint8",) * 3 and d.nodata == 0
        written = d.read()
        assert (d.dataset_mask()[:, :10] == 0).all() and (d.dataset_mask()[:, 10:] == 255).all()
    expected = np.moveaxis(read_scene(src_path, bands=[4, 3, 2]).image, -1, 0)
    assert (written[:, :, :10] == 0).all() and (written[:, :, 10:] >= 1).all()
    assert np.array_equal(written[:, :, 10:], np.maximum(expected[:, :, 10:], 1))
    assert not list((tmp_path / "out").glob(".*partial"))


def test_preprocess_mirrors_a_folder_tree_and_reports_bad_files(tmp_path, fake_dataset):
    files = fake_dataset(tmp_path / "in", size=(64, 64))
    summary = preprocess(tmp_path / "in", tmp_path / "out")
    rel = {p.relative_to(tmp_path / "out").as_posix() for p in summary.written}
    assert {"optical/buildings.tif", "optical/nested/deeper/water.tif", "plain/buildings.tif",
            "sar/sar_power.tif", "labels/water_labels.tif"} <= rel
    assert [p for p, _ in summary.failed] == [files["broken"]]
    assert "not a raster" in summary.failed[0][1] and "\n" not in summary.failed[0][1]
    mirrored = tmp_path / "out/optical/nested/deeper/water.tif"
    with rasterio.open(files["water"]) as s, rasterio.open(mirrored) as d:
        assert (d.crs, d.transform) == (s.crs, s.transform)
        assert np.array_equal(d.read(), s.read())  # uint8 RGB passes through unchanged
    flat = preprocess(tmp_path / "in" / "optical", tmp_path / "flat", recursive=False)
    assert [p.name for p in flat.written] == ["buildings.tif", "fields_multiband16.tif"]


def test_preprocess_single_bad_file_raises_and_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    (tmp_path / "bad.tif").write_text("nope")
    with pytest.raises(ValueError, match="not a raster"):
        preprocess(tmp_path / "bad.tif", tmp_path / "out")
    with pytest.raises(FileNotFoundError):
        preprocess(tmp_path / "missing", tmp_path / "out")
    path = write_tif(tmp_path / "g.tif", gradient())

    def boom(self, window):
        raise OSError("disk full")

    monkeypatch.setattr(raster.RasterSource, "read_window", boom)
    with pytest.raises(OSError):
        preprocess(path, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def _cli(argv):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_preprocess_exit_codes(tmp_path, capsys):
    data = np.random.default_rng(4).integers(0, 5000, size=(4, 20, 20)).astype("uint16")
    (tmp_path / "in").mkdir()
    path = write_tif(tmp_path / "in" / "a.tif", data)
    argv = ["preprocess", str(path), str(tmp_path / "o1"), "--bands", "4,3,2", "--stretch", "1", "99"]
    assert _cli(argv) == 0
    with rasterio.open(tmp_path / "o1" / "a.tif") as d:
        assert d.tags()["SAMRS_BANDS"] == "4,3,2" and d.count == 3
    (tmp_path / "in" / "broken.tif").write_text("x")
    assert _cli(["preprocess", str(tmp_path / "in"), str(tmp_path / "o2")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len([line for line in err if line.startswith("failed:")]) == 1
    assert (tmp_path / "o2" / "a.tif").exists()


def test_interrupted_folder_run_leaves_no_new_empty_folders(tmp_path, monkeypatch):
    (tmp_path / "in" / "a" / "b").mkdir(parents=True)
    write_tif(tmp_path / "in" / "a" / "b" / "g.tif", gradient())
    (tmp_path / "out" / "kept").mkdir(parents=True)  # folders that existed before are not touched

    def interrupted(self, window):
        raise KeyboardInterrupt

    monkeypatch.setattr(raster.RasterSource, "read_window", interrupted)
    with pytest.raises(KeyboardInterrupt):
        preprocess(tmp_path / "in", tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["kept"]


def test_preprocess_input_and_output_mistakes_are_one_line_errors(tmp_path, capsys):
    from helpers.cli import main

    (tmp_path / "empty" / "sub").mkdir(parents=True)
    path = write_tif(tmp_path / "g.tif", gradient())
    for argv, message in (
        (["preprocess", str(tmp_path / "empty"), str(tmp_path / "o")], "no rasters found under"),
        (["preprocess", str(tmp_path / "empty"), str(tmp_path / "o"), "--no-recursive"], "no rasters found directly in"),
        (["preprocess", str(path), str(tmp_path / "o" / "x.png")], "must end in .tif/.tiff"),
        (["preprocess", str(path), str(tmp_path / "o"), "--bands", "1,2"], "give 1 band (grey) or 3 bands"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and message in err and "\n" not in err, err
        assert not (tmp_path / "o").exists()
    assert main(["preprocess", str(path), str(tmp_path / "o" / "plain"), "--quiet"]) == 0  # no ending: a folder
    assert (tmp_path / "o" / "plain" / "g.tif").is_file()


def test_undecodable_pixel_data_is_a_one_line_reason(tmp_path, garble_first_block):
    rng = np.random.default_rng(5)
    path = tmp_path / "in" / "deep" / "garbled.tif"
    path.parent.mkdir(parents=True)
    profile = dict(driver="GTiff", width=64, height=64, count=1, dtype="uint16", tiled=True, blockxsize=32,
                   blockysize=32, compress="deflate")
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(rng.integers(0, 5000, size=(1, 64, 64)).astype("uint16"))
    garble_first_block(path)
    with pytest.raises(ValueError, match="garbled.tif: not a readable raster, corrupt or truncated") as info:
        read_scene(path)
    assert "previous exception" not in str(info.value) and "\n" not in str(info.value)
    summary = preprocess(tmp_path / "in", tmp_path / "out", progress=False)
    assert [p for p, _ in summary.failed] == [path] and "corrupt or truncated" in summary.failed[0][1]
    assert not (tmp_path / "out").exists()  # no empty folder left for the failed file
