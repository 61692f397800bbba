"""Is this laptop ready for the workshop? A computed checklist (notebook 00 ends with it).

    helpers.readiness_checklist()            # Python, packages, device, weights, sample data, disk
    helpers.readiness_checklist(["sam_vit_b", "fastsam_s", "sam2.1_hiera_t"])

Every line is measured on the machine it runs on (nothing is hard-coded), and every line that is not
ready says what to do about it.
"""

from __future__ import annotations

import shutil
import sys
from importlib import metadata
from pathlib import Path

from .config import CACHE_ENV, MIRROR_ENV, SMOKE_ENV, cache_dir, output_dir, smoke_mode
from .registry import get_spec
from .tables import Table
from .weights import cache_status, download_url, human_size, weights_path

__all__ = ["LESSON_MODELS", "MIN_PYTHON", "REQUIRED_PACKAGES", "OPTIONAL_PACKAGES", "Checklist",
           "readiness_checklist"]

MIN_PYTHON = (3, 11)  # pyproject.toml: requires-python
#: Distributions the lessons import (checked by their installed metadata, without importing them).
REQUIRED_PACKAGES = ("torch", "torchvision", "segment-anything", "ultralytics", "rasterio", "geopandas",
                     "pyproj", "scikit-image", "leafmap", "localtileserver", "ipywidgets", "ipyevents",
                     "jupyterlab")
#: Extras some lessons use: SAM 2 (``sam2``) and FastSAM's text prompts (``clip-anytorch``).
OPTIONAL_PACKAGES = {"sam2": "SAM 2 lessons", "clip-anytorch": "FastSAM text prompts"}
#: The weights the lessons 01-05 load.
LESSON_MODELS = ("sam_vit_b", "fastsam_s")
_SPARE_DISK_BYTES = 2 * 2**30  # outputs, embedding cache and the sample scenes' copies

READY, NOT_READY, OPTIONAL = "✓", "✗", "–"


class Checklist(Table):
    """A :class:`~helpers.tables.Table` of checks (``check``, ``ready``, ``details``), with :attr:`ready`."""

    @property
    def ready(self) -> bool:
        """``True`` when no line is marked not ready (optional extras do not count)."""
        return all(row["ready"] != NOT_READY for row in self.rows)

    def _repr_markdown_(self) -> str:
        verdict = "**Ready for the workshop.**" if self.ready else "**Not ready yet**: fix the lines marked ✗."
        return f"{super()._repr_markdown_()}\n\n{verdict}"

    def __repr__(self) -> str:
        return super().__repr__() + ("\nready for the workshop" if self.ready else "\nnot ready: fix the lines marked ✗")


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _python_row() -> dict:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info[:2] >= MIN_PYTHON
    need = ".".join(map(str, MIN_PYTHON))
    return {"check": "Python", "ready": READY if ok else NOT_READY,
            "details": f"{version} at {sys.executable}" + ("" if ok else f"; the lessons need Python >= {need}")}


def _package_rows() -> list[dict]:
    found = {name: _version(name) for name in REQUIRED_PACKAGES}
    missing = [name for name, version in found.items() if version is None]
    rows = [{
        "check": "packages",
        "ready": NOT_READY if missing else READY,
        "details": (f"missing: {', '.join(missing)}; run 'make setup' (or pip install -e .)" if missing else
                    ", ".join(f"{name} {version}" for name, version in found.items()
                              if name in ("torch", "segment-anything", "ultralytics", "rasterio"))
                    + f" and {len(found) - 4} more"),
    }]
    for name, use in OPTIONAL_PACKAGES.items():
        version = _version(name)
        rows.append({"check": f"optional: {name}", "ready": READY if version else OPTIONAL,
                     "details": f"{name} {version}" if version else
                     f"not installed ({use} only); pip install -e '.[{'sam2' if name == 'sam2' else 'text'}]'"})
    return rows


