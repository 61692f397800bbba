"""Prompts sampled from reference masks, the way SAM 2's training samples them.

* **points**: 1 to 3 positive clicks per object, drawn from its interior with a probability that grows
  with the distance to the object's edge (Euclidean distance transform), so clicks land inside the
  object rather than on its outline (where the reference itself is least certain);
* **boxes**: the object's box with each side moved by up to 10 % of the box's width/height, capped at 20
  pixels of SAM 2's 1024-pixel input (``sam2.modeling.sam2_utils.sample_box_points``: noise 0.1, bound 20);
* **correction clicks**: one more click per object, uniformly from the error region of the previous
  prediction: positive in a missed part, negative in a false part (SAM 2's ``uniform`` error sampling;
  a perfect prediction gets a negative click on the background).

For evaluation the prompts are deterministic: the exact box and the single deepest interior point
(:func:`helpers.baselines.interior_points`), so a model before and after fine-tuning sees the same ones.

Every prompt follows the project's pixel convention: points (column, row) pixel indexes, boxes XYXY
pixel edges with x1/y1 exclusive (as :attr:`helpers.masks.Masks.boxes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserInputError
from ..maskops import boxes_from_masks

__all__ = [
    "BOX_NOISE",
    "BOX_NOISE_BOUND_PX",
    "EVAL_PROMPT_KINDS",
    "Prompts",
    "correction_clicks",
    "evaluation_prompts",
    "interior_clicks",
    "noisy_boxes",
    "training_prompts",
]

BOX_NOISE = 0.1
"""Box corners move by up to this fraction of the box's width (x) and height (y) (SAM 2's ``noise``)."""

BOX_NOISE_BOUND_PX = 20.0
"""...but by at most this many pixels of SAM 2's 1024-pixel input (SAM 2's ``noise_bound``)."""

EVAL_PROMPT_KINDS = ("box", "point")
"""Evaluation prompts: the exact box, the deepest interior point."""


@dataclass
class Prompts:
    """Prompts for B objects of one image, all of one shape (so they decode as one batch).

    Attributes:
        points: float (B, N, 2) pixel (column, row), or ``None``.
        labels: int (B, N), 1 foreground / 0 background, or ``None``.
        boxes: float (B, 4) XYXY pixel edges, or ``None``.
        kind: ``"box"``, ``"point"`` (one click) or ``"points"`` (several clicks), plus ``"+clicks"``
            once correction clicks were added.
    """

    points: np.ndarray | None = None
    labels: np.ndarray | None = None
    boxes: np.ndarray | None = None
    kind: str = "point"

    def __len__(self) -> int:
        return len(self.boxes) if self.boxes is not None else len(self.points)

    @property
    def num_points(self) -> int:
        """Points per object as SAM 2 counts them (a box counts as two): decides multimask output."""
        return (0 if self.points is None else self.points.shape[1]) + (0 if self.boxes is None else 2)

    @property
    def multimask(self) -> bool:
        """SAM 2's rule (``multimask_max_pt_num: 1``): three candidates for a single click only."""
        return self.num_points <= 1

    def with_clicks(self, points: np.ndarray, labels: np.ndarray) -> Prompts:
        """These prompts plus one (column, row) click per object: points (B, 2), labels (B,)."""
        new_points = points[:, None].astype(np.float32)
        new_labels = labels[:, None].astype(np.int32)
        if self.points is not None:
            new_points = np.concatenate([self.points, new_points], axis=1)
            new_labels = np.concatenate([self.labels, new_labels], axis=1)
        kind = self.kind if self.kind.endswith("+clicks") else f"{self.kind}+clicks"
        return Prompts(new_points, new_labels, self.boxes, kind)


def _check_masks(masks) -> np.ndarray:
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3:
        raise UserInputError(f"masks must be (B, H, W) bool, got shape {masks.shape}")
    if not masks.reshape(len(masks), -1).any(axis=1).all():
        raise UserInputError("every mask needs at least one pixel to sample a prompt from")
    return masks


