"""The fine-tuning loop: SAM 2 on a binary tile data set, encoder frozen by default, resumable.

    result = helpers.finetune_sam2(dataset, "runs/buildings", model="sam2.1_hiera_t", epochs=10)
    result.metrics["before"]["iou"], result.metrics["after"]["iou"]   # held-out, same prompts
    helpers.load_model("sam2.1_hiera_t", weights=result.checkpoint)   # works like any checkpoint

What one run does:

1. **Encode each tile once.** With the image encoder frozen (the default) the features of a tile never
   change, so they are computed once through the project's embedding cache
   (:mod:`helpers.embedding_cache`, memory and disk: a resumed run does not encode again) and every step
   only runs SAM 2's prompt encoder and mask decoder (about 4 M of Hiera-T's 39 M weights). With
   ``freeze_encoder=False`` the encoder trains too, at a lower learning rate, and every step encodes.
2. **Score the zero-shot model** on the validation tiles with fixed prompts: the "before" numbers.
3. **Train**: each step takes one tile, up to ``objects_per_step`` of its objects, samples SAM 2's
   prompts (noised boxes or 1-3 interior clicks, optional correction clicks; :mod:`.prompts`) and
   minimises SAM 2's loss (:mod:`.loss`) with AdamW, a cosine learning-rate schedule (to a tenth) and
   gradient clipping; bf16 autocast on CUDA, fp32 on CPU; fixed seeds. A tqdm bar shows the loss.
4. **After each epoch** score the validation tiles; keep the checkpoint of the best epoch by the metric
   the user names (``select_by``), in SAM 2's own format; save the resumable state.
5. **Load the best checkpoint back** into the model; the scores of epoch 0 and of the best epoch (same
   prompts; scored again only when a resume lost them) are the "before" and "after" numbers, written
   to ``metrics.json`` (the tests check that ``best.pt`` loaded anew predicts exactly what "after"
   scored); the curves go to ``curves.png``.

Outputs in ``out_dir``: ``best.pt`` (SAM 2 format), ``metrics.json``, ``curves.png``, ``history.json``,
``manifest.json`` (the data set) and ``state.pt`` (resume; delete it to start again).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_output
from ..embedding_cache import EmbeddingCache, checkpoint_identity
from ..errors import UserInputError
from .checkpoints import load_training_state, save_sam2_checkpoint, save_training_state, trainable_state
from .config import ENCODER_LR_RATIO, METRICS, FinetuneConfig
from .dataset import TileDataset
from .evaluation import Evaluation, evaluate_tiles, fixed_prompts, higher_is_better
from .forward import decode, encode, image_transform
from .loss import LOSS_WEIGHTS, Sam2Loss
from .prompts import correction_clicks, training_prompts

__all__ = ["ENCODER_LR_RATIO", "FinetuneConfig", "FinetuneResult", "Trainer", "finetune_sam2"]

BEST_NAME, STATE_NAME, METRICS_NAME = "best.pt", "state.pt", "metrics.json"
CURVES_NAME, HISTORY_NAME = "curves.png", "history.json"


@dataclass
class FinetuneResult:
    """What :func:`finetune_sam2` produced.

    Attributes:
        out_dir: the run folder.
        checkpoint: the best checkpoint (SAM 2 format), ``out_dir / "best.pt"``.
        metrics: what ``metrics.json`` holds: ``before`` / ``after`` held-out scores (``iou``,
            ``dice``, ``boundary_f``, ``instance_iou``, ``loss``, ``by_prompt``), ``best_epoch``,
            ``select_by``, times, sizes and ``smoke``.
        history: one dict per epoch (epoch 0 = before training): ``train_loss``, validation scores,
            ``lr``, ``seconds``, ``cpu_seconds``.
        steps: one dict per training step: ``epoch``, ``step``, ``loss`` and its terms, ``prompt``.
        before, after: the two :class:`helpers.finetune.evaluation.Evaluation` (with predictions).
        smoke: the weights descend from untrained smoke weights.
    """

    out_dir: Path
    checkpoint: Path
    metrics: dict
    history: list
    steps: list
    before: Evaluation = field(repr=False)
    after: Evaluation = field(repr=False)
    smoke: bool = False

    def table(self) -> str:
        """Before/after held-out scores as a plain-text table (with the smoke note when it applies)."""
        from .plots import before_after_table

        return before_after_table(self.metrics)

    def plot(self):
        """The loss and validation curves (a matplotlib figure)."""
        from .plots import plot_history

        return plot_history(self.history, self.steps, self.metrics)

    def show_predictions(self, dataset: TileDataset, n: int = 3, kind: str | None = None):
        """A figure: validation tiles with the reference, the zero-shot and the fine-tuned masks."""
        from .plots import show_predictions

        return show_predictions(self, dataset, n=n, kind=kind)


def _cosine(step: int, total: int, start: float, final_ratio: float = 0.1) -> float:
    """Cosine decay from ``start`` at step 0 to ``start * final_ratio`` at ``total``."""
    progress = min(step / max(total, 1), 1.0)
    final = start * final_ratio
    return final + (start - final) * 0.5 * (1 + math.cos(math.pi * progress))


def _plain(settings):
    """Settings as JSON sees them (tuples become lists), so a saved run compares equal to the same run."""
    return json.loads(json.dumps(settings))


def _is_norm(module) -> bool:
    return isinstance(module, torch.nn.LayerNorm) or type(module).__name__ == "LayerNorm2d"


class Trainer:
    """One fine-tuning run of a SAM 2 model on a :class:`TileDataset` (use :func:`finetune_sam2`).

    Args:
        model: a loaded :class:`helpers.backends.sam2.Sam2Model` (its weights are trained in place).
        dataset: the tiles.
        out_dir: the run folder.
        config: :class:`FinetuneConfig`.
        progress: show tqdm bars.
    """

    def __init__(self, model, dataset: TileDataset, out_dir, config: FinetuneConfig, progress: bool = True):
        from ..backends.sam2 import Sam2Model

        if not isinstance(model, Sam2Model):
            raise UserInputError(f"fine-tuning needs a SAM 2 model (sam2.1_hiera_*), got {getattr(model, 'name', model)}")
        if model.checkpoint is None:
            raise UserInputError("fine-tuning needs a model loaded from a weights file (helpers.load_model)")
        self.model, self.dataset, self.config = model, dataset, config
        self.sam2 = model.sam2
        self.out_dir = Path(out_dir)
        self.progress = progress
        self.device = model.device
        self.base_identity = checkpoint_identity(model.checkpoint)
        self.smoke_name = model.name if model.smoke else None
        self.loss = Sam2Loss(weights=dict(config.loss_weights))
        self.transform = image_transform(self.sam2)
        self.train_tiles, self.val_tiles = dataset.train, dataset.val
        self.val_prompts = fixed_prompts(self.val_tiles, config.eval_prompts)
        self.rng = np.random.default_rng(config.seed)
        self.history: list[dict] = []
        self.steps: list[dict] = []
        self.best: dict = {"epoch": None, "value": None}
        # this process's evaluations of the starting weights (epoch 0) and of the best epoch, with their
        # predictions: the "before" and "after" of the run (None after a resume: recomputed at the end)
        self.before_evaluation: Evaluation | None = None
        self.best_evaluation: Evaluation | None = None
        self.epoch = 0
        self.step = 0
        self.timings = {"encode_seconds": 0.0, "encode_cpu_seconds": 0.0, "encoded_tiles": 0}
        self._set_trainable()
        self.optimizer = self._optimizer()
        self.total_steps = config.epochs * len(self.train_tiles)
        self.cache = self._feature_cache()

    # ---- set-up ---------------------------------------------------------------------------------
    def _set_trainable(self) -> None:
        """Prompt encoder + mask decoder always; the image encoder only when not frozen; nothing else."""
        trained = ["sam_prompt_encoder.", "sam_mask_decoder."]
        if not self.config.freeze_encoder:
            trained.append("image_encoder.")
        for name, parameter in self.sam2.named_parameters():
            parameter.requires_grad_(any(name.startswith(prefix) for prefix in trained))

    def _optimizer(self) -> torch.optim.Optimizer:
        """AdamW with SAM 2's groups: no weight decay on biases and norm layers; a lower encoder lr."""
        no_decay = set()
        for module_name, module in self.sam2.named_modules():
            if _is_norm(module):
                no_decay |= {f"{module_name}.{n}" for n, _ in module.named_parameters(recurse=False)}
        groups: dict = {}
        for name, parameter in self.sam2.named_parameters():
            if not parameter.requires_grad:
                continue
            encoder = name.startswith("image_encoder.")
            decay = not (name.endswith(".bias") or name in no_decay)
            key = (encoder, decay)
            if key not in groups:
                lr = self.config.effective_encoder_lr if encoder else self.config.lr
                groups[key] = {"params": [], "lr": lr, "base_lr": lr,
                               "weight_decay": self.config.weight_decay if decay else 0.0,
                               "name": f"{'encoder' if encoder else 'decoder'}{'' if decay else ' (no decay)'}"}
            groups[key]["params"].append(parameter)
        return torch.optim.AdamW([groups[k] for k in sorted(groups)])

    def _feature_cache(self) -> EmbeddingCache | None:
        if not (self.config.freeze_encoder and self.config.cache_features):
            return None
        size = int(self.sam2.image_size)
        bytes_per_tile = 4 * (256 * (size // 16) ** 2 + 32 * (size // 4) ** 2 + 64 * (size // 8) ** 2)
        n_tiles = len(self.train_tiles) + len(self.val_tiles)
        items = min(n_tiles, max(1, int(self.config.cache_memory_gb * 1e9 // bytes_per_tile)))
        cache = EmbeddingCache(memory_items=items)
        self.model.cache = cache
        return cache

    def autocast(self):
        """bf16 autocast on CUDA (as SAM 2 trains), full precision elsewhere."""
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # ---- features -------------------------------------------------------------------------------
    def features(self, tile, train: bool = False) -> dict:
        """The tile's image features: cached (frozen encoder), or encoded now (with gradients when the
        encoder trains and ``train``)."""
        if self.cache is not None:
            self.model.set_image(tile.image)
            cached = self.model.image_features()
            # copies outside inference mode: autograd may save them for the decoder's backward pass
            return {"image_embed": cached["image_embed"].clone(),
                    "high_res_feats": [level.clone() for level in cached["high_res_feats"]]}
        grad = train and not self.config.freeze_encoder
        with torch.set_grad_enabled(grad), self.autocast():
            return encode(self.sam2, tile.image, self.transform)

    def encode_all(self) -> None:
        """Encode every tile once into the cache (frozen encoder), timing it; no-op otherwise."""
        if self.cache is None:
            return
        from tqdm.auto import tqdm

        tiles = self.train_tiles + self.val_tiles
        start, cpu = time.perf_counter(), time.process_time()
        before = dict(self.cache.stats)
        for tile in tqdm(tiles, desc="encoding tiles (once)", unit="tile", disable=not self.progress):
            self.model.set_image(tile.image)
        self.timings["encode_seconds"] += time.perf_counter() - start
        self.timings["encode_cpu_seconds"] += time.process_time() - cpu
        self.timings["encoded_tiles"] += self.cache.stats["computed"] - before["computed"]

    # ---- one step -------------------------------------------------------------------------------
    def train_step(self, tile) -> dict:
        """One optimisation step on one tile; returns the loss terms (floats) and the prompt kind."""
        config = self.config
        masks = tile.masks()
        if len(masks) > config.objects_per_step:
            masks = masks[np.sort(self.rng.choice(len(masks), config.objects_per_step, replace=False))]
        for module in (self.sam2.sam_prompt_encoder, self.sam2.sam_mask_decoder):
            module.train()
        self.sam2.image_encoder.train(not config.freeze_encoder)
        features = self.features(tile, train=True)
        prompts = training_prompts(masks, self.rng, config.box_probability, config.max_points,
                                   image_size=int(self.sam2.image_size))
        targets = torch.from_numpy(masks).to(self.device)
        passes = []
        with self.autocast():
            out = decode(self.sam2, features, tile.shape, prompts.points, prompts.labels, prompts.boxes,
                         multimask=prompts.multimask)
            passes.append(out)
            for _ in range(config.correction_clicks):
                # correct the candidate SAM 2 itself would show (highest predicted IoU), feeding its logits
                best = out.iou.float().argmax(-1)
                rows = torch.arange(len(best), device=best.device)
                predicted = (out.logits[rows, best] > 0).detach().cpu().numpy()
                points, labels = correction_clicks(masks, predicted, self.rng)
                prompts = prompts.with_clicks(points, labels)
                out = decode(self.sam2, features, tile.shape, prompts.points, prompts.labels, prompts.boxes,
                             mask_input=out.low_res[rows, best][:, None], multimask=prompts.multimask)
                passes.append(out)
        kind = prompts.kind  # "+clicks" once correction clicks were added
        losses = self.loss(passes, targets)
        self.optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        trained = [p for group in self.optimizer.param_groups for p in group["params"]]
        grad_norm = torch.nn.utils.clip_grad_norm_(trained, config.grad_clip)
        for group in self.optimizer.param_groups:
            group["lr"] = _cosine(self.step, self.total_steps, group["base_lr"])
        self.optimizer.step()
        self.step += 1
        return {"loss": float(losses["total"].detach()), **{k: float(losses[k].detach()) for k in LOSS_WEIGHTS},
                "grad_norm": float(grad_norm), "prompt": kind, "objects": len(masks)}

    # ---- evaluation -----------------------------------------------------------------------------
    def evaluate(self, keep_predictions: bool = False) -> Evaluation:
        """Scores of the current weights on the validation tiles (fixed prompts)."""
        return evaluate_tiles(self.sam2, self.val_tiles, self.features, self.val_prompts, loss=self.loss,
                              tolerance_px=self.config.tolerance_px, autocast=self.autocast,
                              keep_predictions=keep_predictions)

    def _improved(self, value: float) -> bool:
        if self.best["value"] is None or not math.isfinite(self.best["value"]):
            return True
        if higher_is_better(self.config.select_by):
            return value > self.best["value"]
        return value < self.best["value"]

    # ---- state ----------------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "format": 1, "epoch": self.epoch, "step": self.step, "trainable": trainable_state(self.sam2),
            "optimizer": self.optimizer.state_dict(), "history": self.history, "steps": self.steps,
            "best": self.best, "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
            "config": _plain(self.config.resume_key()), "dataset": self.dataset.fingerprint, "base": self.base_identity,
            "timings": self.timings,
        }

    def restore(self, state: dict) -> None:
        """Continue a run from :meth:`state` (same data, settings and starting weights, or an error)."""
        path = self.out_dir / STATE_NAME
        if state.get("dataset") != self.dataset.fingerprint:
            raise UserInputError(f"{path} belongs to a run on other tiles; use another output folder, or resume=False")
        if state.get("base") != self.base_identity:
            raise UserInputError(f"{path} belongs to a run from other starting weights; use another output folder")
        if _plain(state.get("config")) != _plain(self.config.resume_key()):
            raise UserInputError(f"{path} belongs to a run with other settings; use another output folder, or resume=False")
        parameters = dict(self.sam2.named_parameters())
        with torch.no_grad():
            for name, tensor in state["trainable"].items():
                parameters[name].copy_(tensor.to(parameters[name].device))
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.history, self.steps, self.best = list(state["history"]), list(state["steps"]), dict(state["best"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.timings.update(state.get("timings", {}))

    def save_state(self) -> None:
        save_training_state(self.out_dir / STATE_NAME, self.state())
        with atomic_output(self.out_dir / HISTORY_NAME) as tmp:
            tmp.write_text(json.dumps({"history": self.history, "best": self.best}, indent=1))

    # ---- the run --------------------------------------------------------------------------------
    def _record_epoch(self, evaluation: Evaluation, train_loss: float | None, seconds: float, cpu: float) -> None:
        scores = {k: v for k, v in evaluation.scores.items() if k in METRICS}
        self.history.append({
            "epoch": self.epoch, "train_loss": train_loss, **{f"val_{k}" if k == "loss" else k: v for k, v in scores.items()},
            "lr": self.optimizer.param_groups[0]["lr"], "seconds": seconds, "cpu_seconds": cpu,
        })
        value = scores["loss" if self.config.select_by == "loss" else self.config.select_by]
        if self.epoch == 0:
            self.before_evaluation = evaluation
        if self._improved(value):
            self.best = {"epoch": self.epoch, "value": value}
            self.best_evaluation = evaluation
            save_sam2_checkpoint(self.sam2, self.out_dir / BEST_NAME, self.smoke_name)

    def run_epoch(self) -> None:
        """One pass over the training tiles (random order), then validation and checkpoints."""
        from tqdm.auto import tqdm

        start, cpu = time.perf_counter(), time.process_time()
        self.epoch += 1
        order = self.rng.permutation(len(self.train_tiles))
        bar = tqdm(order, desc=f"epoch {self.epoch}/{self.config.epochs}", unit="step", disable=not self.progress)
        losses = []
        for index in bar:
            found = self.train_step(self.train_tiles[index])
            losses.append(found["loss"])
            self.steps.append({"epoch": self.epoch, "step": self.step, **found})
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        evaluation = self.evaluate(keep_predictions=True)
        self._record_epoch(evaluation, float(np.mean(losses)), time.perf_counter() - start, time.process_time() - cpu)
        self.save_state()

    def fit(self) -> None:
        """Encode, score the zero-shot model (epoch 0), train the remaining epochs."""
        self.encode_all()
        if not self.history:
            start, cpu = time.perf_counter(), time.process_time()
            evaluation = self.evaluate(keep_predictions=True)
            self._record_epoch(evaluation, None, time.perf_counter() - start, time.process_time() - cpu)
            self.save_state()
        while self.epoch < self.config.epochs:
            self.run_epoch()


def _write_json(path: Path, data: dict) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, default=float))


def finetune_sam2(
    dataset: TileDataset,
    out_dir,
    model: str = "sam2.1_hiera_t",
    weights=None,
    device=None,
    resume: bool = True,
    progress: bool = True,
    config: FinetuneConfig | None = None,
    **settings,
) -> FinetuneResult:
    """Fine-tune a SAM 2 model on a tile data set and measure it before and after on held-out tiles.

    Args:
        dataset: :func:`helpers.finetune.build_finetune_dataset` tiles (its ``val`` tiles are held out).
        out_dir: the run folder (created; see the module docstring for what it holds).
        model: a SAM 2 registry name (``"sam2.1_hiera_t"`` ...).
        weights: starting checkpoint (``None``: the official weights, or smoke weights in smoke mode).
        device: ``None`` (CUDA, MPS, else CPU), ``"cpu"``, ``"cuda"``...
        resume: continue the run saved in ``out_dir`` (same tiles, weights and settings; more epochs
            allowed); ``False`` starts again and overwrites it.
        progress: tqdm bars for encoding and training.
        config: a :class:`FinetuneConfig`; ``settings`` override its fields (``epochs=5, lr=3e-4``...).

    Returns:
        :class:`FinetuneResult`; ``result.checkpoint`` loads with ``helpers.load_model(model, weights=...)``.
    """
    from ..backends import backend_for
    from ..backends.sam2 import BACKEND as SAM2_BACKEND
    from ..backends.sam2 import read_sam2_state_dict
    from ..models import load_model
    from ..registry import get_spec

    try:
        config = dataclasses.replace(config or FinetuneConfig(), **settings)
    except TypeError as error:
        raise UserInputError(f"unknown fine-tuning setting: {error}") from None
    spec = get_spec(model)
    if backend_for(spec) is not SAM2_BACKEND:
        raise UserInputError(f"fine-tuning needs a SAM 2 model (sam2.1_hiera_t, ...), got {model}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    # the trainer gives the model its own cache, sized for the data set (frozen encoder only)
    sam2_model = load_model(model, weights=weights, device=device, embedding_cache=False)
    trainer = Trainer(sam2_model, dataset, out_dir, config, progress=progress)
    dataset.save(out_dir, tiles=False)
    state_path = out_dir / STATE_NAME
    if resume and state_path.is_file():
        trainer.restore(load_training_state(state_path))
    start, cpu = time.perf_counter(), time.process_time()
    trainer.fit()
    # "before": the starting weights (the zero-shot model) on the validation prompts, predictions kept;
    # scored at epoch 0 by this process, or again now after a resume
    before = trainer.before_evaluation
    if before is None:
        trained_now = trainable_state(trainer.sam2)
        parameters = dict(trainer.sam2.named_parameters())
        base_state = read_sam2_state_dict(sam2_model.checkpoint, spec)
        with torch.no_grad():
            for name in trained_now:
                parameters[name].copy_(base_state[name].to(parameters[name].device))
        before = trainer.evaluate(keep_predictions=True)
    # "after": the best checkpoint as written to disk, loaded back into the model (scored when it was
    # the best epoch, or again now if that epoch ran before a resume)
    best_path = out_dir / BEST_NAME
    sam2_model.sam2.load_state_dict(read_sam2_state_dict(best_path, spec), strict=True)
    after = trainer.best_evaluation if trainer.best_evaluation is not None else trainer.evaluate(keep_predictions=True)
    metrics = {
        "model": model, "base_weights": str(sam2_model.checkpoint), "checkpoint": str(best_path),
        "smoke": bool(sam2_model.smoke), "select_by": config.select_by, "best_epoch": trainer.best["epoch"],
        "epochs": config.epochs, "freeze_encoder": config.freeze_encoder, "eval_prompts": list(config.eval_prompts),
        "n_train_tiles": len(trainer.train_tiles), "n_val_tiles": len(trainer.val_tiles),
        "n_train_objects": dataset.manifest["counts"]["train_instances"],
        "n_val_objects": dataset.manifest["counts"]["val_instances"],
        "before": before.scores, "after": after.scores,
        "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
        **trainer.timings, "device": str(trainer.device),
    }
    _write_json(out_dir / METRICS_NAME, metrics)
    result = FinetuneResult(out_dir, best_path, metrics, trainer.history, trainer.steps, before, after,
                            smoke=bool(sam2_model.smoke))
    from .plots import save_figure

    save_figure(result.plot(), out_dir / CURVES_NAME)
    return result
