"""``python -m helpers models | prefetch | smoke-weights`` run as a user would (subprocesses, offline)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

from helpers import weights
from helpers.cli.weights import register
from helpers.data import samples
from helpers.smoke import read_smoke_marker

ROOT = Path(__file__).resolve().parents[1]


def _run(*args, env=None, timeout=300):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "helpers", *args], cwd=ROOT, env=full_env, capture_output=True, text=True,
        timeout=timeout,
    )


def _refused_base() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_models_lists_every_registry_entry(tmp_path):
    result = _run("models", env={"SAMRS_CACHE_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:5] == ["NAME", "FAMILY", "SIZE", "INTEGRITY", "CACHED"]
    for spec in weights.REGISTRY.values():
        row = next(line for line in lines if line.split()[0] == spec.name)
        assert spec.family in row
        if spec.url:
            assert spec.url in row and spec.sha256[:12] in row and " no " in row
    assert str(tmp_path) in result.stdout


def test_models_shows_a_cached_file(tmp_path):
    spec = weights.get_spec("fastsam_s")
    (tmp_path / spec.filename).write_bytes(b"\0" * spec.size)  # right size, hashes not checked by `models`
    result = _run("models", env={"SAMRS_CACHE_DIR": str(tmp_path)})
    row = next(line for line in result.stdout.splitlines() if line.startswith("fastsam_s "))
    assert " cached " in row


def test_smoke_weights_cli_writes_a_loadable_file(tmp_path):
    path = tmp_path / "fake_mobile_sam.pt"  # MobileSAM: the same code path as SAM, 40 MB instead of 375 MB
    result = _run("smoke-weights", "mobile_sam", str(path))
    assert result.returncode == 0, result.stderr
    assert path.is_file() and "meaningless" in result.stdout
    assert read_smoke_marker(path) == "mobile_sam"


def test_smoke_weights_cli_rejects_unknown_names(tmp_path):
    result = _run("smoke-weights", "sam_vit_zz", str(tmp_path / "x.pth"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown model" in result.stderr
    assert not (tmp_path / "x.pth").exists()


def test_prefetch_offline_fails_one_line_per_model_and_leaves_nothing(tmp_path):
    dest, cache = tmp_path / "usb", tmp_path / "cache"
    env = {"SAMRS_CACHE_DIR": str(cache), "SAMRS_WEIGHTS_MIRROR": _refused_base()}
    result = _run("prefetch", "fastsam_s", "mobile_sam", "--dest", str(dest), "--no-scenes", env=env)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 2, result.stderr
    for line, name in zip(errors, ["fastsam_s", "mobile_sam"], strict=True):
        target = dest / weights.get_spec(name).filename
        assert line.startswith("error: cannot download") and str(target) in line
    assert list(dest.iterdir()) == []
    assert not cache.exists() or list(cache.iterdir()) == []


def test_prefetch_rejects_unknown_names_before_writing(tmp_path):
    result = _run("prefetch", "nope", "--dest", str(tmp_path / "usb"))
    assert result.returncode == 2 and "unknown model 'nope'" in result.stderr
    assert not (tmp_path / "usb").exists()


def test_prefetch_fills_a_folder_from_the_local_cache_and_copies_scenes(tmp_path, monkeypatch, capsys):
    import argparse
    import hashlib

    from helpers.data import list_sample_scenes, sample_scene_path

    payload = b"verified weights" * 1000
    spec = weights.ModelSpec(
        "fake", "sam", "vit_b", url="http://127.0.0.1:9/fake.pth", filename="fake.pth", size=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
    )
    monkeypatch.setitem(weights.REGISTRY, "fake", spec)
    cache, dest = tmp_path / "cache", tmp_path / "usb"
    monkeypatch.setenv("SAMRS_CACHE_DIR", str(cache))
    cache.mkdir()
    (cache / "fake.pth").write_bytes(payload)  # the organiser's cache: no network needed

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["prefetch", "fake", "--dest", str(dest)])
    assert args.func(args) == 0
    assert (dest / "fake.pth").read_bytes() == payload and weights.is_verified("fake", dest / "fake.pth")
    for scene in list_sample_scenes():
        source = Path(sample_scene_path(scene))
        assert (dest / "scenes" / source.name).read_bytes() == source.read_bytes()
    assert not [p for p in dest.rglob("*.part")]
    assert f"SAMRS_CACHE_DIR={dest.resolve()}" in capsys.readouterr().out
    # what the organiser tells everyone works: with SAMRS_CACHE_DIR=DIR the scenes come from DIR
    from helpers import data

    monkeypatch.setenv("SAMRS_CACHE_DIR", str(dest.resolve()))
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(samples, "_wheel_data_dir", lambda: tmp_path / "no-wheel")  # only DIR has them
    for scene in list_sample_scenes():
        assert sample_scene_path(scene) == dest.resolve() / "scenes" / f"{scene}.tif"
    assert data.sample_scene("bahamas_rgb").image.shape == (718, 791, 3)


def test_unusable_paths_are_one_line_errors_not_tracebacks(tmp_path):
    folder = tmp_path / "weights"
    folder.mkdir()
    corrupt = tmp_path / "corrupt.tif"
    corrupt.write_bytes(b"II*\x00 not really a tiff")
    for argv in (
        ["smoke-weights", "mobile_sam", str(folder)],  # a folder, not a file
        ["smoke-weights", "fastsam_s", str(tmp_path / "fs.pth")],  # ultralytics needs .pt
        ["preprocess", str(corrupt), str(tmp_path / "out.tif")],
    ):
        result = subprocess.run([sys.executable, "-m", "helpers", *argv], capture_output=True, text=True)
        assert result.returncode != 0, argv
        assert "Traceback" not in result.stderr, result.stderr
        assert result.stderr.strip().startswith("error:") and result.stderr.strip().count("\n") == 0, result.stderr
    assert list(folder.iterdir()) == [] and not (tmp_path / "fs.pth").exists() and not (tmp_path / "out.tif").exists()
