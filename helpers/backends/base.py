"""The contract every backend keeps: ``set_image`` once, then ``predict`` / ``generate`` many times.

Two halves:

* :class:`SegmentationModel`, the base class of every model (SAM, SAM 2, MobileSAM, FastSAM, the
  conventional baseline): one API, one result type (:class:`~helpers.masks.Masks`).
* :class:`Backend`, what each backend module declares about its family in a module-level ``BACKEND``:
  how to build it and write smoke weights, its ``generate`` parameters with their defaults, checks and
  documentation, its tuner controls and its build options. Batch runs, the tuner, the benchmark and the
  notebooks read the contract (``model.backend`` or :func:`helpers.backends.backend_for`), never the
  family name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..masks import Masks
from ..raster import as_scene
from ..scene import Scene
from ..smoke import SMOKE_BANNER

#: ``generate`` options every backend accepts besides its own parameters.
RUN_OPTIONS: dict = {"progress": True}
RUN_OPTION_DOCS: dict[str, str] = {
    "progress": "show a tqdm progress bar (True/False); True default (shown only on a terminal), False "
    "silences it in scripts, batch runs and tiled inference",
}


class Control(NamedTuple):
    """One tuner widget control (unpacks as ``kind, options``).

    Attributes:
        kind: ``"int"``, ``"float"`` (``options`` = (min, max, step)), ``"choice"`` (``options`` = the
            values) or ``"bool"`` (``options`` unused).
        options: see ``kind``.
    """

    kind: str
    options: tuple | list | None = None


@dataclass(frozen=True)
class Backend:
    """What a backend family declares about itself (each backend module's ``BACKEND``).

    Attributes:
        family: registry family (``"sam"``, ``"mobile_sam"``, ``"sam2"``, ``"fastsam"``, ``"conventional"``).
        build: ``build(spec, checkpoint: Path | None, device, **options) -> SegmentationModel``.
        write_smoke_checkpoint: ``(spec, path) -> None``, random weights of the real architecture in the
            real format; ``None`` for a family without weights.
        generate_defaults: ``() -> dict``, every ``generate`` parameter with the value used when it is not
            given (without :data:`RUN_OPTIONS`). A callable because some families read them from their
            optional package.
        check_generate_params: ``(params) -> dict``: ``ValueError`` (one line) for unknown names or bad
            values; returns the parameters merged with the defaults.
        param_docs: ``() -> dict``: one line per ``generate`` parameter (what, unit, typical values).
        tuner_controls: parameter name -> :class:`Control` for the tuner widget and the app.
        options: build option (``load_model(name, **options)``) -> one line of documentation.
        prompts: the prompt kinds ``predict`` takes: any of ``"points"``, ``"boxes"``, ``"mask_input"``,
            ``"text"``.
        predict_params: whether ``predict`` also takes the ``generate`` parameters (the conventional
            baseline segments with them); otherwise prompted runs take no parameters.
        partitions: whether ``generate`` partitions the image (every pixel in at most one mask, no
            overlaps, like the conventional baseline); tiled runs then keep the result a partition.
        build_video: ``build_video(spec, checkpoint: Path | None, device, **options)`` -> the family's
            official video predictor (a ``sam2.sam2_video_predictor.SAM2VideoPredictor``), which tracks
            prompted objects through a sequence of frames (:mod:`helpers.timeseries`); ``None`` for a
            family without one. ``video_options`` documents its options.
        video_options: ``build_video`` option -> one line of documentation.
        runtime: what executes the network: ``"torch"`` (PyTorch) or ``"onnx"`` (ONNX Runtime).
            ``load_model(name, runtime=...)`` picks the family's declaration for that runtime
            (:func:`helpers.backends.backend_for`).
        export_onnx: ``(model, out_dir, *, opset, quantize, dynamo) -> ExportInfo``: writes the model's
            ONNX graphs and ``manifest.json`` into ``out_dir`` (``None``: no ONNX export).
        weights_folder: whether ``weights`` may be a folder (an ONNX export) instead of a checkpoint file;
            the backend then reads the smoke flag from the folder's manifest itself.
    """

    family: str
    build: Callable
    write_smoke_checkpoint: Callable | None
    generate_defaults: Callable[[], dict]
    check_generate_params: Callable[[dict], dict]
    param_docs: Callable[[], dict]
    tuner_controls: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    prompts: tuple = ("points", "boxes")
    predict_params: bool = False
    partitions: bool = False
    build_video: Callable | None = None
    video_options: dict = field(default_factory=dict)
    runtime: str = "torch"
    export_onnx: Callable | None = None
    weights_folder: bool = False

    @property
    def has_weights(self) -> bool:
        return self.write_smoke_checkpoint is not None

    @property
    def can_track(self) -> bool:
        """Whether the family has a video predictor (``build_video``) to track objects through time."""
        return self.build_video is not None

    def generate_parameters(self) -> list[str]:
        """Every name ``generate`` accepts: the family's parameters plus :data:`RUN_OPTIONS`."""
        return [*self.generate_defaults(), *RUN_OPTIONS]


def split_run_options(params: dict) -> tuple[dict, dict]:
    """``(run options, the rest)`` of ``generate`` keywords, run options checked (``progress`` a bool)."""
    run = {k: params[k] for k in RUN_OPTIONS if k in params}
    if "progress" in run and not isinstance(run["progress"], (bool, np.bool_)):
        raise ValueError(f"progress must be True or False, got {run['progress']!r}")
    return {**RUN_OPTIONS, **run}, {k: v for k, v in params.items() if k not in RUN_OPTIONS}


# ---- value checks for generate parameters (one line each, naming the parameter) ---------------------
def check_int(params: dict, name: str, low: int, high: int | None = None, none_ok: bool = False) -> None:
    """``params[name]`` must be a whole number in ``[low, high]`` (stored back as ``int``); one-line ValueError."""
    value = params[name]
    if value is None and none_ok:
        return
    whole = isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating)) and float(value).is_integer())
    if isinstance(value, (bool, np.bool_)) or not whole or value < low or (high is not None and value > high):
        limits = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be a whole number {limits}, got {value!r}")
    params[name] = int(value)


