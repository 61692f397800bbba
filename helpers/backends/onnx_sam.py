"""SAM (ViT-B/L/H) and MobileSAM on ONNX Runtime: ``load_model(name, runtime="onnx")``.

The graphs are :mod:`helpers.onnx.sam_graphs`' (image encoder; prompt encoder + mask decoder). Everything
around them is :class:`helpers.backends.sam.SamModel`'s own code - the resize of the scene, prompt
conversion (pixel and map coordinates), the embedding cache, box batches, ``mask_input``, the automatic
mask generator - so a prompt gives the same masks on either runtime, to float rounding. Two things differ:

* the masks are upscaled from the low-resolution logits with OpenCV (:mod:`helpers.onnx.upscale`),
  which makes a click on a 1024² scene a few milliseconds of upscaling instead of ~100;
* embeddings are cached under the same key as the PyTorch model's (same checkpoint fingerprint, device
  type and float32): the two encoders agree to ~1e-5, so a scene encoded by one is not encoded again by
  the other.

``weights`` is a folder written by ``python -m helpers export-onnx`` or a PyTorch checkpoint, exported on
first use and kept by its sha256 (:mod:`helpers.onnx.store`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from ..embedding_cache import Embedding, resolve_cache
from ..onnx.export_torch import DEFAULT_OPSET
from ..onnx.metadata import ExportInfo
from ..onnx.session import open_session, runtime_device
from ..onnx.store import resolve_export
from ..onnx.upscale import MaskUpscaler
from ..prompts import Prompts, normalise_mask_input
from ..registry import ModelSpec
from . import mobile_sam, sam
from .base import SegmentationModel, pop_backend_options
from .sam import SamModel

__all__ = ["BACKENDS", "ONNX_OPTIONS", "OnnxSamModel", "onnx_parameter_count", "check_runtime_options"]

#: Build options of the ONNX Runtime backends (``load_model(name, runtime="onnx", **options)``).
ONNX_OPTIONS = {
    "embedding_cache": "None/True: the shared cache (memory + disk, shared with PyTorch models of the same "
    "weights), False: none, or an EmbeddingCache",
    "quantized": "use the dynamically int8-quantised decoder (decoder_int8.onnx); default False",
    "threads": "ONNX Runtime intra-op threads (default: one per physical core)",
    "opset": f"ONNX opset when a checkpoint is exported on first use (default {DEFAULT_OPSET})",
}
_DECODE_CHUNK = 64  # points decoded together by the automatic mask generator


def check_runtime_options(options: dict, name: str, own: tuple[str, ...] = ("quantized", "threads", "opset")) -> dict:
    """Pop and check ``quantized`` / ``threads`` / ``opset`` from ``options`` (ValueError, one line)."""
    quantized = options.pop("quantized", False) if "quantized" in own else False
    if not isinstance(quantized, (bool, np.bool_)):
        raise ValueError(f"{name}: quantized must be True or False, got {quantized!r}")
    threads = options.pop("threads", None)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1):
        raise ValueError(f"{name}: threads must be a positive integer or None, got {threads!r}")
    opset = options.pop("opset", DEFAULT_OPSET)
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not 11 <= opset <= 23:
        raise ValueError(f"{name}: opset must be an integer between 11 and 23, got {opset!r}")
    return {"quantized": bool(quantized), "threads": threads, "opset": int(opset)}


def onnx_parameter_count(paths) -> int:
    """Number of weights stored in ``.onnx`` files (initializer elements; data is not loaded)."""
    import onnx

    total = 0
    for path in paths:
        model = onnx.load(str(path), load_external_data=False)
        total += sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    return total


class OnnxSamModel(SamModel):
    """SAM / MobileSAM with ONNX Runtime sessions in place of the PyTorch networks.

    Attributes:
        folder: the export folder used.
        info: its :class:`~helpers.onnx.metadata.ExportInfo` (source checkpoint sha256, opset, smoke...).
        quantized: whether the int8 decoder is used.
        decoder_session: the ONNX Runtime session of the decoder (the encoder's opens on first use).
    """

    def __init__(self, name: str, folder, info: ExportInfo, device=None, quantized: bool = False, cache=None,
                 threads: int | None = None):
        from segment_anything.utils.transforms import ResizeLongestSide

        SegmentationModel.__init__(self, name, device=runtime_device(device), checkpoint=None, smoke=info.smoke)
        self.folder, self.info = Path(folder), info
        self.quantized, self.threads, self.half = quantized, threads, False
        self.transform = ResizeLongestSide(int(info.input_size))
        self.cache = resolve_cache(cache)
        self.embedding: Embedding | None = None
        extra = info.extra
        self.mask_threshold = float(extra.get("mask_threshold", 0.0))
        self.low_res = int(extra.get("low_res", 256))
        self._mean = np.asarray(extra["pixel_mean"], dtype=np.float32)
        self._std = np.asarray(extra["pixel_std"], dtype=np.float32)
        self.decoder_session = open_session(info.path(self.folder, "decoder_int8" if quantized else "decoder"),
                                            self.device, threads)
        self._encoder_session = None
        self._upscalers: dict = {}

    # ---- encoding -------------------------------------------------------------------------------
    @property
    def encoder_session(self):
        """The encoder's ONNX Runtime session, opened on first use (ViT-H's takes a while to load)."""
        if self._encoder_session is None:
            self._encoder_session = open_session(self.info.path(self.folder, "encoder"), self.device, self.threads)
        return self._encoder_session

    def _checkpoint_id(self) -> str:
        return self.info.checkpoint_identity  # the PyTorch model's, so the two runtimes share embeddings

    def _feature_device(self):
        return torch.device("cpu")  # ONNX Runtime takes numpy arrays

    def _encode_uncached(self, image: np.ndarray) -> Embedding:
        """``SamPredictor.set_image``'s preprocessing in numpy (same float32 arithmetic), then the encoder graph."""
        size = int(self.info.input_size)
        resized = self.transform.apply_image(image)
        height, width = resized.shape[:2]
        tensor = np.zeros((1, 3, size, size), dtype=np.float32)
        tensor[0, :, :height, :width] = ((resized.astype(np.float32) - self._mean) / self._std).transpose(2, 0, 1)
        (features,) = self.encoder_session.run(None, {"image": tensor})
        return Embedding(torch.from_numpy(features), (height, width), tuple(int(v) for v in image.shape[:2]))

    # ---- prompting ------------------------------------------------------------------------------
    def _mask_input_tensor(self, mask_input, n_boxes: int):
        array = normalise_mask_input(mask_input, n_boxes, size=self.low_res)
        return None if array is None else array[:, None]  # (1 | B, 1, low, low)

    def _point_sequence(self, prompts: Prompts, n_boxes: int) -> tuple[np.ndarray, np.ndarray]:
        """Points then box corners (labels 2, 3), or points then one padding point (-1) without a box."""
        original = self.embedding.original_size
        coords = np.zeros((n_boxes, 0, 2), dtype=np.float32)
        labels = np.zeros((n_boxes, 0), dtype=np.float32)
        if prompts.points is not None:
            points = self.transform.apply_coords(prompts.points, original).astype(np.float32)
            coords = np.repeat(points[None], n_boxes, axis=0)
            labels = np.repeat(prompts.labels.astype(np.float32)[None], n_boxes, axis=0)
        if prompts.boxes is None:
            extra_coords, extra_labels = np.zeros((1, 1, 2), np.float32), np.full((1, 1), -1.0, np.float32)
        else:
            corners = self.transform.apply_boxes(prompts.boxes, original).astype(np.float32).reshape(n_boxes, 2, 2)
            extra_coords, extra_labels = corners, np.tile(np.array([[2.0, 3.0]], np.float32), (n_boxes, 1))
        return np.concatenate([coords, extra_coords], axis=1), np.concatenate([labels, extra_labels], axis=1)

    def decode(self, coords: np.ndarray, labels: np.ndarray, mask_input: np.ndarray | None = None,
               features: np.ndarray | None = None):
        """Run the decoder graph: ``(low_res_multi, iou_multi, low_res_single, iou_single)`` numpy arrays.

        Args:
            coords: float32 (B, N, 2) labelled point sequence in the encoder frame (see
                :mod:`helpers.onnx.sam_graphs`).
            labels: float32 (B, N).
            mask_input: float32 (1 | B, 1, 256, 256) logits, or ``None``.
            features: (1, 256, 64, 64) image embedding (default: the current scene's).
        """
        if features is None:
            features = self.features.numpy()
        if mask_input is None:
            mask_input, has_mask = np.zeros((1, 1, self.low_res, self.low_res), np.float32), 0.0
        else:
            has_mask = 1.0
        return self.decoder_session.run(None, {
            "image_embeddings": np.ascontiguousarray(features, dtype=np.float32),
            "point_coords": np.ascontiguousarray(coords, dtype=np.float32),
            "point_labels": np.ascontiguousarray(labels, dtype=np.float32),
            "mask_input": np.ascontiguousarray(mask_input, dtype=np.float32),
            "has_mask_input": np.array([has_mask], dtype=np.float32),
        })  # fmt: skip

    def upscaler(self) -> MaskUpscaler:
        """The current scene's :class:`MaskUpscaler` (built once per scene size)."""
        key = (self.embedding.input_size, self.embedding.original_size)
        if key not in self._upscalers:
            self._upscalers = {key: MaskUpscaler.sam(int(self.info.input_size), *key)}
        return self._upscalers[key]

    def _decode(self, prompts: Prompts, mask_tensor, multimask: bool):
        """What :meth:`SamModel._decode` returns (B x C torch tensors), from the ONNX decoder."""
        n_boxes = 1 if prompts.boxes is None else prompts.boxes.shape[0]
        coords, labels = self._point_sequence(prompts, n_boxes)
        multi, multi_iou, single, single_iou = self.decode(coords, labels, mask_tensor)
        low_res, scores = (multi, multi_iou) if multimask else (single, single_iou)
        masks = self.upscaler().masks(low_res.reshape(-1, *low_res.shape[2:]), self.mask_threshold)
        masks = masks.reshape(*low_res.shape[:2], *masks.shape[1:])
        return torch.from_numpy(masks), torch.from_numpy(scores), torch.from_numpy(low_res)

    # ---- everything mode ------------------------------------------------------------------------
    def _decode_points(self, features: torch.Tensor, coords: np.ndarray):
        """The automatic mask generator's decoder: one foreground point per row -> 3 candidates each."""
        features = features.numpy()
        low_res, iou = [], []
        for start in range(0, len(coords), _DECODE_CHUNK):
            chunk = np.asarray(coords[start : start + _DECODE_CHUNK], dtype=np.float32)
            sequence = np.concatenate([chunk[:, None], np.zeros((len(chunk), 1, 2), np.float32)], axis=1)
            labels = np.tile(np.array([[1.0, -1.0]], np.float32), (len(chunk), 1))
            multi, multi_iou, _, _ = self.decode(sequence, labels, None, features)
            low_res.append(multi)
            iou.append(multi_iou)
        return torch.from_numpy(np.concatenate(low_res)), torch.from_numpy(np.concatenate(iou))

    def _generator_parts(self):
        geometry = SimpleNamespace(
            image_encoder=SimpleNamespace(img_size=int(self.info.input_size)),
            prompt_encoder=SimpleNamespace(mask_input_size=(self.low_res, self.low_res)),
            mask_threshold=self.mask_threshold,
        )
        return geometry, self._decode_points

    def num_parameters(self) -> int:
        return onnx_parameter_count(self.folder / name for part, name in self.info.files.items() if part != "decoder_int8")

    def __repr__(self) -> str:
        quantized = ", int8 decoder" if self.quantized else ""
        return super().__repr__()[:-1] + f", runtime=onnx{quantized})"


