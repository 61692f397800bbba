"""SAM 2.1 on ONNX Runtime gives PyTorch's masks: decoder graph parity on one embedding, encoder graph parity.

Same tolerances as ``test_onnx_sam.py``. The decoder runs on a random three-level embedding shared through
the embedding cache (what the cross-runtime cache does), so the Hiera encoder is not run at 1024²; the
encoder graph is exported and compared at 128² input (same modules, windows padded).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from onnx_parity import CASES, EMBEDDING_ATOL, MIN_IOU, SCORE_ATOL, assert_same_result, make_prompts, mask_iou

from helpers.embedding_cache import Embedding, EmbeddingCache, checkpoint_identity, embedding_key
from helpers.models import load_model

NAME = "sam2.1_hiera_t"


def seeded_cache(image: np.ndarray, checkpoint) -> EmbeddingCache:
    """A memory cache holding random SAM 2 features of ``image`` (packed as the backend stores them)."""
    generator = torch.Generator().manual_seed(0)
    embed = torch.randn(1, 256, 64, 64, generator=generator)
    high_0 = torch.randn(1, 32, 256, 256, generator=generator)
    high_1 = torch.randn(1, 64, 128, 128, generator=generator)
    unshuffle = torch.nn.functional.pixel_unshuffle
    packed = torch.cat([embed, unshuffle(high_0, 4), unshuffle(high_1, 2)], dim=1)
    cache = EmbeddingCache(directory=False)
    key = embedding_key(image, NAME, checkpoint_identity(checkpoint), "cpu|fp32")
    embedding = Embedding(packed, (1024, 1024), image.shape[:2], extra={"layouts": ["contiguous"] * 3})
    cache.get_or_compute(key, lambda: embedding, persist=False)
    return cache


@pytest.fixture(scope="module")
def sam2_pair(smoke_weights, sample_image, tmp_path_factory):
    """(torch, onnx, previous logits) SAM 2.1 Hiera-T on one random embedding (decoder-only export)."""
    from helpers.onnx.export import export_onnx

    weights = smoke_weights(NAME)
    folder = tmp_path_factory.mktemp("onnx") / NAME
    export_onnx(NAME, folder, weights=weights, parts=("decoder",), quantize=True)
    image = sample_image()
    cache = seeded_cache(image, weights)
    torch_model = load_model(NAME, weights=weights, device="cpu", embedding_cache=cache).set_image(image)
    onnx_model = load_model(NAME, weights=folder, device="cpu", runtime="onnx", embedding_cache=cache).set_image(image)
    assert torch_model.embedding_source == onnx_model.embedding_source == "memory"
    previous = torch_model.predict(points=[(50, 40)], multimask=False).logits[[0]]
    return torch_model, onnx_model, previous


@pytest.mark.parametrize("n_points, box, mask_input, multimask", CASES)
def test_sam2_decoder_graph_equals_pytorch(sam2_pair, n_points, box, mask_input, multimask):
    torch_model, onnx_model, previous = sam2_pair
    prompts = make_prompts(n_points, box, seed=2)
    if mask_input:
        prompts["mask_input"] = previous
    result = onnx_model.predict(**prompts, multimask=multimask)
    assert len(result) == (3 if multimask else 1)
    assert_same_result(torch_model.predict(**prompts, multimask=multimask), result)


def test_sam2_box_batches_and_generate_match(sam2_pair):
    torch_model, onnx_model, _ = sam2_pair
    boxes = [(12.0, 8.0, 100.0, 80.0), (40.0, 30.0, 120.0, 90.0)]
    assert_same_result(torch_model.predict(points=[(50, 40)], boxes=boxes), onnx_model.predict(points=[(50, 40)], boxes=boxes))
    params = {"points_per_side": 2, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
    reference, result = torch_model.generate(**params), onnx_model.generate(**params)
    assert len(reference) > 0 and len(result) == len(reference)
    assert mask_iou(reference.masks, result.masks).min() >= MIN_IOU
    np.testing.assert_allclose(result.scores, reference.scores, atol=SCORE_ATOL, rtol=0)


def test_sam2_export_manifest_and_quantized_decoder(sam2_pair, smoke_weights):
    from helpers.onnx.metadata import file_sha256

    _, onnx_model, _ = sam2_pair
    manifest = json.loads((onnx_model.folder / "manifest.json").read_text())
    assert manifest["checkpoint_sha256"] == file_sha256(smoke_weights(NAME))
    assert manifest["extra"]["level_channels"] == [32, 64] and set(manifest["files"]) == {"decoder", "decoder_int8"}
    assert onnx_model.backend.runtime == "onnx" and onnx_model.backend.family == "sam2"
    quantized = load_model(NAME, weights=onnx_model.folder, device="cpu", runtime="onnx", quantized=True,
                           embedding_cache=onnx_model.cache).set_image(onnx_model.scene)
    full, small = onnx_model.predict(points=[(50, 40)]), quantized.predict(points=[(50, 40)])
    print(f"SAM 2 int8 decoder vs float: mask IoU {mask_iou(full.masks, small.masks).round(3).tolist()}, "
          f"score |diff| max {np.abs(full.scores - small.scores).max():.4f}")
    assert small.masks.shape == full.masks.shape


def test_sam2_encoder_graph_equals_pytorch_at_a_small_image_size(smoke_weights, tmp_path):
    from helpers.backends.sam2 import _load_state_dict, build_architecture, read_sam2_state_dict
    from helpers.onnx.export_torch import export_module
    from helpers.onnx.sam2_graphs import ENCODER_OUTPUTS, Sam2EncoderGraph
    from helpers.onnx.session import open_session
    from helpers.registry import get_spec

    spec = get_spec(NAME)
    model = build_architecture(spec)
    _load_state_dict(model, read_sam2_state_dict(smoke_weights(NAME), spec), spec, smoke_weights(NAME))
    graph = Sam2EncoderGraph(model).eval()
    image = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    path = export_module(graph, (image,), tmp_path / "encoder.onnx", input_names=["image"], output_names=ENCODER_OUTPUTS)
    with torch.no_grad():
        references = [t.numpy() for t in graph(image)]
    results = open_session(path).run(None, {"image": image.numpy()})
    assert [r.shape for r in results] == [(1, 256, 8, 8), (1, 32, 32, 32), (1, 64, 16, 16)]
    for result, reference in zip(results, references, strict=True):
        np.testing.assert_allclose(result, reference, rtol=0, atol=EMBEDDING_ATOL * np.abs(reference).max())