def check_float(params: dict, name: str, low: float, high: float | None = None, low_open: bool = False) -> None:
    """``params[name]`` must be a finite number in ``[low, high]`` (``(low, high]`` with ``low_open``)."""
    value = params[name]
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if (not number or not np.isfinite(value) or value < low or (low_open and value == low)
            or (high is not None and value > high)):
        left = "(" if low_open else "["
        limits = f"be in {left}{low:g}, {high:g}]" if high is not None else \
            f"be a number {'>' if low_open else '>='} {low:g}"
        raise ValueError(f"{name} must {limits}, got {value!r}")
    params[name] = float(value)


def check_bool(params: dict, name: str) -> None:
    if not isinstance(params[name], (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {params[name]!r}")
    params[name] = bool(params[name])



class SegmentationModel:
    """Base class for SAM, SAM 2, FastSAM and the conventional baseline.

    Subclasses implement ``_set_scene`` (encode / run the everything pass once, using caches) and
    ``predict`` and/or ``generate``. Inputs are numpy arrays or paths; outputs are :class:`Masks`.

    Attributes:
        name: registry name (``"sam_vit_b"``, ``"fastsam_s"``, ...).
        device: the ``torch.device`` the model runs on (``None`` for CPU-only baselines).
        checkpoint: path of the weights file that was loaded, if any.
        smoke: ``True`` when the weights are untrained smoke weights (masks are meaningless).
        scene: the current :class:`Scene`, set by :meth:`set_image`.
    """

    name: str = ""
    #: The family's :class:`Backend` declaration (set by each subclass).
    backend: Backend | None = None

    def __init__(self, name: str, device=None, checkpoint=None, smoke: bool = False):
        self.name = name
        self.device = device
        self.checkpoint = checkpoint
        self.smoke = smoke
        self.scene: Scene | None = None
        self.timings: dict[str, float] = {}

    # -- image ------------------------------------------------------------------------------------
    def set_image(self, image, **read_options) -> SegmentationModel:
        """Set the scene to segment.

        Args:
            image: HxWx3 uint8 RGB array, a :class:`Scene`, or a path to a GeoTIFF/PNG/JPEG.
                GeoTIFFs keep their CRS/transform and are converted with
                :func:`helpers.raster.read_scene` (``read_options``: ``bands``, ``stretch``, ...).

        Returns:
            ``self``, so ``model.set_image(path).predict(...)`` reads naturally.
        """
        scene = as_scene(image, **read_options)
        self._set_scene(scene)
        self.scene = scene
        return self

    def _set_scene(self, scene: Scene) -> None:
        raise NotImplementedError

    def require_scene(self) -> Scene:
        if self.scene is None:
            raise RuntimeError(f"{self.name}: call set_image(image) before predicting")
        return self.scene

    # -- prompts / everything -----------------------------------------------------------------------
    def predict(self, points=None, labels=None, boxes=None, crs=None, multimask=True, mask_input=None) -> Masks:
        """Masks for prompts on the current scene (no re-encoding).

        Args:
            points: ``[(x, y), ...]`` or float (N, 2). With ``crs=None``: pixel (column, row) of the pixel
                centres, 0-based. With ``crs``: map coordinates in that CRS (``"EPSG:4326"`` = lon, lat).
            labels: int (N,), 1 = foreground, 0 = background (default: all foreground).
            boxes: XYXY (B, 4), pixel edges with x1/y1 exclusive (as :attr:`Masks.boxes`), or map
                coordinates (xmin, ymin, xmax, ymax) in ``crs``.
            crs: ``None`` (pixels) or any CRS pyproj accepts.
            multimask: return the candidate masks (SAM: 3) instead of one.
            mask_input: float (1 | B, 256, 256) low-resolution logits from a previous ``Masks.logits``.

        Raises:
            ValueError: bad prompts (empty, NaN, labels not 0/1, mismatched lengths, outside the scene).
        """
        raise NotImplementedError(f"{self.name} does not support prompted prediction")

    def generate(self, **params) -> Masks:
        """Automatic ("everything") masks for the current scene.

        Parameters depend on the backend (``model.backend.generate_defaults()`` lists them, with their
        documentation in ``model.backend.param_docs()``); every backend also takes ``progress=``.
        """
        raise NotImplementedError(f"{self.name} does not support automatic mask generation")

    def num_parameters(self) -> int | None:
        """Number of weights of the network(s), or ``None`` for a method without weights."""
        return None

    # -- helpers for subclasses ---------------------------------------------------------------------
    def _result(self, masks: np.ndarray, scores: np.ndarray, **fields) -> Masks:
        """Build a :class:`Masks` stamped with this model's name, scene georeferencing and smoke flag.

        Pixels the scene marks as nodata (``Scene.valid == False``) are removed from every mask, so no
        backend ever reports an object, an area or a polygon over nodata; boxes are then recomputed.
        """
        scene = self.require_scene()
        masks = np.asarray(masks, dtype=bool)
        if scene.valid is not None and masks.size and not scene.valid.all():
            masks = masks & scene.valid
            fields.pop("boxes", None)
        return Masks(
            masks=masks,
            scores=scores,
            model=self.name,
            crs=scene.crs,
            transform=scene.transform,
            smoke=self.smoke,
            **fields,
        )

    def __repr__(self) -> str:
        smoke = f", {SMOKE_BANNER}" if self.smoke else ""
        return f"{type(self).__name__}(name={self.name!r}, device={self.device}{smoke})"


# ---- build options shared by the backends ---------------------------------------------------------------
def pop_backend_options(
    options: dict,
    device,
    name: str,
    gpu_only: tuple[str, ...] = ("half", "compile"),
    embedding_cache: bool = True,
    passthrough: tuple[str, ...] = (),
) -> dict:
    """Take the options every backend shares out of ``options`` and check them.

    Args:
        options: the ``**options`` a backend's ``build`` received; the shared ones are removed from it
            (what is left are the ``passthrough`` options, for the backend itself).
        device: the ``torch.device`` (or device string) the model runs on; ``None`` = CPU.
        name: registry name, for the error messages.
        gpu_only: boolean options that need CUDA (default ``half`` and ``compile``, both ``False``
            unless given).
        embedding_cache: whether the backend has an ``embedding_cache=`` option (``None``/``True``:
            the shared cache, ``False``: none, or an :class:`helpers.embedding_cache.EmbeddingCache`).
        passthrough: further option names the backend accepts and checks itself.

    Returns:
        ``{option: bool}`` for each of ``gpu_only``, plus ``"embedding_cache"`` (an ``EmbeddingCache`` or
        ``None``, see :func:`helpers.embedding_cache.resolve_cache`) when ``embedding_cache`` is true.

    Raises:
        ValueError: a GPU-only option set on a non-CUDA device, or an option the backend does not know
            (the message names the valid ones).
        TypeError: ``embedding_cache`` of the wrong type.
    """
    valid = [*gpu_only, *(["embedding_cache"] if embedding_cache else []), *passthrough]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(f"unknown option(s) for {name}: {', '.join(unknown)}; valid: {', '.join(valid)}")
    device_type = getattr(device, "type", None) or str(device or "cpu").split(":")[0]
    resolved = {}
    for flag in gpu_only:
        resolved[flag] = bool(options.pop(flag, False))
        if resolved[flag] and device_type != "cuda":
            raise ValueError(f"{flag}=True needs a CUDA device; this model is on {device_type}")
    if embedding_cache:
        from ..embedding_cache import resolve_cache

        resolved["embedding_cache"] = resolve_cache(options.pop("embedding_cache", None))
    return resolved
