"""FastSAM (YOLOv8-seg "segment everything" + prompt selection) on ultralytics, returning ``Masks``.

FastSAM's design: one pass of a YOLOv8 segmentation network finds *every* object ("everything"
mode); prompts (points, boxes, text) then only **select** among those masks, so a prompt costs
almost nothing. :class:`FastSAMModel` mirrors it: ``set_image`` runs the everything pass once and
caches it, ``predict`` selects, ``generate`` returns the everything masks.

The network runs through ``ultralytics.FastSAM`` (nothing of the FastSAM repository is vendored); the
selection rules reproduce ``ultralytics.models.fastsam.FastSAMPredictor.prompt`` and are tested to
give the same masks as a direct ultralytics call.

Point semantics (FastSAM's): an everything-mask is *selected* when it contains any foreground point
and *removed* when it contains any background point (only background points: every mask not
containing one). ``mode="merge"`` (default for points) returns the union of the selected masks as
one mask; ``mode="per_prompt"`` one mask per foreground point (and per box / text); ``mode="all"``
the selected everything-masks themselves, as ultralytics returns them.

Text prompts score each mask's crop against the text with OpenAI CLIP ViT-B/32 (as ultralytics
does); they need the ``clip`` package and the ``ViT-B-32.pt`` weights (see :func:`load_clip`).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..masks import Masks
from ..prompts import box_window, pixel_indices, prepare_prompts
from ..registry import ModelSpec
from ..scene import Scene
from .base import Backend, Control, SegmentationModel, pop_backend_options, split_run_options
from .clip import ClipScorer, load_clip
from .fastsam_smoke import ARCH_PARAMS_M, check_pt_suffix, write_smoke_checkpoint

__all__ = [
    "FastSAMModel",
    "build",
    "write_smoke_checkpoint",
    "EVERYTHING_DEFAULTS",
    "EVERYTHING_DOCS",
    "BACKEND",
]

#: FastSAM's published inference defaults (its README / ultralytics docs) plus ultralytics' max_det.
EVERYTHING_DEFAULTS = {"imgsz": 1024, "conf": 0.4, "iou": 0.9, "retina_masks": True, "max_det": 300}
EVERYTHING_DOCS = {
    "imgsz": "network input size, a multiple of 32 (pixels); 1024 default, smaller is faster and coarser",
    "conf": "minimum detection confidence (0-1); 0.4 default, lower finds more, weaker masks",
    "iou": "NMS IoU threshold (0-1); 0.9 default, lower removes more overlapping masks",
    "retina_masks": "masks at the scene's full resolution (True, sharp edges, default) or at network "
    "resolution, then upsampled (False, faster, blocky)",
    "max_det": "at most this many masks (count); 300 default",
}
MODES = ("merge", "per_prompt", "all")
#: Limits of the everything pass: network input side (memory grows with its square) and masks kept
#: (each one a scene-sized boolean array).
MAX_IMGSZ = 4096
MAX_DET = 2000
#: Masks of at most this many pixels are not offered to CLIP (ultralytics' rule).
TEXT_MIN_AREA = 100


# ---- building ---------------------------------------------------------------------------------------
def build(spec: ModelSpec, checkpoint: Path | None, device=None, **options) -> FastSAMModel:
    """Load a FastSAM checkpoint with ``ultralytics.FastSAM``.

    An ultralytics ``.pt`` is a pickle (it can run code when loaded), so ``checkpoint`` must be a
    verified registry download or a file the user named explicitly: :func:`helpers.load_model`
    only calls this with one of those.

    Args:
        spec: registry entry (``spec.arch`` ``"s"`` or ``"x"``).
        checkpoint: path of ``FastSAM-s.pt`` / ``FastSAM-x.pt`` (or smoke weights from
            :func:`write_smoke_checkpoint`).
        device: ``torch.device`` (``None`` = CPU).
        **options: defaults of the everything pass (``imgsz``, ``conf``, ``iou``, ``retina_masks``,
            ``max_det``; see :meth:`FastSAMModel.generate`), ``half=True`` (CUDA only) and
            ``clip_weights=PATH`` (CLIP ViT-B/32 checkpoint for text prompts).

    Raises:
        ValueError: no checkpoint, not a ``.pt`` file, not a segmentation model, wrong FastSAM size,
            unknown option.
    """
    import torch

    if checkpoint is None:
        raise ValueError(f"{spec.name} needs a weights file (FastSAM-{spec.arch}.pt)")
    path = Path(checkpoint)
    check_pt_suffix(path)
    device = torch.device("cpu") if device is None else torch.device(device)
    half = pop_backend_options(
        options, device, spec.name, gpu_only=("half",), embedding_cache=False,
        passthrough=("clip_weights", *EVERYTHING_DEFAULTS, "safe_load"),
    )["half"]  # fmt: skip
    clip_weights = options.pop("clip_weights", None)
    safe_load = options.pop("safe_load", True)
    if not isinstance(safe_load, (bool, np.bool_)):
        raise ValueError(f"safe_load must be True or False, got {safe_load!r}")
    defaults = _check_everything_params({**EVERYTHING_DEFAULTS, **options})
    yolo = _load_ultralytics(path, spec, safe=bool(safe_load))
    # The smoke flag is stamped by helpers.load_model, which has already read the file's marker.
    return FastSAMModel(
        spec.name, yolo, device=device, checkpoint=path, half=half, defaults=defaults,
        clip_weights=clip_weights,
    )  # fmt: skip


@contextlib.contextmanager
def _ultralytics_safe_loading(path: Path, enabled: bool):
    """Make ``ultralytics.FastSAM(path)`` load with ultralytics' restricted unpickler (``weights_only``
    plus an allow-list of its model classes): a hostile file cannot run code."""
    if not enabled:
        yield
        return
    from ultralytics.nn import tasks

    if not getattr(getattr(tasks, "_SafeLoad", None), "SUPPORTED", False):
        raise ValueError(
            f"{path.name}: this ultralytics/torch cannot load .pt files safely, and loading it would execute "
            "any code the file contains; upgrade ultralytics, or pass safe_load=False if you trust the file"
        )
    saved = tasks.SAFE_LOAD
    tasks.SAFE_LOAD = True
    try:
        yield
    finally:
        tasks.SAFE_LOAD = saved


def _load_ultralytics(path: Path, spec: ModelSpec, safe: bool = True):
    """``ultralytics.FastSAM(path)``, checked to be a segmentation model of ``spec.arch``'s size.

    Args:
        safe: load with ultralytics' safe loading (see :func:`_ultralytics_safe_loading`); ``False``
            unpickles the file, which runs any code in it (only for verified or trusted files).
    """
    import pickle

    from ultralytics import FastSAM

    try:
        with _ultralytics_safe_loading(path, safe):
            yolo = FastSAM(str(path))
    except (TypeError, ModuleNotFoundError, AttributeError, KeyError, pickle.UnpicklingError, RuntimeError) as error:
        if isinstance(error, RuntimeError) and "PytorchStreamReader" not in str(error) and "magic" not in str(error):
            raise
        first = " ".join(str(error).split()) or type(error).__name__
        first = first.replace("ERROR ❌️ ", "")[:200]
        how = ("it was opened with ultralytics' safe loading, so nothing in it ran; if you trust the file, "
               "load_model(..., safe_load=False) executes its pickle") if safe else \
            "it was unpickled, which executes any code the file contains"
        raise ValueError(f"{path.name} is not an ultralytics FastSAM checkpoint ({how}): {first}") from None
    net = yolo.model
    if getattr(net, "task", "segment") != "segment" or not hasattr(net, "model"):
        raise ValueError(f"{path.name} is not a segmentation model (FastSAM is YOLOv8-seg)")
    params_m = sum(p.numel() for p in net.parameters()) / 1e6
    low, high = ARCH_PARAMS_M.get(spec.arch, (0.0, float("inf")))
    if not low <= params_m <= high:
        other = next((a for a, (lo, hi) in ARCH_PARAMS_M.items() if lo <= params_m <= hi), None)
        hint = f"; load it as fastsam_{other}" if other else ""
        raise ValueError(f"{path.name} has {params_m:.1f}M parameters, not FastSAM-{spec.arch}{hint}")
    return yolo



# ---- the model --------------------------------------------------------------------------------------
@dataclass
class _Everything:
    """One cached everything pass: masks in scene pixels, detection scores and boxes."""

    params: dict
    masks: np.ndarray  # (M, H, W) bool
    scores: np.ndarray  # (M,) float32 detection confidence
    det_boxes: np.ndarray  # (M, 4) XYXY from the detector (ultralytics' border-adjusted boxes)
    seconds: float


def _check_everything_params(params: dict) -> dict:
    unknown = sorted(set(params) - set(EVERYTHING_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown FastSAM option(s) {', '.join(unknown)}; use {', '.join(EVERYTHING_DEFAULTS)}")
    out = dict(params)
    imgsz = out["imgsz"]
    if isinstance(imgsz, bool) or not isinstance(imgsz, (int, np.integer)) or imgsz < 32 or imgsz % 32 \
            or imgsz > MAX_IMGSZ:
        raise ValueError(f"imgsz must be a multiple of 32 from 32 to {MAX_IMGSZ} (e.g. 640, 1024), got {imgsz!r}")
    for key in ("conf", "iou"):
        value = out[key]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 <= value <= 1:
            raise ValueError(f"{key} must be a number in [0, 1], got {value!r}")
        out[key] = float(value)
    max_det = out["max_det"]
    if isinstance(max_det, bool) or not isinstance(max_det, (int, np.integer)) or not 1 <= max_det <= MAX_DET:
        raise ValueError(f"max_det must be a whole number from 1 to {MAX_DET} (each mask is a scene-sized array), "
                         f"got {max_det!r}")
    if not isinstance(out["retina_masks"], (bool, np.bool_)):
        raise ValueError(f"retina_masks must be True or False, got {out['retina_masks']!r}")
    out.update(imgsz=int(imgsz), max_det=int(max_det), retina_masks=bool(out["retina_masks"]))
    return out


def _ultralytics_device(device) -> str:
    """torch.device -> the device string ultralytics' select_device expects ("cpu", "0", "mps")."""
    if device is None or device.type == "cpu":
        return "cpu"
    if device.type == "cuda":
        return str(device.index or 0)
    return device.type


