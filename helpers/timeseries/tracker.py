"""Track objects through a time series with SAM 2's video predictor: prompt once, propagate both ways.

    stack = helpers.open_stack("naip/")
    tracker = helpers.load_tracker("sam2.1_hiera_t")          # or load_tracker(model) to share its weights
    result = tracker.track(stack, [helpers.ObjectPrompt(1, points=[(487310, 5208170)], crs="EPSG:26914")])
    result.write("out/")                                      # labels per date, polygons, areas

What runs is sam2's own ``SAM2VideoPredictor`` (built by the family's ``Backend.build_video``), fed the
stack's frames losslessly from memory (:mod:`helpers.timeseries.frames`). The recipe:

1. Objects are grouped by the first date they are prompted on. For each group, in date order: the
   inference state is reset, every prompt of its objects is added (``add_new_points_or_box``, on any
   date), then SAM 2 propagates **forward** from that date to the last one and **backward** to the
   first (``propagate_in_video`` twice, as in sam2's examples). A prompt on a later date of the same
   object is a correction: a second conditioning frame.

   (Why groups: SAM 2 cannot start an object's track before its first prompt on a CPU: with no object
   pointer from the past its memory attention meets bfloat16 memories in float32 layers and fails. One
   propagation per start date avoids it and gives every object a track that starts at its own prompt.)
2. A mask is ``logits > 0`` at the stack's resolution (sam2's own upsampling), minus nodata pixels; its
   score is SAM 2's object-presence probability (sigmoid of the object score logit): below 0.5 SAM 2
   says the object is not visible on that date and the mask is empty (a pond that dried out).

Memory: frames are read when the predictor needs them (one at a time), and the predictor's per-date
outputs (memory features, low-resolution logits, object pointers) are dropped once no later frame can
attend to them (``bounded_memory``; SAM 2 looks back ``num_maskmem`` frames for memories and
``max_obj_ptrs_in_encoder`` for pointers): the masks are identical, and what grows with the number of
dates is the result, one boolean mask per object and date.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from ..backends import backend_for
from ..backends.base import SegmentationModel
from ..device import pick_device
from ..errors import UserInputError
from ..models import announce_smoke, resolve_weights
from ..registry import get_spec
from ..smoke import SMOKE_BANNER
from .frames import VideoFrames, official_predictor_hooks
from .prompts import PlacedPrompt, place_prompts
from .result import TrackResult

__all__ = ["METHOD", "VideoTracker", "load_tracker", "track", "trackable_models"]

METHOD = "SAM 2 video tracking"
MASK_THRESHOLD = 0.0  # sam2's examples: mask = logits > 0


class VideoTracker:
    """SAM 2's video predictor, ready to track objects through :class:`~helpers.timeseries.stack.TimeStack` s.

    Create with :func:`load_tracker`. Attributes: ``predictor`` (the official
    ``sam2.sam2_video_predictor.SAM2VideoPredictor``), ``name``, ``device``, ``smoke``, ``half``,
    ``checkpoint``, ``offload_state_to_cpu``.
    """

    def __init__(self, predictor, name: str, device=None, smoke: bool = False, half: bool = False,
                 checkpoint=None, offload_state_to_cpu: bool = True, bounded_memory: bool = True):
        import torch

        self.predictor = predictor
        self.name = name
        self.device = torch.device(device if device is not None else "cpu")
        self.smoke = bool(smoke)
        self.half = bool(half)
        self.checkpoint = checkpoint
        self.offload_state_to_cpu = bool(offload_state_to_cpu)
        self.bounded_memory = bool(bounded_memory)

    @property
    def memory_window(self) -> int:
        """How many frames back SAM 2 can attend to (memories or object pointers), plus one for safety."""
        model = self.predictor
        stride = int(getattr(model, "memory_temporal_stride_for_eval", 1))
        memories = stride * (int(model.num_maskmem) - 1) + 1
        pointers = int(getattr(model, "max_obj_ptrs_in_encoder", 0)) if getattr(model, "use_obj_ptrs_in_encoder", False) else 0
        return max(memories, pointers) + 1

    @property
    def image_size(self) -> int:
        """The side every frame is resized to before encoding."""
        return int(self.predictor.image_size)

    def _autocast(self):
        import torch

        if self.half:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def track(self, stack, prompts, progress: bool = True) -> TrackResult:
        """Track the prompted objects through every date of ``stack``.

        Args:
            stack: a :class:`~helpers.timeseries.stack.TimeStack` (:func:`helpers.open_stack`).
            prompts: :class:`~helpers.timeseries.prompts.ObjectPrompt` s (points and/or a box per object,
                on any date, in pixels or map coordinates of any CRS), a GeoDataFrame or a prompt file.
            progress: show a progress bar over the frames processed.

        Returns:
            :class:`TrackResult` with one mask per object and date, presence scores, and
            ``timings`` (``seconds``, ``per_frame_s``), ``extra`` (``image_size``, ``frames_processed``,
            ``frames_read``, ``outputs_forgotten`` (per-date outputs dropped by ``bounded_memory``),
            ``peak_state_mb`` (the most SAM 2's per-date outputs held at once), ``groups``).

        Raises:
            UserInputError: bad prompts (see :func:`~helpers.timeseries.prompts.place_prompts`).
        """
        import torch
        from tqdm.auto import tqdm

        placed = place_prompts(prompts, stack)
        object_ids = sorted({p.object_id for p in placed})
        column = {object_id: n for n, object_id in enumerate(object_ids)}
        groups = _groups(placed)
        n_frames = len(stack)
        work = sum((n_frames - start) + (start + 1 if start > 0 else 0) for start in groups)
        frames = _RecordingFrames(stack, self.image_size)
        masks = np.zeros((n_frames, len(object_ids), *stack.shape), dtype=bool)
        scores = np.full((n_frames, len(object_ids)), np.nan, dtype=np.float32)
        bar = tqdm(total=work, desc="tracking", unit="frame", disable=not progress)
        forgotten, state_bytes = 0, 0
        start_time = time.perf_counter()
        try:
            with official_predictor_hooks(frames, progress=lambda _frame: bar.update()), torch.inference_mode(), \
                    self._autocast():
                state = self.predictor.init_state(
                    video_path="<in-memory time series>", offload_video_to_cpu=True,
                    offload_state_to_cpu=self.offload_state_to_cpu,
                )
                for start, group in groups.items():
                    self.predictor.reset_state(state)
                    for prompt in group:
                        self.predictor.add_new_points_or_box(
                            state, frame_idx=prompt.frame, obj_id=prompt.object_id, points=prompt.points,
                            labels=prompt.labels, box=prompt.box,
                        )
                    for reverse in (False, True):
                        for frame, ids, logits in self.predictor.propagate_in_video(
                            state, start_frame_idx=start, reverse=reverse
                        ):
                            found = (logits[:, 0] > MASK_THRESHOLD).cpu().numpy()
                            valid = frames.valid(frame)
                            for k, object_id in enumerate(ids):
                                n = column[object_id]
                                masks[frame, n] = found[k] if valid is None else found[k] & valid
                                scores[frame, n] = _presence(state, object_id, frame)
                            if self.bounded_memory:
                                forgotten += _forget_unreachable(state, frame, start, reverse, self.memory_window)
                            state_bytes = max(state_bytes, _state_bytes(state))
        finally:
            bar.close()
        seconds = time.perf_counter() - start_time
        return TrackResult(
            masks=masks, scores=scores, object_ids=object_ids, labels=stack.labels,
            dates=[d.date for d in stack.dates], crs=stack.crs,
            transform=stack.transform if stack.grid.is_georeferenced else None, method=METHOD,
            model=self.name, smoke=self.smoke,
            prompt_frames={oid: sorted({p.frame for p in placed if p.object_id == oid}) for oid in object_ids},
            valid_fraction=frames.valid_fraction(),
            timings={"seconds": seconds, "per_frame_s": seconds / max(work, 1)},
            extra={"image_size": self.image_size, "frames_processed": work, "frames_read": frames.reads,
                   "outputs_forgotten": forgotten, "peak_state_mb": state_bytes / 2**20,
                   "groups": {start: sorted({p.object_id for p in g}) for start, g in groups.items()}},
        )

    def __repr__(self) -> str:
        smoke = f", {SMOKE_BANNER}" if self.smoke else ""
        return f"VideoTracker(name={self.name!r}, image_size={self.image_size}, device={self.device}{smoke})"


class _RecordingFrames(VideoFrames):
    """:class:`VideoFrames` that also remembers each frame's nodata mask (only frames that have nodata)."""

    def __init__(self, stack, image_size: int):
        self._valid: dict[int, np.ndarray | None] = {}
        super().__init__(stack, image_size)

    def _image(self, index: int) -> np.ndarray:
        scene = self.stack[index]
        self._valid[index] = scene.valid
        return scene.image

    def valid(self, index: int) -> np.ndarray | None:
        if index not in self._valid:
            self._image(index)
        return self._valid[index]

    def valid_fraction(self) -> np.ndarray:
        return np.array([1.0 if self._valid.get(i) is None else float(self._valid[i].mean())
                         for i in range(len(self))], dtype=np.float32)


def _groups(placed: list[PlacedPrompt]) -> dict[int, list[PlacedPrompt]]:
    """Start date -> the prompts of the objects first prompted on it (start dates ascending)."""
    first = {}
    for prompt in placed:
        first[prompt.object_id] = min(first.get(prompt.object_id, prompt.frame), prompt.frame)
    groups: dict[int, list[PlacedPrompt]] = {}
    for prompt in sorted(placed, key=lambda p: (p.frame, p.object_id)):
        groups.setdefault(first[prompt.object_id], []).append(prompt)
    return dict(sorted(groups.items()))


def _forget_unreachable(state, frame: int, start: int, reverse: bool, window: int) -> int:
    """Drop the per-date outputs no later step of this group can attend to.

    During a pass (forward from ``start``, or backward), frames ``window`` or more steps behind the current
    one are out of SAM 2's reach for the rest of the pass. When a backward pass follows (``start > 0``),
    it begins at ``start`` and looks at the frames just after it, so the forward pass keeps those
    (``start <= other < start + window``). Conditioning (prompted) frames are never dropped.

    Returns:
        how many per-object outputs were dropped.
    """
    dropped = 0
    for outputs in state["output_dict_per_obj"].values():
        remembered = outputs["non_cond_frame_outputs"]
        for other in list(remembered):
            behind = other - frame if reverse else frame - other
            needed_backward = not reverse and start > 0 and other - start < window
            if behind >= window and not needed_backward:
                del remembered[other]
                dropped += 1
    return dropped


def _state_bytes(state) -> int:
    """Bytes of the tensors SAM 2 keeps per date and object (memories, logits, pointers, object scores)."""
    total = 0
    for outputs in state["output_dict_per_obj"].values():
        for per_frame in (outputs["cond_frame_outputs"], outputs["non_cond_frame_outputs"]):
            for out in per_frame.values():
                for key in ("maskmem_features", "pred_masks", "obj_ptr", "object_score_logits"):
                    tensor = out.get(key)
                    if tensor is not None:
                        total += tensor.numel() * tensor.element_size()
    return total


def _presence(state, object_id: int, frame: int) -> float:
    """SAM 2's object-presence probability for ``object_id`` on ``frame`` (sigmoid of its object score)."""
    index = state["obj_id_to_idx"][object_id]
    outputs = state["output_dict_per_obj"][index]
    out = outputs["cond_frame_outputs"].get(frame) or outputs["non_cond_frame_outputs"].get(frame)
    if out is None or out.get("object_score_logits") is None:
        return float("nan")
    return float(out["object_score_logits"].float().sigmoid().reshape(-1)[0])


def load_tracker(model, weights=None, device=None, half: bool = False, offload_state_to_cpu: bool = True,
                 bounded_memory: bool = True, **options) -> VideoTracker:
    """A :class:`VideoTracker` for a registry model that can track (SAM 2: ``model.backend.can_track``).

    Args:
        model: a registry name (``"sam2.1_hiera_t"``...) or a loaded model (``helpers.load_model(...)``),
            whose weights file, device and smoke flag are reused.
        weights: local weights file (names only; ``None``: the official checkpoint, or the shared smoke
            weights in smoke mode, exactly as :func:`helpers.load_model`).
        device: ``None`` picks CUDA, then MPS, then CPU; or ``"cpu"``, ``"cuda"``...
        half: bfloat16 autocast (CUDA only), as in sam2's examples.
        offload_state_to_cpu: keep SAM 2's per-date memory in RAM rather than GPU memory (sam2's option:
            slightly slower, bounded GPU memory; no effect on a CPU).
        bounded_memory: drop SAM 2's per-date outputs once out of its reach (same masks; memory does not
            grow with the number of dates beyond the result's masks). ``False`` keeps them all, as sam2 does.
        **options: the family's ``Backend.video_options``, e.g. ``image_size=512`` (smaller: faster on a
            CPU, coarser; the weights were trained at 1024).

    Raises:
        UserInputError: a model family without a video predictor, an unknown option, ``half`` off CUDA.
    """
    if isinstance(model, SegmentationModel):
        name, checkpoint, smoke = model.name, model.checkpoint, bool(model.smoke)
        dev = model.device if device is None else pick_device(device)
        if weights is not None:
            raise UserInputError("weights= is for registry names; a loaded model brings its own weights")
        backend = backend_for(model)
    else:
        name = str(model)
        spec = get_spec(name)
        backend = backend_for(spec)
        _require_video(backend, name)  # before any weights are looked for
        checkpoint = resolve_weights(name, weights) if spec.has_weights else None
        smoke = announce_smoke(name, checkpoint) if checkpoint is not None else False
        dev = pick_device(device)
    _require_video(backend, name)
    unknown = sorted(set(options) - set(backend.video_options))
    if unknown:
        raise UserInputError(f"unknown option(s) for tracking with {name}: {', '.join(unknown)}; "
                             f"valid: {', '.join(backend.video_options) or 'none'}")
    import torch

    dev = torch.device(dev if dev is not None else "cpu")
    if half and dev.type != "cuda":
        raise UserInputError(f"half=True needs a CUDA device; the tracker is on {dev.type}")
    try:
        predictor = backend.build_video(get_spec(name), checkpoint, dev, **options)
    except ValueError as error:
        raise UserInputError(str(error).splitlines()[0]) from None
    return VideoTracker(predictor, name, device=dev, smoke=smoke, half=half, checkpoint=checkpoint,
                        offload_state_to_cpu=offload_state_to_cpu, bounded_memory=bounded_memory)


def _require_video(backend, name: str) -> None:
    if not backend.can_track:
        raise UserInputError(f"{name} cannot track objects through time; use a model with a video predictor: "
                             f"{', '.join(trackable_models())}")


def trackable_models() -> list[str]:
    """Registry names whose family has a video predictor (families imported lazily, only when asked)."""
    from ..registry import REGISTRY

    able = []
    for name, spec in REGISTRY.items():
        try:
            if backend_for(spec).can_track:
                able.append(name)
        except ModuleNotFoundError:  # an optional family that is not installed cannot track here
            continue
    return able


def track(stack, model, prompts, progress: bool = True, **options) -> TrackResult:
    """``load_tracker(model, **options).track(stack, prompts, progress)`` in one call.

    Building the video predictor takes seconds: keep a :func:`load_tracker` to track several stacks.
    """
    return load_tracker(model, **options).track(stack, prompts, progress=progress)
