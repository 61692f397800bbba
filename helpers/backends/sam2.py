"""SAM 2.1 (Hiera) backend on Meta's ``sam2`` package: build, load, encode once, prompt, generate.

The architecture comes from ``sam2``'s own hydra configs (``spec.arch`` is e.g.
``"configs/sam2.1/sam2.1_hiera_t.yaml"``), built with ``sam2.build_sam.build_sam2`` exactly as the
official examples do, and the official checkpoint format ``{"model": state_dict}`` is read with
``torch.load(..., weights_only=True)``. Prompting goes through the official ``SAM2ImagePredictor`` and
automatic generation through ``SAM2AutomaticMaskGenerator``, so results equal the official ones.

``sam2`` is an optional dependency (``pip install -e ".[sam2]"``). Its compiled CUDA extension is
optional too: without it ``sam2`` only skips hole filling / sprinkle removal (with a warning).
"""

from __future__ import annotations

import contextlib
import inspect
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from ..amg.params import AMG_CONTROLS, AMG_PARAM_DOCS, check_amg_values
from ..embedding_cache import Embedding, EmbeddingCache, checkpoint_identity, embedding_key, resolve_cache
from ..errors import one_line
from ..masks import Masks
from ..prompts import normalise_mask_input, prepare_prompts
from ..registry import ModelSpec
from ..scene import Scene
from ..smoke import attach_smoke_marker
from .base import Backend, Control, SegmentationModel, pop_backend_options, split_run_options

__all__ = [
    "BACKEND",
    "SAM2_INSTALL_HINT",
    "Sam2Model",
    "build",
    "build_architecture",
    "build_video",
    "has_cuda_extension",
    "describe_state_dict",
    "read_sam2_state_dict",
    "write_smoke_checkpoint",
]

SAM2_INSTALL_HINT = 'SAM 2 needs the optional "sam2" package: pip install -e ".[sam2]" (or: pip install sam2)'

# Modules whose absence means "the sam2 extra is not installed" (sam2 and what it imports first).
_SAM2_MODULES = {"sam2", "hydra", "omegaconf", "iopath"}

# Hiera trunk (blocks, embed dim) -> size, to name what a mismatching checkpoint actually is.
_HIERA_SIZES = {(12, 96): "hiera_t", (16, 96): "hiera_s", (24, 112): "hiera_b+", (48, 144): "hiera_l"}

# Keys of the official predictor / generator that users may set through build options / generate().
_PREDICTOR_OPTIONS = ("mask_threshold", "max_hole_area", "max_sprinkle_area")
_LOW_RES = 256  # SAM 2's low-resolution mask logits (the mask_input size)


# ---- the optional package -------------------------------------------------------------------------
def _require_sam2() -> None:
    """Import ``sam2`` or raise one line saying how to install it."""
    try:
        import sam2  # noqa: F401  (initialises hydra with sam2's configs)
        import sam2.build_sam  # noqa: F401
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] in _SAM2_MODULES:
            raise ModuleNotFoundError(SAM2_INSTALL_HINT) from None
        raise


@contextlib.contextmanager
def _sam2_configs():
    """Make sure hydra can compose sam2's configs, and leave hydra as we found it.

    ``import sam2`` initialises hydra's global state with its config module. Another hydra user in the
    same process (or ``GlobalHydra.instance().clear()``) may have replaced or cleared it; then we
    initialise sam2's configs for the duration of the build and restore the previous state afterwards.
    """
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    global_hydra = GlobalHydra.instance()
    if global_hydra.is_initialized() and any(
        source.path == "sam2" for source in global_hydra.config_loader().get_sources()
    ):
        yield
        return
    previous = global_hydra.hydra if global_hydra.is_initialized() else None
    global_hydra.clear()
    try:
        with initialize_config_module("sam2", version_base="1.2"):
            yield
    finally:
        GlobalHydra.instance().clear()
        if previous is not None:
            GlobalHydra.instance().initialize(previous)


