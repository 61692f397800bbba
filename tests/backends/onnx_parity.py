"""Shared by the ONNX Runtime parity tests: tolerances, prompts, comparisons (imported by the test modules).

Tolerances (float32 graphs vs eager PyTorch; measured differences are ~5e-7 on logits and scores, ~1e-5 on
the image embedding):

* low-resolution logits within ``LOGIT_ATOL`` (absolute),
* scores (predicted IoU, detection confidence) within ``SCORE_ATOL``,
* upscaled masks IoU >= ``MIN_IOU`` (OpenCV vs PyTorch bilinear: pixels within ~1e-5 of the threshold may flip),
* image embeddings within ``EMBEDDING_ATOL`` times their largest magnitude.
"""

from __future__ import annotations

import numpy as np
import torch

from helpers.embedding_cache import Embedding, EmbeddingCache, checkpoint_identity, embedding_key

LOGIT_ATOL = 1e-4
SCORE_ATOL = 1e-3
MIN_IOU = 0.99
EMBEDDING_ATOL = 1e-4

BOX = (12.0, 8.0, 100.0, 80.0)  # XYXY pixel edges on the 96x128 sample image


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU per mask of two (N, H, W) stacks (1.0 where both are empty)."""
    inter = (a & b).sum(axis=(1, 2))
    union = (a | b).sum(axis=(1, 2))
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


def make_prompts(n_points: int, box: bool, shape=(96, 128), seed: int = 0) -> dict:
    """``n_points`` pixel points (first foreground, then alternating) and/or the fixed box."""
    rng = np.random.default_rng(seed + n_points)
    prompts = {}
    if n_points:
        prompts["points"] = np.column_stack([rng.uniform(0, shape[1] - 1, n_points), rng.uniform(0, shape[0] - 1, n_points)])
        prompts["labels"] = (np.arange(n_points) % 2 == 0).astype(int)
    if box:
        prompts["boxes"] = [BOX]
    return prompts


def assert_same_result(reference, result, logit_atol: float = LOGIT_ATOL):
    assert result.masks.shape == reference.masks.shape
    assert mask_iou(reference.masks, result.masks).min() >= MIN_IOU
    np.testing.assert_allclose(result.scores, reference.scores, atol=SCORE_ATOL, rtol=0)
    np.testing.assert_allclose(result.logits, reference.logits, atol=logit_atol, rtol=0)
    assert result.prompt_type == reference.prompt_type and result.smoke == reference.smoke


def seeded_cache(image: np.ndarray, name: str, checkpoint, seed: int = 0) -> EmbeddingCache:
    """A memory cache holding a random SAM embedding of ``image`` for ``name`` (skips the slow ViT encoder)."""
    cache = EmbeddingCache(directory=False)
    features = torch.randn(1, 256, 64, 64, generator=torch.Generator().manual_seed(seed))
    resized = (96 * 1024 // 128, 1024)  # ResizeLongestSide of the 96x128 sample image
    key = embedding_key(image, name, checkpoint_identity(checkpoint), "cpu|fp32")
    cache.get_or_compute(key, lambda: Embedding(features, resized, image.shape[:2]), persist=False)
    return cache


# (points, box, mask_input, multimask): every level of every factor at least once (a full grid would run the
# PyTorch decoder, ~0.5 s on 2 cores, 26 more times per model for little more coverage)
CASES = [
    (1, False, False, True),
    (1, True, True, False),
    (5, False, True, True),
    (5, True, False, False),
    (20, True, True, True),
    (20, False, False, False),
    (0, True, False, True),
]


def previous_logits(torch_model) -> np.ndarray:
    """Low-res logits (1, 256, 256) of an earlier click: the ``mask_input`` of the refinement cases."""
    return torch_model.predict(points=[(50, 40)], multimask=False).logits[[0]]