class FastSAMModel(SegmentationModel):
    """FastSAM with the shared ``set_image`` / ``predict`` / ``generate`` shape.

    Attributes:
        yolo: the ``ultralytics.FastSAM`` model.
        defaults: everything-pass settings used by ``set_image`` (see :meth:`generate`).
        everything: the cached everything pass of the current scene (masks, scores, settings).
        clip: the :class:`ClipScorer` for text prompts (loaded on first use; assign one to override,
            e.g. ``model.clip = build_random_clip()``).
    """

    def __init__(self, name, yolo, device=None, checkpoint=None, smoke=False, half=False, defaults=None,
                 clip_weights=None):  # fmt: skip
        super().__init__(name, device=device, checkpoint=checkpoint, smoke=smoke)
        self.yolo = yolo
        self.half = half
        self.defaults = dict(defaults or EVERYTHING_DEFAULTS)
        self.clip_weights = clip_weights
        self.clip: ClipScorer | None = None
        self.everything: _Everything | None = None

    # ---- the everything pass ----------------------------------------------------------------------
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.yolo.model.parameters())

    def _run_everything(self, image: np.ndarray, params: dict) -> _Everything:
        from ultralytics.utils.ops import scale_masks

        start = time.perf_counter()
        bgr = np.ascontiguousarray(image[..., ::-1])  # ultralytics takes numpy images as OpenCV BGR
        precision = {"quantize": "fp16"} if self.half else {}
        result = self.yolo.predict(bgr, device=_ultralytics_device(self.device), verbose=False, **precision, **params)[0]
        height, width = image.shape[:2]
        if len(result) == 0:
            masks = np.zeros((0, height, width), dtype=bool)
        else:
            data = result.masks.data
            if tuple(data.shape[1:]) != (height, width):  # retina_masks=False: masks at network resolution
                data = scale_masks(data[None].float(), (height, width))[0] > 0.5
            masks = data.bool().cpu().numpy()
        return _Everything(
            params=dict(params),
            masks=masks,
            scores=result.boxes.conf.float().cpu().numpy().astype(np.float32),
            det_boxes=result.boxes.xyxy.float().cpu().numpy().astype(np.float32),
            seconds=time.perf_counter() - start,
        )

    def _set_scene(self, scene: Scene) -> None:
        self.everything = self._run_everything(scene.image, self.defaults)
        self.timings = {"everything": self.everything.seconds}

    def _require_everything(self) -> _Everything:
        self.require_scene()
        return self.everything

    def generate(self, **params) -> Masks:
        """Every mask FastSAM finds in the scene (its "everything" mode).

        Args:
            imgsz: network input size, a multiple of 32 (default 1024; smaller is faster and coarser).
            conf: minimum detection confidence in [0, 1] (default 0.4; lower finds more, weaker masks).
            iou: NMS IoU threshold in [0, 1] (default 0.9; lower removes more overlapping masks).
            retina_masks: ``True`` computes masks at the scene's full resolution (sharp edges);
                ``False`` at network resolution, then upsampled (faster, blocky edges).
            max_det: at most this many masks (default 300).

        Settings not given keep ``model.defaults``. The pass run by ``set_image`` is reused when the
        settings match; otherwise the network runs again and its masks become the ones that later
        prompts select from.

        Returns:
            :class:`Masks` (N, H, W) in scene pixels, ``scores`` = detection confidence, ordered by
            confidence; ``extra["det_boxes"]`` holds the detector's XYXY boxes.
        """
        scene = self.require_scene()
        _, params = split_run_options(params)  # one network pass: nothing to show progress of
        settings = _check_everything_params({**self.defaults, **params})
        start = time.perf_counter()
        cached = self.everything is not None and self.everything.params == settings
        if not cached:
            self.everything = self._run_everything(scene.image, settings)
        every = self.everything
        result = self._result(
            every.masks.copy(),
            every.scores.copy(),
            prompt_type="everything",
            prompts={"params": settings},
            extra={"det_boxes": every.det_boxes.copy(), "everything_index": np.arange(len(every.scores))},
        )
        result.timings = {
            "everything": every.seconds,
            "generate": time.perf_counter() - start,
            "cached": cached,
        }
        return result

    # ---- prompts ---------------------------------------------------------------------------------
    def predict(self, points=None, labels=None, boxes=None, crs=None, multimask=True, mask_input=None, *,
                boxes_xywh=None, text=None, mode=None) -> Masks:  # fmt: skip
        """Select masks of the cached everything pass with points, boxes and/or text (never re-runs it).

        Args:
            points: float (N, 2) ``[(x, y), ...]`` pixel-centre (column, row) of the scene
                (``crs=None``), or map coordinates in ``crs``. A point selects the pixel it rounds to
                (:func:`helpers.prompts.pixel_indices`).
            labels: int (N,), one per point, 1 = foreground, 0 = background (``None``: all foreground).
                FastSAM's rule: masks containing a foreground point are selected, masks containing a
                background point are removed; with background points only, every mask not containing
                one is selected.
            boxes: float (B, 4) XYXY ``[(x0, y0, x1, y1), ...]`` pixel edges with x1/y1 exclusive (like
                ``Masks.boxes``), or map (xmin, ymin, xmax, ymax) in ``crs``; each selects the mask with
                the highest IoU with the box (edges rounded to the nearest pixel edge).
            crs: ``None`` (pixels) or the CRS of ``points`` / ``boxes`` (e.g. ``"EPSG:4326"``).
            multimask: accepted for SAM compatibility and ignored (FastSAM has no candidate masks).
            mask_input: not supported by FastSAM (must be ``None``).
            boxes_xywh: boxes as ``(x, y, width, height)``, the format of FastSAM's own command
                line; converted to XYXY. Give ``boxes`` or ``boxes_xywh``, not both.
            text: a text prompt or list of them; each selects the mask whose crop CLIP matches best.
            mode: ``"merge"`` one mask, the union of every selected mask (FastSAM's output; an empty
                mask with score 0 when nothing is selected); ``"per_prompt"`` (alias ``"per_point"``)
                one mask per foreground point, box and text, in that order (union of that prompt's selection, minus masks
                holding a background point); ``"all"`` each selected everything-mask once, in
                confidence order (what ultralytics returns). Default: ``"per_prompt"`` for boxes or
                text alone, ``"merge"`` otherwise.

        Returns:
            :class:`Masks` in scene pixels; ``scores`` = detection confidence of the (best) selected
            mask; ``extra["everything_index"]`` lists the everything-masks used for each output mask.
        """
        every = self._require_everything()
        scene = self.scene
        start = time.perf_counter()
        if mask_input is not None:
            raise ValueError("FastSAM has no mask input; pass mask_input=None (refine with more points instead)")
        if boxes is not None and boxes_xywh is not None:
            raise ValueError("give boxes (XYXY) or boxes_xywh (x, y, width, height), not both")
        if boxes_xywh is not None:
            boxes = _xywh_to_xyxy(boxes_xywh)
        texts = _normalise_texts(text)
        if points is None and boxes is None and texts is None:
            raise ValueError("no prompt given: pass points=[(x, y)] (with labels), boxes=[(x0, y0, x1, y1)] or text=")
        prompts = None
        if points is not None or boxes is not None or labels is not None:
            prompts = prepare_prompts(scene, points=points, labels=labels, boxes=boxes, crs=crs)
        if mode is None:
            mode = "merge" if prompts is not None and prompts.points is not None else "per_prompt"
        mode = "per_prompt" if mode == "per_point" else mode  # the natural name when prompting with points
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")

        groups = self._select(every, prompts, texts)  # one index array per prompt
        masks, scores, used = _combine(every, groups, mode)
        prompt_kinds = [k for k, v in (("points", prompts and prompts.points), ("boxes", prompts and prompts.boxes),
                                      ("text", texts)) if v is not None]  # fmt: skip
        record = prompts.as_dict() if prompts is not None else {}
        if texts is not None:
            record["text"] = list(texts)
        record["mode"] = mode
        result = self._result(
            masks, scores, prompt_type="+".join(prompt_kinds), prompts=record, extra={"everything_index": used}
        )
        result.timings = {"everything": every.seconds, "predict": time.perf_counter() - start}
        return result

    def _select(self, every: _Everything, prompts, texts) -> list[tuple[str, np.ndarray]]:
        """(kind, selected everything-indices) per foreground point / box / text, plus background removal."""
        groups: list[tuple[str, np.ndarray]] = []
        if prompts is not None and prompts.points is not None:
            rows, cols = pixel_indices(prompts.points, every.masks.shape[1:])
            hits = every.masks[:, rows, cols]  # (M, P): mask m contains point p
            foreground = prompts.labels == 1
            removed = hits[:, ~foreground].any(axis=1)
            if foreground.any():
                for p in np.flatnonzero(foreground):
                    groups.append(("point", np.flatnonzero(hits[:, p] & ~removed)))
            else:  # background points only: everything that avoids them
                groups.append(("background", np.flatnonzero(~removed)))
        if prompts is not None and prompts.boxes is not None:
            for box in prompts.boxes:
                groups.append(("box", _best_mask_for_box(every.masks, box)))
        if texts is not None:
            groups.extend(("text", idx) for idx in self._best_masks_for_texts(every, texts))
        return groups

    def _best_masks_for_texts(self, every: _Everything, texts: list[str]) -> list[np.ndarray]:
        from PIL import Image

        if self.clip is None:
            self.clip = load_clip(self.clip_weights, self.device)
        image = self.scene.image
        crops, keep = [], []
        for i, (x0, y0, x1, y1) in enumerate(every.det_boxes.astype(int).tolist()):
            if every.masks[i].sum() <= TEXT_MIN_AREA:  # tiny masks give CLIP nothing to read
                continue
            keep.append(i)
            crops.append(Image.fromarray(image[y0:y1, x0:x1] * every.masks[i, y0:y1, x0:x1, None]))
        if not crops:
            return [np.zeros(0, dtype=np.int64) for _ in texts]
        best = self.clip.similarity(crops, texts).argmax(dim=-1).cpu().numpy()
        return [np.array([keep[b]], dtype=np.int64) for b in best]


