"""Model weights: the registry of official checkpoints, the cache, verified downloads, smoke markers.

(Skeleton: entries, sizes, hashes and the downloader are completed by the registry work.)
"""

from __future__ import annotations

import os
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

SMOKE_KEY = "sam_rs_smoke"


class WeightsUnavailableError(RuntimeError):
    """The checkpoint is not cached and cannot be downloaded (offline, HTTP error, bad checksum)."""


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    Attributes:
        name: registry name.
        family: ``"sam"``, ``"mobile_sam"``, ``"sam2"``, ``"fastsam"`` or ``"conventional"``.
        arch: architecture key inside the family (``"vit_b"``, ``"FastSAM-s"``, ``"hiera_t"``...).
        url: official download URL (``None`` for models without weights).
        filename: file name in the cache.
        size: exact size in bytes (``None`` if unknown).
        sha256: full published sha256, when one is published.
        sha256_prefix: hash prefix embedded in the file name (torch-hub convention), when that is all.
        source: where the integrity data comes from.
        description: one line for tables.
    """

    name: str
    family: str
    arch: str
    url: str | None = None
    filename: str | None = None
    size: int | None = None
    sha256: str | None = None
    sha256_prefix: str | None = None
    source: str = ""
    description: str = ""


REGISTRY: dict[str, ModelSpec] = {}


def _register(spec: ModelSpec) -> None:
    REGISTRY[spec.name] = spec


_register(ModelSpec("sam_vit_b", "sam", "vit_b", "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth", "sam_vit_b_01ec64.pth", sha256_prefix="01ec64"))
_register(ModelSpec("sam_vit_l", "sam", "vit_l", "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth", "sam_vit_l_0b3195.pth", sha256_prefix="0b3195"))
_register(ModelSpec("sam_vit_h", "sam", "vit_h", "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth", "sam_vit_h_4b8939.pth", sha256_prefix="4b8939"))
_register(ModelSpec("conventional", "conventional", "skimage", description="scikit-image baseline (Felzenszwalb / SLIC / watershed), no weights"))


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(REGISTRY)}") from None


def cache_dir() -> Path:
    """Where downloaded weights live: ``$SAMRS_CACHE_DIR`` or ``~/.cache/sam-rs``."""
    return Path(os.environ.get("SAMRS_CACHE_DIR", Path.home() / ".cache" / "sam-rs")).expanduser()


def ensure_weights(name: str) -> Path:
    """Path of the verified checkpoint for ``name``, downloading it first if needed."""
    raise NotImplementedError


# ---- smoke markers ---------------------------------------------------------------------------------
def attach_smoke_marker(checkpoint, name: str):
    """Tag a checkpoint object as untrained before ``torch.save``.

    A plain state dict (SAM ``.pth``) keeps the tag in its ``_metadata`` (which ``load_state_dict``
    ignores for unknown keys, so the official loaders still accept the file); a dict checkpoint
    (ultralytics, SAM 2) gets a top-level key that their loaders ignore.
    """
    marker = {"name": name, "note": "untrained weights — masks are meaningless"}
    if isinstance(checkpoint, OrderedDict) and all(hasattr(v, "shape") for v in checkpoint.values()):
        meta = getattr(checkpoint, "_metadata", None)
        if meta is None:
            meta = OrderedDict()
            checkpoint._metadata = meta
        meta[SMOKE_KEY] = marker
    elif isinstance(checkpoint, dict):
        checkpoint[SMOKE_KEY] = marker
    else:
        raise TypeError(f"cannot tag a {type(checkpoint).__name__} checkpoint")
    return checkpoint


def read_smoke_marker(path) -> str | None:
    """Return the model name recorded in a smoke checkpoint, or ``None`` for a real one.

    Reads only the pickle index inside the torch zip archive (tensor data stays on disk) and never
    unpickles it, so it is cheap and safe on untrusted files.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            pkl = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
            if pkl is None:
                return None
            data = archive.read(pkl)
    except (zipfile.BadZipFile, OSError):
        return None
    pos = data.find(SMOKE_KEY.encode())
    if pos < 0:
        return None
    return "unknown"
