"""``python -m helpers change``: one run as a user would (a subprocess), the rest in-process (faster)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import helpers.cli
from helpers.change.simulate import simulate_sar_pair

ROOT = Path(__file__).resolve().parents[2]


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "helpers", "change", *map(str, args)], cwd=ROOT,
                          env=dict(os.environ, **(env or {})), capture_output=True, text=True, timeout=300)


@pytest.fixture
def main(monkeypatch):
    """``helpers.cli.main`` with only the ``change`` command registered (the other commands' modules are not
    imported: faster, and the test is about this command alone)."""
    monkeypatch.setattr(helpers.cli, "COMMAND_MODULES", ("helpers.cli.change",))
    return helpers.cli.main


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return simulate_sar_pair(size=(96, 96), looks=4, seed=0).write(tmp_path_factory.mktemp("cli_pair"))


def test_one_pair_writes_a_geopackage_and_a_change_geotiff_and_reports_the_threshold(pair, tmp_path):
    result = run(pair["before"], pair["after"], "--out", tmp_path, "--filter", "lee:5", "--threshold", "otsu",
                 "--quiet")
    assert result.returncode == 0, result.stderr
    assert "threshold" in result.stdout and "(otsu)" in result.stdout and "1 done" in result.stdout
    assert {p.name for p in tmp_path.iterdir()} >= {"before_after.gpkg", "before_after_change.tif",
                                                     "before_after.done.json"}
    again = run(pair["before"], pair["after"], "--out", tmp_path, "--threshold", "otsu", "--quiet")
    assert again.returncode == 0 and "1 skipped" in again.stdout


@pytest.mark.parametrize("args, message", [
    (["--threshold", "median"], "threshold must be otsu, ki or a value in dB"),
    (["--filter", "lee:4"], "odd"),
    (["--method", "threshold", "--model", "sam_vit_b"], "uses no model"),
    (["--method", "fastsam", "--param", "bogus=1"], "unknown --param bogus"),
    (["--formats", "gpkg,kml"], "unknown --formats kml"),
])
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(main, pair, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    code = main(["change", str(pair["before"]), str(pair["after"]), "--out", str(out), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_folder_mode_reports_a_pair_without_partner_and_goes_on(main, pair, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "site_before.tif").write_bytes(pair["before"].read_bytes())
    (folder / "site_after.tif").write_bytes(pair["after"].read_bytes())
    (folder / "lonely_before.tif").write_bytes(pair["before"].read_bytes())
    code = main(["change", str(folder), "--out", str(tmp_path / "out"), "--quiet", "--formats", "gpkg"])
    out = capsys.readouterr().out
    assert code == 1
    assert "1 done" in out and "1 failed" in out
    assert "lonely_before.tif: no matching lonely_after.* beside it" in out
    assert (tmp_path / "out" / "site.gpkg").is_file()


def test_a_model_method_without_weights_offline_exits_3(main, pair, tmp_path, capsys, monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on: the download is refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("SAMRS_SMOKE", "0")
    monkeypatch.setenv("SAMRS_CACHE_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("SAMRS_WEIGHTS_MIRROR", f"http://127.0.0.1:{port}")
    code = main(["change", str(pair["before"]), str(pair["after"]), "--out", str(tmp_path / "out"),
                 "--method", "fastsam", "--quiet"])
    assert code == 3
    assert capsys.readouterr().err.startswith("error: ")