def _normalise_texts(text) -> list[str] | None:
    if text is None:
        return None
    texts = [text] if isinstance(text, str) else list(text)
    if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ValueError(f"text must be a non-empty string or list of non-empty strings, got {text!r}")
    return texts


def _xywh_to_xyxy(boxes_xywh) -> np.ndarray:
    """``(x, y, width, height)`` boxes -> XYXY; width/height must be >= 0."""
    try:
        array = np.asarray(boxes_xywh, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"boxes_xywh must be numbers, got {type(boxes_xywh).__name__}") from None
    if array.ndim == 1 and array.shape[0] == 4:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"boxes_xywh must be (x, y, width, height) rows, shape (B, 4); got shape {array.shape}")
    if (array[:, 2:] < 0).any():
        raise ValueError("boxes_xywh has a negative width or height; did you pass XYXY boxes? use boxes= for XYXY")
    return np.concatenate([array[:, :2], array[:, :2] + array[:, 2:]], axis=1)


def _best_mask_for_box(masks: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Index (as a 1-element array) of the mask with the highest IoU with an XYXY box; empty when no masks."""
    if masks.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    rows, cols = box_window(box, masks.shape[1:])
    inside = masks[:, rows, cols].sum(axis=(1, 2)).astype(np.float64)
    areas = masks.sum(axis=(1, 2)).astype(np.float64)
    union = (rows.stop - rows.start) * (cols.stop - cols.start) + areas - inside
    return np.array([int(np.argmax(inside / np.maximum(union, 1.0)))], dtype=np.int64)


def _combine(every: _Everything, groups, mode: str) -> tuple[np.ndarray, np.ndarray, list]:
    """Masks, scores and used everything-indices for ``mode`` from the per-prompt selections."""
    height, width = every.masks.shape[1:]

    def union(indices):
        if len(indices) == 0:
            return np.zeros((height, width), dtype=bool), 0.0
        return every.masks[indices].any(axis=0), float(every.scores[indices].max())

    if mode == "per_prompt":
        if all(kind == "background" for kind, _ in groups):
            raise ValueError("mode='per_prompt' needs a foreground point, a box or a text (only background points given)")
        pairs = [union(idx) for kind, idx in groups if kind != "background"]
        used = [idx.tolist() for kind, idx in groups if kind != "background"]
        masks = np.stack([m for m, _ in pairs]) if pairs else np.zeros((0, height, width), bool)
        return masks, np.array([s for _, s in pairs], np.float32), used
    selected = np.zeros(every.masks.shape[0], dtype=bool)
    for _, idx in groups:
        selected[idx] = True
    chosen = np.flatnonzero(selected)
    if mode == "all":
        return every.masks[chosen], every.scores[chosen], [[int(i)] for i in chosen]
    mask, score = union(chosen)
    return mask[None], np.array([score], np.float32), [chosen.tolist()]


def export_onnx(model: FastSAMModel, out_dir, **options):
    """Write the model's network as ONNX (:func:`helpers.onnx.fastsam_graph.export_fastsam_model`)."""
    from ..onnx.fastsam_graph import export_fastsam_model

    return export_fastsam_model(model, out_dir, **options)


BACKEND = Backend(
    family="fastsam",
    build=build,
    write_smoke_checkpoint=write_smoke_checkpoint,
    generate_defaults=lambda: dict(EVERYTHING_DEFAULTS),
    check_generate_params=lambda params: _check_everything_params({**EVERYTHING_DEFAULTS, **params}),
    param_docs=lambda: dict(EVERYTHING_DOCS),
    tuner_controls={
        "conf": Control("float", (0.05, 0.95, 0.05)),
        "iou": Control("float", (0.1, 0.95, 0.05)),
        "imgsz": Control("choice", [320, 480, 640, 800, 1024]),
        "retina_masks": Control("bool"),
        "max_det": Control("int", (10, 500, 10)),
    },
    options={
        **EVERYTHING_DOCS,
        "half": "float16 inference (CUDA only; default False)",
        "clip_weights": "path of OpenAI's CLIP ViT-B/32 checkpoint for text prompts (default: looked up in the cache)",
        "safe_load": "load the .pt with ultralytics' safe loading, which runs no code from the file (default True "
        "for a file you pass; the registry file, hashed at every load, loads normally); False runs the file's "
        "pickle code: only for files you trust",
    },
    prompts=("points", "boxes", "text"),
    export_onnx=export_onnx,
)
FastSAMModel.backend = BACKEND
