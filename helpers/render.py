"""Drawing masks and labels on images: one colour table, overlays, the smoke banner."""

from __future__ import annotations

import numpy as np

__all__ = ["label_colours", "overlay_labels", "overlay_masks", "draw_banner"]


def label_colours(n: int, seed: int = 0) -> np.ndarray:
    """uint8 (n + 1, 3) colours for labels 0..n (0 is black): the one colour table of every overlay, PNG and map."""
    colours = np.zeros((n + 1, 3), dtype=np.uint8)
    colours[1:] = np.random.default_rng(seed).uniform(40, 255, size=(n, 3)).astype(np.uint8)
    return colours


def overlay_labels(image: np.ndarray, labels: np.ndarray, alpha: float = 0.45, seed: int = 0,
                   boundaries: bool = True) -> np.ndarray:
    """HxWx3 uint8 ``image`` with each label of a uint (H, W) label raster painted in a random colour."""
    labels = np.asarray(labels)
    colours = label_colours(int(labels.max(initial=0)), seed).astype(np.float32)
    out = image.astype(np.float32).copy()
    fg = labels > 0
    out[fg] = (1 - alpha) * out[fg] + alpha * colours[labels[fg]]
    if boundaries:  # thin white outlines make touching objects distinguishable
        edge = np.zeros_like(fg)
        edge[:-1] |= labels[:-1] != labels[1:]
        edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
        out[edge & fg] = 255
    return np.clip(out, 0, 255).astype(np.uint8)


def draw_banner(image: np.ndarray, text: str) -> np.ndarray:
    """A copy of HxWx3 uint8 ``image`` with ``text`` on a dark strip at the top (smoke warnings)."""
    from PIL import Image, ImageDraw

    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    height = max(12, min(24, image.shape[0] // 12))
    draw.rectangle([0, 0, image.shape[1], height], fill=(20, 20, 20))
    draw.text((4, 1), text, fill=(255, 200, 0))
    return np.asarray(pil)


def overlay_masks(image: np.ndarray, masks: np.ndarray, alpha: float = 0.45, seed: int = 0) -> np.ndarray:
    """HxWx3 uint8 ``image`` with each bool (N, H, W) mask painted in its colour, large first and small on
    top; overlapping masks blend (like SAM's ``show_anns``). Mask ``i`` has colour ``label_colours()[i + 1]``."""
    masks = np.asarray(masks, dtype=bool)
    out = image.astype(np.float32).copy()
    colours = label_colours(len(masks), seed)[1:].astype(np.float32)
    areas = masks.sum(axis=(1, 2))
    for i in np.argsort(-areas, kind="stable"):
        m = masks[i]
        out[m] = (1 - alpha) * out[m] + alpha * colours[i]
    return np.clip(out, 0, 255).astype(np.uint8)