# ---- architecture and checkpoints -----------------------------------------------------------------
def build_architecture(spec: ModelSpec, compile: bool = False):
    """The randomly initialised ``sam2.modeling.sam2_base.SAM2Base`` for ``spec.arch``, on CPU, eval mode.

    Args:
        spec: a ``"sam2"`` family registry entry; ``spec.arch`` is a sam2 hydra config name such as
            ``"configs/sam2.1/sam2.1_hiera_t.yaml"``.
        compile: compile the image encoder with ``torch.compile`` (CUDA only; slow first call).
    """
    _require_sam2()
    from hydra.errors import MissingConfigException
    from sam2.build_sam import build_sam2

    overrides = ["++model.compile_image_encoder=True"] if compile else []
    try:
        with _sam2_configs():
            # ckpt_path=None: random init; the checkpoint is read by read_sam2_state_dict so that a
            # wrong file gives one clear error instead of sam2's bare RuntimeError.
            return build_sam2(
                spec.arch, ckpt_path=None, device="cpu", mode="eval", hydra_overrides_extra=overrides
            )
    except MissingConfigException:
        raise ValueError(f"{spec.name}: sam2 {_sam2_version()} has no config {spec.arch!r}") from None


def _sam2_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sam2")
    except PackageNotFoundError:
        return "(unknown version)"


def describe_state_dict(state: dict) -> str:
    """A short description of what a SAM 2 state dict holds, e.g. ``"sam2.1_hiera_s (16 Hiera blocks)"``."""
    blocks = {key.split(".")[3] for key in state if key.startswith("image_encoder.trunk.blocks.")}
    patch = state.get("image_encoder.trunk.patch_embed.proj.weight")
    if not blocks or patch is None:
        return "no Hiera image encoder"
    size = _HIERA_SIZES.get((len(blocks), int(patch.shape[0])), f"Hiera with embed dim {int(patch.shape[0])}")
    version = "sam2.1" if "no_obj_embed_spatial" in state else "sam2"
    return f"{version}_{size} ({len(blocks)} Hiera blocks)"


def read_sam2_state_dict(path: Path, spec: ModelSpec) -> dict:
    """The ``"model"`` state dict of an official-format SAM 2 checkpoint, read with ``weights_only=True``.

    Raises:
        ValueError: the file is not a torch checkpoint, or not a ``{"model": state_dict}`` SAM 2 one.
    """
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same one-line answer
        reason = one_line(error, with_type=False)
        raise ValueError(
            f"{path.name} is not a {spec.name} checkpoint: torch.load failed ({reason[:160]})"
        ) from None
    state = checkpoint.get("model") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        hint = ""
        if isinstance(checkpoint, dict) and any(str(k).startswith("image_encoder.") for k in checkpoint):
            hint = " (this is a plain state dict, e.g. a SAM 1 or MobileSAM checkpoint)"
        raise ValueError(
            f"{path.name} is not a {spec.name} checkpoint: expected a dict with a 'model' state dict{hint}"
        )
    return state


def _load_state_dict(model, state: dict, spec: ModelSpec, path: Path) -> None:
    """``model.load_state_dict(state)`` with one clear error when the file is another architecture."""
    own = model.state_dict()
    missing = sorted(own.keys() - state.keys())
    unexpected = sorted(state.keys() - own.keys())
    reshaped = sorted(k for k in own.keys() & state.keys() if own[k].shape != state[k].shape)
    if missing or unexpected or reshaped:
        details = ", ".join(
            f"{len(keys)} {what} (e.g. {keys[0]})"
            for what, keys in (
                ("missing keys", missing),
                ("unexpected keys", unexpected),
                ("shape mismatches", reshaped),
            )
            if keys
        )
        raise ValueError(
            f"{Path(path).name} is not a {spec.name} checkpoint: it holds {describe_state_dict(state)}; {details}"
        )
    model.load_state_dict(state, strict=True)


