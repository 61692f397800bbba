"""``preprocess`` and raster reading under hostile use (issue 11): inputs kept, georeferencing kept or refused."""

import importlib
import os
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.control import GroundControlPoint
from test_raster import gradient, write_tif

from helpers.atomic import temp_prefix
from helpers.cli import main
from helpers.preprocessing import preprocess
from helpers.raster import open_raster, read_scene

preprocess_module = importlib.import_module("helpers.preprocessing")


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in err, err
    return lines[0]


def _multiband(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(2).integers(0, 9000, size=(12, 24, 32)).astype("uint16")
    return write_tif(path, data)


def test_output_equal_to_the_input_file_is_refused(tmp_path, capsys):
    original = _multiband(tmp_path / "X.tif")
    before = original.read_bytes()
    assert main(["preprocess", str(original), str(original), "--quiet"]) == 2
    assert "would overwrite the input" in _one_error_line(capsys.readouterr().err)
    assert original.read_bytes() == before
    with rasterio.open(original) as ds:
        assert ds.count == 12 and ds.dtypes[0] == "uint16"


def test_output_folder_equal_to_the_input_folder_is_refused(tmp_path, capsys):
    original = _multiband(tmp_path / "in" / "a.tif")
    before = original.read_bytes()
    assert main(["preprocess", str(tmp_path / "in"), str(tmp_path / "in"), "--quiet"]) == 2
    assert "is the input folder" in _one_error_line(capsys.readouterr().err)
    assert original.read_bytes() == before


def test_same_stem_with_other_endings_gets_separate_outputs_and_case_only_is_refused(tmp_path, capsys):
    from PIL import Image

    _multiband(tmp_path / "in" / "a.tif")
    Image.fromarray(np.full((20, 20, 3), 90, np.uint8)).save(tmp_path / "in" / "a.png")
    summary = preprocess(tmp_path / "in", tmp_path / "out", progress=False)
    assert sorted(p.name for p in summary.written) == ["a_png.tif", "a_tif.tif"]
    (tmp_path / "in" / "a.TIF").write_bytes((tmp_path / "in" / "a.tif").read_bytes())
    assert main(["preprocess", str(tmp_path / "in"), str(tmp_path / "out2"), "--quiet"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "a.tif" in line and "a.TIF" in line
    assert not (tmp_path / "out2").exists()


def test_an_earlier_output_tree_inside_the_input_is_not_converted_again(tmp_path):
    _multiband(tmp_path / "in" / "a.tif")
    preprocess(tmp_path / "in", tmp_path / "in" / "run1", progress=False)
    second = preprocess(tmp_path / "in", tmp_path / "in" / "run2", progress=False)
    assert [p.relative_to(tmp_path / "in" / "run2").as_posix() for p in second.written] == ["a.tif"]


def test_empty_input_path_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _multiband(tmp_path / "cwd.tif")
    assert main(["preprocess", "", str(tmp_path / "out"), "--quiet"]) == 2
    assert "empty" in _one_error_line(capsys.readouterr().err)
    assert main(["preprocess", str(tmp_path / "cwd.tif"), "", "--quiet"]) == 2
    assert "empty" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "out").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["cwd.tif"]


def test_a_second_run_into_the_same_output_folder_is_refused(tmp_path, capsys):
    _multiband(tmp_path / "in" / "a.tif")
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from helpers.atomic import output_lock\n"
         "with output_lock(sys.argv[1], 'preprocess'):\n print('locked', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["preprocess", str(tmp_path / "in"), str(out), "--quiet"]) == 2
        assert "another sam-rs run" in _one_error_line(capsys.readouterr().err)
    finally:
        holder.kill()
        holder.wait()


def test_temp_files_of_a_killed_run_are_removed_on_the_next_start(tmp_path):
    _multiband(tmp_path / "in" / "a.tif")
    (tmp_path / "out").mkdir()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    stale = tmp_path / "out" / f"{temp_prefix('a', pid=child.pid)}x1y2.tif"
    stale.write_bytes(b"half a GeoTIFF")
    preprocess(tmp_path / "in", tmp_path / "out", progress=False)
    assert not stale.exists() and (tmp_path / "out" / "a.tif").exists()


def test_disk_full_is_one_line_and_leaves_no_output(tmp_path, monkeypatch, capsys):
    _multiband(tmp_path / "in" / "a.tif")

    def full(*args, **kwargs):
        raise rasterio.errors.RasterioIOError("a.tif: Write failed: No space left on device")

    monkeypatch.setattr(preprocess_module, "_output_block", full)
    assert main(["preprocess", str(tmp_path / "in"), str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"disk full writing {tmp_path / 'out' / 'a.tif'}" in err and "Write failed" not in err
    assert not (tmp_path / "out").exists()


# ---- georeferencing ------------------------------------------------------------------------------------
def _gcp_only(path):
    gcps = [GroundControlPoint(row=r, col=c, x=500000.0 + 10 * c, y=4100000.0 - 10 * r, z=0.0)
            for r, c in ((0, 0), (0, 40), (30, 0), (30, 40))]
    data = np.random.default_rng(1).integers(0, 255, size=(3, 30, 40)).astype("uint8")
    with rasterio.open(path, "w", driver="GTiff", width=40, height=30, count=3, dtype="uint8",
                       gcps=gcps, crs="EPSG:32610") as dst:
        dst.write(data)
    return path


def _transform_without_crs(path):
    data = np.random.default_rng(1).integers(0, 255, size=(3, 30, 40)).astype("uint8")
    with rasterio.open(path, "w", driver="GTiff", width=40, height=30, count=3, dtype="uint8",
                       transform=Affine(2.0, 0, 1000.0, 0, -2.0, 5000.0)) as dst:
        dst.write(data)
    return path


def test_preprocess_carries_ground_control_points_over(tmp_path):
    src = _gcp_only(tmp_path / "gcp.tif")
    preprocess(src, tmp_path / "out.tif", progress=False)
    with rasterio.open(src) as s, rasterio.open(tmp_path / "out.tif") as d:
        (sg, scrs), (dg, dcrs) = s.gcps, d.gcps
        assert dcrs == scrs and [(g.row, g.col, g.x, g.y) for g in dg] == [(g.row, g.col, g.x, g.y) for g in sg]


def test_preprocess_carries_a_transform_without_crs_over(tmp_path):
    src = _transform_without_crs(tmp_path / "local.tif")
    preprocess(src, tmp_path / "out.tif", progress=False)
    with rasterio.open(tmp_path / "out.tif") as d:
        assert d.transform == Affine(2.0, 0, 1000.0, 0, -2.0, 5000.0) and d.crs is None


@pytest.mark.parametrize("make, message", [(_gcp_only, "ground control points only"),
                                           (_transform_without_crs, "geotransform but no CRS")])
def test_segment_refuses_georeferencing_it_cannot_keep(tmp_path, capsys, make, message):
    src = make(tmp_path / "in.tif")
    code = main(["segment", str(src), "--out", str(tmp_path / "out"), "--model", "conventional", "--quiet",
                 "--tile", "64", "--overlap", "8"])
    out = capsys.readouterr().out
    assert code == 1 and message in out and "Traceback" not in out
    assert not list((tmp_path / "out").glob("in*")) if (tmp_path / "out").exists() else True


# ---- SAR and reading limits --------------------------------------------------------------------------
def _complex_slc(path):
    rng = np.random.default_rng(7)
    z = (rng.normal(size=(20, 24)) + 1j * rng.normal(size=(20, 24))).astype("complex64") * 0.1
    z[:, :12] = 1j * 0.5  # purely imaginary: its real part is 0, its power is not
    return write_tif(path, z), z


def test_complex_sar_uses_the_power_not_the_real_part(tmp_path):
    path, z = _complex_slc(tmp_path / "slc.tif")
    with open_raster(path, sar=True) as src:
        data, valid = src.read_raw()
    expected = np.clip(10 * np.log10(np.abs(z) ** 2), -30, 10)
    assert valid.all() and np.allclose(data[0], expected, atol=1e-4)


def test_complex_input_without_sar_is_refused(tmp_path, capsys):
    path, _ = _complex_slc(tmp_path / "slc.tif")
    assert main(["preprocess", str(path), str(tmp_path / "out.tif"), "--quiet"]) == 2
    assert "complex" in _one_error_line(capsys.readouterr().err)


def test_reversed_sar_db_range_is_refused(tmp_path, capsys):
    path = write_tif(tmp_path / "sar.tif", gradient(dtype="float32") / 1e4)
    assert main(["preprocess", str(path), str(tmp_path / "o.tif"), "--sar", "--sar-db-range", "10", "-30"]) == 2
    assert "low < high" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "o.tif").exists()


def test_stats_max_size_zero_is_one_line(tmp_path):
    path = write_tif(tmp_path / "g.tif", gradient())
    with pytest.raises(ValueError, match="stats_max_size must be") as info:
        read_scene(path, stats_max_size=0)
    assert "\n" not in str(info.value)


def test_a_huge_sparse_raster_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.tif"
    with rasterio.open(path, "w", driver="GTiff", width=100_000, height=100_000, count=3, dtype="uint8",
                       tiled=True, sparse_ok=True, crs="EPSG:32610",
                       transform=Affine(1, 0, 500000, 0, -1, 4200000)) as dst:
        dst.write(np.full((3, 16, 16), 7, np.uint8), window=rasterio.windows.Window(0, 0, 16, 16))
    from helpers.models import load_model

    model = load_model("conventional")
    with pytest.raises(ValueError, match="segment_tiled") as info:
        model.set_image(str(path))
    assert "100000x100000" in str(info.value) and "\n" not in str(info.value)
    assert path.stat().st_size < 10_000_000
