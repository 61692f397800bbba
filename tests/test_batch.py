"""Batch CLI: folder trees, every output format, bad files, resume, atomic outputs, prompts in any CRS."""

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from PIL import Image
from shapely.geometry import Point

from helpers import batch
from helpers.cli import main
from helpers.data import write_synthetic_geotiff

FAST = ["--model", "conventional", "--tile", "96", "--overlap", "16", "--quiet"]
ALL_FORMATS = "gpkg,geojson,shp,parquet,tif,png"


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "in"
    write_synthetic_geotiff(root / "a.tif", kind="buildings", size=(128, 160), seed=1)
    write_synthetic_geotiff(root / "sub" / "deeper" / "b.tif", kind="water", size=(100, 100), seed=2)
    (root / "sub" / "broken.tif").write_bytes(b"II*\x00 this is not really a GeoTIFF")
    (root / "notes.txt").write_text("not an image: ignored when walking folders")
    return root


def _run(*args) -> int:
    return main(["segment", *map(str, args)])


def test_folder_tree_all_formats_bad_file_reported_and_batch_goes_on(tree, tmp_path, capsys):
    out = tmp_path / "out"
    code = _run(tree, "--out", out, "--formats", ALL_FORMATS, *FAST)
    text = capsys.readouterr()
    assert code == 1  # one input failed
    assert "2 done, 0 skipped (already finished), 1 failed" in text.out
    failed_lines = [line for line in text.out.splitlines() if "failed:" in line]
    assert len(failed_lines) == 1 and "broken.tif" in failed_lines[0]
    for stem in (out / "a", out / "sub" / "deeper" / "b"):
        for ending in (".gpkg", ".geojson", ".shp", ".parquet", "_labels.tif", "_overlay.png", ".done.json"):
            assert stem.with_name(stem.name + ending).is_file(), f"missing {stem.name}{ending}"
    layer = gpd.read_file(out / "a.gpkg")
    with rasterio.open(out / "a_labels.tif") as ds, rasterio.open(tree / "a.tif") as src:
        labels = ds.read(1)
        assert ds.crs == src.crs and ds.transform == src.transform and ds.dtypes[0] == "uint32"
    # every labelled pixel belongs to a polygon of the same id (overlaps: the smaller object is on top)
    assert set(np.unique(labels)) - {0} <= set(layer["id"]) and layer["id"].is_unique
    assert layer.crs == src.crs and len(gpd.read_parquet(out / "a.parquet")) == len(layer)
    assert Image.open(out / "gallery.png").size[0] > 0
    assert not list(out.rglob(".*tmp*"))


def test_rerun_skips_finished_inputs(tree, tmp_path, capsys):
    out = tmp_path / "out"
    _run(tree / "a.tif", "--out", out, "--formats", "gpkg,png", *FAST)
    first = (out / "a.gpkg").stat().st_mtime_ns
    capsys.readouterr()
    assert _run(tree / "a.tif", "--out", out, "--formats", "gpkg,png", *FAST) == 0
    assert "0 done, 1 skipped" in capsys.readouterr().out
    assert (out / "a.gpkg").stat().st_mtime_ns == first
    # asking for another format means the input is not finished for this request
    assert _run(tree / "a.tif", "--out", out, "--formats", "gpkg,png,geojson", *FAST) == 0
    assert "1 done, 0 skipped" in capsys.readouterr().out


def test_killed_run_leaves_no_partial_output_and_resumes(tree, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    real = batch.write_vector

    def killed(gdf, path, layer=None):
        if path.suffix == ".geojson":
            raise KeyboardInterrupt  # the user pressed Ctrl-C in the middle of the outputs
        return real(gdf, path, layer=layer)

    monkeypatch.setattr(batch, "write_vector", killed)
    assert _run(tree / "a.tif", "--out", out, "--formats", "gpkg,geojson", *FAST) == 130
    assert not (out / "a.done.json").exists() and not (out / "a.geojson").exists()
    assert not list(out.glob(".*"))
    monkeypatch.setattr(batch, "write_vector", real)
    capsys.readouterr()
    assert _run(tree / "a.tif", "--out", out, "--formats", "gpkg,geojson", *FAST) == 0
    assert "1 done" in capsys.readouterr().out
    assert json.loads((out / "a.done.json").read_text())["outputs"]["geojson"] == "a.geojson"


def test_point_prompts_in_another_crs_and_missing_crs(tree, tmp_path, capsys):
    with rasterio.open(tree / "a.tif") as src:
        centre = src.xy(64, 80)
        crs = src.crs
    prompts = gpd.GeoDataFrame(geometry=[Point(centre)], crs=crs).to_crs("EPSG:4326")
    prompts.to_file(tmp_path / "points.geojson")
    plain = tmp_path / "plain"
    plain.mkdir()
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(plain / "c.png")
    out = tmp_path / "out"
    code = _run(tree / "a.tif", plain / "c.png", "--out", out, "--mode", "points", "--prompts",
                tmp_path / "points.geojson", "--formats", "gpkg", *FAST)
    text = capsys.readouterr().out
    assert code == 1 and "no CRS in this image" in text
    layer = gpd.read_file(out / "a.gpkg")
    assert len(layer) == 1 and layer["prompt_index"].tolist() == [0]


def test_bad_arguments_are_one_line_errors(tree, tmp_path, capsys):
    assert _run(tree, "--out", tmp_path / "o", "--formats", "gpkg,xls", *FAST) == 2
    assert "unknown --formats xls" in capsys.readouterr().err
    assert _run(tree, "--out", tmp_path / "o", "--mode", "points", *FAST) == 2
    summary = batch.segment_batch([tmp_path / "nothing_here", tree / "notes.txt"], tmp_path / "o2", model=None,
                                  progress=False, log=lambda line: None)
    assert summary.exit_code == 1 and len(summary.failed) == 2
