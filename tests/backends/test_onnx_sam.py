"""SAM and MobileSAM on ONNX Runtime give PyTorch's masks: parity of every exported graph, same smoke weights.

Tolerances are stated in ``onnx_parity.py``. The ViT-B encoder is exported at a small image size (the same code, the same graph structure; exporting
the 1024² one takes minutes on 2 cores); MobileSAM's encoder is exported and compared at full size.
"""

from __future__ import annotations

import json
from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from onnx_parity import (
    BOX,
    CASES,
    EMBEDDING_ATOL,
    MIN_IOU,
    SCORE_ATOL,
    assert_same_result,
    make_prompts,
    mask_iou,
    previous_logits,
    seeded_cache,
)

from helpers.embedding_cache import EmbeddingCache
from helpers.models import load_model


# ---- MobileSAM: exported on first use, both graphs at full size ------------------------------------------
@pytest.fixture(scope="module")
def mobile_sam_pair(smoke_weights, sample_image):
    """(torch, onnx) MobileSAM sharing one embedding cache: the ONNX model reuses PyTorch's embedding."""
    weights = smoke_weights("mobile_sam")
    cache = EmbeddingCache(directory=False)
    torch_model = load_model("mobile_sam", weights=weights, device="cpu", embedding_cache=cache)
    onnx_model = load_model("mobile_sam", weights=weights, device="cpu", runtime="onnx", embedding_cache=cache)
    image = sample_image()
    torch_model.set_image(image)
    onnx_model.set_image(image)
    return torch_model, onnx_model, previous_logits(torch_model)


def test_mobile_sam_onnx_shares_the_embedding_cache_and_keeps_the_contract(mobile_sam_pair):
    torch_model, onnx_model, _ = mobile_sam_pair
    assert onnx_model.embedding.source == "memory"  # encoded once, by PyTorch: same key on both runtimes
    assert torch.equal(onnx_model.features, torch_model.features)
    backend = onnx_model.backend
    assert (backend.family, backend.runtime, backend.weights_folder) == ("mobile_sam", "onnx", True)
    assert backend.prompts == torch_model.backend.prompts and backend.export_onnx is None
    assert onnx_model.smoke and "runtime=onnx" in repr(onnx_model)
    # the graphs hold the weights they use (TinyViT's unused classification head, ~0.3M, is left out)
    assert 0.95 * torch_model.num_parameters() < onnx_model.num_parameters() <= torch_model.num_parameters()


def test_mobile_sam_encoder_graph_equals_pytorch(mobile_sam_pair, smoke_weights, sample_image):
    torch_model, _, _ = mobile_sam_pair
    onnx_model = load_model("mobile_sam", weights=smoke_weights("mobile_sam"), device="cpu", runtime="onnx",
                            embedding_cache=False)
    onnx_model.set_image(sample_image())
    assert onnx_model.embedding.source == "computed"
    assert onnx_model.embedding.input_size == torch_model.embedding.input_size
    reference = torch_model.features.numpy()
    np.testing.assert_allclose(onnx_model.features.numpy(), reference, rtol=0, atol=EMBEDDING_ATOL * np.abs(reference).max())
    # end to end (each runtime its own embedding): the same masks
    prompts = make_prompts(5, True)
    assert_same_result(torch_model.predict(**prompts), onnx_model.predict(**prompts), logit_atol=1e-3)


@pytest.mark.parametrize("n_points, box, mask_input, multimask", CASES)
def test_mobile_sam_decoder_graph_equals_pytorch(mobile_sam_pair, n_points, box, mask_input, multimask):
    torch_model, onnx_model, previous = mobile_sam_pair
    prompts = make_prompts(n_points, box)
    if mask_input:
        prompts["mask_input"] = previous
    reference = torch_model.predict(**prompts, multimask=multimask)
    result = onnx_model.predict(**prompts, multimask=multimask)
    assert len(result) == (3 if multimask else 1)
    assert_same_result(reference, result)


