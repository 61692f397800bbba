"""Smoke weights: the marker that tags a checkpoint as untrained, read without unpickling anything.

*Smoke weights* are randomly initialised weights of the real architectures in the real checkpoint
formats (written by :func:`helpers.models.write_smoke_weights`). Tests, CI and newcomers without
downloads use them; every model, result, plot and file made from them says so with
:data:`SMOKE_BANNER`.
"""

from __future__ import annotations

import pickletools
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .config import home_dir
from .registry import get_spec

__all__ = ["SMOKE_BANNER", "SMOKE_KEY", "attach_smoke_marker", "read_smoke_marker", "smoke_note",
           "smoke_weights_path"]

SMOKE_BANNER = "untrained weights — masks are meaningless"
SMOKE_KEY = "sam_rs_smoke"


def smoke_note(*results) -> str:
    """``" ⚠ untrained weights — masks are meaningless"`` when any of ``results`` comes from smoke weights,
    else ``""``: appended to titles of tables and plots.

    Takes models, :class:`Masks`, evaluations, DataFrames from sweeps, or lists/tuples of them. An object
    counts as smoke when its ``smoke`` attribute, or ``attrs["smoke"]`` for a DataFrame, is true.
    """
    flat = []
    for item in results:
        flat.extend(item if isinstance(item, (list, tuple)) else [item])
    for result in flat:
        attrs = getattr(result, "attrs", None)
        flag = getattr(result, "smoke", False)  # a DataFrame may have a "smoke" column: only scalars count
        if isinstance(flag, (bool, np.bool_)) and flag or (isinstance(attrs, dict) and attrs.get("smoke")):
            return f" ⚠ {SMOKE_BANNER}"
    return ""


def attach_smoke_marker(checkpoint, name: str):
    """Tag a checkpoint object as untrained before ``torch.save``.

    A plain state dict (SAM ``.pth``) keeps the tag in its ``_metadata`` (which ``load_state_dict``
    ignores for unknown keys, so the official loaders still accept the file); a dict checkpoint
    (ultralytics, SAM 2) gets a top-level key that their loaders ignore.
    """
    marker = {"name": name, "note": SMOKE_BANNER}
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
    unpickles it: :mod:`pickletools` walks the opcodes without executing any, so it is cheap and safe
    on untrusted files. Returns ``"unknown"`` when the marker is there but its name cannot be read.
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
    if SMOKE_KEY.encode() not in data:
        return None
    return _marker_name(data) or "unknown"


def _marker_name(data: bytes) -> str | None:
    """The string that follows ``SMOKE_KEY`` ... ``"name"`` in the pickle's opcode stream.

    Pickle writes a repeated string once and later refers to it through its memo (``BINGET``...), so
    the memo is followed to see every string in the order the unpickler would; nothing is executed.
    """
    strings, memo, last = [], {}, None
    try:
        for opcode, arg, _ in pickletools.genops(data):
            name = opcode.name
            if "UNICODE" in name and isinstance(arg, str):
                last = arg
                strings.append(arg)
            elif name == "MEMOIZE":
                memo[len(memo)] = last
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = last
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                last = memo.get(arg)
                if isinstance(last, str):
                    strings.append(last)
            else:
                last = None
    except Exception:  # malformed or truncated pickle: the marker is there, the name is not readable
        return None
    try:
        start = strings.index(SMOKE_KEY)
        return strings[strings.index("name", start + 1) + 1]
    except (ValueError, IndexError):
        return None



def smoke_weights_path(name: str) -> Path:
    """Where the shared smoke weights of ``name`` live: ``$SAMRS_HOME/smoke/NAME_smoke.pth|.pt``.

    FastSAM, SAM 2 and MobileSAM files end in ``.pt`` (ultralytics requires it for FastSAM); SAM keeps
    its official ``.pth``.
    """
    suffix = ".pt" if get_spec(name).family in ("fastsam", "sam2", "mobile_sam") else ".pth"
    return home_dir() / "smoke" / f"{name}_smoke{suffix}"
