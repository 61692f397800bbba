"""Held-out scores of a SAM 2 model on validation tiles, with fixed prompts: before and after training.

Every validation object is prompted the same way for every model (the exact box, the deepest interior
point: :func:`helpers.finetune.prompts.evaluation_prompts`), so "before" (the zero-shot model) and
"after" (the fine-tuned one) differ only by the weights. With a single click SAM 2 returns three
candidates; the one with the highest predicted IoU is kept, as a user would. The scores come from
:mod:`helpers.metrics`:

* ``iou``, ``dice``: pixel IoU and Dice of all predicted objects against all reference objects, pooled
  over tiles (true/false positives and negatives summed, so a big tile weighs more);
* ``boundary_f``: DAVIS boundary F of the predicted label raster against the reference objects (walls
  between touching objects count), averaged over tiles;
* ``instance_iou``: the mean IoU of each prompted object's mask with its reference (SAM's "mIoU");
* ``loss``: SAM 2's loss on these prompts (:class:`helpers.finetune.loss.Sam2Loss`), on the output that
  training supervises. (At inference a single-mask prediction whose logits are unstable is swapped for
  the best of the three candidates, ``dynamic_multimask_via_stability``: the scores see that swap, as
  ``Sam2Model.predict`` does; SAM 2's training and validation do not have it, and neither has the loss.)

Each is given for all prompts together and for each prompt kind (``by_prompt``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch

from ..maskops import label_raster
from ..metrics import boundary_f, pixel_scores
from .config import METRICS
from .forward import decode
from .prompts import EVAL_PROMPT_KINDS, evaluation_prompts

__all__ = ["METRICS", "Evaluation", "evaluate_tiles", "fixed_prompts", "higher_is_better"]



def higher_is_better(metric: str) -> bool:
    """``True`` for the scores, ``False`` for the loss."""
    return metric != "loss"


def fixed_prompts(tiles, kinds=EVAL_PROMPT_KINDS) -> dict:
    """``{tile id: {kind: Prompts}}``: the deterministic evaluation prompts of every tile's objects."""
    return {tile.id: {kind: evaluation_prompts(tile.masks(), kind) for kind in kinds} for tile in tiles}


@dataclass
class _Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    boundary: list = field(default_factory=list)
    instance_iou: list = field(default_factory=list)
    loss: list = field(default_factory=list)

    def add(self, tally: _Tally) -> None:
        self.tp, self.fp, self.fn = self.tp + tally.tp, self.fp + tally.fp, self.fn + tally.fn
        self.boundary += tally.boundary
        self.instance_iou += tally.instance_iou
        self.loss += tally.loss

    def scores(self) -> dict:
        union = self.tp + self.fp + self.fn
        return {
            "iou": self.tp / union if union else 1.0,
            "dice": 2 * self.tp / (2 * self.tp + self.fp + self.fn) if union else 1.0,
            "boundary_f": float(np.mean(self.boundary)) if self.boundary else float("nan"),
            "instance_iou": float(np.mean(self.instance_iou)) if self.instance_iou else float("nan"),
            "loss": float(np.mean(self.loss)) if self.loss else float("nan"),
        }


@dataclass
class Evaluation:
    """Scores on held-out tiles (see the module docstring) and the predictions behind them.

    Attributes:
        scores: ``{"iou", "dice", "boundary_f", "instance_iou", "loss", "n_tiles", "n_objects",
            "by_prompt": {kind: {...}}}``.
        predictions: ``{kind: {tile id: uint32 (H, W) label raster of the predicted objects}}``.
    """

    scores: dict
    predictions: dict = field(repr=False, default_factory=dict)


@contextlib.contextmanager
def _without_fallback(decoder):
    """The decoder as SAM 2 trains it: no swap of an unstable single mask for a multimask candidate."""
    saved = getattr(decoder, "dynamic_multimask_via_stability", False)
    decoder.dynamic_multimask_via_stability = False
    try:
        yield
    finally:
        decoder.dynamic_multimask_via_stability = saved


def _instance_ious(pred: np.ndarray, ref: np.ndarray) -> list[float]:
    inter = (pred & ref).reshape(len(ref), -1).sum(1)
    union = (pred | ref).reshape(len(ref), -1).sum(1)
    return [float(i / u) if u else 1.0 for i, u in zip(inter, union, strict=True)]


def evaluate_tiles(sam2, tiles, features, prompts: dict, loss=None, tolerance_px: float | None = None,
                   autocast=None, keep_predictions: bool = True) -> Evaluation:
    """Score a SAM 2 model on tiles with fixed prompts.

    Args:
        sam2: the ``SAM2Base`` to evaluate (put in eval mode here).
        tiles: :class:`helpers.finetune.dataset.TrainingTile` objects.
        features: ``features(tile) -> dict`` of image features (cached or freshly encoded).
        prompts: :func:`fixed_prompts` of these tiles.
        loss: a :class:`helpers.finetune.loss.Sam2Loss` for the validation loss (``None``: no loss).
        tolerance_px: boundary tolerance in pixels (``None``: DAVIS's default for the tile size).
        autocast: a context manager factory for mixed precision (``None``: full precision).
        keep_predictions: keep each tile's predicted label raster (for figures).
    """
    autocast = autocast or contextlib.nullcontext
    modules = [sam2.sam_prompt_encoder, sam2.sam_mask_decoder, sam2.image_encoder]
    was_training = [m.training for m in modules]
    for module in modules:
        module.eval()
    kinds = list(next(iter(prompts.values())).keys()) if prompts else []
    tallies = {kind: _Tally() for kind in kinds}
    predictions: dict = {kind: {} for kind in kinds}
    n_objects = 0
    try:
        for tile in tiles:
            reference = tile.masks()
            n_objects += len(reference)
            with torch.no_grad():
                feats = features(tile)
                for kind in kinds:
                    prompt = prompts[tile.id][kind]
                    with autocast():
                        out = decode(sam2, feats, tile.shape, prompt.points, prompt.labels, prompt.boxes,
                                     multimask=prompt.multimask)
                    tally = tallies[kind]
                    if loss is not None:
                        supervised = out
                        if not prompt.multimask and getattr(sam2.sam_mask_decoder, "dynamic_multimask_via_stability", False):
                            with _without_fallback(sam2.sam_mask_decoder), autocast():
                                supervised = decode(sam2, feats, tile.shape, prompt.points, prompt.labels,
                                                    prompt.boxes, multimask=False)
                        target = torch.from_numpy(reference).to(out.logits.device)
                        tally.loss.append(float(loss([supervised], target)["total"]))
                    best = out.iou.float().argmax(-1)
                    rows = torch.arange(len(best), device=best.device)
                    pred = (out.logits[rows, best] > 0).cpu().numpy()
                    labels = label_raster(pred)
                    pixels = pixel_scores(labels, tile.instances)
                    tally.tp += pixels["tp"]
                    tally.fp += pixels["fp"]
                    tally.fn += pixels["fn"]
                    tally.boundary.append(boundary_f(labels, tile.instances, tolerance_px=tolerance_px)["f"])
                    tally.instance_iou += _instance_ious(pred, reference)
                    if keep_predictions:
                        predictions[kind][tile.id] = labels
    finally:
        for module, mode in zip(modules, was_training, strict=True):
            module.train(mode)
    overall = _Tally()
    for tally in tallies.values():
        overall.add(tally)
    scores = {**overall.scores(), "n_tiles": len(tiles), "n_objects": n_objects,
              "by_prompt": {kind: tally.scores() for kind, tally in tallies.items()}}
    return Evaluation(scores, predictions if keep_predictions else {})
