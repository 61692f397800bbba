"""SAM 2.1 on ONNX Runtime: ``load_model("sam2.1_hiera_t", runtime="onnx")``.

The graphs are :mod:`helpers.onnx.sam2_graphs`' (image encoder; prompt encoder + mask decoder). The rest
is :class:`helpers.backends.sam2.Sam2Model` and SAM 2's own ``SAM2ImagePredictor`` /
``SAM2AutomaticMaskGenerator``: an :class:`OnnxSam2Predictor` replaces only the two network calls
(``set_image``'s encoder and ``_predict``'s decoder), so prompt handling, transforms and automatic mask
generation are the official code, and masks agree with the PyTorch model to float rounding. Upscaling to
the scene uses OpenCV (:mod:`helpers.onnx.upscale`) unless hole / sprinkle filling is asked for (then
SAM 2's own ``postprocess_masks``). Embeddings share the PyTorch model's cache key (same checkpoint
fingerprint, device type, float32).

Needs the ``sam2`` package (its predictor and transforms), not its checkpoint.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from ..embedding_cache import Embedding, embedding_key, resolve_cache
from ..onnx.metadata import ExportInfo
from ..onnx.session import open_session, runtime_device
from ..onnx.store import resolve_export
from ..onnx.upscale import MaskUpscaler
from ..registry import ModelSpec
from . import sam2 as sam2_backend
from .base import SegmentationModel, pop_backend_options
from .onnx_sam import ONNX_OPTIONS, check_runtime_options, onnx_parameter_count
from .sam2 import Sam2Model, _feature_layouts, _pack_features, _require_sam2, _reuse_full_image_features

__all__ = ["BACKENDS", "OnnxSam2Model", "onnx_predictor_class"]


@functools.cache
def onnx_predictor_class():
    """``OnnxSam2Predictor``: a ``SAM2ImagePredictor`` subclass (built on first use: it needs ``sam2``)."""
    _require_sam2()
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    class OnnxSam2Predictor(SAM2ImagePredictor):
        """``SAM2ImagePredictor`` whose encoder and decoder are ONNX Runtime sessions of ``owner``."""

        def __init__(self, owner: OnnxSam2Model, **kwargs):
            geometry = SimpleNamespace(image_size=int(owner.info.input_size), device=torch.device("cpu"))
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
                super().__init__(geometry, **kwargs)
            self.owner = owner

        @property
        def device(self) -> torch.device:
            return torch.device("cpu")  # prompts and features stay on the CPU; ONNX Runtime takes numpy

        def set_image(self, image) -> None:
            self.reset_predictor()
            image = np.asarray(image)
            self._orig_hw = [tuple(image.shape[:2])]
            self._features = self.owner.encode_features(image, self._transforms)
            self._is_image_set = True

        def _predict(self, point_coords, point_labels, boxes=None, mask_input=None, multimask_output=True,
                     return_logits=False, img_idx=-1):
            if not self._is_image_set:
                raise RuntimeError("An image must be set with .set_image(...) before mask prediction.")
            coords, labels = [], []
            if boxes is not None:
                box_coords = boxes.reshape(-1, 2, 2).float()
                coords.append(box_coords)
                labels.append(torch.tensor([[2.0, 3.0]]).repeat(box_coords.shape[0], 1))
            if point_coords is not None:
                coords.append(point_coords.float())
                labels.append(point_labels.float())
            rows = max(c.shape[0] for c in coords)
            coords = torch.cat([c.expand(rows, -1, -1) for c in coords] + [torch.zeros(rows, 1, 2)], dim=1)
            labels = torch.cat([lab.expand(rows, -1) for lab in labels] + [-torch.ones(rows, 1)], dim=1)
            features = self._features
            multi, multi_iou, single, single_iou = self.owner.decode(
                [features["image_embed"][img_idx].unsqueeze(0), *(level[img_idx].unsqueeze(0) for level in features["high_res_feats"])],
                coords.numpy(), labels.numpy(), None if mask_input is None else mask_input.float().cpu().numpy(),
            )  # fmt: skip
            low_res, iou = (multi, multi_iou) if multimask_output else (single, single_iou)
            orig_hw = self._orig_hw[img_idx]
            transforms = self._transforms
            if transforms.max_hole_area > 0 or transforms.max_sprinkle_area > 0:
                masks = transforms.postprocess_masks(torch.from_numpy(low_res), orig_hw)
            else:
                upscaled = MaskUpscaler.direct(orig_hw).logits(low_res.reshape(-1, *low_res.shape[2:]))
                masks = torch.from_numpy(upscaled.reshape(*low_res.shape[:2], *upscaled.shape[1:]))
            low_res = torch.clamp(torch.from_numpy(low_res), -32.0, 32.0)
            if not return_logits:
                masks = masks > self.mask_threshold
            return masks, torch.from_numpy(iou), low_res

    return OnnxSam2Predictor


class OnnxSam2Model(Sam2Model):
    """SAM 2.1 with ONNX Runtime sessions in place of the PyTorch networks (see the module docstring)."""

    def __init__(self, name: str, folder, info: ExportInfo, device=None, quantized: bool = False, cache=None,
                 threads: int | None = None, **predictor_options):
        SegmentationModel.__init__(self, name, device=runtime_device(device), checkpoint=None, smoke=info.smoke)
        self.folder, self.info = Path(folder), info
        self.quantized, self.threads, self.half = quantized, threads, False
        self.predictor_options = dict(predictor_options)
        self.predictor_options.setdefault("mask_threshold", float(info.extra.get("mask_threshold", 0.0)))
        self.predictor = onnx_predictor_class()(self, **self.predictor_options)
        self.cache = resolve_cache(cache)
        self.embedding_source = None
        self._level_channels = list(info.extra["level_channels"])
        self.decoder_session = open_session(info.path(self.folder, "decoder_int8" if quantized else "decoder"),
                                            self.device, threads)
        self._encoder_session = None

    @property
    def encoder_session(self):
        """The encoder's ONNX Runtime session, opened on first use."""
        if self._encoder_session is None:
            self._encoder_session = open_session(self.info.path(self.folder, "encoder"), self.device, self.threads)
        return self._encoder_session

    # ---- networks -------------------------------------------------------------------------------
    def encode_features(self, image: np.ndarray, transforms) -> dict:
        """SAM 2's three feature levels of an HxWx3 uint8 image (``SAM2Transforms`` then the encoder graph)."""
        tensor = transforms(image)[None].numpy()
        embed, high_0, high_1 = self.encoder_session.run(None, {"image": np.ascontiguousarray(tensor, np.float32)})
        return {"image_embed": torch.from_numpy(embed), "high_res_feats": [torch.from_numpy(high_0), torch.from_numpy(high_1)]}

    def decode(self, features: list, coords: np.ndarray, labels: np.ndarray, mask_input: np.ndarray | None = None):
        """Run the decoder graph: ``(low_res_multi, iou_multi, low_res_single, iou_single)`` numpy arrays.

        Args:
            features: ``[image_embed, high_res_0, high_res_1]`` tensors or arrays (batch 1).
            coords: float32 (B, N, 2) in SAM 2's 1024 frame: box corners, points, one padding point.
            labels: float32 (B, N): 2 / 3 corners, 1 / 0 points, -1 padding.
            mask_input: float32 (1 | B, 1, 256, 256) logits, or ``None``.
        """
        low = int(self.info.extra.get("low_res", 256))
        if mask_input is None:
            mask_input, has_mask = np.zeros((1, 1, low, low), np.float32), 0.0
        else:
            has_mask = 1.0
        arrays = [np.ascontiguousarray(f.detach().cpu().numpy() if isinstance(f, torch.Tensor) else f, dtype=np.float32) for f in features]
        return self.decoder_session.run(None, {
            "image_embed": arrays[0], "high_res_0": arrays[1], "high_res_1": arrays[2],
            "point_coords": np.ascontiguousarray(coords, dtype=np.float32),
            "point_labels": np.ascontiguousarray(labels, dtype=np.float32),
            "mask_input": np.ascontiguousarray(mask_input, dtype=np.float32),
            "has_mask_input": np.array([has_mask], dtype=np.float32),
        })  # fmt: skip

    # ---- what Sam2Model asks of its network -------------------------------------------------------
    def _encode(self, image: np.ndarray) -> Embedding:
        self.predictor.set_image(image)
        resolution = int(self.info.input_size)
        features = self.predictor._features
        return Embedding(
            features=_pack_features(features),
            input_size=(resolution, resolution),
            original_size=tuple(image.shape[:2]),
            extra={"layouts": _feature_layouts(features)},
        )

    def _cache_key(self, image: np.ndarray) -> str | None:
        if self.cache is None:
            return None
        return embedding_key(image, self.name, self.info.checkpoint_identity, f"{self.device.type}|fp32")

    def mask_generator(self, **params):
        """The official ``SAM2AutomaticMaskGenerator`` running on this model's ONNX graphs."""
        from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

        from .sam2 import _generator_arguments

        scene = self.require_scene()
        params = _generator_arguments(params)
        geometry = SimpleNamespace(image_size=int(self.info.input_size), device=torch.device("cpu"))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
            generator = SAM2AutomaticMaskGenerator(geometry, output_mode="binary_mask", **params)
            official = generator.predictor
            generator.predictor = onnx_predictor_class()(
                self, mask_threshold=official.mask_threshold, max_hole_area=official._transforms.max_hole_area,
                max_sprinkle_area=official._transforms.max_sprinkle_area,
            )  # fmt: skip
        _reuse_full_image_features(generator.predictor, scene, self.image_features())
        return generator

    def num_parameters(self) -> int:
        return onnx_parameter_count(self.folder / name for part, name in self.info.files.items() if part != "decoder_int8")

    def __repr__(self) -> str:
        quantized = ", int8 decoder" if self.quantized else ""
        return super().__repr__()[:-1] + f", runtime=onnx{quantized})"


