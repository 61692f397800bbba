"""SAM 2.1 as two ONNX graphs: the image encoder (Hiera + FPN neck) and the prompt encoder + mask decoder.

Graphs (the runtime side is :mod:`helpers.backends.onnx_sam2`):

``encoder.onnx``
    ``image`` float32 (1, 3, S, S), S = 1024: the scene as ``SAM2Transforms`` prepares it (resized to S x S,
    normalised) -> ``image_embed`` (1, 256, 64, 64) and the two high-resolution levels ``high_res_0``
    (1, 32, 256, 256) and ``high_res_1`` (1, 64, 128, 128): exactly ``SAM2ImagePredictor._features``
    after ``set_image`` (``no_mem_embed`` added, as for a single image).
``decoder.onnx``
    the three feature levels; ``point_coords`` float32 (B, N, 2) in the S x S frame (SAM 2's
    ``transform_coords``: pixel / (W, H) * S); ``point_labels`` float32 (B, N): 2 / 3 box corners first,
    then 1 / 0 points, then one -1 padding point (SAM 2's predictor always pads); ``mask_input`` (M, 1,
    256, 256), ``has_mask_input`` (1,) as for SAM -> ``low_res_multi`` (B, 3, 256, 256), ``iou_multi``
    (B, 3), and the single-mask output ``low_res_single`` (B, 1, 256, 256), ``iou_single`` (B, 1) chosen
    as SAM 2 does (token 0 unless its stability is low, then the best of the three:
    ``MaskDecoder._dynamic_multimask_via_stability``). Logits are not clamped (the runtime clamps to
    [-32, 32] as the predictor does).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .export_torch import DEFAULT_OPSET, export_module
from .sam_graphs import DECODER_AXES, DECODER_OUTPUTS

__all__ = ["Sam2EncoderGraph", "Sam2DecoderGraph", "export_sam2_encoder", "export_sam2_decoder",
           "ENCODER_OUTPUTS", "DECODER_INPUTS"]

ENCODER_OUTPUTS = ["image_embed", "high_res_0", "high_res_1"]
DECODER_INPUTS = ["image_embed", "high_res_0", "high_res_1", "point_coords", "point_labels", "mask_input",
                  "has_mask_input"]


class Sam2EncoderGraph(nn.Module):
    """What ``SAM2ImagePredictor.set_image`` computes after the transforms: three feature levels."""

    def __init__(self, sam2_model):
        super().__init__()
        self.model = sam2_model

    def forward(self, image: torch.Tensor):
        model = self.model
        backbone_out = model.forward_image(image)
        _, vision_feats, _, sizes = model._prepare_backbone_features(backbone_out)
        if model.directly_add_no_mem_embed:
            vision_feats[-1] = vision_feats[-1] + model.no_mem_embed
        feats = [feat.permute(1, 2, 0).reshape(1, -1, h, w) for feat, (h, w) in zip(vision_feats, sizes, strict=True)]
        return feats[-1], feats[0], feats[1]


class Sam2DecoderGraph(nn.Module):
    """SAM 2's prompt encoder and mask decoder on one labelled point sequence per box."""

    def __init__(self, sam2_model):
        super().__init__()
        self.prompt_encoder = sam2_model.sam_prompt_encoder
        self.mask_decoder = sam2_model.sam_mask_decoder
        self.register_buffer("image_pe", self.prompt_encoder.get_dense_pe().detach().clone(), persistent=False)

    def forward(self, image_embed, high_res_0, high_res_1, point_coords, point_labels, mask_input, has_mask_input):
        encoder = self.prompt_encoder
        sparse = encoder._embed_points(point_coords, point_labels, pad=False)  # the runtime adds the pad point
        no_mask = encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
        dense = has_mask_input * encoder.mask_downscaling(mask_input) + (1 - has_mask_input) * no_mask
        masks, iou, _, _ = self.mask_decoder.predict_masks(
            image_embeddings=image_embed,
            image_pe=self.image_pe,
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            repeat_image=True,
            high_res_features=[high_res_0, high_res_1],
        )
        single, single_iou = self.mask_decoder._dynamic_multimask_via_stability(masks, iou)
        return masks[:, 1:], iou[:, 1:], single, single_iou