def interior_clicks(masks, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct positive clicks per object, weighted by the distance to its edge.

    Args:
        masks: bool (B, H, W), one object per mask.
        n: clicks per object (an object with fewer pixels repeats clicks).
        rng: a ``numpy.random.Generator``.

    Returns:
        float32 (B, n, 2) pixel (column, row).
    """
    from scipy import ndimage

    masks = _check_masks(masks)
    clicks = np.zeros((len(masks), n, 2), np.float32)
    for i, mask in enumerate(masks):
        # distance from each object pixel to the nearest pixel outside it (the image border counts as
        # outside: an object cut by the tile edge has its edge there too)
        depth = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
        rows, cols = np.nonzero(mask)
        weights = depth[rows, cols]
        chosen = rng.choice(len(rows), size=n, replace=len(rows) < n, p=weights / weights.sum())
        clicks[i] = np.stack([cols[chosen], rows[chosen]], axis=1)
    return clicks


def noisy_boxes(masks, rng: np.random.Generator, noise: float = BOX_NOISE, bound_px: float | None = None,
                image_size: int = 1024) -> np.ndarray:
    """Each object's box with every side moved uniformly by up to ``noise`` x its extent, capped.

    Args:
        masks: bool (B, H, W).
        rng: a ``numpy.random.Generator``.
        noise: the share of the box's width (x sides) and height (y sides).
        bound_px: cap in pixels of the tile; default :data:`BOX_NOISE_BOUND_PX` pixels of SAM 2's
            ``image_size`` input, converted to the tile (a 256-pixel tile: 5 pixels).
        image_size: SAM 2's input size (1024).

    Returns:
        float32 (B, 4) XYXY pixel edges, clipped to the tile.
    """
    masks = _check_masks(masks)
    height, width = masks.shape[1:]
    boxes = boxes_from_masks(masks)
    if bound_px is None:
        bound_x, bound_y = BOX_NOISE_BOUND_PX * width / image_size, BOX_NOISE_BOUND_PX * height / image_size
    else:
        bound_x = bound_y = float(bound_px)
    max_dx = np.minimum((boxes[:, 2] - boxes[:, 0]) * noise, bound_x)
    max_dy = np.minimum((boxes[:, 3] - boxes[:, 1]) * noise, bound_y)
    scale = np.stack([max_dx, max_dy, max_dx, max_dy], axis=1)
    noisy = boxes + rng.uniform(-1.0, 1.0, size=boxes.shape) * scale
    noisy = np.clip(noisy, 0, [width, height, width, height])
    # keep every box at least one pixel wide and high after the noise
    noisy[:, 2] = np.maximum(noisy[:, 2], np.minimum(noisy[:, 0] + 1, width))
    noisy[:, 3] = np.maximum(noisy[:, 3], np.minimum(noisy[:, 1] + 1, height))
    return noisy.astype(np.float32)


def correction_clicks(masks, predicted, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One click per object from the error region of a prediction (SAM 2's ``uniform`` sampling).

    A pixel is drawn uniformly from the false-positive pixels (predicted, not in the object: a negative
    click, label 0) together with the false-negative ones (missed: a positive click, label 1). A perfect
    prediction gets a negative click on the background.

    Args:
        masks: bool (B, H, W) reference objects.
        predicted: bool (B, H, W) the previous prediction of each object.
        rng: a ``numpy.random.Generator``.

    Returns:
        ``(points float32 (B, 2) pixel (column, row), labels int32 (B,))``.
    """
    masks = _check_masks(masks)
    predicted = np.asarray(predicted, dtype=bool)
    points = np.zeros((len(masks), 2), np.float32)
    labels = np.zeros(len(masks), np.int32)
    for i, (gt, pred) in enumerate(zip(masks, predicted, strict=True)):
        errors = gt ^ pred
        region = errors if errors.any() else ~gt
        if not region.any():  # the object fills the tile and was found: click on it again
            region = gt
        rows, cols = np.nonzero(region)
        pick = rng.integers(len(rows))
        points[i] = cols[pick], rows[pick]
        labels[i] = int(gt[rows[pick], cols[pick]])
    return points, labels


def training_prompts(masks, rng: np.random.Generator, box_probability: float = 0.5, max_points: int = 3,
                     image_size: int = 1024) -> Prompts:
    """First prompts of a training step: noised boxes (probability ``box_probability``) or 1..``max_points``
    interior clicks, the same kind and count for every object of the step (one decoder batch).

    Args:
        masks: bool (B, H, W) the step's objects.
        rng: a ``numpy.random.Generator`` (the run's seed makes the sequence reproducible).
        box_probability: chance that the step uses boxes (SAM 2's images: 0.5).
        max_points: most clicks per object (the count is uniform in 1..max_points).
        image_size: SAM 2's input size (for the box-noise cap).
    """
    masks = _check_masks(masks)
    if not 0 <= box_probability <= 1:
        raise UserInputError(f"box_probability must be within 0..1, got {box_probability}")
    if max_points < 1:
        raise UserInputError(f"max_points must be at least 1, got {max_points}")
    if rng.random() < box_probability:
        return Prompts(boxes=noisy_boxes(masks, rng, image_size=image_size), kind="box")
    n = int(rng.integers(1, max_points + 1))
    points = interior_clicks(masks, n, rng)
    return Prompts(points, np.ones(points.shape[:2], np.int32), kind="point" if n == 1 else "points")


def evaluation_prompts(masks, kind: str) -> Prompts:
    """Deterministic prompts for evaluation: ``"box"`` (the exact box) or ``"point"`` (deepest point).

    Args:
        masks: bool (B, H, W) the reference objects.
        kind: one of :data:`EVAL_PROMPT_KINDS`.
    """
    from ..baselines import interior_points

    masks = _check_masks(masks)
    if kind == "box":
        return Prompts(boxes=boxes_from_masks(masks), kind="box")
    if kind == "point":
        points = np.stack([interior_points(mask)[0] for mask in masks])[:, None].astype(np.float32)
        return Prompts(points, np.ones((len(masks), 1), np.int32), kind="point")
    raise UserInputError(f"unknown evaluation prompt {kind!r}; choose from {', '.join(EVAL_PROMPT_KINDS)}")