def write_smoke_checkpoint(spec: ModelSpec, path: Path) -> None:
    """Write random weights of ``spec``'s real architecture in the official ``{"model": state_dict}`` format.

    The file is tagged with :func:`helpers.weights.attach_smoke_marker` (a top-level key that the
    official loader ignores), so ``sam2.build_sam.build_sam2(config, ckpt_path=path)`` still loads it and
    ``helpers.load_model`` announces "untrained weights — masks are meaningless".
    """
    model = build_architecture(spec)
    checkpoint = attach_smoke_marker({"model": model.state_dict()}, spec.name)
    torch.save(checkpoint, Path(path))


def build(
    spec: ModelSpec, checkpoint: Path | None, device: torch.device | None = None, **options
) -> Sam2Model:
    """Build a :class:`Sam2Model` (``helpers.load_model`` calls this for the ``"sam2"`` family).

    Args:
        spec: registry entry; ``spec.arch`` is the sam2 hydra config.
        checkpoint: official-format checkpoint (``{"model": state_dict}``), or ``None`` for random weights.
        device: torch device (``None``: CPU).
        **options:
            half: bfloat16 autocast, as in SAM 2's own examples (CUDA only, default ``False``).
            compile: ``torch.compile`` the image encoder (CUDA only, default ``False``; slow first call).
            mask_threshold, max_hole_area, max_sprinkle_area: ``SAM2ImagePredictor`` settings
                (hole/sprinkle filling needs sam2's CUDA extension; without it sam2 warns and skips).
            embedding_cache: ``None``/``True`` (the shared cache, memory + disk), ``False`` (no cache) or
                an :class:`helpers.embedding_cache.EmbeddingCache`.

    Raises:
        ModuleNotFoundError: the ``sam2`` package is missing (the message says how to install it).
        ValueError: the checkpoint is not a SAM 2 checkpoint of this size; unknown or GPU-only options.
    """
    device = torch.device(device if device is not None else "cpu")
    opts = pop_backend_options(options, device, spec.name, passthrough=_PREDICTOR_OPTIONS)
    model = build_architecture(spec, compile=opts["compile"])
    if checkpoint is not None:
        _load_state_dict(model, read_sam2_state_dict(checkpoint, spec), spec, checkpoint)
    model = model.to(device).eval()
    # The smoke flag is stamped by helpers.load_model, which has already read the file's marker.
    return Sam2Model(
        spec.name, model, device=device, checkpoint=checkpoint, half=opts["half"],
        cache=opts["embedding_cache"] or False,  # None from pop_backend_options means "caching off"
        **options,
    )


# ---- the video predictor (tracking through time) ----------------------------------------------------
_IMAGE_SIZE_STEP = 32  # Hiera pools by 32: other input sizes break its windowed position embeddings


def has_cuda_extension() -> bool:
    """Whether sam2's compiled extension (``sam2._C``, connected components for hole filling) is installed."""
    import importlib.util

    try:
        return importlib.util.find_spec("sam2._C") is not None
    except (ImportError, ValueError):
        return False


