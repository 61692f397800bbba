"""Batches on Dask distributed (a LocalCluster of 2 process workers on 127.0.0.1, started once): the same
files, ids and geometries as the sequential run for a folder and for a scene split into tile tasks, one
model load per worker, a worker killed mid-run, a failing scene, resume, and the safety rules of a run in
one process (stale formats removed, no output of a failed input, the output lock)."""

import json
import os
import signal
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from PIL import Image
from shapely.geometry import Point

from helpers.atomic import output_lock
from helpers.batch import OUTPUT_MARKER, LazyModel, segment_batch
from helpers.cli import main
from helpers.data import write_synthetic_geotiff
from helpers.distributed import dask_client, model_loads, plugin_name

SMALL = dict(tile_size=96, overlap=16, formats=["gpkg", "tif", "png"], progress=False)
FASTSAM = dict(imgsz=128, max_det=20)  # load options: the set_image pass itself runs small on 2 cores


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2, dashboard="127.0.0.1:0", log=lambda line: None) as client:
        yield client


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    write_synthetic_geotiff(root / "a.tif", kind="buildings", size=(128, 160), seed=1)
    write_synthetic_geotiff(root / "sub" / "b.tif", kind="water", size=(100, 100), seed=2)
    write_synthetic_geotiff(root / "sub" / "c.tif", kind="fields", size=(120, 90), seed=3)
    (root / "sub" / "broken.tif").write_bytes(b"II*\x00 this is not really a GeoTIFF")
    return root


@pytest.fixture(scope="module")
def mosaic(tmp_path_factory):
    """One scene of 3 x 3 tiles of 96 px (tile starts 0, 80, 160)."""
    root = tmp_path_factory.mktemp("mosaic")
    write_synthetic_geotiff(root / "mosaic.tif", kind="buildings", size=(256, 256), seed=4)
    return root


@pytest.fixture(scope="module")
def strip(tmp_path_factory):
    """One scene of 1 x 2 tiles of 128 px sharing a 32 px seam (FastSAM is slow on 2 cores)."""
    root = tmp_path_factory.mktemp("strip")
    write_synthetic_geotiff(root / "strip.tif", kind="buildings", size=(128, 224), seed=5)
    return root


@pytest.fixture(scope="module")
def sequential(folder, tmp_path_factory):
    """The folder segmented here, one scene after the other: the reference."""
    out = tmp_path_factory.mktemp("sequential")
    summary = segment_batch([folder], out, LazyModel("conventional"), model_name="conventional", log=lambda s: None,
                            **SMALL)
    return out, summary


def output_files(root) -> set:
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()}


def assert_same_outputs(expected, actual, files=None):
    """Same files (or just ``files``, relative paths); same label rasters, layers (ids, attributes, exact
    geometries), pictures and markers."""
    if files is None:
        files = output_files(expected)
        assert files == output_files(actual)
    assert files, "nothing to compare"
    for rel in sorted(files):
        a, b = expected / rel, actual / rel
        if rel.name == OUTPUT_MARKER:
            assert a.read_text() == b.read_text(), rel
        elif rel.name.endswith(".done.json"):
            saved_a, saved_b = json.loads(a.read_text()), json.loads(b.read_text())
            assert {**saved_a, "seconds": 0} == {**saved_b, "seconds": 0}, rel
        elif rel.suffix == ".tif":
            with rasterio.open(a) as x, rasterio.open(b) as y:
                assert x.profile == y.profile and x.tags() == y.tags(), rel
                np.testing.assert_array_equal(x.read(), y.read(), err_msg=str(rel))
        elif rel.suffix == ".png":
            np.testing.assert_array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)), err_msg=str(rel))
        else:
            x, y = gpd.read_file(a), gpd.read_file(b)
            assert len(x) > 0 and x["id"].is_unique, rel
            pd.testing.assert_frame_equal(x.drop(columns="geometry"), y.drop(columns="geometry"))
            assert x.geometry.geom_equals_exact(y.geometry, tolerance=0).all(), rel


