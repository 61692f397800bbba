"""SAM 2's training loss (``training/loss_fns.py`` of facebookresearch/sam2), for one image at a time.

Per prompt and per decoder pass (a "step": the first prompt, then each correction click):

* **focal** loss (RetinaNet's sigmoid focal loss, alpha 0.25, gamma 2) of the mask logits, averaged over
  pixels, weight 20;
* **dice** loss (soft Dice with +1 smoothing), weight 1;
* **IoU head**: L1 between the predicted IoU and the actual IoU of the thresholded mask, weight 1;
* **object score**: binary cross-entropy of the "object present" logit (SAM 2.1's occlusion head; every
  prompted training object is present), weight 1, as in SAM 2.1's fine-tuning configuration.

With multimask output (three candidates for one click) only the candidate with the lowest
``20 * focal + dice`` is back-propagated, while the IoU head is supervised on all three
(``supervise_all_iou``), exactly as the official loss. Every term is summed over objects and divided by
the number of objects; steps add up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .config import LOSS_WEIGHTS

__all__ = ["LOSS_WEIGHTS", "Sam2Loss", "dice_loss", "focal_loss", "iou_head_loss", "object_score_loss"]



def focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """Sigmoid focal loss averaged over pixels: float (B, M) for logits/targets (B, M, H, W).

    ``alpha < 0`` disables the class weighting (with ``gamma = 0`` this is binary cross-entropy).
    """
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.flatten(2).mean(-1)


def dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Soft Dice loss ``1 - (2 sum(p t) + 1) / (sum(p) + sum(t) + 1)``: float (B, M) for (B, M, H, W)."""
    prob = logits.sigmoid().flatten(2)
    targets = targets.flatten(2)
    total = prob.sum(-1) + targets.sum(-1)
    overlap = total - (prob - targets).abs().sum(-1)  # = 2 sum(p t) for binary targets
    return 1 - (overlap + 1) / (total + 1)


def iou_head_loss(logits: torch.Tensor, targets: torch.Tensor, predicted_iou: torch.Tensor) -> torch.Tensor:
    """L1 between predicted IoU (B, M) and the IoU of ``logits > 0`` with ``targets``: float (B, M).

    The actual IoU is a constant (no gradient reaches the mask logits through it).
    """
    pred = logits.flatten(2) > 0
    gt = targets.flatten(2) > 0
    union = (pred | gt).sum(-1).float().clamp(min=1.0)
    actual = (pred & gt).sum(-1).float() / union
    return (predicted_iou.float() - actual).abs()


def object_score_loss(object_score: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the object-present logit (B, 1) against ``present`` (B, 1): float (B,)."""
    return F.binary_cross_entropy_with_logits(object_score.float(), present, reduction="none").mean(-1)


@dataclass
class Sam2Loss:
    """SAM 2's multi-step, multi-mask loss.

    Attributes:
        weights: ``{"mask": focal, "dice": ..., "iou": ..., "class": ...}`` (default :data:`LOSS_WEIGHTS`).
        focal_alpha, focal_gamma: the focal loss's class weight and focusing exponent (0.25, 2).
        supervise_all_iou: train the IoU head on all candidates (SAM 2's choice), not only the chosen one.
    """

    weights: dict = field(default_factory=lambda: dict(LOSS_WEIGHTS))
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    supervise_all_iou: bool = True

    def __post_init__(self):
        unknown = sorted(set(self.weights) - set(LOSS_WEIGHTS))
        if unknown:
            raise ValueError(f"unknown loss weight(s) {', '.join(unknown)}; valid: {', '.join(LOSS_WEIGHTS)}")
        self.weights = {**dict.fromkeys(LOSS_WEIGHTS, 0.0), **self.weights}

    def step(self, logits: torch.Tensor, iou: torch.Tensor, object_score: torch.Tensor,
             targets: torch.Tensor, num_objects: float) -> dict:
        """The loss terms of one decoder pass.

        Args:
            logits: float (B, M, H, W) mask logits (M candidates per prompt).
            iou: float (B, M) predicted IoU.
            object_score: float (B, 1) object-present logits.
            targets: bool or float (B, H, W) reference masks, one per prompt.
            num_objects: the divisor (objects in the batch).

        Returns:
            ``{"mask", "dice", "iou", "class"}`` scalar tensors (already divided by ``num_objects``) and
            ``"chosen"``: long (B,) the candidate each prompt back-propagated.
        """
        logits = logits.float()
        target = targets.float()[:, None].expand_as(logits)
        focal = focal_loss(logits, target, self.focal_alpha, self.focal_gamma)
        dice = dice_loss(logits, target)
        iou_l1 = iou_head_loss(logits, target, iou)
        rows = torch.arange(logits.shape[0], device=logits.device)
        chosen = torch.argmin(focal * self.weights["mask"] + dice * self.weights["dice"], dim=-1)
        iou_term = iou_l1.mean(-1) if self.supervise_all_iou else iou_l1[rows, chosen]
        present = (targets.flatten(1) > 0).any(-1, keepdim=True).float()
        class_term = object_score_loss(object_score, present)
        weight = present[:, 0]  # mask terms only where an object is present (SAM 2's rule)
        return {
            "mask": (focal[rows, chosen] * weight).sum() / num_objects,
            "dice": (dice[rows, chosen] * weight).sum() / num_objects,
            "iou": (iou_term * weight).sum() / num_objects,
            "class": class_term.sum() / num_objects,
            "chosen": chosen,
        }

    def __call__(self, passes, targets: torch.Tensor) -> dict:
        """Total loss over decoder passes.

        Args:
            passes: a sequence of ``(logits, iou, object_score)`` (see :meth:`step`) or
                :class:`helpers.finetune.forward.Decoded`, one per pass (first prompt, corrections).
            targets: bool (B, H, W) reference masks.

        Returns:
            ``{"total", "mask", "dice", "iou", "class"}``: ``total`` is the weighted sum (a tensor with
            gradient), the others are the unweighted terms summed over passes (tensors).
        """
        num_objects = max(float(targets.shape[0]), 1.0)
        terms = dict.fromkeys(LOSS_WEIGHTS, 0.0)
        for one in passes:
            logits, iou, object_score = (one.logits, one.iou, one.object_score) if hasattr(one, "logits") else one
            found = self.step(logits, iou, object_score, targets, num_objects)
            for key in terms:
                terms[key] = terms[key] + found[key]
        total = sum(terms[key] * self.weights[key] for key in terms if self.weights[key])
        return {"total": total, **terms}