def build_video(spec: ModelSpec, checkpoint: Path | None, device=None, image_size: int | None = None):
    """SAM 2's official video predictor for ``spec`` with the weights of ``checkpoint``.

    Built exactly as ``sam2.build_sam.build_sam2_video_predictor`` builds it (its post-processing
    overrides included: dynamic multimask, binarised click masks in memory, hole filling), then the
    checkpoint is loaded with the same one-line checks as :func:`build`.

    Args:
        spec: a ``"sam2"`` family registry entry.
        checkpoint: official-format checkpoint, or ``None`` for random weights.
        device: torch device (``None``: CPU).
        image_size: side in pixels every frame is resized to before encoding (default: the model's,
            1024 for SAM 2.1); a multiple of 32 from 128. Smaller is much faster on a CPU (the encoder
            and the memory attention scale with its square) and coarser; the weights were trained at 1024.

    Returns:
        a ``sam2.sam2_video_predictor.SAM2VideoPredictor`` in eval mode. Without sam2's CUDA extension its
        hole filling is switched off (``fill_hole_area = 0``): the official predictor would warn on every
        frame and skip it, so the masks are the same.

    Raises:
        ValueError: a bad ``image_size``, or a checkpoint that is not a SAM 2 checkpoint of this size.
    """
    _require_sam2()
    from hydra.errors import MissingConfigException
    from sam2.build_sam import build_sam2_video_predictor

    overrides = []
    if image_size is not None:
        if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or (
            image_size < 128 or image_size % _IMAGE_SIZE_STEP
        ):
            raise ValueError(f"image_size must be a multiple of {_IMAGE_SIZE_STEP} from 128, got {image_size!r}")
        overrides.append(f"++model.image_size={int(image_size)}")
    device = torch.device(device if device is not None else "cpu")
    try:
        with _sam2_configs():
            predictor = build_sam2_video_predictor(
                spec.arch, ckpt_path=None, device="cpu", mode="eval", hydra_overrides_extra=overrides
            )
    except MissingConfigException:
        raise ValueError(f"{spec.name}: sam2 {_sam2_version()} has no config {spec.arch!r}") from None
    if checkpoint is not None:
        _load_state_dict(predictor, read_sam2_state_dict(checkpoint, spec), spec, checkpoint)
    if not has_cuda_extension():
        predictor.fill_hole_area = 0
    return predictor.to(device).eval()


# ---- embeddings: three feature levels in one cacheable tensor -------------------------------------
def _pack_features(features: dict) -> torch.Tensor:
    """SAM 2's image features -> one (1, C, 64, 64) tensor, losslessly.

    SAM 2 keeps the (1, 256, 64, 64) embedding plus two high-resolution levels ((1, 32, 256, 256) and
    (1, 64, 128, 128)). ``pixel_unshuffle`` folds each level onto the 64x64 grid (a pure re-indexing),
    so the shared embedding cache, which stores one tensor per image, holds all three exactly.
    """
    embed = features["image_embed"]
    size = embed.shape[-1]
    folded = [
        torch.nn.functional.pixel_unshuffle(level, level.shape[-1] // size)
        for level in features["high_res_feats"]
    ]
    return torch.cat([embed, *folded], dim=1)


def _unpack_features(
    packed: torch.Tensor, level_channels: list[int], layouts: list[str] | None = None
) -> dict:
    """Inverse of :func:`_pack_features`; ``level_channels`` are the high-res levels' channel counts.

    ``layouts`` (from :func:`_feature_layouts`) restores each tensor's memory layout: the decoder's
    convolutions round differently on channels-last and contiguous tensors (~1e-7), and the official
    predictor's features mix both. Without it (an embedding read from disk) tensors are contiguous.
    """
    n = len(level_channels)
    # Level i of n has 2 ** (n - i) times the embedding's resolution (256 and 128 for 64, with n = 2).
    factors = [2 ** (n - i) for i in range(n)]
    sizes = [channels * factor * factor for channels, factor in zip(level_channels, factors, strict=True)]
    embed, *folded = torch.split(packed, [packed.shape[1] - sum(sizes), *sizes], dim=1)
    levels = [
        torch.nn.functional.pixel_shuffle(part, factor) for part, factor in zip(folded, factors, strict=True)
    ]
    tensors = [embed, *levels]
    layouts = layouts or ["contiguous"] * len(tensors)
    tensors = [
        t.contiguous(memory_format=_MEMORY_FORMATS[layout])
        for t, layout in zip(tensors, layouts, strict=True)
    ]
    return {"image_embed": tensors[0], "high_res_feats": tensors[1:]}


_MEMORY_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def _layouts_ok(embedding) -> bool:
    """A cached SAM 2 embedding's layouts are what :func:`_unpack_features` can restore."""
    layouts = embedding.extra.get("layouts")
    return layouts is None or (isinstance(layouts, list) and all(layout in _MEMORY_FORMATS for layout in layouts))


def _feature_layouts(features: dict) -> list[str]:
    """Memory layout of ``image_embed`` and each high-res level, for :func:`_unpack_features`."""
    tensors = [features["image_embed"], *features["high_res_feats"]]
    return [
        "channels_last"
        if not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last)
        else "contiguous"
        for t in tensors
    ]


