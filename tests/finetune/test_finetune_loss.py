"""SAM 2's loss: each term against its textbook definition, the lowest-loss candidate rule, the weights."""

import numpy as np
import pytest
import torch

from helpers.finetune.loss import (
    LOSS_WEIGHTS,
    Sam2Loss,
    dice_loss,
    focal_loss,
    iou_head_loss,
    object_score_loss,
)


@pytest.fixture
def example():
    torch.manual_seed(0)
    targets = torch.zeros(3, 20, 24, dtype=torch.bool)
    targets[0, 2:10, 3:15] = True
    targets[1, :, :5] = True
    targets[2, 15:, 20:] = True
    logits = torch.randn(3, 3, 20, 24) * 2
    return logits, targets


def test_focal_loss_is_retinanets_averaged_over_pixels(example):
    logits, targets = example
    t = targets[:, None].float().expand_as(logits)
    p = torch.sigmoid(logits)
    p_t = p * t + (1 - p) * (1 - t)
    alpha_t = 0.25 * t + 0.75 * (1 - t)
    expected = (-alpha_t * (1 - p_t) ** 2 * torch.log(p_t)).flatten(2).mean(-1)
    assert torch.allclose(focal_loss(logits, t), expected, atol=1e-6)
    try:
        from torchvision.ops import sigmoid_focal_loss
    except ImportError:
        return
    assert torch.allclose(focal_loss(logits, t), sigmoid_focal_loss(logits, t, 0.25, 2).flatten(2).mean(-1), atol=1e-6)


def test_dice_loss_is_soft_dice_with_plus_one_smoothing(example):
    logits, targets = example
    t = targets[:, None].float().expand_as(logits)
    p = torch.sigmoid(logits)
    expected = 1 - (2 * (p * t).flatten(2).sum(-1) + 1) / (p.flatten(2).sum(-1) + t.flatten(2).sum(-1) + 1)
    assert torch.allclose(dice_loss(logits, t), expected, atol=1e-6)


def test_iou_head_loss_is_l1_to_the_thresholded_iou():
    targets = torch.zeros(1, 1, 4, 4)
    targets[0, 0, :2, :2] = 1  # 4 pixels
    logits = -torch.ones(1, 1, 4, 4)
    logits[0, 0, :2, :] = 1  # 8 predicted pixels, 4 shared: IoU 0.5
    assert iou_head_loss(logits, targets, torch.tensor([[0.8]])).item() == pytest.approx(0.3)
    assert object_score_loss(torch.tensor([[0.0]]), torch.ones(1, 1)).item() == pytest.approx(np.log(2))


def test_only_the_lowest_loss_candidate_is_back_propagated_and_the_iou_head_sees_all(example):
    logits, targets = example
    logits = logits.clone()
    logits[:, 1] = torch.where(targets, 8.0, -8.0)  # candidate 1 is (nearly) perfect for every object
    logits.requires_grad_(True)
    iou = torch.rand(3, 3, requires_grad=True)
    score = torch.zeros(3, 1, requires_grad=True)
    loss = Sam2Loss()
    found = loss.step(logits, iou, score, targets, num_objects=3)
    assert found["chosen"].tolist() == [1, 1, 1]
    total = sum(found[k] * LOSS_WEIGHTS[k] for k in LOSS_WEIGHTS)
    total.backward()
    grad = logits.grad.abs().flatten(2).sum(-1)
    assert (grad[:, 1] > 0).all() and (grad[:, [0, 2]] == 0).all()  # focal + dice reach candidate 1 only
    assert (iou.grad != 0).all()  # supervise_all_iou: the IoU head learns from every candidate
    iou.grad = None
    only_chosen = Sam2Loss(supervise_all_iou=False).step(logits, iou, score, targets, 3)
    only_chosen["iou"].backward()
    assert (iou.grad[:, 1] != 0).all() and (iou.grad[:, [0, 2]] == 0).all()


def test_total_is_the_weighted_sum_over_passes(example):
    logits, targets = example
    iou, score = torch.rand(3, 3), torch.randn(3, 1)
    loss = Sam2Loss()
    one = loss([(logits, iou, score)], targets)
    two = loss([(logits, iou, score), (logits[:, :1], iou[:, :1], score)], targets)
    single = loss.step(logits[:, :1], iou[:, :1], score, targets, 3)
    expected = sum(float(one[k] + single[k]) * w for k, w in LOSS_WEIGHTS.items())
    assert float(two["total"]) == pytest.approx(expected, rel=1e-6)
    assert float(one["total"]) == pytest.approx(sum(float(one[k]) * w for k, w in LOSS_WEIGHTS.items()), rel=1e-6)
    assert LOSS_WEIGHTS == {"mask": 20.0, "dice": 1.0, "iou": 1.0, "class": 1.0}
    # an empty target (no object) contributes no mask, dice or IoU loss, as SAM 2's rule says
    empty = loss([(logits, iou, score)], torch.zeros_like(targets))
    assert float(empty["mask"]) == float(empty["dice"]) == float(empty["iou"]) == 0.0
    with pytest.raises(ValueError, match="unknown loss weight"):
        Sam2Loss(weights={"focal": 1.0})