def test_a_folder_on_the_cluster_equals_the_sequential_run(client, folder, sequential, tmp_path, capsys):
    reference, summary = sequential
    assert len(summary.done) == 3 and len(summary.failed) == 1
    out = tmp_path / "out"
    # the command line, connected to the running cluster by its address
    code = main(["segment", str(folder), "--out", str(out), "--model", "conventional", "--tile", "96",
                 "--overlap", "16", "--formats", "gpkg,tif,png", "--quiet", "--dask", client.scheduler.address])
    text = capsys.readouterr()
    assert code == 1  # the broken file failed, the others are done
    assert "3 done, 0 skipped (already finished), 1 failed" in text.out
    failed = [line for line in text.out.splitlines() if "failed:" in line]
    assert failed == [f"  failed: {summary.failed[0][0]}: {summary.failed[0][1]}"]  # the sequential reason
    assert f"dask: scheduler {client.scheduler.address}, 2 workers, 2 threads; dashboard http://127.0.0.1:" in text.err
    assert_same_outputs(reference, out)
    loads = model_loads(client, plugin_name(LazyModel("conventional")))
    assert len(loads) == 2 and set(loads.values()) <= {0, 1} and sum(loads.values()) >= 1  # never once per task


@pytest.mark.parametrize("name, mode", [("fastsam_s", "everything"), ("conventional", "points")])
def test_a_scene_split_into_tile_tasks_equals_the_sequential_run(client, mosaic, strip, tmp_path, name, mode):
    if name == "fastsam_s":
        model, options = LazyModel(name, **FASTSAM), dict(SMALL, tile_size=128, overlap=32)
        mosaic, prompts = strip, None
    else:
        model, options = LazyModel(name), SMALL
        with rasterio.open(mosaic / "mosaic.tif") as src:  # some tiles get no prompt: skipped, no task
            points = [Point(src.xy(row, col)) for row, col in [(20, 30), (130, 200), (200, 60), (90, 90)]]
            prompts = gpd.GeoDataFrame({"label": [1, 1, 1, 0]}, geometry=points, crs=src.crs).to_crs("EPSG:4326")
    run = dict(mode=mode, prompts=prompts, log=lambda s: None, **options)
    here = segment_batch([mosaic], tmp_path / "here", model, **run)
    there = segment_batch([mosaic], tmp_path / "there", model, client=client, split_tiles=1, **run)
    assert len(here.done) == len(there.done) == 1 and here.masks == there.masks > 0
    assert_same_outputs(tmp_path / "here", tmp_path / "there")
    loads = model_loads(client, plugin_name(model))
    assert set(loads.values()) <= {0, 1} and sum(loads.values()) >= 1


def test_a_worker_killed_mid_run_is_replaced_and_nothing_is_duplicated(client, folder, mosaic, sequential, tmp_path):
    from distributed.diagnostics.plugin import WorkerPlugin

    flag = tmp_path / "killed-once"

    class KillOnce(WorkerPlugin):  # defined here: pickled by value to the workers
        name = "kill-once"

        def transition(self, key, start, finish, **kwargs):
            if finish == "executing" and str(key).startswith("_tile_task"):
                try:
                    os.close(os.open(flag, os.O_CREAT | os.O_EXCL))
                except FileExistsError:
                    return
                os.kill(os.getpid(), signal.SIGKILL)  # the worker dies in the middle of the run

    out = tmp_path / "out"
    client.register_plugin(KillOnce())
    try:
        summary = segment_batch([mosaic, folder], out, "conventional", model_name="conventional", client=client,
                                split_tiles=4, log=lambda s: None, **SMALL)
    finally:
        client.unregister_worker_plugin("kill-once")
    assert flag.exists(), "no worker was killed"
    assert len(summary.done) == len(set(summary.done)) == 4 and len(summary.failed) == 1
    here = tmp_path / "here"
    segment_batch([mosaic], here, "conventional", model_name="conventional", log=lambda s: None, **SMALL)
    reference = sequential[0]
    gallery = {Path("gallery.png")}
    mosaic_files, folder_files = output_files(here) - gallery, output_files(reference) - gallery
    assert output_files(out) == mosaic_files | folder_files | gallery  # no temporary file, nothing twice
    assert_same_outputs(here, out, mosaic_files)  # the scene whose tile was retried
    assert_same_outputs(reference, out, folder_files)
    client.wait_for_workers(2)  # the nanny restarted the killed worker