# ---- the model ------------------------------------------------------------------------------------
class Sam2Model(SegmentationModel):
    """SAM 2.1: encode a scene once, then prompt it many times (points, boxes, previous logits).

    Attributes:
        sam2: the ``sam2.modeling.sam2_base.SAM2Base`` module.
        predictor: the official ``sam2.sam2_image_predictor.SAM2ImagePredictor`` driving it.
        half: whether bfloat16 autocast is on (CUDA only).
        cache: the :class:`helpers.embedding_cache.EmbeddingCache` used, or ``None``.
        embedding_source: where the current scene's features came from (``"computed"``, ``"memory"``,
            ``"disk"``).
    """

    def __init__(
        self,
        name: str,
        sam2_model,
        device: torch.device | None = None,
        checkpoint: Path | None = None,
        smoke: bool = False,
        half: bool = False,
        cache: EmbeddingCache | bool | None = None,
        **predictor_options,
    ):
        _require_sam2()
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        super().__init__(name, device=device or torch.device("cpu"), checkpoint=checkpoint, smoke=smoke)
        self.sam2 = sam2_model
        self.half = half
        self.predictor_options = dict(predictor_options)
        with warnings.catch_warnings():
            # sam2's image transform uses torch.jit.script, deprecated in recent torch: not our concern.
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
            self.predictor = SAM2ImagePredictor(sam2_model, **predictor_options)
        self.cache: EmbeddingCache | None = resolve_cache(cache)
        self.embedding_source: str | None = None
        decoder = sam2_model.sam_mask_decoder
        self._level_channels = [decoder.conv_s0.out_channels, decoder.conv_s1.out_channels]

    # ---- encoding -------------------------------------------------------------------------------
    def _autocast(self):
        if self.half:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _encode(self, image: np.ndarray) -> Embedding:
        with torch.inference_mode(), self._autocast():
            self.predictor.set_image(image)
        resolution = int(self.sam2.image_size)
        features = self.predictor._features
        return Embedding(
            features=_pack_features(features),
            input_size=(resolution, resolution),
            original_size=tuple(image.shape[:2]),
            extra={"layouts": _feature_layouts(features)},
        )

    def _cache_key(self, image: np.ndarray) -> str | None:
        if self.cache is None or self.checkpoint is None:
            return None  # weights without a file cannot be identified across runs
        precision = "bf16" if self.half else "fp32"
        return embedding_key(
            image, self.name, checkpoint_identity(self.checkpoint), f"{self.device.type}|{precision}"
        )

    def _set_scene(self, scene: Scene) -> None:
        start = time.perf_counter()
        key = self._cache_key(scene.image)
        if key is None:
            embedding = self._encode(scene.image)
            embedding.seconds = time.perf_counter() - start
        else:
            embedding = self.cache.get_or_compute(key, lambda: self._encode(scene.image), device=self.device,
                                                  expected=self._expected_embedding(scene.image),
                                                  check=_layouts_ok)
        layouts = embedding.extra.get("layouts")
        features = _unpack_features(embedding.features, self._level_channels, layouts)
        _install_features(self.predictor, features, scene.shape)
        self.embedding_source = embedding.source
        self.timings = {
            "set_image": time.perf_counter() - start,
            "encode": embedding.seconds if embedding.source == "computed" else 0.0,
        }

    def _expected_embedding(self, image: np.ndarray) -> dict:
        """What a cached embedding of ``image`` must look like (a file that differs is re-encoded)."""
        size = int(self.sam2.image_size)
        grid = size // 16  # the image embedding's side (64 for 1024)
        n = len(self._level_channels)
        channels = int(self.sam2.hidden_dim) + sum(c * 4 ** (n - i) for i, c in enumerate(self._level_channels))
        return {"features_shape": (1, channels, grid, grid), "input_size": (size, size),
                "original_size": tuple(image.shape[:2])}

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.sam2.parameters())

    def image_features(self) -> dict:
        """The current scene's features: ``image_embed`` (1, 256, 64, 64) and two ``high_res_feats``."""
        self.require_scene()
        return self.predictor._features

    # ---- prompts --------------------------------------------------------------------------------
    def predict(
        self, points=None, labels=None, boxes=None, crs=None, multimask=True, mask_input=None
    ) -> Masks:
        """Masks for point and/or box prompts on the current scene; never re-encodes.

        Args:
            points: float (N, 2) ``[(x, y), ...]``: pixel-centre (column, row) when ``crs`` is ``None``
                (``(10, 20)`` is the centre of column 10, row 20), else map coordinates in ``crs``.
            labels: int (N,), one per point, 1 = foreground, 0 = background (``None``: all foreground).
            boxes: float (B, 4) XYXY ``[(x0, y0, x1, y1), ...]``: pixel edges with x1/y1 exclusive (as
                :attr:`Masks.boxes`) when ``crs`` is ``None``, else map (xmin, ymin, xmax, ymax) in
                ``crs``. The pixel numbers reach SAM 2 unchanged, as with ``SAM2ImagePredictor.predict``.
                Several boxes are predicted as one batch (the points, if any, apply to every box) and
                give one mask per box: the highest-scoring of the three candidates when ``multimask``
                is true, SAM 2's single-mask output otherwise (as :meth:`helpers.sam.SamModel.predict`).
            crs: ``None`` for pixels, or the CRS of ``points``/``boxes`` (e.g. ``"EPSG:4326"``).
            multimask: return SAM 2's three candidates (best for one ambiguous click).
            mask_input: float low-resolution logits (1 | B, 256, 256) (or (256, 256)) from a previous
                ``Masks.logits[[i]]`` to refine that mask (B: one per box).

        Returns:
            :class:`Masks` with bool masks (N, H, W), predicted-IoU scores and logits (N, 256, 256).
        """
        scene = self.require_scene()
        prompts = prepare_prompts(scene, points=points, labels=labels, boxes=boxes, crs=crs)
        n_boxes = 1 if prompts.boxes is None else len(prompts.boxes)
        coords, point_labels = prompts.points, prompts.labels
        logits_in = normalise_mask_input(mask_input, n_boxes, size=_LOW_RES)
        if n_boxes > 1:  # SAM2ImagePredictor's batch form: one row of points and one mask input per box
            if coords is not None:
                coords, point_labels = (
                    np.repeat(coords[None], n_boxes, 0),
                    np.repeat(point_labels[None], n_boxes, 0),
                )
            if logits_in is not None:
                logits_in = np.repeat(logits_in, n_boxes // len(logits_in), axis=0)[:, None]
        start = time.perf_counter()
        with torch.inference_mode(), self._autocast():
            masks, scores, logits = self.predictor.predict(
                point_coords=coords,
                point_labels=point_labels,
                box=prompts.boxes,
                mask_input=logits_in,
                multimask_output=bool(multimask),
            )
        seconds = time.perf_counter() - start
        masks, scores, logits = _one_row_per_box(
            masks, scores, logits, n_boxes, best_only=n_boxes > 1 and multimask
        )
        prompt_type = prompts.prompt_type + ("+mask" if mask_input is not None else "")
        return self._result(
            masks > 0.5,
            scores,
            logits=logits.astype(np.float32),
            prompt_type=prompt_type,
            prompts=prompts.as_dict(),
            timings={**self.timings, "predict": seconds},
            extra={"embedding_source": self.embedding_source},
        )

    # ---- everything -----------------------------------------------------------------------------
    def mask_generator(self, **params):
        """The official ``SAM2AutomaticMaskGenerator`` for this model, reusing the scene's features.

        ``params`` are its own (``points_per_side``, ``pred_iou_thresh``, ``stability_score_thresh``,
        ``crop_n_layers``, ``min_mask_region_area``, ``use_m2m``, ...; see :func:`generate_defaults`);
        ``output_mode`` is fixed to binary masks. The full-image crop reuses the features of
        :meth:`set_image` instead of encoding the scene again; smaller crops (``crop_n_layers > 0``) are
        encoded by the generator.
        """
        from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

        scene = self.require_scene()
        params = check_amg_values(_generator_arguments(params))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
            generator = SAM2AutomaticMaskGenerator(self.sam2, output_mode="binary_mask", **params)
        _reuse_full_image_features(generator.predictor, scene, self.image_features())
        return generator

    def generate(self, **params) -> Masks:
        """Automatic ("everything") masks with SAM 2's generator; see :meth:`mask_generator` for ``params``.

        ``progress`` is accepted like every backend's; SAM 2's generator has no progress hook, so it is
        silent either way.

        Returns:
            :class:`Masks` with predicted-IoU ``scores``, ``stability_scores``, the grid ``point_coords``
            (N, 2) pixels and ``crop_boxes`` (N, 4) XYXY; ``prompt_type="everything"``.
        """
        scene = self.require_scene()
        _, params = split_run_options(params)
        generator = self.mask_generator(**params)
        start = time.perf_counter()
        with torch.inference_mode(), self._autocast():
            records = generator.generate(scene.image)
        seconds = time.perf_counter() - start
        return self._records_to_masks(records, scene, params, seconds)

    def _records_to_masks(self, records: list[dict], scene: Scene, params: dict, seconds: float) -> Masks:
        n = len(records)
        masks = np.zeros((n, *scene.shape), dtype=bool)
        for i, record in enumerate(records):
            masks[i] = record["segmentation"]
        crop_xywh = np.array([r["crop_box"] for r in records], dtype=np.float32).reshape(n, 4)
        return self._result(
            masks,
            np.array([r["predicted_iou"] for r in records], dtype=np.float32),
            prompt_type="everything",
            prompts={"params": dict(params)},
            timings={**self.timings, "generate": seconds},
            stability_scores=np.array([r["stability_score"] for r in records], dtype=np.float32),
            point_coords=np.array([r["point_coords"][0] for r in records], dtype=np.float32).reshape(n, 2),
            crop_boxes=np.concatenate([crop_xywh[:, :2], crop_xywh[:, :2] + crop_xywh[:, 2:]], axis=1),
        )


def _reuse_full_image_features(predictor, scene: Scene, features: dict) -> None:
    """Let a generator's predictor take the already-encoded features for the full-image crop.

    ``SAM2AutomaticMaskGenerator`` calls ``predictor.set_image(crop)`` for every crop; the first crop is
    the whole scene, whose features we hold already (same model, same image transform).
    """
    encode = predictor.set_image

    def set_image(crop: np.ndarray) -> None:
        if crop.shape == scene.image.shape and np.may_share_memory(crop, scene.image):
            _install_features(predictor, features, scene.shape)
        else:
            encode(crop)

    predictor.set_image = set_image


def _install_features(predictor, features: dict, hw: tuple[int, int]) -> None:
    """Hand encoded features to an official ``SAM2ImagePredictor``: the state its ``set_image`` leaves.

    Args:
        predictor: a ``sam2.sam2_image_predictor.SAM2ImagePredictor``.
        features: ``{"image_embed": (1, 256, 64, 64), "high_res_feats": [...]}`` of the image.
        hw: the image's (H, W).
    """
    predictor.reset_predictor()
    predictor._orig_hw = [tuple(hw)]
    predictor._features = features
    predictor._is_image_set = True


def _one_row_per_box(masks, scores, logits, n_boxes: int, best_only: bool):
    """Predictor outputs ((C, ...) for one prompt, (B, C, ...) for B boxes) -> flat (N, ...) arrays.

    With ``best_only`` each box keeps only its highest-scoring candidate.
    """
    masks = masks.reshape(n_boxes, -1, *masks.shape[-2:])
    scores = scores.reshape(n_boxes, -1)
    logits = logits.reshape(n_boxes, -1, *logits.shape[-2:])
    if best_only:
        rows, best = np.arange(n_boxes), scores.argmax(axis=1)
        masks, scores, logits = (
            masks[rows, best][:, None],
            scores[rows, best][:, None],
            logits[rows, best][:, None],
        )
    return (
        masks.reshape(-1, *masks.shape[-2:]),
        scores.reshape(-1),
        logits.reshape(-1, *logits.shape[-2:]),
    )


# ---- the contract ---------------------------------------------------------------------------------
_GENERATOR_FIXED = ("self", "model", "kwargs", "output_mode")


def generate_defaults() -> dict:
    """Every ``SAM2AutomaticMaskGenerator`` parameter users may set, with sam2's own default."""
    _require_sam2()
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

    parameters = inspect.signature(SAM2AutomaticMaskGenerator.__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.name not in _GENERATOR_FIXED}


def _generator_arguments(params: dict) -> dict:
    """``params`` checked against the generator's signature, with the grid rule made explicit."""
    allowed = list(generate_defaults())
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"unknown generate() parameter(s): {', '.join(unknown)}; choose from {', '.join(allowed)}")
    params = dict(params)
    if params.get("point_grids") is not None:
        if params.get("points_per_side") is not None:
            raise ValueError("give points_per_side or point_grids, not both")
        params["points_per_side"] = None
    elif "points_per_side" in params and params["points_per_side"] is None:
        raise ValueError("points_per_side=None needs point_grids")
    return params


