"""SAM and MobileSAM as two ONNX graphs: the image encoder, and the prompt encoder + mask decoder.

Graphs (the runtime side is :mod:`helpers.backends.onnx_sam`):

``encoder.onnx``
    ``image`` float32 (1, 3, S, S): the scene resized so its long side is S = 1024 (segment-anything's
    ``ResizeLongestSide``), normalised with the pixel mean/std and zero-padded at the bottom/right, as
    ``Sam.preprocess`` does -> ``image_embeddings`` float32 (1, 256, 64, 64).
``decoder.onnx``
    ``image_embeddings`` (1, 256, 64, 64); ``point_coords`` float32 (B, N, 2) in the encoder's frame (x, y
    after ``ResizeLongestSide.apply_coords``); ``point_labels`` float32 (B, N): 1 foreground, 0
    background, 2 / 3 a box's top-left / bottom-right corner, -1 padding (added after the points when
    there is no box, as SAM's prompt encoder does); ``mask_input`` float32 (M, 1, 256, 256) with M = 1
    or B, previous low-resolution logits; ``has_mask_input`` float32 (1,), 1 to use ``mask_input``, 0 to
    ignore it -> ``low_res_multi`` (B, 3, 256, 256) + ``iou_multi`` (B, 3), SAM's three candidates, and
    ``low_res_single`` (B, 1, 256, 256) + ``iou_single`` (B, 1), its single-mask output. B (boxes
    decoded together) and N (points per box) are dynamic.

This follows segment-anything's own ``SamOnnxModel`` (``segment_anything/utils/onnx.py``: points and box
corners as one labelled sequence, ``has_mask_input`` blending, the dense positional encoding baked in),
with two changes that keep results equal to ``SamPredictor``: all four mask tokens are returned (SAM's
``multimask_output`` then is a slice, not the web demo's stability heuristic), and the upscaling to the
scene is left to the runtime (:class:`helpers.onnx.upscale.MaskUpscaler`), so one graph serves every
scene size and a click returns low-resolution logits too.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .export_torch import DEFAULT_OPSET, export_module

__all__ = ["SamEncoderGraph", "SamDecoderGraph", "export_sam_encoder", "export_sam_decoder",
           "DECODER_INPUTS", "DECODER_OUTPUTS", "DECODER_AXES"]

DECODER_INPUTS = ["image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input"]
DECODER_OUTPUTS = ["low_res_multi", "iou_multi", "low_res_single", "iou_single"]
# Batch axes of the prompt decoders (SAM and SAM 2 share them): one row per box, any number of points.
DECODER_AXES = {
    "point_coords": {0: "boxes", 1: "points"},
    "point_labels": {0: "boxes", 1: "points"},
    "mask_input": {0: "mask_inputs"},
    "low_res_multi": {0: "boxes"},
    "iou_multi": {0: "boxes"},
    "low_res_single": {0: "boxes"},
    "iou_single": {0: "boxes"},
}


class SamEncoderGraph(nn.Module):
    """``Sam.image_encoder`` on a preprocessed (normalised, padded) image."""

    def __init__(self, sam):
        super().__init__()
        self.image_encoder = sam.image_encoder

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.image_encoder(image)


class SamDecoderGraph(nn.Module):
    """SAM's prompt encoder and mask decoder on one labelled point sequence per box (see the module docstring).

    The arithmetic is that of ``PromptEncoder`` + ``MaskDecoder.predict_masks``: label masks multiply
    instead of indexing (as in ``SamOnnxModel``), which changes no value (adding 0, multiplying by 1).
    """

    def __init__(self, sam):
        super().__init__()
        self.prompt_encoder = sam.prompt_encoder
        self.mask_decoder = sam.mask_decoder
        self.register_buffer("image_pe", sam.prompt_encoder.get_dense_pe().detach().clone(), persistent=False)
        height, width = sam.prompt_encoder.input_image_size
        self.register_buffer("frame", torch.tensor([float(width), float(height)]), persistent=False)

    def _embed_points(self, coords: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        encoder = self.prompt_encoder
        embedding = encoder.pe_layer._pe_encoding((coords + 0.5) / self.frame)  # pixel centres, as SAM
        labels = labels.unsqueeze(-1)
        embedding = embedding * (labels != -1) + encoder.not_a_point_embed.weight * (labels == -1)
        for label in range(encoder.num_point_embeddings):
            embedding = embedding + encoder.point_embeddings[label].weight * (labels == label)
        return embedding

    def forward(self, image_embeddings, point_coords, point_labels, mask_input, has_mask_input):
        sparse = self._embed_points(point_coords, point_labels)
        no_mask = self.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
        dense = has_mask_input * self.prompt_encoder.mask_downscaling(mask_input) + (1 - has_mask_input) * no_mask
        masks, iou = self.mask_decoder.predict_masks(
            image_embeddings=image_embeddings,
            image_pe=self.image_pe,
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
        )
        return masks[:, 1:], iou[:, 1:], masks[:, :1], iou[:, :1]


def example_decoder_inputs(embedding_channels: int = 256, embedding_size: int = 64, low_res: int = 256):
    """Example decoder inputs (2 boxes, 3 points: sizes above 1 so every dynamic axis stays dynamic)."""
    generator = torch.Generator().manual_seed(0)
    return (
        torch.randn(1, embedding_channels, embedding_size, embedding_size, generator=generator),
        torch.rand(2, 3, 2, generator=generator) * 1024,
        torch.tensor([[1.0, 0.0, -1.0], [1.0, 2.0, 3.0]]),
        torch.zeros(2, 1, low_res, low_res),
        torch.ones(1),
    )


def export_sam_encoder(sam, path, opset: int = DEFAULT_OPSET, dynamo: bool = False) -> Path:
    """Write ``sam``'s image encoder to ``path`` (input 1x3xSxS, S = ``sam.image_encoder.img_size``)."""
    size = int(sam.image_encoder.img_size)
    example = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    return export_module(SamEncoderGraph(sam).eval(), (example,), path, input_names=["image"],
                         output_names=["image_embeddings"], opset=opset, dynamo=dynamo)