def _device_row() -> dict:
    from .device import pick_device

    device = pick_device(verbose=False)
    if device.type == "cuda":
        import torch

        detail = f"CUDA GPU {torch.cuda.get_device_name(0)}: encoding and everything mode are fast"
    elif device.type == "mps":
        detail = "Apple MPS GPU"
    else:
        import os

        detail = (f"CPU only ({os.cpu_count()} logical cores): enough for every lesson; SAM ViT-B encodes a scene "
                  "in about half a minute, then each click takes about a second (MobileSAM, FastSAM or "
                  "runtime='onnx' are faster; see each notebook's Hardware notes)")
    return {"check": "device", "ready": READY, "details": f"{device}: {detail}"}


def _weights_rows(models) -> tuple[list[dict], int]:
    rows, missing_bytes = [], 0
    smoke = smoke_mode()
    for name in models:
        spec = get_spec(name)
        if not spec.has_weights:
            continue
        status = cache_status(name)
        if status in ("verified", "cached"):
            rows.append({"check": f"weights: {name}", "ready": READY,
                         "details": f"{status} at {weights_path(name)}"})
            continue
        missing_bytes += spec.size or 0
        if smoke:
            rows.append({"check": f"weights: {name}", "ready": READY,
                         "details": f"not cached; {SMOKE_ENV}=1: untrained smoke weights are used (every step "
                                    "runs, masks are meaningless)"})
            continue
        rows.append({"check": f"weights: {name}", "ready": NOT_READY, "details": (
            f"{'not cached' if status == 'no' else status} ({human_size(spec.size)}): run "
            f"'python -m helpers prefetch {name}', or download {download_url(spec)} to {weights_path(name)}, "
            f"or set {CACHE_ENV}=DIR (prefetched folder) / {MIRROR_ENV}=URL (room mirror), or try the lessons "
            f"with {SMOKE_ENV}=1 (untrained weights)")})
    return rows, missing_bytes


def _sample_data_row() -> dict:
    from .data.samples import list_sample_scenes, sample_scene_path

    missing = []
    for name in list_sample_scenes():
        try:
            sample_scene_path(name)
        except (FileNotFoundError, ImportError):
            missing.append(name)
    names = list_sample_scenes()
    if missing:
        return {"check": "sample data", "ready": NOT_READY,
                "details": f"missing: {', '.join(missing)}; reinstall localtileserver or set SAMRS_DATA_DIR to a "
                           "folder filled by 'python -m helpers prefetch'"}
    return {"check": "sample data", "ready": READY,
            "details": f"{len(names)} scenes, e.g. {sample_scene_path(names[0]).parent}"}


def _existing_parent(path: Path) -> Path:
    path = path.expanduser().resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _disk_row(missing_bytes: int) -> dict:
    folder = _existing_parent(cache_dir())
    free = shutil.disk_usage(folder).free
    needed = missing_bytes + _SPARE_DISK_BYTES
    ok = free >= needed
    what = f"{human_size(missing_bytes)} of weights still to download + " if missing_bytes else ""
    return {"check": "disk space", "ready": READY if ok else NOT_READY,
            "details": f"{human_size(free)} free at {folder}; needs {what}{human_size(_SPARE_DISK_BYTES)} for "
                       f"outputs and caches" + ("" if ok else f"; free some space or set {CACHE_ENV} to a bigger disk")}


def _outputs_row() -> dict:
    try:
        folder = output_dir()
        probe = folder / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        return {"check": "outputs folder", "ready": NOT_READY, "details": f"cannot write results: {error}"}
    return {"check": "outputs folder", "ready": READY, "details": f"results go to {folder.resolve()}"}


def readiness_checklist(models=LESSON_MODELS) -> Checklist:
    """Check this machine for the lessons, line by line: Python, packages, device, weights of ``models``
    (cached, or smoke mode), the sample data, free disk space and the outputs folder.

    Args:
        models: registry names whose weights the lessons need (default :data:`LESSON_MODELS`).

    Returns:
        :class:`Checklist`: rows ``check``, ``ready`` (✓ ready, ✗ not ready, – optional extra missing),
        ``details`` (what was found, or what to do); ``.ready`` is the verdict for the whole room.
    """
    weight_rows, missing_bytes = _weights_rows(models)
    rows = [_python_row(), *_package_rows(), _device_row(), *weight_rows, _sample_data_row(),
            _disk_row(missing_bytes), _outputs_row()]
    return Checklist(rows, ["check", "ready", "details"])
