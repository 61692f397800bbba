"""FastSAM on ONNX Runtime: ``load_model("fastsam_s", runtime="onnx")``.

FastSAM is one network pass ("everything") followed by a *selection* among its masks. Here the pass runs
the exported YOLOv8-seg graph (:mod:`helpers.onnx.fastsam_graph`) through ``ultralytics.FastSAM``, whose
predictor drives ONNX Runtime with the same letterbox, non-maximum suppression and mask assembly as the
``.pt`` model; the selection - points, boxes, text (CLIP, when installed) - is
:class:`helpers.backends.fastsam.FastSAMModel`'s numpy code, unchanged. So prompting survives the
export: every ``predict`` / ``generate`` argument works on either runtime and selects the same masks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..onnx.export_torch import DEFAULT_OPSET
from ..onnx.metadata import ExportInfo
from ..onnx.session import runtime_device
from ..onnx.store import resolve_export
from ..registry import ModelSpec
from . import fastsam as fastsam_backend
from .base import pop_backend_options
from .fastsam import EVERYTHING_DEFAULTS, FastSAMModel, _check_everything_params
from .onnx_sam import check_runtime_options, onnx_parameter_count

__all__ = ["BACKENDS", "OnnxFastSAMModel", "build"]


class OnnxFastSAMModel(FastSAMModel):
    """FastSAM whose network is the exported ONNX graph (see the module docstring).

    Attributes:
        folder: the export folder used.
        info: its :class:`~helpers.onnx.metadata.ExportInfo`.
    """

    def __init__(self, name: str, folder, info: ExportInfo, device=None, defaults=None, clip_weights=None):
        from ultralytics import FastSAM

        self.folder, self.info = Path(folder), info
        yolo = FastSAM(str(info.path(self.folder, "network")))
        super().__init__(name, yolo, device=runtime_device(device), checkpoint=None, smoke=info.smoke,
                         defaults=defaults, clip_weights=clip_weights)

    def _run_everything(self, image, params):
        from ultralytics.utils import LOGGER

        level = LOGGER.level
        LOGGER.setLevel("WARNING")  # ultralytics announces "Loading ... for ONNX Runtime inference" on first use
        try:
            return super()._run_everything(image, params)
        finally:
            LOGGER.setLevel(level)

    def num_parameters(self) -> int:
        return onnx_parameter_count([self.info.path(self.folder, "network")])

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + ", runtime=onnx)"


def build(spec: ModelSpec, weights: Path | None, device=None, **options) -> OnnxFastSAMModel:
    """Build the ONNX Runtime FastSAM from an export folder or a ``.pt`` checkpoint (exported once).

    Args:
        spec: registry entry (``fastsam_s`` / ``fastsam_x``).
        weights: an ``export-onnx`` folder, or ``FastSAM-s.pt`` / ``FastSAM-x.pt`` (or smoke weights).
        device: ``cpu``, or ``cuda`` (needs onnxruntime-gpu).
        **options: the everything-pass defaults (``imgsz``, ``conf``, ``iou``, ``retina_masks``,
            ``max_det``), ``clip_weights`` (text prompts), ``opset`` (first-use export) and ``safe_load``
            (how a ``.pt`` checkpoint is unpickled for that export; see :func:`helpers.load_model`).
    """
    if weights is None:
        raise ValueError(f"{spec.name}: the ONNX runtime needs weights (a .pt checkpoint or an export folder)")
    pop_backend_options(options, device, spec.name, gpu_only=(), embedding_cache=False,
                        passthrough=("clip_weights", "opset", "safe_load", *EVERYTHING_DEFAULTS))
    safe_load = options.pop("safe_load", True)
    runtime = check_runtime_options(options, spec.name, own=("opset",))
    clip_weights = options.pop("clip_weights", None)
    defaults = _check_everything_params({**EVERYTHING_DEFAULTS, **options})
    folder, info = resolve_export(spec, weights, fastsam_backend.BACKEND, runtime["opset"], quantize=False,
                                  build_options={"imgsz": defaults["imgsz"],  # the example size of the export
                                                 "safe_load": safe_load})
    return OnnxFastSAMModel(spec.name, folder, info, device=device, defaults=defaults, clip_weights=clip_weights)


#: The ONNX Runtime declaration of the FastSAM family.
BACKENDS = {
    "fastsam": dataclasses.replace(
        fastsam_backend.BACKEND, build=build, runtime="onnx", export_onnx=None, weights_folder=True,
        options={
            **{k: v for k, v in fastsam_backend.BACKEND.options.items() if k != "half"},
            "opset": f"ONNX opset when a checkpoint is exported on first use (default {DEFAULT_OPSET})",
        },
    )
}
OnnxFastSAMModel.backend = BACKENDS["fastsam"]
