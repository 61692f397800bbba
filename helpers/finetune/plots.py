"""Figures and tables of a fine-tuning run: tiles with prompts, loss and validation curves, before/after."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_output
from ..smoke import SMOKE_BANNER
from ..tables import format_table

__all__ = ["before_after_table", "plot_history", "save_figure", "show_predictions", "show_tiles"]

_SCORES = ("iou", "dice", "boundary_f", "instance_iou")


def save_figure(fig, path, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def _outline(ax, labels: np.ndarray, color: str) -> None:
    if labels.any():
        ax.contour(labels > 0, levels=[0.5], colors=[color], linewidths=1.0)


def show_tiles(tiles, prompts: bool = True, seed: int = 0, columns: int = 3):
    """Tiles with their objects outlined (white) and one draw of training prompts: boxes (yellow) or
    clicks (green), as a step of the training loop would sample them."""
    import matplotlib.pyplot as plt

    from .prompts import training_prompts

    tiles = list(tiles)
    rows = max(1, -(-len(tiles) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 4 * rows), squeeze=False)
    rng = np.random.default_rng(seed)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, tile in zip(axes.ravel(), tiles, strict=False):
        ax.imshow(tile.image)
        _outline(ax, tile.instances, "white")
        if prompts and tile.n_instances:
            sample = training_prompts(tile.masks(), rng)
            if sample.boxes is not None:
                for x0, y0, x1, y1 in sample.boxes:
                    ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, color="yellow", lw=1.2))
            if sample.points is not None:
                ax.scatter(sample.points[..., 0].ravel(), sample.points[..., 1].ravel(), c="lime", s=14,
                           edgecolors="black", linewidths=0.5)
        ax.set_title(f"tile {tile.id} ({tile.split}): {tile.n_instances} objects", fontsize=9)
    fig.tight_layout()
    return fig


def plot_history(history: list, steps: list, metrics: dict | None = None):
    """Two panels: training loss per step (and its epoch mean) with the validation loss; validation
    scores per epoch (epoch 0 = the zero-shot model), the best epoch marked."""
    import matplotlib.pyplot as plt

    fig, (loss_ax, score_ax) = plt.subplots(1, 2, figsize=(12, 4.2))
    if steps:
        per_epoch = max(1, sum(1 for s in steps if s["epoch"] == steps[0]["epoch"]))
        x = np.array([s["step"] for s in steps]) / per_epoch
        loss_ax.plot(x, [s["loss"] for s in steps], color="0.7", lw=0.8, label="training loss (step)")
    epochs = [h["epoch"] for h in history]
    train = [(h["epoch"], h["train_loss"]) for h in history if h.get("train_loss") is not None]
    if train:
        loss_ax.plot(*zip(*train, strict=True), "o-", color="tab:blue", label="training loss (epoch mean)")
    loss_ax.plot(epochs, [h["val_loss"] for h in history], "s-", color="tab:red", label="validation loss")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("SAM 2 loss (20 focal + dice + IoU + object)")
    loss_ax.legend(fontsize=8)
    for name in _SCORES:
        score_ax.plot(epochs, [h[name] for h in history], "o-", label=name)
    best = (metrics or {}).get("best_epoch")
    if best is not None:
        score_ax.axvline(best, color="0.4", ls="--", lw=1, label=f"best epoch ({metrics['select_by']})")
    score_ax.set_xlabel("epoch (0 = before fine-tuning)")
    score_ax.set_ylabel("held-out score")
    score_ax.set_ylim(0, 1)
    score_ax.legend(fontsize=8)
    title = "Fine-tuning SAM 2: loss and held-out scores"
    if (metrics or {}).get("smoke"):
        title += f"  ⚠ {SMOKE_BANNER} (started from smoke weights)"
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def before_after_table(metrics: dict) -> str:
    """Held-out scores before and after fine-tuning, overall and per prompt kind, as a text table."""
    rows = []
    for prompt in [None, *metrics["before"].get("by_prompt", {})]:
        for name in (*_SCORES, "loss"):
            before = metrics["before"] if prompt is None else metrics["before"]["by_prompt"][prompt]
            after = metrics["after"] if prompt is None else metrics["after"]["by_prompt"][prompt]
            rows.append({"prompts": prompt or "all", "metric": name, "before": round(before[name], 4),
                         "after": round(after[name], 4), "change": round(after[name] - before[name], 4)})
    table = format_table(rows, ["prompts", "metric", "before", "after", "change"])
    note = (f"held-out: {metrics['n_val_tiles']} tiles, {metrics['n_val_objects']} objects; "
            f"best epoch {metrics['best_epoch']} by {metrics['select_by']}")
    if metrics.get("smoke"):
        note += f"\n⚠ {SMOKE_BANNER}: started from smoke weights (random encoder): the scores only show whether the loop learns"
    return f"{table}\n{note}"


def show_predictions(result, dataset, n: int = 3, kind: str | None = None):
    """Validation tiles: the image with reference outlines, then the zero-shot and fine-tuned masks for
    the same prompts (``kind``: ``"box"`` or ``"point"``; default the first evaluation prompt)."""
    import matplotlib.pyplot as plt

    kind = kind or result.metrics["eval_prompts"][0]
    tiles = {t.id: t for t in dataset.val}
    ids = list(result.after.predictions.get(kind, {}))[:n]
    fig, axes = plt.subplots(len(ids), 3, figsize=(11, 3.7 * max(len(ids), 1)), squeeze=False)
    for row, tile_id in zip(axes, ids, strict=True):
        tile = tiles[tile_id]
        for ax, (title, labels) in zip(row, [("reference", tile.instances),
                                            ("before (zero-shot)", result.before.predictions[kind][tile_id]),
                                            ("after (fine-tuned)", result.after.predictions[kind][tile_id])], strict=True):
            ax.imshow(tile.image)
            if title != "reference":
                ax.imshow(np.ma.masked_equal(labels, 0) % 20, cmap="tab20", alpha=0.55, vmin=0, vmax=19)
            _outline(ax, tile.instances, "white")
            ax.set_title(f"tile {tile_id}: {title}", fontsize=9)
            ax.set_axis_off()
    title = f"validation tiles, {kind} prompts: reference outlines (white), predicted masks (colours)"
    if result.smoke:
        title += f"\n⚠ {SMOKE_BANNER} (started from smoke weights)"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
