"""Export folders describe themselves (manifest.json and per-file ONNX metadata) and refuse what is not theirs."""

from __future__ import annotations

import hashlib
import json

import pytest

from helpers.errors import UserInputError
from helpers.onnx.metadata import (
    MANIFEST,
    ExportInfo,
    checkpoint_sha256,
    read_manifest,
    read_onnx_props,
    stamp_onnx,
    write_manifest,
)


def tiny_graph(path):
    """A one-node ONNX graph (y = x + 1) with another tool's metadata property."""
    import onnx
    from onnx import TensorProto, helper

    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    graph = helper.make_graph([helper.make_node("Add", ["x", "one"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], initializer=[one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    entry = model.metadata_props.add()
    entry.key, entry.value = "author", "ultralytics"
    onnx.save(model, str(path))
    return path


def make_info(**changes) -> ExportInfo:
    fields = dict(model="mobile_sam", checkpoint_sha256="ab" * 32, checkpoint_identity="cd" * 16, input_size=1024,
                  opset=17, smoke=True, exporter="torch.onnx (dynamo=False)", files={"decoder": "decoder.onnx"},
                  extra={"mask_threshold": 0.0})
    return ExportInfo(**{**fields, **changes})


def test_manifest_round_trip_and_file_metadata(tmp_path):
    info = make_info()
    path = tiny_graph(tmp_path / "decoder.onnx")
    stamp_onnx(path, info, "decoder", extra={"note": "x"})
    write_manifest(tmp_path, info)
    assert read_manifest(tmp_path, "mobile_sam") == info
    props = read_onnx_props(path)
    assert props["model"] == "mobile_sam" and props["checkpoint_sha256"] == "ab" * 32 and props["smoke"] == "true"
    assert (props["input_size"], props["opset"], props["part"], props["note"]) == ("1024", "17", "decoder", "x")
    import onnx

    assert {p.key: p.value for p in onnx.load(str(path)).metadata_props}["author"] == "ultralytics"  # kept
    assert info.path(tmp_path, "decoder") == path
    with pytest.raises(UserInputError, match="has no encoder graph.*it has: decoder"):
        info.path(tmp_path, "encoder")


@pytest.mark.parametrize("damage, message", [
    (lambda folder: (folder / MANIFEST).unlink(), "not an ONNX export folder"),
    (lambda folder: (folder / MANIFEST).write_text("{not json"), "not a sam-rs export manifest"),
    (lambda folder: (folder / "decoder.onnx").unlink(), "decoder graph decoder.onnx listed in manifest.json is missing"),
    (lambda folder: (folder / MANIFEST).write_text(json.dumps({**json.loads((folder / MANIFEST).read_text()), "format": 99})),
     "has export format 99"),
])
def test_read_manifest_refuses_in_one_line(tmp_path, damage, message):
    tiny_graph(tmp_path / "decoder.onnx")
    write_manifest(tmp_path, make_info())
    damage(tmp_path)
    with pytest.raises(UserInputError, match=message) as info:
        read_manifest(tmp_path)
    assert "\n" not in str(info.value)


def test_another_models_export_is_refused(tmp_path):
    tiny_graph(tmp_path / "decoder.onnx")
    write_manifest(tmp_path, make_info())
    with pytest.raises(UserInputError, match="holds an export of mobile_sam, not sam_vit_b; load it as mobile_sam"):
        read_manifest(tmp_path, "sam_vit_b")


def test_checkpoint_sha256_is_the_file_hash(tmp_path):
    path = tmp_path / "weights.pt"
    path.write_bytes(b"weights" * 1000)
    assert checkpoint_sha256(path) == hashlib.sha256(b"weights" * 1000).hexdigest()
