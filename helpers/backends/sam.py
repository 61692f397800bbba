"""Segment Anything (ViT-B/L/H): encode a scene once, then prompt it many times.

``SamModel`` reproduces segment-anything's ``SamPredictor`` exactly (same resize, prompt encoder, mask
decoder and upscaling, called on the same tensors), and adds what remote sensing needs: GeoTIFF scenes,
map-coordinate prompts, an embedding cache (memory + disk), batched boxes and ``Masks`` results.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..amg.params import AMG_CONTROLS, AMG_DEFAULTS, AMG_PARAM_DOCS, check_amg_params
from ..embedding_cache import Embedding, EmbeddingCache, checkpoint_identity, embedding_key, resolve_cache
from ..errors import one_line
from ..masks import Masks
from ..prompts import Prompts, normalise_mask_input, prepare_prompts
from ..registry import ModelSpec
from ..scene import Scene, check_rgb_uint8
from ..smoke import attach_smoke_marker
from .base import Backend, Control, SegmentationModel, pop_backend_options

__all__ = ["BACKEND", "SAM_OPTIONS", "SamModel", "build", "make_sam_model", "write_smoke_checkpoint", "load_sam_state_dict"]

LOW_RES = 256  # SAM's low-resolution mask logits are 256x256 (the mask_input size)


# ---- building ----------------------------------------------------------------------------------------
def _registry():
    from segment_anything import sam_model_registry

    return sam_model_registry


def _empty_sam(arch: str):
    registry = _registry()
    if arch not in registry or arch == "default":
        raise ValueError(f"unknown SAM architecture {arch!r}; expected one of vit_b, vit_l, vit_h")
    return registry[arch](checkpoint=None)


def _guess_arch(state_dict: dict) -> str | None:
    """Which SAM ViT a state dict belongs to, from the encoder width (768/1024/1280)."""
    pos = state_dict.get("image_encoder.pos_embed")
    width = None if pos is None or not hasattr(pos, "shape") else int(pos.shape[-1])
    return {768: "vit_b", 1024: "vit_l", 1280: "vit_h"}.get(width)


def load_sam_state_dict(sam: torch.nn.Module, path: Path, arch: str) -> None:
    """Load a SAM ``.pth`` state dict into ``sam``, refusing anything that is not that architecture.

    Raises:
        ValueError: the file is not a SAM state dict, or it belongs to another ViT size.
    """
    path = Path(path)
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - pickle/zip errors differ by torch version
        first = one_line(error, with_type=False)
        raise ValueError(f"{path.name} is not a readable SAM checkpoint: {first}") from None
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError(f"{path.name} is not a SAM state dict (expected a dict of tensors as in sam_{arch}_*.pth)")
    expected = sam.state_dict()
    guessed = _guess_arch(state_dict)
    if guessed is not None and guessed != arch:
        raise ValueError(f"{path.name} holds SAM {guessed} weights, not {arch}; load it as sam_{guessed}")
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    if missing or unexpected:
        detail = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        raise ValueError(
            f"{path.name} is not a SAM {arch} state dict ({len(missing)} keys missing, "
            f"{len(unexpected)} unexpected; e.g. {detail})"
        )
    for key, tensor in expected.items():
        if state_dict[key].shape != tensor.shape:
            raise ValueError(
                f"{path.name} is not a SAM {arch} state dict: {key} has shape "
                f"{tuple(state_dict[key].shape)}, expected {tuple(tensor.shape)}"
            )
    sam.load_state_dict(state_dict, strict=True)


def build(spec: ModelSpec, checkpoint: Path | None, device: torch.device | None, **options) -> SamModel:
    """Build ``spec.arch`` (``vit_b``/``vit_l``/``vit_h``) and load ``checkpoint`` into it.

    Args:
        spec: the registry entry (``spec.arch`` is a ``segment_anything.sam_model_registry`` key).
        checkpoint: path of an official (or smoke) ``sam_vit_*.pth`` state dict.
        device: torch device (``None`` = CPU).
        **options: ``half=True`` runs the image encoder in float16 autocast; ``compile=True`` wraps it
            in ``torch.compile``. Both need CUDA (defaults are CPU-safe). ``embedding_cache=`` an
            :class:`EmbeddingCache`, ``None``/``True`` (the shared one) or ``False`` (no caching).

    Raises:
        ValueError: not a SAM state dict of ``spec.arch``; unknown or GPU-only options.
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    opts = pop_backend_options(options, device, spec.name)
    sam = _empty_sam(spec.arch)
    if checkpoint is not None:
        load_sam_state_dict(sam, checkpoint, spec.arch)
    return make_sam_model(spec, sam, checkpoint, device, opts)


