"""SAM 2's image path with gradients: what ``SAM2ImagePredictor.set_image`` and ``_predict`` compute.

The official predictor runs under ``torch.no_grad()``, so training cannot call it. These two functions
repeat its computation step by step (tests check that the outputs are equal), with gradients:

* :func:`encode` = ``set_image``: resize to the model's square input (1024), normalise, Hiera + FPN, add
  ``no_mem_embed`` to the lowest-resolution level, and return the three feature levels.
* :func:`decode` = ``_predict``: prompt encoder (points and boxes as SAM 2's "concat points", boxes
  first) and mask decoder, logits upsampled to the tile size with the predictor's own bilinear resize.

Prompts are in the project's pixel convention (as :meth:`helpers.backends.sam2.Sam2Model.predict` takes
them): points are (column, row) pixel indexes, boxes XYXY pixel edges; both reach SAM 2 scaled by
``image_size / width`` and ``image_size / height``, as the predictor's ``normalize_coords=True`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["Decoded", "decode", "encode", "feature_sizes", "image_transform"]

_LOGIT_CLAMP = 32.0  # the predictor clamps the low-resolution logits it returns for re-use as mask input


@dataclass
class Decoded:
    """One decoder pass for B prompts on one image.

    Attributes:
        logits: float (B, M, H, W) mask logits at the tile's size (M = 3 with multimask output, else 1).
        low_res: float (B, M, 256, 256) logits clamped to +-32, to feed back as ``mask_input``.
        iou: float (B, M) predicted IoU of each mask (the IoU head).
        object_score: float (B, 1) logit that an object is present (SAM 2.1's occlusion head).
    """

    logits: torch.Tensor
    low_res: torch.Tensor
    iou: torch.Tensor
    object_score: torch.Tensor


def feature_sizes(sam2) -> list[tuple[int, int]]:
    """(h, w) of the three feature levels, highest resolution first: [(256, 256), (128, 128), (64, 64)]."""
    size = int(sam2.image_size)
    return [(size // 4, size // 4), (size // 8, size // 8), (size // 16, size // 16)]


def image_transform(sam2):
    """SAM 2's own image transform (``sam2.utils.transforms.SAM2Transforms``) for ``sam2.image_size``."""
    import warnings

    from sam2.utils.transforms import SAM2Transforms

    with warnings.catch_warnings():
        # sam2 scripts the transform with torch.jit.script, deprecated in recent torch: not our concern.
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
        return SAM2Transforms(resolution=int(sam2.image_size), mask_threshold=0.0)


def encode(sam2, image: np.ndarray, transform=None) -> dict:
    """Image features of one HxWx3 uint8 RGB image, with gradients where the encoder has them.

    Args:
        sam2: a ``sam2.modeling.sam2_base.SAM2Base`` (``Sam2Model.sam2``).
        image: HxWx3 uint8 RGB (row, column, channel).
        transform: :func:`image_transform` of ``sam2`` (made once by the caller; built here if ``None``).

    Returns:
        ``{"image_embed": (1, 256, 64, 64), "high_res_feats": [(1, 32, 256, 256), (1, 64, 128, 128)]}``,
        the dict ``SAM2ImagePredictor.set_image`` stores as ``_features``.
    """
    transform = transform or image_transform(sam2)
    device = next(sam2.parameters()).device
    batch = transform(image)[None].to(device)
    backbone = sam2.forward_image(batch)
    _, levels, _, _ = sam2._prepare_backbone_features(backbone)
    if sam2.directly_add_no_mem_embed:
        levels[-1] = levels[-1] + sam2.no_mem_embed
    feats = [
        level.permute(1, 2, 0).view(1, -1, *size)
        for level, size in zip(levels[::-1], feature_sizes(sam2)[::-1], strict=True)
    ][::-1]
    return {"image_embed": feats[-1], "high_res_feats": feats[:-1]}


def _as_tensor(values, dtype, device) -> torch.Tensor | None:
    return None if values is None else torch.as_tensor(np.asarray(values), dtype=dtype, device=device)


def decode(
    sam2,
    features: dict,
    hw: tuple[int, int],
    points=None,
    labels=None,
    boxes=None,
    mask_input=None,
    multimask: bool = False,
) -> Decoded:
    """Masks for B prompts on one image (the official predictor's ``_predict``, with gradients).

    Args:
        sam2: a ``SAM2Base``.
        features: the image's features (:func:`encode`, or ``Sam2Model.image_features()``).
        hw: (H, W) of the image in pixels (the size the logits are upsampled to).
        points: float (B, N, 2) pixel (column, row) of each prompt's points, or ``None``.
        labels: int (B, N): 1 foreground, 0 background (-1: padding, ignored by SAM 2).
        boxes: float (B, 4) XYXY pixel edges (x1/y1 exclusive), one box per prompt, or ``None``.
        mask_input: float (B, 1, 256, 256) low-resolution logits from a previous pass, or ``None``.
        multimask: three candidate masks per prompt (SAM 2 uses them for a single click).

    Returns:
        :class:`Decoded`.
    """
    height, width = int(hw[0]), int(hw[1])
    device = features["image_embed"].device
    resolution = float(sam2.image_size)
    coords = _as_tensor(points, torch.float, device)
    point_labels = _as_tensor(labels, torch.int, device)
    if coords is not None:
        coords = coords.clone()
        coords[..., 0] = coords[..., 0] / width * resolution
        coords[..., 1] = coords[..., 1] / height * resolution
    if boxes is not None:
        corners = _as_tensor(boxes, torch.float, device).reshape(-1, 2, 2).clone()
        corners[..., 0] = corners[..., 0] / width * resolution
        corners[..., 1] = corners[..., 1] / height * resolution
        corner_labels = torch.tensor([[2, 3]], dtype=torch.int, device=device).repeat(corners.shape[0], 1)
        if coords is None:
            coords, point_labels = corners, corner_labels
        else:  # boxes first, as the predictor merges them
            coords = torch.cat([corners, coords], dim=1)
            point_labels = torch.cat([corner_labels, point_labels], dim=1)
    if coords is None:
        raise ValueError("decode needs points or boxes")
    masks_in = None if mask_input is None else torch.as_tensor(mask_input, dtype=torch.float, device=device)
    sparse, dense = sam2.sam_prompt_encoder(points=(coords, point_labels), boxes=None, masks=masks_in)
    low_res, iou, _, object_score = sam2.sam_mask_decoder(
        image_embeddings=features["image_embed"],
        image_pe=sam2.sam_prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=bool(multimask),
        repeat_image=coords.shape[0] > 1,
        high_res_features=list(features["high_res_feats"]),
    )
    logits = F.interpolate(low_res.float(), (height, width), mode="bilinear", align_corners=False)
    return Decoded(logits, torch.clamp(low_res, -_LOGIT_CLAMP, _LOGIT_CLAMP), iou, object_score)