def test_resume_redoes_only_unfinished_scenes_and_submits_nothing_when_all_are_done(client, folder, tmp_path,
                                                                                      monkeypatch):
    out = tmp_path / "out"
    scenes = [folder / "a.tif", folder / "sub" / "b.tif", folder / "sub" / "c.tif"]  # the good ones
    run = dict(client=client, log=lambda s: None, **SMALL)
    first = segment_batch(scenes, out, "conventional", **run)
    assert len(first.done) == 3
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.gpkg")}
    (out / "b.done.json").unlink()  # as if the run had been killed before b was finished
    again = segment_batch(scenes, out, "conventional", **run)
    assert [p.name for p in again.done] == ["b.tif"] and len(again.skipped) == 2 and not again.failed
    assert [p.name for p, t in stamps.items() if p.stat().st_mtime_ns != t] == ["b.gpkg"]
    import helpers.distributed

    def no_model(*args):
        raise AssertionError("a model was sent to the workers with nothing left to do")

    monkeypatch.setattr(helpers.distributed, "register_model", no_model)
    rest = segment_batch(scenes, out, "conventional", **run)
    assert len(rest.skipped) == 3 and not rest.done


def test_the_cluster_run_keeps_the_safety_rules(client, folder, mosaic, tmp_path):
    """Stale formats removed, a failed input (here a large one, split into tile tasks) keeps no final-named
    output and fails for the sequential reason, and the output lock covers the run."""
    from affine import Affine

    bad = tmp_path / "in" / "nocrs.tif"  # a transform but no CRS: refused, its outputs would be misplaced
    bad.parent.mkdir()
    with rasterio.open(bad, "w", driver="GTiff", width=256, height=256, count=3, dtype="uint8",
                       transform=Affine(10, 0, 500_000, 0, -10, 4_000_000)) as dst:
        dst.write(np.full((3, 256, 256), 120, np.uint8))
    out = tmp_path / "out"
    scenes = [folder / "a.tif", mosaic / "mosaic.tif", bad]
    run = dict(model_name="conventional", log=lambda s: None, **{**SMALL, "formats": ["gpkg", "geojson", "tif", "png"]})
    here = segment_batch([bad], tmp_path / "here", "conventional", **run)
    out.mkdir()
    for stale in ("nocrs.gpkg", "nocrs_labels.tif"):  # left by some earlier run
        (out / stale).write_text("stale")
    first = segment_batch(scenes, out, "conventional", client=client, split_tiles=1, **run)
    assert len(first.done) == 2 and first.failed == here.failed  # same one-line reason
    assert not list(out.glob("nocrs*"))
    again = segment_batch(scenes, out, "conventional", client=client, split_tiles=1, force=True,
                          **{**run, "formats": ["gpkg"]})
    assert len(again.done) == 2
    assert sorted(p.name for p in out.iterdir() if p.suffix != ".png" and not p.name.startswith(".")) == [
        "a.done.json", "a.gpkg", "mosaic.done.json", "mosaic.gpkg"]
    with output_lock(out, "test"), pytest.raises(ValueError, match="another sam-rs run"):
        segment_batch(scenes, out, "conventional", client=client, split_tiles=1, force=True, **run)


def test_a_loaded_model_is_refused_with_a_client(client, folder, tmp_path):
    with pytest.raises(ValueError, match="registry name or LazyModel"):
        segment_batch([folder], tmp_path, LazyModel("conventional").load(), client=client, **SMALL)


def test_cluster_options_are_checked_before_anything_starts(folder, tmp_path, capsys, monkeypatch):
    import helpers.distributed

    monkeypatch.setattr(helpers.distributed, "CONNECT_TIMEOUT", "1s")
    base = ["segment", str(folder / "a.tif"), "--out", str(tmp_path / "out"), "--model", "conventional", "--quiet"]
    cases = [(["--workers", "2"], "--workers needs --dask"),
             (["--dask", "--workers", "0"], "--workers must be at least 1"),
             (["--dask", "--split-tiles", "0"], "--split-tiles must be at least 1"),
             (["--dask", "tcp://127.0.0.1:9", "--workers", "2"], "--workers sizes a local cluster only"),
             (["--dask", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler at tcp://127.0.0.1:9")]
    for extra, message in cases:
        assert main([*base, *extra]) == 2, extra
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], (extra, err)
    assert not (tmp_path / "out").exists()
    # outputs that would mix with the inputs are refused before the scheduler is even contacted
    inside = ["segment", str(folder), "--out", str(folder), "--model", "conventional", "--dask", "tcp://127.0.0.1:9"]
    assert main(inside) == 2
    assert "is the input folder" in capsys.readouterr().err
