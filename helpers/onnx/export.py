"""``export_onnx(name, weights, out)``: a registry model's ONNX graphs in a folder (``python -m helpers export-onnx``).

The folder holds one ``.onnx`` file per graph and ``manifest.json`` (:mod:`helpers.onnx.metadata`):

=================  ====================================================================================
model              graphs
=================  ====================================================================================
SAM ViT-B/L/H      ``encoder.onnx`` (image -> embedding), ``decoder.onnx`` (prompts -> masks), optional
MobileSAM          ``decoder_int8.onnx`` (``quantize=True``)
SAM 2.1            the same three, with SAM 2's three feature levels between them
FastSAM            ``network.onnx`` (YOLOv8-seg, ultralytics' exporter)
=================  ====================================================================================

Load it with ``helpers.load_model(name, weights=folder, runtime="onnx")``; the family's
:class:`~helpers.backends.base.Backend` declares how it is exported (``export_onnx``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..backends import backend_for
from ..errors import UserInputError
from ..models import load_model
from ..registry import spec_with_weights
from .metadata import MANIFEST, ExportInfo

__all__ = ["export_onnx"]


def export_onnx(name: str, out, weights=None, *, quantize: bool = False, opset: int | None = None,
                dynamo: bool = False, imgsz: int | None = None, parts=None) -> ExportInfo:
    """Export ``name``'s network(s) to ONNX in the folder ``out``.

    Args:
        name: registry name with weights (``sam_vit_b``, ``mobile_sam``, ``sam2.1_hiera_t``, ``fastsam_s``...).
        out: the folder to write; created. An earlier export there is replaced; a folder holding other
            files is refused.
        weights: a PyTorch checkpoint; ``None`` the official one (smoke weights with ``SAMRS_SMOKE=1``).
        quantize: also write ``decoder_int8.onnx`` (dynamic int8 decoder; SAM families).
        opset: ONNX opset (default: 17 for the SAM graphs, ultralytics' choice for FastSAM).
        dynamo: torch's ``torch.export``-based exporter instead of the TorchScript one (SAM families).
        imgsz: FastSAM's example input size (pixels, multiple of 32; the graph accepts any size).
        parts: SAM families: ``("encoder",)`` or ``("decoder",)`` for one graph only (default both).

    Returns:
        the :class:`ExportInfo` written to ``out/manifest.json``.

    Raises:
        UserInputError: a model without weights or without an ONNX export, a non-empty foreign folder.
    """
    spec = spec_with_weights(name)
    backend = backend_for(spec)
    if backend.export_onnx is None:
        raise UserInputError(f"{name} has no ONNX export")
    out = Path(out).expanduser()
    if out.is_file() or (out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file()):
        raise UserInputError(f"{out} exists and is not an ONNX export folder; choose an empty or new folder")
    options = {"embedding_cache": False} if "embedding_cache" in backend.options else {}
    if imgsz is not None:
        if "imgsz" not in backend.options:
            raise UserInputError(f"--imgsz applies to FastSAM; {name} has a fixed input size")
        options["imgsz"] = int(imgsz)
    model = load_model(name, weights=weights, device="cpu", **options)
    export_options = {"quantize": bool(quantize), "dynamo": bool(dynamo)}
    if opset is not None:  # else each family's own default (SAM graphs: 17; FastSAM: ultralytics' choice)
        export_options["opset"] = int(opset)
    if parts is not None:
        export_options["parts"] = tuple(parts)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; an export is an ordinary, readable folder
    try:
        info = backend.export_onnx(model, tmp, **export_options)
        _replace_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return info


def _replace_folder(new: Path, target: Path) -> None:
    """Put ``new`` in place of ``target`` (an earlier export is removed only once the new one is complete)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.rename(target, old)
    os.rename(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
