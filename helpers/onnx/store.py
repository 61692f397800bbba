"""Exports made on first use, kept under ``home_dir()/onnx`` by the source checkpoint's sha256.

``load_model(name, weights="ckpt.pth", runtime="onnx")`` exports the checkpoint once and reuses the
folder afterwards: ``$SAMRS_HOME/onnx/NAME-SHA256[:16]-opsetN/`` (same layout as ``export-onnx --out``).
A folder appears only when complete (written under a temporary name, then renamed), so parallel
processes and interrupted exports never leave a half export that a later run would load.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..config import home_dir
from .metadata import MANIFEST, checkpoint_sha256

__all__ = ["export_store_dir", "exported_folder", "resolve_export"]


def export_store_dir() -> Path:
    """``home_dir() / "onnx"`` (``$SAMRS_HOME/onnx``)."""
    return home_dir() / "onnx"


def exported_folder(name: str, checkpoint, opset: int, export: Callable[[Path], None], verbose: bool = True) -> Path:
    """The export folder of ``checkpoint``, made with ``export(folder)`` the first time.

    Args:
        name: registry name (part of the folder name).
        checkpoint: the PyTorch checkpoint the graphs come from.
        opset: the ONNX opset the graphs are exported with (part of the folder name).
        export: writes the graphs and ``manifest.json`` into the (temporary) folder it is given.
        verbose: print one line before a (slow) first export.
    """
    sha = checkpoint_sha256(checkpoint)
    folder = export_store_dir() / f"{name}-{sha[:16]}-opset{int(opset)}"
    if (folder / MANIFEST).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    if verbose:
        print(f"sam-rs: exporting {name} to ONNX once ({Path(checkpoint).name} -> {folder}); later loads reuse it")
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; an export is an ordinary, readable folder
    try:
        export(tmp)
        if folder.exists() and not (folder / MANIFEST).is_file():
            shutil.rmtree(folder, ignore_errors=True)  # a broken folder left by an older, killed version
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / MANIFEST).is_file():  # not a parallel export that finished first: a real error
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def resolve_export(spec, weights, torch_backend, opset: int, quantize: bool = True, build_options: dict | None = None):
    """``(folder, ExportInfo)`` of the ONNX graphs behind ``weights``.

    Args:
        spec: the registry entry (:class:`helpers.registry.ModelSpec`).
        weights: a folder written by ``export-onnx`` (used as it is), or a PyTorch checkpoint file
            (exported once with ``torch_backend`` into :func:`export_store_dir`, then reused).
        torch_backend: the family's PyTorch :class:`~helpers.backends.base.Backend` (its ``build`` and
            ``export_onnx``).
        opset: ONNX opset of a first-use export.
        quantize: also write the int8 decoder on a first-use export (families with a decoder).
        build_options: options for ``torch_backend.build`` of a first-use export (e.g. FastSAM's ``imgsz``).

    Raises:
        UserInputError: a folder of another model or without a manifest.
    """
    from .metadata import read_manifest

    weights = Path(weights)
    if weights.is_dir():
        return weights, read_manifest(weights, spec.name)

    def export(folder: Path) -> None:
        options = dict(build_options or {})
        if "embedding_cache" in torch_backend.options:
            options["embedding_cache"] = False
        model = torch_backend.build(spec, weights, None, **options)
        torch_backend.export_onnx(model, folder, opset=opset, quantize=quantize, dynamo=False)

    folder = exported_folder(spec.name, weights, opset, export)
    return folder, read_manifest(folder, spec.name)