def export_sam2_encoder(sam2_model, path, opset: int = DEFAULT_OPSET, dynamo: bool = False) -> Path:
    """Write SAM 2's image encoder to ``path`` (input 1x3xSxS, S = ``sam2_model.image_size``)."""
    size = int(sam2_model.image_size)
    example = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    return export_module(Sam2EncoderGraph(sam2_model).eval(), (example,), path, input_names=["image"],
                         output_names=ENCODER_OUTPUTS, opset=opset, dynamo=dynamo)


def example_decoder_inputs(sam2_model):
    """Example decoder inputs with every dynamic axis above 1 (2 boxes, 4 labelled points)."""
    size = int(sam2_model.sam_prompt_encoder.image_embedding_size[0])
    decoder = sam2_model.sam_mask_decoder
    shapes = [
        (1, int(sam2_model.sam_prompt_encoder.embed_dim), size, size),
        (1, int(decoder.conv_s0.out_channels), size * 4, size * 4),
        (1, int(decoder.conv_s1.out_channels), size * 2, size * 2),
    ]
    generator = torch.Generator().manual_seed(0)
    low_res = int(sam2_model.sam_prompt_encoder.mask_input_size[0])
    return (
        *(torch.randn(*shape, generator=generator) for shape in shapes),
        torch.rand(2, 4, 2, generator=generator) * float(sam2_model.image_size),
        torch.tensor([[2.0, 3.0, 1.0, -1.0], [1.0, 0.0, 1.0, -1.0]]),
        torch.zeros(2, 1, low_res, low_res),
        torch.ones(1),
    )


def export_sam2_decoder(sam2_model, path, opset: int = DEFAULT_OPSET, dynamo: bool = False) -> Path:
    """Write SAM 2's prompt encoder + mask decoder to ``path`` (see the module docstring for the I/O)."""
    return export_module(Sam2DecoderGraph(sam2_model).eval(), example_decoder_inputs(sam2_model), path,
                         input_names=DECODER_INPUTS, output_names=DECODER_OUTPUTS, dynamic_axes=DECODER_AXES,
                         opset=opset, dynamo=dynamo)


def export_sam2_model(model, out_dir, *, opset: int = DEFAULT_OPSET, quantize: bool = False, dynamo: bool = False,
                      parts=("encoder", "decoder")):
    """Export a :class:`helpers.backends.sam2.Sam2Model` into a folder (as :func:`helpers.onnx.sam_graphs.export_sam_model`).

    ``manifest.json`` also records the predictor's mask threshold and the image normalisation, so the
    runtime needs neither the ``sam2`` package nor the checkpoint.
    """
    from .export_torch import export_prompt_model_graphs, exporter_name, finish_prompt_model_export
    from .metadata import ExportInfo, source_facts
    sam2_model = model.sam2.float().cpu().eval()
    transforms = model.predictor._transforms
    files = export_prompt_model_graphs(
        model, out_dir, parts, quantize=quantize,
        export_encoder=lambda path: export_sam2_encoder(sam2_model, path, opset=opset, dynamo=dynamo),
        export_decoder=lambda path: export_sam2_decoder(sam2_model, path, opset=opset, dynamo=dynamo))
    out_dir = Path(out_dir)
    prompt_encoder = sam2_model.sam_prompt_encoder
    info = ExportInfo(
        model=model.name, **source_facts(model.checkpoint), input_size=int(sam2_model.image_size),
        opset=max(int(opset), 18) if dynamo else int(opset), exporter=exporter_name(dynamo), files=files,
        extra={
            "family": "sam2",
            "pixel_mean": [float(v) for v in transforms.mean],
            "pixel_std": [float(v) for v in transforms.std],
            "mask_threshold": float(transforms.mask_threshold),
            "low_res": int(prompt_encoder.mask_input_size[0]),
            "level_channels": [int(sam2_model.sam_mask_decoder.conv_s0.out_channels),
                               int(sam2_model.sam_mask_decoder.conv_s1.out_channels)],
        },
    )  # fmt: skip
    finish_prompt_model_export(out_dir, info)
    return info