def _builder(torch_backend):
    def build(spec: ModelSpec, weights: Path | None, device=None, **options) -> OnnxSamModel:
        """Build the ONNX Runtime model of ``spec`` from an export folder or a checkpoint (exported once).

        Args:
            spec: registry entry (SAM or MobileSAM).
            weights: an ``export-onnx`` folder, or a PyTorch checkpoint.
            device: ``torch.device`` or string: ``cpu`` (CPUExecutionProvider) or ``cuda``
                (CUDAExecutionProvider, needs onnxruntime-gpu).
            **options: see :data:`ONNX_OPTIONS`.
        """
        if weights is None:
            raise ValueError(f"{spec.name}: the ONNX runtime needs weights (a checkpoint or an export folder)")
        resolved = pop_backend_options(options, device, spec.name, gpu_only=(), passthrough=("quantized", "threads", "opset"))
        runtime = check_runtime_options(options, spec.name)
        folder, info = resolve_export(spec, weights, torch_backend, runtime["opset"])
        model = OnnxSamModel(spec.name, folder, info, device=device, quantized=runtime["quantized"],
                             cache=resolved["embedding_cache"] or False, threads=runtime["threads"])
        model.backend = BACKENDS[spec.family]
        return model

    return build


def _onnx_declaration(torch_backend):
    return dataclasses.replace(torch_backend, build=_builder(torch_backend), options=dict(ONNX_OPTIONS),
                               runtime="onnx", export_onnx=None, weights_folder=True)


#: The ONNX Runtime declarations of the SAM and MobileSAM families.
BACKENDS = {"sam": _onnx_declaration(sam.BACKEND), "mobile_sam": _onnx_declaration(mobile_sam.BACKEND)}
OnnxSamModel.backend = BACKENDS["sam"]