def test_mobile_sam_generate_equals_pytorch(mobile_sam_pair):
    torch_model, onnx_model, _ = mobile_sam_pair
    params = {"points_per_side": 2, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "progress": False}
    reference, result = torch_model.generate(**params), onnx_model.generate(**params)
    assert len(reference) > 0 and len(result) == len(reference)
    assert mask_iou(reference.masks, result.masks).min() >= MIN_IOU
    np.testing.assert_allclose(result.scores, reference.scores, atol=SCORE_ATOL, rtol=0)
    np.testing.assert_allclose(result.stability_scores, reference.stability_scores, atol=SCORE_ATOL, rtol=0)


def test_box_batches_match(mobile_sam_pair):
    torch_model, onnx_model, previous = mobile_sam_pair
    boxes = [BOX, (40.0, 30.0, 120.0, 90.0)]
    for multimask, mask_input in ((True, None), (False, previous)):  # best of 3 per box; single mask per box
        reference = torch_model.predict(points=[(50, 40)], boxes=boxes, multimask=multimask, mask_input=mask_input)
        result = onnx_model.predict(points=[(50, 40)], boxes=boxes, multimask=multimask, mask_input=mask_input)
        assert len(result) == 2
        assert_same_result(reference, result)


def test_export_folder_records_its_source(mobile_sam_pair, smoke_weights):
    from helpers.onnx.metadata import file_sha256, read_onnx_props

    _, onnx_model, _ = mobile_sam_pair
    manifest = json.loads((onnx_model.folder / "manifest.json").read_text())
    assert manifest["checkpoint_sha256"] == file_sha256(smoke_weights("mobile_sam"))
    assert (manifest["model"], manifest["input_size"], manifest["opset"], manifest["smoke"]) == ("mobile_sam", 1024, 17, True)
    assert set(manifest["files"]) == {"encoder", "decoder", "decoder_int8"}  # first-use exports quantise too
    props = read_onnx_props(onnx_model.folder / "decoder.onnx")
    assert props["part"] == "decoder" and props["smoke"] == "true" and props["checkpoint_sha256"] == manifest["checkpoint_sha256"]
    # loading the folder itself gives the same model
    again = load_model("mobile_sam", weights=onnx_model.folder, runtime="onnx", device="cpu", embedding_cache=False)
    assert again.folder == onnx_model.folder and again.smoke and again.checkpoint is None


def test_quantized_decoder_agreement_is_measured(mobile_sam_pair):
    """int8 decoder vs float decoder: the agreement is measured and reported, not asserted equal."""
    _, onnx_model, _ = mobile_sam_pair
    quantized = load_model("mobile_sam", weights=onnx_model.folder, runtime="onnx", device="cpu", quantized=True,
                           embedding_cache=onnx_model.cache)
    quantized.set_image(onnx_model.scene)
    assert quantized.embedding.source == "memory"  # same embedding: only the decoder differs
    ious, score_diffs = [], []
    for n_points, box, _, multimask in CASES:
        prompts = make_prompts(n_points, box)
        full, small = onnx_model.predict(**prompts, multimask=multimask), quantized.predict(**prompts, multimask=multimask)
        assert small.masks.shape == full.masks.shape and np.isfinite(small.scores).all()
        ious.extend(mask_iou(full.masks, small.masks))
        score_diffs.extend(np.abs(full.scores - small.scores))
    print(f"int8 decoder vs float: mask IoU mean {np.mean(ious):.3f} (min {np.min(ious):.3f}), "
          f"score |diff| max {np.max(score_diffs):.4f}")
    assert 0.0 <= np.min(ious) <= 1.0 and "int8" in repr(quantized)


