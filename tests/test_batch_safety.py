"""``segment`` under hostile use (issue 11): never overwrite an input, never mix outputs, nothing left behind."""

import errno
import json
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from helpers import batch
from helpers.cli import main
from helpers.data import write_synthetic_geotiff

FAST = ["--model", "conventional", "--tile", "96", "--overlap", "16", "--quiet"]


def _run(*args) -> int:
    return main(["segment", *map(str, args)])


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in err, err
    return lines[0]


def _snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def scene(tmp_path):
    return write_synthetic_geotiff(tmp_path / "in" / "a.tif", kind="buildings", size=(96, 112), seed=1)


def test_out_equal_to_the_input_folder_is_refused_and_touches_nothing(scene, tmp_path, capsys):
    folder = scene.parent
    (folder / "a_labels.tif").write_bytes(b"an input the outputs would overwrite")
    before = _snapshot(folder)
    assert _run(folder, "--out", folder, *FAST) == 2
    assert "is the input folder" in _one_error_line(capsys.readouterr().err)
    assert _snapshot(folder) == before


def test_an_output_that_would_land_on_an_input_file_is_refused(scene, tmp_path, capsys):
    other = tmp_path / "elsewhere"
    other.mkdir()
    victim = other / "a_labels.tif"
    victim.write_bytes(b"keep me")
    # the input a.tif is named explicitly, and so is the file its label raster would replace
    assert _run(scene, victim, "--out", other, *FAST) == 2
    assert "would overwrite the input" in _one_error_line(capsys.readouterr().err)
    assert victim.read_bytes() == b"keep me"


def test_out_inside_the_input_tree_is_skipped_on_every_rerun(scene, tmp_path, capsys):
    folder = scene.parent
    out = folder / "results"
    for _ in range(3):
        assert _run(folder, "--out", out, "--formats", "tif,png", *FAST) == 0
    text = capsys.readouterr().out
    assert "0 done, 1 skipped" in text.splitlines()[-1] or "1 skipped" in text
    assert sorted(p.name for p in out.rglob("*_labels.tif")) == ["a_labels.tif"]  # not 1 -> 3 -> 7 inputs


def test_an_earlier_output_tree_inside_the_inputs_is_not_an_input(scene, tmp_path, capsys):
    folder = scene.parent
    assert _run(folder, "--out", folder / "run1", "--formats", "tif", *FAST) == 0
    capsys.readouterr()
    assert _run(folder, "--out", folder / "run2", "--formats", "tif", *FAST) == 0
    assert "1 done" in capsys.readouterr().out
    assert [p.relative_to(folder / "run2").as_posix() for p in (folder / "run2").rglob("*_labels.tif")] == [
        "a_labels.tif"]


def test_same_name_in_two_folders_gets_two_output_sets(tmp_path, capsys):
    one = write_synthetic_geotiff(tmp_path / "x" / "scene.tif", kind="buildings", size=(96, 96), seed=1)
    two = write_synthetic_geotiff(tmp_path / "y" / "scene.tif", kind="water", size=(96, 96), seed=2)
    out = tmp_path / "out"
    assert _run(one, two, "--out", out, "--formats", "tif", *FAST) == 0
    assert "2 done" in capsys.readouterr().out
    markers = sorted(out.rglob("*.done.json"))
    assert len(markers) == 2
    assert {json.loads(m.read_text())["input"] for m in markers} == {str(one.resolve()), str(two.resolve())}
    assert _run(one, two, "--out", out, "--formats", "tif", *FAST) == 0
    assert "0 done, 2 skipped" in capsys.readouterr().out  # a re-run redoes nothing


def test_same_name_from_two_input_folders_is_mirrored_apart(tmp_path, capsys):
    write_synthetic_geotiff(tmp_path / "p" / "a.tif", kind="buildings", size=(96, 96), seed=1)
    write_synthetic_geotiff(tmp_path / "q" / "a.tif", kind="water", size=(96, 96), seed=2)
    out = tmp_path / "out"
    assert _run(tmp_path / "p", tmp_path / "q", "--out", out, "--formats", "tif", *FAST) == 0
    assert len(list(out.rglob("*_labels.tif"))) == 2


def test_endings_differing_only_in_case_are_refused(tmp_path, capsys):
    first = write_synthetic_geotiff(tmp_path / "in" / "scene.tif", kind="buildings", size=(96, 96), seed=1)
    second = first.with_name("scene.TIF")
    second.write_bytes(first.read_bytes())
    out = tmp_path / "out"
    assert _run(tmp_path / "in", "--out", out, *FAST) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "scene.tif" in line and "scene.TIF" in line and "share" in line
    assert not out.exists()


def test_a_png_and_a_tif_of_the_same_stem_keep_apart(tmp_path, capsys):
    write_synthetic_geotiff(tmp_path / "in" / "a.tif", kind="buildings", size=(96, 96), seed=1)
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(tmp_path / "in" / "a.png")
    out = tmp_path / "out"
    assert _run(tmp_path / "in", "--out", out, "--formats", "tif", *FAST) == 0
    assert sorted(p.name for p in out.glob("*_labels.tif")) == ["a_png_labels.tif", "a_tif_labels.tif"]


