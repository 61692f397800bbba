"""FastSAM on ONNX Runtime: the exported YOLOv8-seg graph finds PyTorch's masks, and prompting survives export.

The everything pass of both runtimes is compared mask by mask (same order: detection confidence), and
every prompt kind selects the same everything-masks on both (the selection is numpy code working on
either runtime's masks). The graph is exported at ``imgsz=256`` (dynamic input size, so a non-square scene
is letterboxed exactly as the PyTorch model's).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx_parity import MIN_IOU, SCORE_ATOL, make_prompts, mask_iou

from helpers.models import load_model

NAME = "fastsam_s"


@pytest.fixture(scope="module")
def fastsam_pair(smoke_weights):
    """(torch, onnx) FastSAM-s at imgsz=256 on a non-square synthetic scene (exported on first use)."""
    from helpers.data import make_synthetic_scene

    weights = smoke_weights(NAME)
    torch_model = load_model(NAME, weights=weights, device="cpu", imgsz=256)
    onnx_model = load_model(NAME, weights=weights, device="cpu", runtime="onnx", imgsz=256)
    scene, _ = make_synthetic_scene("buildings", size=(160, 224), seed=3)
    return torch_model.set_image(scene), onnx_model.set_image(scene)


def test_everything_pass_equals_pytorch(fastsam_pair):
    torch_model, onnx_model = fastsam_pair
    reference, result = torch_model.generate(), onnx_model.generate()
    assert len(reference) > 3 and len(result) == len(reference)  # smoke weights still find masks
    assert mask_iou(reference.masks, result.masks).min() >= MIN_IOU
    np.testing.assert_allclose(result.scores, reference.scores, atol=SCORE_ATOL, rtol=0)
    np.testing.assert_allclose(result.extra["det_boxes"], reference.extra["det_boxes"], atol=0.5, rtol=0)
    assert onnx_model.backend.runtime == "onnx" and result.smoke and "runtime=onnx" in repr(onnx_model)
    # other settings re-run the network on both runtimes (and the ONNX graph takes the new input size)
    assert len(onnx_model.generate(imgsz=192, conf=0.3)) == len(torch_model.generate(imgsz=192, conf=0.3))


@pytest.mark.parametrize("prompts", [
    make_prompts(1, False, shape=(160, 224)),
    make_prompts(5, False, shape=(160, 224)),
    make_prompts(20, False, shape=(160, 224)),
    {**make_prompts(5, True, shape=(160, 224)), "mode": "per_prompt"},
    {"boxes": [(10, 10, 120, 90), (100, 40, 224, 160)]},
    {"points": [(30, 40), (150, 100)], "labels": [0, 0], "mode": "all"},
    {"boxes_xywh": [(10, 10, 60, 50)], "mode": "all"},
], ids=["1pt", "5pt", "20pt", "5pt+box", "2boxes", "background-only", "xywh"])
def test_prompts_select_the_same_masks_on_both_runtimes(fastsam_pair, prompts):
    torch_model, onnx_model = fastsam_pair
    reference, result = torch_model.predict(**prompts), onnx_model.predict(**prompts)
    assert result.extra["everything_index"] == reference.extra["everything_index"]
    assert mask_iou(reference.masks, result.masks).min() >= MIN_IOU
    np.testing.assert_allclose(result.scores, reference.scores, atol=SCORE_ATOL, rtol=0)


class CropBrightness:
    """Stands in for CLIP (``similarity(crops, texts)``): scores each masked crop by its mean brightness, one
    sign per text. Text prompting is the same numpy selection on both runtimes; this checks that both hand
    CLIP the same crops (CLIP itself is tested in test_fastsam.py)."""

    def similarity(self, crops, texts):
        import torch

        brightness = torch.tensor([float(np.asarray(crop, dtype=np.float64).mean()) for crop in crops])
        return torch.stack([brightness * (-1.0) ** i for i in range(len(texts))])


def test_text_prompts_select_the_same_masks(fastsam_pair):
    torch_model, onnx_model = fastsam_pair
    torch_model.clip = onnx_model.clip = CropBrightness()
    reference, result = torch_model.predict(text=["a roof", "a road"]), onnx_model.predict(text=["a roof", "a road"])
    assert len(result) == 2 and result.extra["everything_index"] == reference.extra["everything_index"]
    assert result.extra["everything_index"][0] != result.extra["everything_index"][1]  # brightest, darkest


def test_export_manifest_and_what_fastsam_refuses(fastsam_pair, smoke_weights, tmp_path):
    from helpers.onnx.export import export_onnx
    from helpers.onnx.metadata import file_sha256

    torch_model, onnx_model = fastsam_pair
    manifest = json.loads((onnx_model.folder / "manifest.json").read_text())
    assert manifest["checkpoint_sha256"] == file_sha256(smoke_weights(NAME)) and manifest["smoke"] is True
    assert manifest["files"] == {"network": "network.onnx"} and manifest["input_size"] == 256
    assert manifest["exporter"].startswith("ultralytics")
    assert 0.99 * torch_model.num_parameters() < onnx_model.num_parameters() <= torch_model.num_parameters()
    for options, message in (({"quantize": True}, "no decoder"), ({"dynamo": True}, "ultralytics' own exporter")):
        with pytest.raises(ValueError, match=message):
            export_onnx(NAME, tmp_path / "out", weights=smoke_weights(NAME), **options)
        assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="unknown option.*half"):
        load_model(NAME, weights=onnx_model.folder, runtime="onnx", device="cpu", half=True)
