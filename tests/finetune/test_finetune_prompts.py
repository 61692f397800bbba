"""Prompt sampling as SAM 2 trains: interior clicks, noised boxes, correction clicks; fixed evaluation prompts."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from helpers.baselines import interior_points
from helpers.errors import UserInputError
from helpers.finetune.prompts import (
    BOX_NOISE_BOUND_PX,
    correction_clicks,
    evaluation_prompts,
    interior_clicks,
    noisy_boxes,
    training_prompts,
)
from helpers.maskops import boxes_from_masks


def masks_of(*boxes, shape=(64, 96)):
    """bool (B, H, W) rectangles from pixel XYXY boxes (x1/y1 exclusive)."""
    out = np.zeros((len(boxes), *shape), bool)
    for mask, (x0, y0, x1, y1) in zip(out, boxes, strict=True):
        mask[y0:y1, x0:x1] = True
    return out


def test_interior_clicks_lie_inside_and_away_from_the_edge():
    masks = masks_of((5, 5, 45, 35), (60, 40, 90, 60))
    clicks = interior_clicks(masks, 3, np.random.default_rng(0))
    assert clicks.shape == (2, 3, 2)
    for mask, points in zip(masks, clicks, strict=True):
        cols, rows = points[:, 0].astype(int), points[:, 1].astype(int)
        assert mask[rows, cols].all()
    # weighted by the distance transform: clicks are deeper than uniform pixels of the object
    many = interior_clicks(masks[:1].repeat(200, 0), 1, np.random.default_rng(1))[:, 0].astype(int)
    depth = ndimage.distance_transform_edt(np.pad(masks[0], 1))[1:-1, 1:-1]
    assert depth[many[:, 1], many[:, 0]].mean() > 1.3 * depth[masks[0]].mean()


def test_noisy_boxes_stay_within_sam2s_noise_envelope():
    # a 256-pixel image given to SAM 2 at 256: the cap is 20 px, as sam2's own sampler on that mask
    masks = masks_of((10, 10, 250, 40), (100, 30, 120, 250), shape=(256, 256))
    exact = boxes_from_masks(masks)
    rng = np.random.default_rng(0)
    shifts = np.stack([noisy_boxes(masks, rng, image_size=256) - exact for _ in range(300)])  # (draws, B, 4)
    width, height = exact[:, 2] - exact[:, 0], exact[:, 3] - exact[:, 1]
    # 10 % of the side, at most 20 px: (240 x 30) -> 20 / 3 px; (20 x 220) -> 2 / 20 px
    limit = np.stack([np.minimum(0.1 * width, BOX_NOISE_BOUND_PX), np.minimum(0.1 * height, BOX_NOISE_BOUND_PX)], 1)
    limit = np.concatenate([limit, limit], axis=1)
    assert (np.abs(shifts) <= limit + 1e-4).all()
    assert (np.abs(shifts).max(axis=0) > 0.9 * limit).all()  # the envelope is used, both signs
    assert (shifts.min(axis=0) < 0).all() and (shifts.max(axis=0) > 0).all()
    # SAM 2's own sampler has the same envelope (its boxes use inclusive corners: one pixel of slack)
    from sam2.modeling.sam2_utils import sample_box_points

    torch.manual_seed(0)
    draws = torch.from_numpy(np.tile(masks[:, None], (150, 1, 1, 1)))
    theirs = sample_box_points(draws)[0].reshape(150, 2, 4).numpy()
    their_exact = np.concatenate([exact[:, :2], exact[:, 2:] - 1], axis=1)
    their_shift = np.abs(theirs - their_exact).max(axis=0)
    assert np.allclose(their_shift, np.abs(shifts).max(axis=0), atol=1.5)


def test_boxes_for_a_small_tile_scale_the_cap_to_the_tile():
    masks = masks_of((0, 0, 256, 256), shape=(256, 256))
    shifts = np.abs(np.stack([noisy_boxes(masks, np.random.default_rng(i)) for i in range(200)]) - [0, 0, 256, 256])
    assert shifts.max() <= BOX_NOISE_BOUND_PX * 256 / 1024 + 1e-4  # 5 px: 20 px of the 1024 input


def test_correction_clicks_come_from_the_error_region():
    gt = masks_of((10, 10, 40, 40), (10, 10, 40, 40), (10, 10, 40, 40))
    pred = np.zeros_like(gt)
    pred[0] = gt[0]
    pred[0, 10:40, 30:40] = False  # misses a strip: positive click there
    pred[1] = gt[1]
    pred[1, 45:55, 45:55] = True  # a false blob: negative click there
    pred[2] = gt[2]  # perfect: a negative click on the background
    points, labels = correction_clicks(gt, pred, np.random.default_rng(0))
    (c0, r0), (c1, r1), (c2, r2) = points.astype(int)
    assert labels.tolist() == [1, 0, 0]
    assert 30 <= c0 < 40 and 10 <= r0 < 40
    assert 45 <= c1 < 55 and 45 <= r1 < 55
    assert not gt[2, r2, c2]


def test_training_prompts_mix_boxes_and_one_to_three_clicks():
    masks = masks_of((5, 5, 45, 35), (60, 40, 90, 60))
    rng = np.random.default_rng(0)
    draws = [training_prompts(masks, rng) for _ in range(200)]
    kinds = [d.kind for d in draws]
    assert 0.4 < kinds.count("box") / len(kinds) < 0.6
    counts = {d.points.shape[1] for d in draws if d.points is not None}
    assert counts == {1, 2, 3}
    # SAM 2's rule: three candidates for a single click only (a box counts as two points)
    assert all(d.multimask == (d.kind == "point") for d in draws)
    again = [training_prompts(masks, np.random.default_rng(0)) for _ in range(1)]
    assert again[0].kind == draws[0].kind
    with pytest.raises(UserInputError, match="at least one pixel"):
        training_prompts(np.zeros((1, 8, 8), bool), rng)


def test_evaluation_prompts_are_the_exact_box_and_the_deepest_point():
    masks = masks_of((5, 5, 45, 35), (60, 40, 90, 60))
    box = evaluation_prompts(masks, "box")
    assert (box.boxes == boxes_from_masks(masks)).all() and not box.multimask
    point = evaluation_prompts(masks, "point")
    expected = np.concatenate([interior_points(mask) for mask in masks])
    assert (point.points[:, 0] == expected).all() and point.multimask
    with pytest.raises(UserInputError, match="unknown evaluation prompt"):
        evaluation_prompts(masks, "scribble")
