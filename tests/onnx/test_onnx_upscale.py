"""Masks from low-resolution logits without torch equal SAM's and SAM 2's ``postprocess_masks`` (then > 0)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from helpers.onnx.upscale import MaskUpscaler


def smooth_logits(n: int = 3, size: int = 256, seed: int = 0) -> np.ndarray:
    """Blob-like logits (n, size, size) float32, crossing zero along curved outlines as real masks do."""
    rng = np.random.default_rng(seed)
    return (ndimage.gaussian_filter(rng.normal(size=(n, size, size)), (0, 4, 4)) * 40).astype(np.float32)


def sam_postprocess(low: np.ndarray, input_hw, output_hw) -> np.ndarray:
    """segment-anything's ``Sam.postprocess_masks`` (1024² resize, crop, resize) on (N, 256, 256) logits."""
    tensor = torch.from_numpy(low)[:, None]
    up = torch.nn.functional.interpolate(tensor, (1024, 1024), mode="bilinear", align_corners=False)
    up = up[..., : input_hw[0], : input_hw[1]]
    return torch.nn.functional.interpolate(up, tuple(output_hw), mode="bilinear", align_corners=False)[:, 0].numpy()


@pytest.mark.parametrize("input_hw, output_hw", [((1024, 1024), (1024, 1024)), ((768, 1024), (300, 400)),
                                                 ((1024, 683), (1500, 1000)), ((768, 1024), (96, 128))])
def test_sam_upscaling_equals_postprocess_masks(input_hw, output_hw):
    low = smooth_logits()
    reference = sam_postprocess(low, input_hw, output_hw)
    upscaler = MaskUpscaler.sam(1024, input_hw, output_hw)
    logits = upscaler.logits(low)
    assert logits.shape == (3, *output_hw) and upscaler.output_hw == tuple(output_hw)
    np.testing.assert_allclose(logits, reference, rtol=0, atol=1e-4 * np.abs(low).max())
    masks = upscaler.masks(low, threshold=0.0)
    assert masks.dtype == bool
    assert (masks != (reference > 0)).mean() < 1e-4  # only pixels within float rounding of the threshold


def test_sam2_upscaling_equals_one_bilinear_resize():
    low = smooth_logits(2, seed=1)
    reference = torch.nn.functional.interpolate(torch.from_numpy(low)[:, None], (333, 500), mode="bilinear",
                                                align_corners=False)[:, 0].numpy()
    upscaler = MaskUpscaler.direct((333, 500))
    np.testing.assert_allclose(upscaler.logits(low), reference, rtol=0, atol=1e-4 * np.abs(low).max())
    assert (upscaler.masks(low, threshold=1.5) != (reference > 1.5)).mean() < 1e-4
    assert upscaler.masks(np.zeros((0, 256, 256), np.float32)).shape == (0, 333, 500)
