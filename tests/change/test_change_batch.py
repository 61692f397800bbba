"""Folder mode: the naming rule, mirrored outputs, resume, one-line failures for bad pairs."""

import json
import shutil

import geopandas as gpd
import pytest
import rasterio

from helpers.change.batch import change_batch, find_pairs
from helpers.change.pipeline import ChangeOptions
from helpers.errors import UserInputError


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_two_folders_pair_files_by_relative_path(tmp_path):
    first, second = tmp_path / "2019", tmp_path / "2020"
    a1, a2 = touch(first / "site_a" / "vv.tif"), touch(second / "site_a" / "vv.tiff")
    b1 = touch(first / "site_b" / "vv.tif")
    c2 = touch(second / "c.tif")
    touch(first / ".hidden" / "x.tif")
    pairs, rejected = find_pairs(first, second)
    assert pairs == [(a1, a2, tmp_path.joinpath("site_a", "vv").relative_to(tmp_path))]
    assert dict(rejected) == {b1: f"no raster at the same relative path under {second}",
                              c2: f"no raster at the same relative path under {first}"}


def test_one_folder_pairs_before_and_after_names(tmp_path):
    a, b = touch(tmp_path / "x" / "flood_before.tif"), touch(tmp_path / "x" / "flood_AFTER.tif")
    lonely = touch(tmp_path / "dry_before.tif")
    stray = touch(tmp_path / "notes.tif")
    pairs, rejected = find_pairs(tmp_path)
    assert [(p[0], p[1], p[2].as_posix()) for p in pairs] == [(a, b, "x/flood")]
    reasons = dict(rejected)
    assert reasons[lonely] == "no matching dry_after.* beside it"
    assert "must end in _before or _after" in reasons[stray]


def test_two_files_are_one_pair_and_mixed_arguments_are_refused(tmp_path):
    a, b = touch(tmp_path / "s1_jan.tif"), touch(tmp_path / "s1_feb.tif")
    assert find_pairs(a, b) == ([(a, b, tmp_path.joinpath("s1_jan_s1_feb").relative_to(tmp_path))], [])
    with pytest.raises(UserInputError, match="two files"):
        find_pairs(a, tmp_path)
    with pytest.raises(UserInputError, match="no such file"):
        find_pairs(tmp_path / "missing")


@pytest.fixture(scope="module")
def tree(sim_pair, tmp_path_factory, garble_first_block):
    """2019/ and 2020/ folders: site_a (a good pair), site_b (corrupt second date), c.tif (no partner)."""
    root = tmp_path_factory.mktemp("tree")
    good = sim_pair(4, size=(96, 96)).write(root / "good")
    for year, key in (("2019", "before"), ("2020", "after")):
        (root / year / "site_a").mkdir(parents=True)
        (root / year / "site_b").mkdir(parents=True)
        shutil.copy(good[key], root / year / "site_a" / "vv.tif")
        shutil.copy(good[key], root / year / "site_b" / "vv.tif")
    garble_first_block(root / "2020" / "site_b" / "vv.tif")
    shutil.copy(good["before"], root / "2019" / "c.tif")
    return root


def test_a_tree_is_mirrored_bad_pairs_fail_in_one_line_and_reruns_resume(tree, tmp_path):
    out, lines = tmp_path / "out", []
    options = ChangeOptions(formats=("gpkg", "tif"))
    summary = change_batch(tree / "2019", tree / "2020", out, options, log=lines.append)
    assert [p.relative_to(tree).as_posix() for p in summary.done] == ["2019/site_a/vv.tif"]
    failed = {p.relative_to(tree).as_posix(): reason for p, reason in summary.failed}
    assert set(failed) == {"2019/c.tif", "2019/site_b/vv.tif"}
    assert "cannot read vv.tif" in failed["2019/site_b/vv.tif"]
    assert all("\n" not in reason for reason in failed.values()) and summary.exit_code == 1
    assert any(line.startswith("FAILED") and "site_b" in line for line in lines)
    # mirrored outputs; nothing (not even an empty folder) for the failed pair
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "site_a", "site_a/vv.done.json", "site_a/vv.gpkg", "site_a/vv_change.tif"]
    with rasterio.open(out / "site_a" / "vv_change.tif") as ds, rasterio.open(tree / "2019/site_a/vv.tif") as ref:
        assert (ds.crs, ds.transform, ds.shape) == (ref.crs, ref.transform, ref.shape)
    record = json.loads((out / "site_a" / "vv.done.json").read_text())
    assert record["result"]["threshold_method"] == "ki" and record["changed"] == len(gpd.read_file(out / "site_a/vv.gpkg"))
    # resume: the finished pair is skipped; other options or --force redo it
    again = change_batch(tree / "2019", tree / "2020", out, options, log=lines.append)
    assert [p.name for p in again.skipped] == ["vv.tif"] and not again.done and again.masks == summary.masks
    other = change_batch(tree / "2019", tree / "2020", out, options.replace(threshold=4.0), log=lines.append)
    assert len(other.done) == 1
    forced = change_batch(tree / "2019", tree / "2020", out, options.replace(threshold=4.0), force=True,
                          log=lines.append)
    assert len(forced.done) == 1 and not forced.skipped
