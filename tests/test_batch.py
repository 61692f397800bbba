"""Batch CLI: folder trees, every output format, bad files, resume, atomic outputs, prompts in any CRS."""

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from PIL import Image
from shapely.geometry import Point, box

from helpers import batch
from helpers.cli import main
from helpers.cli.segment import register
from helpers.data import write_synthetic_geotiff

FAST = ["--model", "conventional", "--tile", "96", "--overlap", "16", "--quiet"]


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


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if the model is loaded (argument checks and resume must not need it)."""
    import helpers.models

    def forbidden(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(helpers.models, "load_model", forbidden)


def _centre_points(tif, rows_cols, labels=None, crs="EPSG:4326"):
    with rasterio.open(tif) as src:
        points = [Point(src.xy(r, c)) for r, c in rows_cols]
        columns = {} if labels is None else {"label": labels}
        return gpd.GeoDataFrame(columns, geometry=points, crs=src.crs).to_crs(crs)


def test_folder_tree_all_formats_bad_file_reported_and_batch_goes_on(tree, tmp_path, capsys):
    out = tmp_path / "out"
    code = _run(tree, "--out", out, "--formats", "all", *FAST)
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
    assert not [p for p in out.glob(".*") if p.name not in (batch.OUTPUT_MARKER, ".samrs.lock")]
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


def test_other_weights_or_smoke_flag_mean_a_rerun(tree, tmp_path, monkeypatch, capsys):
    import helpers.models

    real_load = helpers.models.load_model

    def load_with_checkpoint(name, weights=None, **options):  # conventional needs no weights: pretend
        model = real_load(name, **options)
        model.checkpoint = weights
        return model

    monkeypatch.setattr(helpers.models, "load_model", load_with_checkpoint)
    first, second = tmp_path / "first.pth", tmp_path / "second.pth"
    first.write_bytes(b"weights one")
    second.write_bytes(b"weights two")
    out = tmp_path / "out"
    args = (tree / "a.tif", "--out", out, "--formats", "gpkg", *FAST)
    assert _run(*args, "--weights", first) == 0
    assert json.loads((out / "a.done.json").read_text())["weights"] == str(first.resolve())
    capsys.readouterr()
    assert _run(*args, "--weights", first) == 0
    assert "0 done, 1 skipped" in capsys.readouterr().out
    assert _run(*args, "--weights", second) == 0
    assert "1 done, 0 skipped" in capsys.readouterr().out
    second.write_bytes(b"weights 2.0")  # same path, same size, new content: re-run too
    assert _run(*args, "--weights", second) == 0
    assert "1 done, 0 skipped" in capsys.readouterr().out
    model = load_with_checkpoint("conventional", weights=second)
    model.smoke = True  # smoke results must never pass for real ones (nor the reverse)
    summary = batch.segment_batch([tree / "a.tif"], out, model, model_name="conventional", tile_size=96,
                                  overlap=16, formats=["gpkg"], progress=False, log=lambda line: None)
    assert len(summary.done) == 1


def test_prompts_fall_inside_a_rotated_scene_footprint():
    from types import SimpleNamespace

    from affine import Affine

    transform = Affine.translation(500_000, 4_000_000) * Affine.rotation(30) * Affine.scale(10, -10)
    source = SimpleNamespace(crs="EPSG:32618", transform=transform, width=100, height=50)
    corners = [(1, 1), (99, 1), (99, 49), (1, 49)]  # pixel positions just inside each corner
    inside = [transform @ corner for corner in corners]
    outside = [transform @ (50, -5), transform @ (105, 25)]
    prompts = gpd.GeoDataFrame(geometry=[Point(xy) for xy in inside + outside], crs="EPSG:32618")
    kept = batch._prompts_for_scene(prompts, "points", source)["points"]
    np.testing.assert_allclose(kept, inside)


@pytest.mark.parametrize("argv, message", [
    (["--tile", "0"], "tile_size must be at least 32"),
    (["--tile", "96", "--overlap", "60"], "overlap must be between 0 and"),
    (["--param", "foo=1"], "unknown --param foo for conventional; valid: method"),
    (["--param", "method=nope"], "unknown method 'nope'"),
    (["--bands", "9"], "band 9 is out of range: a.tif has 3 band"),
    (["--bands", "1,2"], "give 1 band (grey) or 3 bands"),
    (["--weights", "missing.pth"], "--weights file not found"),
    (["--model", "sam_vit_x"], "sam_vit_x"),
])
def test_argument_mistakes_fail_once_up_front(tree, tmp_path, capsys, no_model_load, argv, message):
    out = tmp_path / "out"
    code = _run(tree / "a.tif", tree / "sub", "--out", out, *FAST, *argv)  # later flags win
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and message in line
    assert not out.exists()


def test_sam_params_are_checked_against_the_amg_parameters(tree, tmp_path, capsys, no_model_load):
    common = (tree / "a.tif", "--out", tmp_path / "out", "--model", "sam_vit_b", "--quiet")
    assert _run(*common, "--param", "points_per_sid=16") == 2
    assert "unknown --param points_per_sid for sam_vit_b; valid: points_per_side" in capsys.readouterr().err
    assert _run(*common, "--param", "box_nms_thresh=2") == 2  # a value the AMG checker rejects
    assert "box_nms_thresh must be in [0, 1]" in _one_error_line(capsys.readouterr().err)
    assert _run(*common, "--param", "points_per_batch=null") == 2
    assert "points_per_batch" in _one_error_line(capsys.readouterr().err)
    points = _centre_points(tree / "a.tif", [(64, 80)])
    points.to_file(tmp_path / "p.geojson")
    assert _run(*common, "--mode", "points", "--prompts", tmp_path / "p.geojson", "--param", "progress=false") == 2
    assert "only in --mode everything" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_missing_empty_or_unsupported_inputs_are_one_line_errors(tree, tmp_path, capsys, no_model_load):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    out = tmp_path / "out"
    for inputs, message in (
        ([tmp_path / "empty"], "no rasters found under"),
        ([tmp_path / "missing_dir"], "no such file or folder"),
        ([tree / "a.tif", tree / "notes.txt"], "unsupported file type '.txt'"),
    ):
        assert _run(*inputs, "--out", out, *FAST) == 2
        assert message in _one_error_line(capsys.readouterr().err)
        assert not out.exists()
    with pytest.raises(ValueError, match="no rasters found"):
        batch.segment_batch([tmp_path / "empty"], out, model=None, progress=False)
    assert not out.exists()


def test_prompts_file_missing_unreadable_or_of_the_wrong_geometry(tree, tmp_path, capsys, no_model_load):
    out = tmp_path / "out"
    (tmp_path / "junk.gpkg").write_bytes(b"not a geopackage")
    _centre_points(tree / "a.tif", [(64, 80)]).to_file(tmp_path / "points.gpkg")
    gpd.GeoDataFrame(geometry=[box(0, 0, 10, 10)]).to_file(tmp_path / "polygons.gpkg")
    for mode, prompts, message in (
        ("points", tmp_path / "missing.gpkg", "prompts file not found"),
        ("points", tmp_path / "junk.gpkg", "cannot read prompts file"),
        ("boxes", tmp_path / "points.gpkg", "--mode boxes needs Polygon or MultiPolygon prompts"),
        ("points", tmp_path / "polygons.gpkg", "--mode points needs Point or MultiPoint prompts"),
    ):
        assert _run(tree / "a.tif", "--out", out, "--mode", mode, "--prompts", prompts, *FAST) == 2
        assert message in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_label_column_gives_background_points(tree, tmp_path, capsys):
    # points 0 and 1 are the same place: as foreground + background it yields nothing; point 2 an object
    rows_cols = [(64, 80), (64, 80), (30, 30)]
    _centre_points(tree / "a.tif", rows_cols, labels=[1, 0, 1]).to_file(tmp_path / "labelled.gpkg")
    _centre_points(tree / "a.tif", rows_cols).to_file(tmp_path / "plain.gpkg")
    for name in ("labelled", "plain"):
        code = _run(tree / "a.tif", "--out", tmp_path / name, "--mode", "points", "--prompts",
                    tmp_path / f"{name}.gpkg", "--formats", "gpkg", *FAST)
        assert code == 0, capsys.readouterr()
    plain = gpd.read_file(tmp_path / "plain" / "a.gpkg")
    labelled = gpd.read_file(tmp_path / "labelled" / "a.gpkg")
    assert len(plain) == 3  # without labels every point is an object
    assert len(labelled) == 1  # the background point removed the first object and made none itself
    assert labelled["prompt_index"].tolist() == [2]  # rows of the prompts file
    assert labelled.geometry.iloc[0].equals(plain.set_index("prompt_index").geometry[2])
    bad = _centre_points(tree / "a.tif", rows_cols, labels=["building", "1", "0"])
    bad.to_file(tmp_path / "bad.gpkg")
    assert _run(tree / "a.tif", "--out", tmp_path / "o", "--mode", "points", "--prompts", tmp_path / "bad.gpkg",
                *FAST) == 2
    assert "must be 1 (foreground) or 0 (background), got 'building'" in _one_error_line(capsys.readouterr().err)


def test_segment_help_documents_the_label_column():
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    text = " ".join(parser._subparsers._group_actions[0].choices["segment"].format_help().split())
    assert "'label' column 1=foreground" in text and "0=background" in text and "or all" in text


def test_corrupt_pixel_data_is_a_useful_one_line_reason_and_leaves_no_folder(tmp_path, capsys, garble_first_block):
    bad = garble_first_block(write_synthetic_geotiff(tmp_path / "in" / "deep" / "bad.tif", size=(300, 300)))
    out = tmp_path / "out"
    assert _run(tmp_path / "in", "--out", out, *FAST) == 1
    line = next(line for line in capsys.readouterr().out.splitlines() if "failed:" in line)
    assert f"cannot read {bad.name}: not a readable raster, corrupt or truncated data" in line
    assert "previous exception" not in line and "Error:" not in line
    assert not out.exists()  # nothing was written: no empty output folders either


def test_resume_with_nothing_left_does_not_load_the_model(tree, tmp_path, monkeypatch, capsys):
    args = (tree / "a.tif", "--out", tmp_path / "out", "--formats", "gpkg", *FAST)
    assert _run(*args) == 0
    capsys.readouterr()
    import helpers.models

    monkeypatch.setattr(helpers.models, "load_model", lambda *a, **k: pytest.fail("model loaded for nothing"))
    assert _run(*args) == 0
    assert "0 done, 1 skipped" in capsys.readouterr().out


def test_lazy_model_fingerprint_matches_the_loaded_model(tmp_path):
    from helpers.models import load_model, write_smoke_weights

    path = write_smoke_weights("mobile_sam", tmp_path / "m.pth")
    lazy = batch.LazyModel("mobile_sam", path)
    with pytest.warns(UserWarning):
        loaded = load_model("mobile_sam", weights=path, device="cpu")
    assert lazy.smoke and batch.weights_identity(lazy) == batch.weights_identity(loaded)
    assert batch.weights_identity(batch.LazyModel("conventional"))["weights"] is None
