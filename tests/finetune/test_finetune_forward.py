"""SAM 2's image path with gradients equals the official predictor (set_image / predict) exactly."""

import numpy as np
import pytest
import torch

import helpers
from helpers.finetune.forward import decode, encode
from helpers.finetune.prompts import evaluation_prompts, training_prompts


@pytest.fixture(scope="module")
def model_and_tile(tiny_dataset):
    model = helpers.load_model("sam2.1_hiera_t", device="cpu")
    tile = tiny_dataset.val[0]
    model.set_image(tile.image)
    return model, tile


def test_encode_equals_the_predictors_set_image(model_and_tile):
    model, tile = model_and_tile
    with torch.no_grad():
        ours = encode(model.sam2, tile.image)
    official = model.image_features()  # SAM2ImagePredictor.set_image's features (cached or computed)
    assert torch.allclose(ours["image_embed"], official["image_embed"], atol=1e-5)
    for a, b in zip(ours["high_res_feats"], official["high_res_feats"], strict=True):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("kind", ["box", "point"])
def test_decode_equals_the_predictor(model_and_tile, kind):
    model, tile = model_and_tile
    prompts = evaluation_prompts(tile.masks(), kind)
    features = model.image_features()
    if kind == "box":  # several boxes: the predictor's batch form, one mask each
        reference = model.predict(boxes=prompts.boxes, multimask=False)
        with torch.no_grad():
            ours = decode(model.sam2, features, tile.shape, boxes=prompts.boxes, multimask=False)
        assert np.array_equal(ours.low_res[:, 0].numpy(), reference.logits)
        assert np.array_equal(ours.iou[:, 0].numpy(), reference.scores)
        assert np.array_equal(ours.logits[:, 0].numpy() > 0, reference.masks)
    else:  # one click, three candidates
        reference = model.predict(points=prompts.points[0], labels=prompts.labels[0], multimask=True)
        with torch.no_grad():
            ours = decode(model.sam2, features, tile.shape, prompts.points[:1], prompts.labels[:1], multimask=True)
        assert np.array_equal(ours.low_res[0].numpy(), reference.logits)
        assert np.array_equal(ours.logits[0].numpy() > 0, reference.masks)


def test_decode_has_gradients_for_the_decoder_only(model_and_tile):
    model, tile = model_and_tile
    features = {k: (v.clone() if torch.is_tensor(v) else [x.clone() for x in v]) for k, v in model.image_features().items()}
    prompts = training_prompts(tile.masks(), np.random.default_rng(0), box_probability=1.0)
    out = decode(model.sam2, features, tile.shape, boxes=prompts.boxes, multimask=False)
    out.logits.sum().backward()
    decoder_grads = [p.grad for p in model.sam2.sam_mask_decoder.parameters() if p.grad is not None]
    assert decoder_grads and any(g.abs().sum() > 0 for g in decoder_grads)
    model.sam2.zero_grad(set_to_none=True)
