"""Build any registry model by name: ``load_model``; write smoke weights: ``write_smoke_weights``."""

from __future__ import annotations

import warnings
from pathlib import Path

from .atomic import atomic_output
from .backends import backend_for
from .backends.base import SegmentationModel
from .config import smoke_mode
from .device import pick_device
from .errors import UntrainedWeightsWarning, UserInputError
from .registry import get_spec, list_models
from .smoke import SMOKE_BANNER, read_smoke_marker, smoke_weights_path
from .weights import ensure_weights

__all__ = ["load_model", "resolve_weights", "announce_smoke", "list_models", "write_smoke_weights", "ensure_smoke_weights", "smoke_mode",
           "smoke_weights_path", "weights_for", "UntrainedWeightsWarning"]

# One banner per (model, weights file) and process: a notebook that loads a model in several cells
# should not repeat the same warning each time.
_warned: set[tuple[str, str]] = set()


def load_model(name: str, weights=None, device=None, **options) -> SegmentationModel:
    """Build a model from the registry.

    Args:
        name: a registry name, see :func:`list_models` (``"sam_vit_b"``, ``"fastsam_s"``, ...).
        weights: ``None`` uses the official checkpoint, downloaded once into the cache
            (``$SAMRS_CACHE_DIR``, default ``~/.cache/sam-rs``) and verified; in smoke mode
            (``$SAMRS_SMOKE=1``) the shared untrained weights of the real architecture instead (written
            once, see :func:`ensure_smoke_weights`). A path loads that local file (official, fine-tuned
            or smoke weights all load through the same code). With ``runtime="onnx"`` it may also be a
            folder written by ``python -m helpers export-onnx``; a checkpoint file is exported to ONNX
            on first use and the export is kept by the file's sha256 (``$SAMRS_HOME/onnx``).
        device: ``None`` picks CUDA, then MPS, then CPU (and prints which); or ``"cpu"``, ``"cuda"``...
        **options: backend options (``model.backend.options`` lists them with their meaning), e.g.
            ``half=True`` / ``compile=True`` (GPU only; CPU-safe defaults), and ``runtime``: ``"torch"``
            (default) or ``"onnx"`` (ONNX Runtime, the same ``set_image`` / ``predict`` / ``generate``).
            For pickle checkpoints (FastSAM, ``spec.weights_only`` false) ``safe_load`` defaults to
            ``True`` for a file passed as ``weights`` (ultralytics' restricted loading: nothing in the file
            is executed) and to ``False`` for the registry file, which is hashed at every load;
            ``safe_load=False`` with your own file runs any code it contains: use it only for files you trust.

    Raises:
        ValueError: unknown name or runtime; weights file missing; weights not of that architecture; unknown option.
        helpers.errors.WeightsUnavailableError: download impossible (the message names the URL, the
            exact path where the file can be placed by hand, and the other ways forward).
    """
    spec = get_spec(name)
    backend = backend_for(spec, runtime=options.pop("runtime", None))
    if not spec.has_weights:
        return backend.build(spec, None, None, **options)
    path = resolve_weights(name, weights, folder_ok=backend.weights_folder, runtime=backend.runtime)
    verified = weights is None and not smoke_mode()  # the registry file, hashed by ensure_weights
    if not spec.weights_only:
        # A pickle runs code when loaded: only the verified registry file loads unrestricted; a file
        # the user named (or shared smoke weights) goes through the backend's safe loading.
        options.setdefault("safe_load", not verified)
    dev = pick_device(device)
    model = backend.build(spec, path, dev, **options)
    if path.is_file():  # a folder (an ONNX export) has told the backend itself
        model.checkpoint = path
        model.smoke = read_smoke_marker(path) is not None
    announce_smoke(name, path, model.smoke)
    return model


def resolve_weights(name: str, weights=None, folder_ok: bool = False, runtime: str = "torch") -> Path:
    """The weights :func:`load_model` loads for ``name``: ``weights`` when given (it must exist; a folder
    only when ``folder_ok``, i.e. an ONNX export), the shared smoke weights in smoke mode, else the official
    checkpoint (downloaded and verified once).

    Raises:
        UserInputError: ``weights`` does not exist, or is a folder the runtime cannot load.
        helpers.errors.WeightsUnavailableError: the official checkpoint cannot be had.
    """
    if weights is not None:
        path = Path(weights).expanduser()
        if path.is_dir() and not folder_ok:
            raise UserInputError(f"weights must be a checkpoint file, got the folder {path}"
                                 + (" (ONNX exports load with runtime='onnx')" if runtime == "torch" else ""))
        if not path.exists():
            raise UserInputError(f"weights file not found: {path}")
        return path
    if smoke_mode():
        return ensure_smoke_weights(name)
    return ensure_weights(name)


def announce_smoke(name: str, path, smoke: bool | None = None) -> bool:
    """Whether ``path`` holds smoke (untrained) weights (``smoke``, when the backend already knows); the
    first time per process and file, warn so (:class:`UntrainedWeightsWarning`, "untrained weights — masks
    are meaningless")."""
    smoke = read_smoke_marker(path) is not None if smoke is None else bool(smoke)
    if smoke and (name, str(path)) not in _warned:
        _warned.add((name, str(path)))
        warnings.warn(f"{name}: {SMOKE_BANNER} ({Path(path).name})", UntrainedWeightsWarning, stacklevel=3)
    return smoke


def write_smoke_weights(name: str, path, seed: int = 0) -> Path:
    """Write randomly initialised weights of ``name``'s real architecture in its real checkpoint format.

    The file loads with ``load_model(name, weights=path)`` (and, for SAM, with the official
    ``segment_anything.sam_model_registry``). It carries a marker so that every model built from it
    announces "untrained weights — masks are meaningless".
    """
    import torch

    spec = get_spec(name)
    backend = backend_for(spec)
    if backend.write_smoke_checkpoint is None:
        raise UserInputError(f"{name} has no weights")
    path = Path(path).expanduser()
    if path.is_dir():
        raise UserInputError(
            f"{path} is a folder; give the file to write, e.g. {path / (name + '_smoke' + Path(spec.filename).suffix)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    # The caller's random state is left as it was; the file appears only when complete.
    with torch.random.fork_rng(devices=[]), atomic_output(path) as tmp:
        torch.manual_seed(seed)
        backend.write_smoke_checkpoint(spec, tmp)
    return path


def ensure_smoke_weights(name: str) -> Path:
    """The shared smoke weights of ``name`` (:func:`helpers.smoke.smoke_weights_path`), written once and
    reused by tests, notebooks, benchmarks and smoke mode."""
    path = smoke_weights_path(name)
    if not path.is_file() or read_smoke_marker(path) is None:
        write_smoke_weights(name, path)
    return path


def weights_for(name: str) -> Path | None:
    """The weights :func:`load_model` uses for ``name`` without ``weights=``: in smoke mode the shared smoke
    weights, else ``None`` (the official checkpoint). ``load_model`` needs no help; this is for scripts that
    want the path itself."""
    if not smoke_mode() or not get_spec(name).has_weights:
        return None
    return ensure_smoke_weights(name)