_PREDICTOR_OPTIONS = ("mask_threshold", "max_hole_area", "max_sprinkle_area")


def build(spec: ModelSpec, weights: Path | None, device=None, **options) -> OnnxSam2Model:
    """Build the ONNX Runtime SAM 2.1 model from an export folder or a checkpoint (exported once).

    Args:
        spec: registry entry (a ``sam2`` family model).
        weights: an ``export-onnx`` folder, or an official-format SAM 2 checkpoint.
        device: ``cpu`` (CPUExecutionProvider) or ``cuda`` (CUDAExecutionProvider, needs onnxruntime-gpu).
        **options: :data:`helpers.backends.onnx_sam.ONNX_OPTIONS`, and SAM 2's predictor settings
            ``mask_threshold``, ``max_hole_area``, ``max_sprinkle_area``.
    """
    if weights is None:
        raise ValueError(f"{spec.name}: the ONNX runtime needs weights (a checkpoint or an export folder)")
    resolved = pop_backend_options(options, device, spec.name, gpu_only=(),
                                   passthrough=("quantized", "threads", "opset", *_PREDICTOR_OPTIONS))
    runtime = check_runtime_options(options, spec.name)
    folder, info = resolve_export(spec, weights, sam2_backend.BACKEND, runtime["opset"])
    model = OnnxSam2Model(spec.name, folder, info, device=device, quantized=runtime["quantized"],
                          cache=resolved["embedding_cache"] or False, threads=runtime["threads"], **options)
    return model


#: The ONNX Runtime declaration of the SAM 2 family.
BACKENDS = {
    "sam2": dataclasses.replace(
        sam2_backend.BACKEND, build=build, runtime="onnx", export_onnx=None, weights_folder=True,
        options={**ONNX_OPTIONS, **{k: v for k, v in sam2_backend.BACKEND.options.items() if k in _PREDICTOR_OPTIONS}},
    )
}
OnnxSam2Model.backend = BACKENDS["sam2"]