def check_generate_params(params: dict) -> dict:
    """``params`` merged with :func:`generate_defaults`; ``ValueError`` (one line) for unknown names, bad
    values or values past the limits (:func:`helpers.amg.params.check_amg_values`)."""
    return check_amg_values({**generate_defaults(), **_generator_arguments(params)})


def param_docs() -> dict:
    """One line per generator parameter: SAM's where the meaning is the same, SAM 2's own otherwise."""
    own = {
        "mask_threshold": "logit threshold that turns the mask logits into a binary mask (logit units); 0.0 default",
        "output_mode": "fixed to binary masks by sam-rs",
        "use_m2m": "refine each mask with one more decoder pass fed its own logits (True/False); False default",
        "multimask_output": "three candidate masks per point (True/False); True default",
    }
    return {name: AMG_PARAM_DOCS.get(name) or own.get(name, "") for name in generate_defaults()}


def export_onnx(model: Sam2Model, out_dir, **options):
    """Write the model's ONNX encoder and decoder (:func:`helpers.onnx.sam2_graphs.export_sam2_model`)."""
    from ..onnx.sam2_graphs import export_sam2_model

    return export_sam2_model(model, out_dir, **options)


BACKEND = Backend(
    family="sam2",
    build=build,
    write_smoke_checkpoint=write_smoke_checkpoint,
    generate_defaults=generate_defaults,
    check_generate_params=check_generate_params,
    param_docs=param_docs,
    tuner_controls={name: Control(*control) for name, control in AMG_CONTROLS.items()},
    options={
        "half": "bfloat16 autocast, as in SAM 2's own examples (CUDA only; default False)",
        "compile": "torch.compile the image encoder (CUDA only; default False, slow first call)",
        "mask_threshold": "SAM2ImagePredictor's logit threshold (default 0.0)",
        "max_hole_area": "fill holes up to this area in pixels (needs sam2's CUDA extension; default 0)",
        "max_sprinkle_area": "remove islands up to this area in pixels (needs sam2's CUDA extension; default 0)",
        "embedding_cache": "None/True: the shared cache (memory + disk), False: none, or an EmbeddingCache",
    },
    prompts=("points", "boxes", "mask_input"),
    build_video=build_video,
    video_options={
        "image_size": "side in pixels frames are resized to (multiple of 32 from 128; default the model's "
        "1024); smaller is much faster on a CPU and coarser",
    },
    export_onnx=export_onnx,
)
Sam2Model.backend = BACKEND
