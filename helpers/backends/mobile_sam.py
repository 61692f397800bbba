"""MobileSAM: SAM's prompt encoder and mask decoder behind a small TinyViT image encoder.

MobileSAM (Zhang et al. 2023, github.com/ChaoningZhang/MobileSAM) distils SAM ViT-H's image encoder into
a 5.7M-parameter TinyViT and keeps SAM's prompt encoder and mask decoder unchanged. Its official code is
segment-anything with one extra encoder (``build_sam_vit_t``), and its checkpoint ``mobile_sam.pt`` is a
plain state dict with SAM's key layout (``image_encoder.*``, ``prompt_encoder.*``, ``mask_decoder.*``).

So the model here is exactly that: a ``segment_anything.modeling.Sam`` whose image encoder is TinyViT.
TinyViT comes from ultralytics (``ultralytics.models.sam.modules.tiny_encoder``, the port ultralytics
uses for the same ``mobile_sam.pt``), since MobileSAM itself is not on PyPI. Everything else -
encode once, the embedding cache, prompts, map coordinates, automatic generation - is
:class:`helpers.sam.SamModel`, which reproduces ``segment_anything.SamPredictor`` exactly.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from ..registry import ModelSpec
from ..smoke import attach_smoke_marker
from .base import pop_backend_options
from .sam import BACKEND as SAM_BACKEND
from .sam import SamModel, load_sam_state_dict, make_sam_model

__all__ = ["BACKEND", "build", "build_architecture", "write_smoke_checkpoint"]

ARCH = "vit_t"  # MobileSAM's name in its own sam_model_registry

# SAM's fixed geometry: 1024x1024 input, 16x downsampling to a 64x64x256 embedding.
_IMAGE_SIZE = 1024
_EMBED_DIM = 256
_EMBED_SIZE = 64


def _tiny_vit():
    """MobileSAM's TinyViT-5M image encoder (the settings of MobileSAM's ``build_sam_vit_t``)."""
    from ultralytics.models.sam.modules.tiny_encoder import TinyViT

    return TinyViT(
        img_size=_IMAGE_SIZE,
        in_chans=3,
        num_classes=1000,  # unused classification head, kept because mobile_sam.pt contains it
        embed_dims=[64, 128, 160, 320],
        depths=[2, 2, 6, 2],
        num_heads=[2, 4, 5, 10],
        window_sizes=[7, 7, 14, 7],
        mlp_ratio=4.0,
        drop_rate=0.0,
        drop_path_rate=0.0,
        use_checkpoint=False,
        mbconv_expand_ratio=4.0,
        local_conv_size=3,
        layer_lr_decay=0.8,
    )


def build_architecture():
    """A randomly initialised MobileSAM: ``segment_anything.modeling.Sam`` with a TinyViT encoder (eval mode)."""
    from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    sam = Sam(
        image_encoder=_tiny_vit(),
        prompt_encoder=PromptEncoder(
            embed_dim=_EMBED_DIM,
            image_embedding_size=(_EMBED_SIZE, _EMBED_SIZE),
            input_image_size=(_IMAGE_SIZE, _IMAGE_SIZE),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=_EMBED_DIM, mlp_dim=2048, num_heads=8),
            transformer_dim=_EMBED_DIM,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    return sam.eval()


def build(
    spec: ModelSpec, checkpoint: Path | None, device: torch.device | None = None, **options
) -> SamModel:
    """Build MobileSAM and load ``checkpoint`` (``helpers.load_model`` calls this for ``"mobile_sam"``).

    Args:
        spec: the registry entry (``spec.arch == "vit_t"``).
        checkpoint: an official (or smoke) ``mobile_sam.pt`` state dict, read with ``weights_only=True``;
            ``None`` keeps random weights.
        device: torch device (``None`` = CPU).
        **options: as :func:`helpers.sam.build`: ``half=True`` (float16 autocast of the encoder) and
            ``compile=True`` need CUDA; ``embedding_cache=`` an :class:`EmbeddingCache`, ``None``/``True``
            (the shared one) or ``False``.

    Returns:
        a :class:`helpers.sam.SamModel` (``.sam`` is the MobileSAM ``Sam`` module).

    Raises:
        ValueError: not a MobileSAM state dict (e.g. a SAM ViT-B or SAM 2 file); unknown or GPU-only options.
    """
    if spec.arch != ARCH:
        raise ValueError(f"{spec.name}: MobileSAM architecture is {ARCH!r}, registry says {spec.arch!r}")
    device = torch.device("cpu") if device is None else torch.device(device)
    opts = pop_backend_options(options, device, spec.name)
    sam = build_architecture()
    if checkpoint is not None:
        load_sam_state_dict(sam, checkpoint, ARCH)
    model = make_sam_model(spec, sam, checkpoint, device, opts)
    model.backend = BACKEND
    return model


def write_smoke_checkpoint(spec: ModelSpec, path: Path) -> None:
    """Random MobileSAM weights saved like the official ``mobile_sam.pt``: a plain state dict, tagged.

    The file loads with :func:`helpers.load_model` and with ultralytics' own loader
    (``ultralytics.models.sam.build.build_mobile_sam(checkpoint=path)``).
    """
    state_dict = attach_smoke_marker(build_architecture().state_dict(), spec.name)
    torch.save(state_dict, Path(path))


#: MobileSAM is SAM's decoder behind a TinyViT encoder: SAM's generator, parameters and options.
BACKEND = dataclasses.replace(SAM_BACKEND, family="mobile_sam", build=build, write_smoke_checkpoint=write_smoke_checkpoint)