def make_sam_model(spec: ModelSpec, sam, checkpoint: Path | None, device: torch.device, opts: dict) -> SamModel:
    """A loaded ``Sam`` module -> :class:`SamModel` on ``device`` (shared by SAM and MobileSAM).

    ``opts`` is what :func:`helpers.base.pop_backend_options` returned (``half``, ``compile``,
    ``embedding_cache``).
    """
    sam.to(device).eval()
    if opts["compile"]:
        sam.image_encoder = torch.compile(sam.image_encoder)
    # The smoke flag is stamped by helpers.load_model, which has already read the file's marker.
    return SamModel(
        spec.name, sam, device=device, checkpoint=checkpoint, half=opts["half"],
        cache=opts["embedding_cache"] or False,  # None from pop_backend_options means "caching off"
    )


def write_smoke_checkpoint(spec: ModelSpec, path: Path) -> None:
    """Random weights of the real ``spec.arch`` saved as a plain state dict, like the official files."""
    sam = _empty_sam(spec.arch)
    state_dict = attach_smoke_marker(sam.state_dict(), spec.name)
    torch.save(state_dict, Path(path))


# ---- the model -----------------------------------------------------------------------------------------
class SamModel(SegmentationModel):
    """SAM with an embedding cache: ``set_image`` once, ``predict`` many times.

    Attributes:
        sam: the ``segment_anything.modeling.Sam`` module.
        transform: segment-anything's ``ResizeLongestSide`` (long side 1024).
        embedding: the current scene's :class:`helpers.embedding_cache.Embedding`.
        cache: the :class:`EmbeddingCache` used (``None`` when caching is off).

    Args:
        cache: ``None``/``True`` (the shared :func:`~helpers.embedding_cache.default_cache`), ``False``
            (no caching) or an :class:`EmbeddingCache`.
    """

    def __init__(self, name, sam, device=None, checkpoint=None, smoke=False, half=False, cache=None):
        from segment_anything.utils.transforms import ResizeLongestSide

        super().__init__(name, device=device or sam.device, checkpoint=checkpoint, smoke=smoke)
        self.sam = sam
        self.half = half
        self.transform = ResizeLongestSide(sam.image_encoder.img_size)
        self.cache: EmbeddingCache | None = resolve_cache(cache)
        self.embedding: Embedding | None = None
        self._dense_pe: torch.Tensor | None = None  # the prompt encoder's positional encoding: a fixed buffer

    # ---- encoding -------------------------------------------------------------------------------
    def _checkpoint_id(self) -> str | None:
        if self.checkpoint is None:
            return None  # weights not from a file: nothing stable to key a cache on
        return checkpoint_identity(self.checkpoint)

    def _variant(self) -> str:
        # The device type and precision change the floating-point result, so they are part of the key.
        return f"{torch.device(self.device).type}|{'fp16' if self.half else 'fp32'}"

    @torch.no_grad()
    def _encode_uncached(self, image: np.ndarray) -> Embedding:
        """What ``SamPredictor.set_image`` does: resize long side to 1024, normalise, pad, encode."""
        resized = self.transform.apply_image(image)
        tensor = torch.as_tensor(resized, device=self.sam.device).permute(2, 0, 1).contiguous()[None]
        input_size = tuple(int(v) for v in tensor.shape[-2:])
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.half):
            features = self.sam.image_encoder(self.sam.preprocess(tensor))
        return Embedding(features.float(), input_size, tuple(int(v) for v in image.shape[:2]))

    def embed(self, image: np.ndarray, persist: bool = True) -> Embedding:
        """The :class:`Embedding` of an HxWx3 uint8 RGB image, from the cache when possible."""
        image = check_rgb_uint8(image)
        checkpoint_id = self._checkpoint_id()
        if self.cache is None or checkpoint_id is None:
            start = time.perf_counter()
            embedding = self._encode_uncached(image)
            embedding.seconds = time.perf_counter() - start
            return embedding
        key = embedding_key(image, self.name, checkpoint_id, self._variant())
        return self.cache.get_or_compute(
            key, lambda: self._encode_uncached(image), device=self._feature_device(), persist=persist,
            expected=self._expected_embedding(image),
        )

    def _feature_device(self):
        """Where image embeddings live for the decoder (the network's device)."""
        return self.sam.device

    def _expected_embedding(self, image: np.ndarray) -> dict:
        """What a cached embedding of ``image`` must look like (a file that differs is re-encoded)."""
        prompt_encoder = self.sam.prompt_encoder
        height, width = image.shape[:2]
        return {
            "features_shape": (1, prompt_encoder.embed_dim, *prompt_encoder.image_embedding_size),
            "input_size": self.transform.get_preprocess_shape(height, width, self.transform.target_length),
            "original_size": (height, width),
        }

    def encode(self, image: np.ndarray) -> torch.Tensor:
        """Image embedding (1, 256, 64, 64) of an HxWx3 uint8 RGB image, through the embedding cache.

        Does not change the current scene (the automatic mask generator calls it on crops).
        """
        return self.embed(image).features

    def _set_scene(self, scene: Scene) -> None:
        start = time.perf_counter()
        self.embedding = self.embed(scene.image)
        self.timings = {
            "set_image": time.perf_counter() - start,
            "encode": self.embedding.seconds if self.embedding.source == "computed" else 0.0,
        }

    @property
    def features(self) -> torch.Tensor:
        """The current scene's image embedding (1, 256, 64, 64)."""
        if self.embedding is None:
            raise RuntimeError(f"{self.name}: call set_image(image) before predicting")
        return self.embedding.features

    # ---- prompting ------------------------------------------------------------------------------
    def predict(self, points=None, labels=None, boxes=None, crs=None, multimask=True, mask_input=None) -> Masks:
        """Masks for prompts on the current scene (never re-encodes).

        Args:
            points: float (N, 2) ``[(x, y), ...]``: pixel-centre (column, row) when ``crs`` is ``None``
                (``(10, 20)`` is the centre of column 10, row 20), else map coordinates in ``crs``
                (e.g. lon/lat with ``crs="EPSG:4326"``).
            labels: int (N,), one per point, 1 = foreground, 0 = background (``None``: all foreground).
            boxes: float (B, 4) XYXY ``[(x0, y0, x1, y1), ...]``: pixel edges with x1/y1 exclusive (as
                :attr:`Masks.boxes`) when ``crs`` is ``None``, else map (xmin, ymin, xmax, ymax) in
                ``crs``. The pixel numbers reach SAM unchanged, as with ``SamPredictor.predict(box=)``.
                Several boxes are predicted as one batch (the points, if any, apply to every box),
                returning one mask per box: the highest-scoring of the three candidates when
                ``multimask`` is true, SAM's single-mask output otherwise.
            crs: ``None`` (pixels) or the CRS of ``points``/``boxes`` (anything pyproj accepts).
            multimask: return SAM's three candidates (best for one ambiguous click).
            mask_input: float low-res logits (1 | B, 256, 256) (or (256, 256)), typically
                ``previous.logits[[i]]`` of a previous result, to refine it (B: one per box).

        Returns:
            :class:`Masks` with masks (N, H, W), scores (SAM's predicted IoU), low-res ``logits``,
            pixel ``prompts``, ``timings`` and the scene's CRS/transform.
        """
        scene = self.require_scene()
        start = time.perf_counter()
        prompts = prepare_prompts(scene, points=points, labels=labels, boxes=boxes, crs=crs)
        n_boxes = 1 if prompts.boxes is None else prompts.boxes.shape[0]
        mask_tensor = self._mask_input_tensor(mask_input, n_boxes)
        scores, low_res = self._decode(prompts, mask_tensor, multimask)
        if n_boxes > 1 and multimask:  # one mask per box, the best candidate: chosen before upscaling
            best = scores.argmax(dim=1)
            rows = torch.arange(n_boxes)
            scores, low_res = (t[rows, best][:, None] for t in (scores, low_res))
        masks = self._upscale(low_res)
        result = self._result(
            masks.flatten(0, 1).cpu().numpy(),
            scores.flatten(0, 1).float().cpu().numpy(),
            logits=low_res.flatten(0, 1).float().cpu().numpy(),
            prompt_type=prompts.prompt_type + ("+mask" if mask_input is not None else ""),
            prompts=prompts.as_dict(),
        )
        result.timings = {**self.timings, "predict": time.perf_counter() - start}
        result.extra["embedding_source"] = self.embedding.source
        return result

    def _mask_input_tensor(self, mask_input, n_boxes: int) -> torch.Tensor | None:
        array = normalise_mask_input(mask_input, n_boxes, size=LOW_RES)
        if array is None:
            return None
        tensor = torch.as_tensor(array, dtype=torch.float, device=self.sam.device)[:, None]  # B x 1 x 256 x 256
        return tensor.expand(n_boxes, -1, -1, -1) if tensor.shape[0] != n_boxes else tensor

    def _image_pe(self) -> torch.Tensor:
        """``prompt_encoder.get_dense_pe()``, computed once: it depends only on a fixed random buffer."""
        if self._dense_pe is None:
            self._dense_pe = self.sam.prompt_encoder.get_dense_pe()
        return self._dense_pe

    @torch.no_grad()
    def _upscale(self, low_res: torch.Tensor) -> torch.Tensor:
        """Binary masks (B, C, H, W) of low-res logits (B, C, 256, 256), exactly as ``SamPredictor`` makes
        them (``postprocess_masks``, each mask independently: a subset gives the same pixels)."""
        upscaled = self.sam.postprocess_masks(low_res, self.embedding.input_size, self.embedding.original_size)
        return upscaled > self.sam.mask_threshold

    @torch.no_grad()
    def _decode(self, prompts: Prompts, mask_tensor, multimask: bool):
        """SamPredictor.predict_torch's prompt encoder and mask decoder on the cached embedding: B x C scores
        and low-res logits (upscaling is :meth:`_upscale`, done only for the masks that are returned)."""
        device, original = self.sam.device, self.embedding.original_size
        n_boxes = 1 if prompts.boxes is None else prompts.boxes.shape[0]
        point_pair = None
        if prompts.points is not None:
            coords = self.transform.apply_coords(prompts.points, original)
            coords = torch.as_tensor(coords, dtype=torch.float, device=device)[None].expand(n_boxes, -1, -1)
            labels = torch.as_tensor(prompts.labels, dtype=torch.int, device=device)[None].expand(n_boxes, -1)
            point_pair = (coords, labels)
        box_tensor = None
        if prompts.boxes is not None:
            box_tensor = torch.as_tensor(self.transform.apply_boxes(prompts.boxes, original), dtype=torch.float, device=device)
        sparse, dense = self.sam.prompt_encoder(points=point_pair, boxes=box_tensor, masks=mask_tensor)
        low_res, scores = self.sam.mask_decoder(
            image_embeddings=self.features,
            image_pe=self._image_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask,
        )
        return scores, low_res

    # ---- everything mode ------------------------------------------------------------------------
    def generate(self, **params) -> Masks:
        """Automatic mask generation over the current scene; see :func:`helpers.amg.generate_sam`."""
        from ..amg import generate_sam

        scene = self.require_scene()
        start = time.perf_counter()
        sam, decoder = self._generator_parts()
        replaced = {} if decoder is None else {"decoder": decoder}  # e.g. the ONNX Runtime decoder
        out = generate_sam(sam, scene.image, self.encode, **replaced, **params)
        scores = out.get("scores", out.get("predicted_iou"))
        result = self._result(
            out["masks"],
            scores,
            boxes=out.get("boxes"),
            stability_scores=out.get("stability_scores"),
            point_coords=out.get("point_coords"),
            crop_boxes=out.get("crop_boxes"),
            prompt_type="everything",
            prompts={"params": dict(params)},
        )
        result.timings = {**self.timings, "generate": time.perf_counter() - start}
        return result

    def _generator_parts(self):
        """``(sam, decoder)`` for :func:`helpers.amg.generate_sam`: the module, and no replacement decoder."""
        return self.sam, None

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.sam.parameters())


def export_onnx(model: SamModel, out_dir, **options):
    """Write the model's ONNX encoder and decoder (:func:`helpers.onnx.sam_graphs.export_sam_model`)."""
    from ..onnx.sam_graphs import export_sam_model

    return export_sam_model(model, out_dir, **options)


#: Build options of the SAM family (MobileSAM shares them).
SAM_OPTIONS = {
    "half": "float16 autocast of the image encoder (CUDA only; default False)",
    "compile": "torch.compile the image encoder (CUDA only; default False, slow first call)",
    "embedding_cache": "None/True: the shared cache (memory + disk), False: none, or an EmbeddingCache",
}

BACKEND = Backend(
    family="sam",
    build=build,
    write_smoke_checkpoint=write_smoke_checkpoint,
    generate_defaults=lambda: dict(AMG_DEFAULTS),
    check_generate_params=check_amg_params,
    param_docs=lambda: dict(AMG_PARAM_DOCS),
    tuner_controls={name: Control(*control) for name, control in AMG_CONTROLS.items()},
    options=SAM_OPTIONS,
    prompts=("points", "boxes", "mask_input"),
    export_onnx=export_onnx,
)
SamModel.backend = BACKEND
