"""The settings of a fine-tuning run (:class:`FinetuneConfig`), checked before anything loads.

Kept apart from the trainer so the command line can build and check them without torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..errors import UserInputError
from .prompts import EVAL_PROMPT_KINDS

__all__ = ["ENCODER_LR_RATIO", "LOSS_WEIGHTS", "METRICS", "FinetuneConfig"]

METRICS = ("iou", "dice", "boundary_f", "instance_iou", "loss")
"""Validation metrics a run can select its best checkpoint by."""

LOSS_WEIGHTS = {"mask": 20.0, "dice": 1.0, "iou": 1.0, "class": 1.0}
"""SAM 2.1's weights: focal (``loss_mask``), dice, IoU head (L1) and object score (``loss_class``)."""

ENCODER_LR_RATIO = 0.6
"""Encoder learning rate / decoder learning rate when the encoder trains (SAM 2.1's fine-tuning
configuration: ``vision_lr`` 3e-6 against ``base_lr`` 5e-6)."""


@dataclass
class FinetuneConfig:
    """Every choice of a fine-tuning run (defaults: SAM 2.1's fine-tuning recipe where it has one).

    Attributes:
        epochs: passes over the training tiles (one step per tile and epoch).
        lr: AdamW learning rate of the prompt encoder and mask decoder (decays by a cosine to lr / 10).
        encoder_lr: the image encoder's learning rate when it trains (default ``lr`` x
            :data:`ENCODER_LR_RATIO`).
        weight_decay: AdamW weight decay (0.1, none on biases and norm layers, as SAM 2).
        grad_clip: largest gradient norm (0.1, SAM 2's ``GradientClipper``).
        freeze_encoder: keep the image encoder fixed (encode each tile once; the fast path).
        cache_features: with a frozen encoder, encode each tile once through the embedding cache
            (``False`` re-encodes every step: only useful to measure what the cache saves).
        objects_per_step: most objects of a tile prompted in one step (a random subset beyond).
        box_probability: chance that a step prompts with noised boxes instead of clicks (0.5).
        max_points: most interior clicks per object (1..max_points, uniform).
        correction_clicks: further decoder passes per step, each adding a click from the error region
            and feeding the previous logits back (SAM 2 uses up to 7; each pass costs a decoder run).
        eval_prompts: validation prompt kinds, any of ``"box"``, ``"point"``.
        select_by: the validation metric that picks the best checkpoint: ``"iou"``, ``"dice"``,
            ``"boundary_f"``, ``"instance_iou"`` (higher is better) or ``"loss"`` (lower is better).
        seed: seeds torch and the prompt sampling.
        tolerance_px: boundary-F tolerance in pixels (``None``: DAVIS's default for the tile size).
        loss_weights: SAM 2's loss weights (:data:`helpers.finetune.loss.LOSS_WEIGHTS`).
        cache_memory_gb: memory for cached tile features (SAM 2 at 1024: 16.8 MB per tile); tiles beyond
            it are read back from the disk cache each time.
    """

    epochs: int = 10
    lr: float = 1e-4
    encoder_lr: float | None = None
    weight_decay: float = 0.1
    grad_clip: float = 0.1
    freeze_encoder: bool = True
    cache_features: bool = True
    objects_per_step: int = 8
    box_probability: float = 0.5
    max_points: int = 3
    correction_clicks: int = 0
    eval_prompts: tuple = EVAL_PROMPT_KINDS
    select_by: str = "iou"
    seed: int = 0
    tolerance_px: float | None = None
    loss_weights: dict = field(default_factory=lambda: dict(LOSS_WEIGHTS))
    cache_memory_gb: float = 4.0

    def __post_init__(self):
        self.eval_prompts = tuple(self.eval_prompts)
        checks = [
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (self.encoder_lr is None or self.encoder_lr > 0, f"encoder_lr must be > 0, got {self.encoder_lr}"),
            (self.objects_per_step >= 1, f"objects_per_step must be at least 1, got {self.objects_per_step}"),
            (self.correction_clicks >= 0, f"correction_clicks must be >= 0, got {self.correction_clicks}"),
            (self.grad_clip > 0, f"grad_clip must be > 0, got {self.grad_clip}"),
            (self.select_by in METRICS, f"unknown select_by {self.select_by!r}; choose one of {', '.join(METRICS)}"),
            (bool(self.eval_prompts) and set(self.eval_prompts) <= set(EVAL_PROMPT_KINDS),
             f"eval_prompts must be some of {', '.join(EVAL_PROMPT_KINDS)}, got {list(self.eval_prompts)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserInputError(message)

    @property
    def effective_encoder_lr(self) -> float:
        return self.encoder_lr if self.encoder_lr is not None else self.lr * ENCODER_LR_RATIO

    def resume_key(self) -> dict:
        """The settings a resumed run must share with the run it continues (all but ``epochs``)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("epochs", "cache_memory_gb")}
