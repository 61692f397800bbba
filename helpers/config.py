"""Configuration from the environment: where sam-rs keeps files, and whether it runs in smoke mode.

Every ``SAMRS_*`` variable is read here and nowhere else (a leaf module: it imports nothing of sam-rs).

========================  ===========================================================================
variable                  meaning
========================  ===========================================================================
``SAMRS_CACHE_DIR``       downloaded weights (default ``~/.cache/sam-rs``); may be a read-only folder
                          prefetched for a whole room
``SAMRS_HOME``            sam-rs's own working files: embedding cache, smoke weights (default
                          ``~/.cache/sam-rs``)
``SAMRS_DATA_DIR``        a folder of prefetched sample scenes (``NAME.tif``), found before the wheel's
``SAMRS_WEIGHTS_MIRROR``  base URL serving the weight files instead of their official hosts
``SAMRS_OUTPUT_DIR``      where notebooks and the app write their results (default ``./outputs``)
``SAMRS_SMOKE``           ``1``: build every model from untrained *smoke* weights (tests, CI, trying the
                          lessons without downloads); every result then says its masks are meaningless
========================  ===========================================================================
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "SAMRS_CACHE_DIR"
HOME_ENV = "SAMRS_HOME"
DATA_ENV = "SAMRS_DATA_DIR"
MIRROR_ENV = "SAMRS_WEIGHTS_MIRROR"
OUTPUT_ENV = "SAMRS_OUTPUT_DIR"
SMOKE_ENV = "SAMRS_SMOKE"

_DEFAULT_HOME = Path("~/.cache/sam-rs")


def _path_from(variable: str, default: Path) -> Path:
    return Path(os.environ.get(variable) or default).expanduser()


def cache_dir() -> Path:
    """Where downloaded weights live: ``$SAMRS_CACHE_DIR`` or ``~/.cache/sam-rs``."""
    return _path_from(CACHE_ENV, _DEFAULT_HOME)


def home_dir() -> Path:
    """Where sam-rs keeps its own working files (embedding cache, smoke weights): ``$SAMRS_HOME`` or
    ``~/.cache/sam-rs``. Separate from :func:`cache_dir`, which may be a read-only prefetched folder shared
    by a whole room."""
    return _path_from(HOME_ENV, _DEFAULT_HOME)


def data_dir() -> Path | None:
    """``$SAMRS_DATA_DIR`` (a folder of prefetched scenes), or ``None`` when unset."""
    value = os.environ.get(DATA_ENV)
    return Path(value).expanduser() if value else None


def weights_mirror() -> str | None:
    """``$SAMRS_WEIGHTS_MIRROR`` without a trailing slash, or ``None`` when unset."""
    value = os.environ.get(MIRROR_ENV, "").strip()
    return value.rstrip("/") or None


def output_dir(name: str | None = None) -> Path:
    """The folder results go to (created): ``$SAMRS_OUTPUT_DIR`` or ``./outputs``, plus ``name`` if given.

    Notebooks call ``output_dir("05_large_scenes_and_export")`` so every lesson writes under one folder
    that git ignores (``outputs/``): running the lessons never dirties the repository.
    """
    folder = _path_from(OUTPUT_ENV, Path("outputs"))
    if name:
        if Path(name).name != name or name in (".", ".."):
            raise ValueError(f"output folder name must be a plain name, got {name!r}")
        folder = folder / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def smoke_mode() -> bool:
    """``True`` when ``$SAMRS_SMOKE=1``: models are built from untrained smoke weights (masks are meaningless)."""
    return os.environ.get(SMOKE_ENV) == "1"