# ---- SAM ViT-B: the decoder graph at full size, the encoder graph at a small image size ------------------
@pytest.fixture(scope="module")
def vit_b_pair(smoke_weights, sample_image, tmp_path_factory):
    """(torch, onnx) SAM ViT-B on one random embedding (decoder-only export; the ViT encoder is not run)."""
    from helpers.onnx.export import export_onnx

    weights = smoke_weights("sam_vit_b")
    folder = tmp_path_factory.mktemp("onnx") / "sam_vit_b"
    info = export_onnx("sam_vit_b", folder, weights=weights, parts=("decoder",))
    assert set(info.files) == {"decoder"}
    image = sample_image()
    cache = seeded_cache(image, "sam_vit_b", weights)
    torch_model = load_model("sam_vit_b", weights=weights, device="cpu", embedding_cache=cache).set_image(image)
    onnx_model = load_model("sam_vit_b", weights=folder, device="cpu", runtime="onnx", embedding_cache=cache).set_image(image)
    assert onnx_model.embedding.source == torch_model.embedding.source == "memory"
    return torch_model, onnx_model, previous_logits(torch_model)


@pytest.mark.parametrize("n_points, box, mask_input, multimask", CASES)
def test_vit_b_decoder_graph_equals_pytorch(vit_b_pair, n_points, box, mask_input, multimask):
    torch_model, onnx_model, previous = vit_b_pair
    prompts = make_prompts(n_points, box, seed=1)
    if mask_input:
        prompts["mask_input"] = previous
    assert_same_result(torch_model.predict(**prompts, multimask=multimask), onnx_model.predict(**prompts, multimask=multimask))


def test_vit_b_encoder_graph_equals_pytorch_at_a_small_image_size(tmp_path):
    """ViT-B's encoder (12 blocks, windowed + global attention, relative positions) exported at 128² input."""
    from segment_anything.modeling import ImageEncoderViT

    from helpers.onnx.sam_graphs import export_sam_encoder
    from helpers.onnx.session import open_session

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        encoder = ImageEncoderViT(  # segment-anything's vit_b settings, 128² instead of 1024²
            depth=12, embed_dim=768, img_size=128, mlp_ratio=4, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=12, patch_size=16, qkv_bias=True, use_rel_pos=True, global_attn_indexes=[2, 5, 8, 11],
            window_size=14, out_chans=256,
        ).eval()  # fmt: skip
        image = torch.randn(1, 3, 128, 128)
    path = export_sam_encoder(SimpleNamespace(image_encoder=encoder), tmp_path / "encoder.onnx")
    with torch.no_grad():
        reference = encoder(image).numpy()
    (result,) = open_session(path).run(None, {"image": image.numpy()})
    np.testing.assert_allclose(result, reference, rtol=0, atol=EMBEDDING_ATOL * np.abs(reference).max())


# ---- what the runtime refuses ------------------------------------------------------------------------------
def test_runtime_errors_are_one_line(mobile_sam_pair, smoke_weights, tmp_path):
    _, onnx_model, _ = mobile_sam_pair
    cases = [
        (dict(name="sam_vit_b", weights=onnx_model.folder, runtime="onnx"), "holds an export of mobile_sam, not sam_vit_b"),
        (dict(name="mobile_sam", weights=onnx_model.folder), "ONNX exports load with runtime='onnx'"),
        (dict(name="mobile_sam", weights=tmp_path, runtime="onnx"), "not an ONNX export folder"),
        (dict(name="mobile_sam", weights=onnx_model.folder, runtime="tpu"), "unknown runtime 'tpu'"),
        (dict(name="conventional", runtime="onnx"), "conventional has no onnx runtime"),
        (dict(name="mobile_sam", weights=onnx_model.folder, runtime="onnx", half=True), "unknown option.*half"),
        (dict(name="mobile_sam", weights=onnx_model.folder, runtime="onnx", quantized="yes"), "quantized must be True or False"),
        (dict(name="mobile_sam", weights=onnx_model.folder, runtime="onnx", threads=0), "threads must be a positive integer"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            load_model(device="cpu", **kwargs)
        assert "\n" not in str(info.value)
