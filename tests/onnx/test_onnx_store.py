"""First-use exports: made once per checkpoint (by sha256), complete or absent, reused afterwards."""

from __future__ import annotations

import pytest

from helpers.onnx.metadata import MANIFEST
from helpers.onnx.store import export_store_dir, exported_folder


@pytest.fixture
def checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMRS_HOME", str(tmp_path / "home"))
    path = tmp_path / "weights.pt"
    path.write_bytes(b"\x00" * 100)
    return path


def test_exported_once_then_reused(checkpoint):
    calls = []

    def export(folder):
        calls.append(folder)
        (folder / "decoder.onnx").write_bytes(b"graph")
        (folder / MANIFEST).write_text("{}")

    first = exported_folder("mobile_sam", checkpoint, 17, export, verbose=False)
    second = exported_folder("mobile_sam", checkpoint, 17, export, verbose=False)
    assert first == second and len(calls) == 1 and (first / "decoder.onnx").read_bytes() == b"graph"
    assert first.parent == export_store_dir() and first.name.startswith("mobile_sam-") and first.name.endswith("-opset17")
    assert exported_folder("mobile_sam", checkpoint, 18, export, verbose=False) != first  # another opset, another folder
    checkpoint.write_bytes(b"\x01" * 100)  # other weights, other folder
    assert exported_folder("mobile_sam", checkpoint, 17, export, verbose=False) != first


def test_a_failed_export_leaves_nothing(checkpoint):
    def export(folder):
        (folder / "encoder.onnx").write_bytes(b"half a graph")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        exported_folder("mobile_sam", checkpoint, 17, export, verbose=False)
    assert not export_store_dir().exists() or not any(export_store_dir().iterdir())


def test_a_broken_folder_is_exported_again(checkpoint):
    def export(folder):
        (folder / MANIFEST).write_text("{}")

    folder = exported_folder("mobile_sam", checkpoint, 17, export, verbose=False)
    (folder / MANIFEST).unlink()  # e.g. an interrupted older version
    assert exported_folder("mobile_sam", checkpoint, 17, export, verbose=False) == folder
    assert (folder / MANIFEST).is_file()
