"""FastSAM's network (YOLOv8-seg) as one ONNX graph, made by ultralytics' own exporter.

``network.onnx`` takes ``images`` float32 (1, 3, H, W), RGB in [0, 1], letterboxed to a multiple of 32
(H and W are dynamic, so a non-square scene is letterboxed to the smallest rectangle, exactly as the
PyTorch model is run) and returns ultralytics' two outputs (boxes + scores + mask coefficients per anchor,
and the mask prototypes). The runtime (:mod:`helpers.backends.onnx_fastsam`) hands the file to
``ultralytics.FastSAM``, whose predictor then runs it through ONNX Runtime with the same letterbox,
non-maximum suppression and mask assembly as the ``.pt`` model; FastSAM's prompt selection (points, boxes,
text) is this package's numpy code and works on either runtime's masks.

The same exporter writes a TensorRT engine (``fmt="engine"``) where ``tensorrt`` and a GPU exist.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

__all__ = ["export_fastsam_network", "ULTRALYTICS_FORMATS"]

ULTRALYTICS_FORMATS = {"onnx": ".onnx", "engine": ".engine"}


def export_fastsam_network(checkpoint, path, imgsz: int = 1024, opset: int | None = None, fmt: str = "onnx",
                           half: bool = False, device: str = "cpu") -> Path:
    """Export a FastSAM ``.pt`` to ``path`` with ``ultralytics``' exporter.

    Args:
        checkpoint: ``FastSAM-s.pt`` / ``FastSAM-x.pt`` (or smoke weights); it is copied to a temporary
            folder first, because ultralytics writes its output next to the weights.
        path: the file to write (``.onnx``, or ``.engine`` for TensorRT).
        imgsz: example input size (pixels, a multiple of 32); the ONNX graph accepts any size.
        opset: ONNX opset (``None``: ultralytics' choice for this onnx version).
        fmt: ``"onnx"`` or ``"engine"`` (TensorRT; needs ``tensorrt`` and a CUDA device).
        half: float16 weights (TensorRT only).
        device: ``"cpu"``, or a CUDA index such as ``"0"`` (TensorRT).
    """
    from ultralytics import FastSAM
    from ultralytics.utils import LOGGER

    if fmt not in ULTRALYTICS_FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(ULTRALYTICS_FORMATS)}, got {fmt!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    level = LOGGER.level
    LOGGER.setLevel("WARNING")  # ultralytics prints a page of export notes
    try:
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".fastsam-export-") as tmp:
            source = Path(tmp) / "network.pt"
            shutil.copyfile(checkpoint, source)
            options = {"format": fmt, "imgsz": int(imgsz), "device": device, "verbose": False}
            if fmt == "onnx":
                options.update(dynamic=True, simplify=False, opset=opset)
            else:
                options.update(quantize=16 if half else None, dynamic=False, simplify=False)
            written = Path(FastSAM(str(source)).export(**options))
            shutil.move(str(written), path)
    finally:
        LOGGER.setLevel(level)
    return path


def export_fastsam_model(model, out_dir, *, opset: int | None = None, quantize: bool = False, dynamo: bool = False,
                         parts=("network",)):
    """Export a :class:`helpers.backends.fastsam.FastSAMModel` into a folder: ``network.onnx`` + ``manifest.json``.

    The example input size is the model's ``imgsz`` (``model.defaults["imgsz"]``, 1024 by default); the
    graph accepts any multiple of 32. ``quantize`` and ``dynamo`` do not apply to FastSAM (no separate
    decoder; ultralytics chooses its exporter) and raise ``ValueError``.
    """
    import onnx

    from .metadata import ExportInfo, source_facts, stamp_onnx, write_manifest

    if quantize:
        raise ValueError(f"{model.name}: --quantize applies to the SAM decoders; FastSAM has one network and no decoder")
    if dynamo:
        raise ValueError(f"{model.name}: FastSAM is exported by ultralytics' own exporter; --dynamo does not apply")
    if tuple(parts) != ("network",):
        raise ValueError(f"FastSAM has one graph (network); got parts {list(parts)}")
    if model.checkpoint is None:
        raise ValueError(f"{model.name}: export needs a model loaded from a checkpoint file (its sha256 is recorded)")
    import ultralytics

    out_dir = Path(out_dir)
    imgsz = int(model.defaults["imgsz"])
    path = export_fastsam_network(model.checkpoint, out_dir / "network.onnx", imgsz=imgsz, opset=opset)
    written_opset = max(o.version for o in onnx.load(str(path), load_external_data=False).opset_import if o.domain in ("", "ai.onnx"))
    info = ExportInfo(
        model=model.name, **source_facts(model.checkpoint), input_size=imgsz, opset=int(written_opset),
        exporter=f"ultralytics {ultralytics.__version__} (format=onnx, dynamic=True)", files={"network": "network.onnx"},
        extra={"family": "fastsam", "defaults": dict(model.defaults)},
    )  # fmt: skip
    stamp_onnx(path, info, "network")
    write_manifest(out_dir, info)
    return info