def export_sam_decoder(sam, path, opset: int = DEFAULT_OPSET, dynamo: bool = False) -> Path:
    """Write ``sam``'s prompt encoder + mask decoder to ``path`` (see the module docstring for the I/O)."""
    graph = SamDecoderGraph(sam).eval()
    channels, size = graph.image_pe.shape[1], graph.image_pe.shape[-1]
    low_res = int(sam.prompt_encoder.mask_input_size[0])
    return export_module(graph, example_decoder_inputs(channels, size, low_res), path, input_names=DECODER_INPUTS,
                         output_names=DECODER_OUTPUTS, dynamic_axes=DECODER_AXES, opset=opset, dynamo=dynamo)


def export_sam_model(model, out_dir, *, opset: int = DEFAULT_OPSET, quantize: bool = False, dynamo: bool = False,
                     parts=("encoder", "decoder")):
    """Export a :class:`helpers.backends.sam.SamModel` (SAM ViT-B/L/H or MobileSAM) into a folder.

    Writes ``encoder.onnx``, ``decoder.onnx`` (and ``decoder_int8.onnx`` with ``quantize``) and
    ``manifest.json`` (:class:`helpers.onnx.metadata.ExportInfo`); each file carries the metadata too.

    Args:
        model: a SamModel loaded from a checkpoint file (``model.checkpoint``).
        out_dir: the folder to write (created).
        opset: ONNX opset.
        quantize: also write a dynamically int8-quantised decoder (:mod:`helpers.onnx.quantize`).
        dynamo: use torch's ``torch.export``-based exporter (see :mod:`helpers.onnx.export_torch`).
        parts: which graphs to write (``"encoder"``, ``"decoder"``); both by default.

    Returns:
        the :class:`~helpers.onnx.metadata.ExportInfo` written to ``manifest.json``.
    """
    from .export_torch import export_prompt_model_graphs, exporter_name, finish_prompt_model_export
    from .metadata import ExportInfo, source_facts
    sam = model.sam.float().cpu().eval()
    files = export_prompt_model_graphs(
        model, out_dir, parts, quantize=quantize,
        export_encoder=lambda path: export_sam_encoder(sam, path, opset=opset, dynamo=dynamo),
        export_decoder=lambda path: export_sam_decoder(sam, path, opset=opset, dynamo=dynamo))
    out_dir = Path(out_dir)
    info = ExportInfo(
        model=model.name, **source_facts(model.checkpoint), input_size=int(sam.image_encoder.img_size),
        opset=max(int(opset), 18) if dynamo else int(opset), exporter=exporter_name(dynamo), files=files,
        extra={
            "family": "sam",
            "pixel_mean": [float(v) for v in sam.pixel_mean.flatten()],
            "pixel_std": [float(v) for v in sam.pixel_std.flatten()],
            "mask_threshold": float(sam.mask_threshold),
            "low_res": int(sam.prompt_encoder.mask_input_size[0]),
            "embedding_shape": [1, int(sam.prompt_encoder.embed_dim), *sam.prompt_encoder.image_embedding_size],
        },
    )  # fmt: skip
    finish_prompt_model_export(out_dir, info)
    return info