def test_empty_input_or_out_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_synthetic_geotiff(tmp_path / "cwd.tif", kind="buildings", size=(64, 64), seed=1)
    assert _run("", "--out", tmp_path / "out", *FAST) == 2
    assert "empty" in _one_error_line(capsys.readouterr().err)
    assert _run(tmp_path / "cwd.tif", "--out", "", *FAST) == 2
    assert "empty" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_fewer_formats_on_rerun_remove_the_stale_files(scene, tmp_path, capsys):
    out = tmp_path / "out"
    assert _run(scene, "--out", out, "--formats", "gpkg,geojson,tif,png", *FAST) == 0
    assert (out / "a.geojson").exists()
    assert _run(scene, "--out", out, "--formats", "gpkg", "--param", "method=slic", *FAST) == 0
    assert sorted(p.name for p in out.iterdir() if p.name != "gallery.png" and not p.name.startswith(".")) == [
        "a.done.json", "a.gpkg"]


def test_a_failed_rerun_leaves_no_final_named_output(scene, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert _run(scene, "--out", out, "--formats", "tif,gpkg,png", *FAST) == 0
    real = batch.write_png

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(batch, "write_png", disk_full)
    assert _run(scene, "--out", out, "--formats", "tif,gpkg,png", "--force", *FAST) == 1
    text = capsys.readouterr().out
    assert "disk full writing" in text and "a_overlay.png" in text
    assert not [p for p in out.iterdir() if p.name.startswith("a")]
    monkeypatch.setattr(batch, "write_png", real)


def test_disk_full_in_the_geopackage_writer_is_one_line(scene, tmp_path, monkeypatch, capsys):
    import pyogrio

    def full(*args, **kwargs):
        raise pyogrio.errors.FeatureError("sqlite3_exec(INSERT INTO \"a\" ...) failed: database or disk is full")

    monkeypatch.setattr(pyogrio, "write_dataframe", full)
    out = tmp_path / "out"
    assert _run(scene, "--out", out, "--formats", "tif,gpkg", *FAST) == 1
    text = capsys.readouterr().out
    assert f"disk full writing {out / 'a.gpkg'}" in text and "sqlite3_exec" not in text
    assert not (out / "a_labels.tif").exists() and not (out / "a.gpkg").exists()


@pytest.mark.parametrize("stem", ["-x", "#1", "(a)", "$a", "+a", "~a", "!a", "gpkg_a", "sqlite_a", "new\nline"])
def test_stems_geopackage_rejects_as_layer_names_still_write(tmp_path, stem, capsys):
    src = write_synthetic_geotiff(tmp_path / "in" / f"{stem}.tif", kind="buildings", size=(64, 64), seed=1)
    out = tmp_path / "out"
    for _ in range(2):  # and again on a re-run
        assert _run(src, "--out", out, "--formats", "gpkg", "--force", *FAST) == 0, capsys.readouterr()
    gpkg = next(out.glob("*.gpkg"))
    with sqlite3.connect(gpkg) as db:  # (pyogrio cannot open paths holding "!")
        (layer,), = db.execute("SELECT table_name FROM gpkg_contents").fetchall()
    assert layer[0].isalnum() or layer[0] == "_"
    assert "\n" not in layer and not layer.lower().startswith(("gpkg_", "sqlite_"))


def test_a_second_run_into_the_same_out_is_refused_while_the_first_holds_it(scene, tmp_path, capsys):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from helpers.atomic import output_lock\n"
         "with output_lock(sys.argv[1], 'segment'):\n print('locked', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert _run(scene, "--out", out, *FAST) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert "another sam-rs run" in line and str(holder.pid) in line
    finally:
        holder.kill()
        holder.wait()
    assert _run(scene, "--out", out, *FAST) == 0  # a killed holder's lock is free again


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temp_files_of_killed_runs_are_cleaned_on_the_next_start(scene, tmp_path, capsys):
    from helpers.atomic import temp_prefix

    out = tmp_path / "out"
    out.mkdir()
    # what a SIGKILL during atomic_output leaves: a hidden temp file named after its (now dead) writer
    stale = out / f"{temp_prefix('a_labels', pid=_dead_pid())}abcd.tif"
    stale.write_bytes(b"half")
    stale_dir = out / f"{temp_prefix('a', pid=_dead_pid())}shp"
    stale_dir.mkdir()
    (stale_dir / "a.shp").write_bytes(b"half")
    alive = out / f"{temp_prefix('b_labels', pid=os.getpid())}efgh.tif"  # a live writer's: kept
    alive.write_bytes(b"busy")
    foreign = out / ".notes.tmp-1234"  # not a sam-rs temp name: never touched
    foreign.write_bytes(b"mine")
    assert _run(scene, "--out", out, "--formats", "tif", *FAST) == 0
    assert not stale.exists() and not stale_dir.exists() and alive.exists() and foreign.exists()


def test_scratch_folders_of_killed_tiled_runs_are_cleaned(scene, tmp_path, monkeypatch):
    import tempfile

    from helpers.models import load_model
    from helpers.tiling import SCRATCH_PREFIX, segment_tiled

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    dead = tmp_path / "tmp" / f"{SCRATCH_PREFIX}{_dead_pid()}-killed"
    dead.mkdir()
    (dead / "work.tif").write_bytes(b"x" * 100)
    live = tmp_path / "tmp" / f"{SCRATCH_PREFIX}{os.getpid()}-running"
    live.mkdir()
    segment_tiled(load_model("conventional"), scene, tile_size=96, overlap=16, progress=False)
    assert not dead.exists() and live.exists()
    assert not [p for p in (tmp_path / "tmp").iterdir() if p != live]  # this run cleaned up after itself
