"""``python -m helpers export-onnx``: a folder ONNX Runtime loads, or one line saying what is wrong."""

from __future__ import annotations

import json

import pytest

from helpers.cli import main


def test_export_onnx_writes_a_loadable_folder(tmp_path, capsys, smoke_weights):
    out = tmp_path / "mobile_sam_onnx"
    code = main(["export-onnx", "mobile_sam", "--weights", str(smoke_weights("mobile_sam")), "--only", "decoder",
                 "--quantize", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "smoke weights: untrained, masks are meaningless" in printed and "decoder_int8.onnx" in printed
    assert "runtime='onnx'" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"] == {"decoder": "decoder.onnx", "decoder_int8": "decoder_int8.onnx"}
    assert sorted(p.name for p in out.iterdir()) == ["decoder.onnx", "decoder_int8.onnx", "manifest.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mobile_sam_onnx"]  # no temporary folder left
    # exporting again replaces the earlier export
    assert main(["export-onnx", "mobile_sam", "--weights", str(smoke_weights("mobile_sam")), "--only", "decoder",
                 "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["decoder.onnx", "manifest.json"]


@pytest.mark.parametrize("args, message", [
    (["conventional"], "conventional has no weights"),
    (["sam_vit_x"], "unknown model 'sam_vit_x'"),
    (["mobile_sam", "--opset", "5"], "--opset must be between 11 and 23"),
    (["fastsam_s", "--imgsz", "100"], "--imgsz must be a positive multiple of 32"),
    (["mobile_sam", "--imgsz", "256"], "--imgsz applies to FastSAM"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, args, message):
    assert main(["export-onnx", *args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_a_folder_of_other_files_is_not_overwritten(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["export-onnx", "mobile_sam", "--out", str(tmp_path)]) == 2
    assert "is not an ONNX export folder" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"
