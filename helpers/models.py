"""Build any registry model by name: ``load_model`` and ``list_models``."""

from __future__ import annotations

import importlib
import os
import warnings
from pathlib import Path

from .atomic import atomic_output
from .base import SegmentationModel
from .device import pick_device
from .masks import SMOKE_BANNER
from .weights import REGISTRY, ModelSpec, ensure_weights, get_spec, home_dir, read_smoke_marker

# Which module builds each family. A backend module exposes
#   build(spec, checkpoint: Path | None, device, **options) -> SegmentationModel
#   write_smoke_checkpoint(spec, path: Path) -> None   (random weights, real architecture and format)
BACKENDS = {
    "sam": "helpers.sam",
    "mobile_sam": "helpers.mobile_sam",
    "sam2": "helpers.sam2_backend",
    "fastsam": "helpers.fastsam",
    "conventional": "helpers.conventional",
}


class UntrainedWeightsWarning(UserWarning):
    """Raised (as a warning) when a model is built from smoke weights."""


def list_models() -> list[str]:
    """Registry names, in table order."""
    return list(REGISTRY)


def backend_for(spec: ModelSpec):
    return importlib.import_module(BACKENDS[spec.family])


def load_model(name: str, weights=None, device=None, **options) -> SegmentationModel:
    """Build a model from the registry.

    Args:
        name: a registry name, see :func:`list_models` (``"sam_vit_b"``, ``"fastsam_s"``, ...).
        weights: ``None`` downloads (once, verified) the official checkpoint into the cache
            (``$SAMRS_CACHE_DIR``, default ``~/.cache/sam-rs``); a path loads that local file instead
            and skips the download. Smoke weights written by :func:`write_smoke_weights` load
            through exactly the same code as real checkpoints.
        device: ``None`` picks CUDA, then MPS, then CPU (and prints which); or ``"cpu"``, ``"cuda"``...
        **options: backend options, e.g. ``half=True`` / ``compile=True`` (GPU only; CPU-safe defaults).

    Raises:
        ValueError: unknown name; weights file missing; weights not of that architecture.
        helpers.weights.WeightsUnavailableError: download impossible (the message names the URL and
            the exact path where the file can be placed by hand).
    """
    spec = get_spec(name)
    backend = backend_for(spec)
    if spec.family == "conventional":
        return backend.build(spec, None, None, **options)
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ValueError(f"weights file not found: {path}")
    else:
        path = ensure_weights(name)
    smoke = read_smoke_marker(path) is not None
    dev = pick_device(device)
    model = backend.build(spec, path, dev, **options)
    model.checkpoint = path
    model.smoke = smoke
    if smoke:
        warnings.warn(f"{name}: {SMOKE_BANNER} ({path.name})", UntrainedWeightsWarning, stacklevel=2)
    return model


def write_smoke_weights(name: str, path, seed: int = 0) -> Path:
    """Write randomly initialised weights of ``name``'s real architecture in its real checkpoint format.

    The file loads with ``load_model(name, weights=path)`` (and, for SAM, with the official
    ``segment_anything.sam_model_registry``). It carries a marker so that every model built from it
    announces "untrained weights — masks are meaningless".
    """
    import torch

    spec = get_spec(name)
    if spec.family == "conventional":
        raise ValueError(f"{name} has no weights")
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give the file to write, e.g. {path / (name + '_smoke' + Path(spec.filename).suffix)}")
    if spec.family == "fastsam" and path.suffix != ".pt":
        raise ValueError(f"ultralytics only loads FastSAM weights from a .pt file; got {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    # The caller's random state is left as it was; the file appears only when complete.
    with torch.random.fork_rng(devices=[]), atomic_output(path) as tmp:
        torch.manual_seed(seed)
        backend_for(spec).write_smoke_checkpoint(spec, tmp)
    return path


def smoke_mode() -> bool:
    """True when ``$SAMRS_SMOKE=1``: tests and the CI run of the notebooks use untrained weights."""
    return os.environ.get("SAMRS_SMOKE") == "1"


def smoke_weights_path(name: str) -> Path:
    """Where the shared smoke weights of ``name`` live: ``$SAMRS_HOME/smoke/NAME_smoke.pth|.pt``.

    ``$SAMRS_HOME`` defaults to ``~/.cache/sam-rs`` (:func:`helpers.weights.home_dir`). FastSAM files end in ``.pt`` because ultralytics
    requires it; the others keep their official extension.
    """
    home = home_dir()
    suffix = ".pt" if get_spec(name).family in ("fastsam", "sam2", "mobile_sam") else ".pth"
    return home / "smoke" / f"{name}_smoke{suffix}"


def ensure_smoke_weights(name: str) -> Path:
    """The shared smoke weights of ``name``, written once (reused by tests, notebooks, benchmarks)."""
    path = smoke_weights_path(name)
    if not path.is_file() or read_smoke_marker(path) is None:
        write_smoke_weights(name, path)
    return path


def weights_for(name: str) -> Path | None:
    """What notebooks pass as ``weights=``: ``None`` (official checkpoint, downloaded once), or in smoke
    mode (``$SAMRS_SMOKE=1``) the shared untrained weights of the real architecture."""
    if not smoke_mode() or get_spec(name).family == "conventional":
        return None
    return ensure_smoke_weights(name)
