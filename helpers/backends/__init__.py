"""Backends: one module per model family, each declaring a :class:`~helpers.backends.base.Backend`.

======================  ==========================================================================
module                  family
======================  ==========================================================================
``backends.sam``        SAM ViT-B/L/H (segment-anything), equal to the official ``SamPredictor``
``backends.mobile_sam`` MobileSAM: SAM's decoder with a TinyViT encoder
``backends.sam2``       SAM 2.1 Hiera (the ``sam2`` package)
``backends.fastsam``    FastSAM on ultralytics (``clip``: text prompts, ``fastsam_smoke``: smoke weights)
``backends.conventional`` scikit-image baseline, no weights
``backends.onnx_sam``   SAM and MobileSAM on ONNX Runtime (``runtime="onnx"``)
``backends.onnx_sam2``  SAM 2.1 on ONNX Runtime
``backends.onnx_fastsam`` FastSAM on ONNX Runtime (ultralytics' predictor, numpy prompt selection)
======================  ==========================================================================

:func:`backend_for` returns a family's declaration for a runtime (``"torch"``, the default, or
``"onnx"``); :func:`helpers.models.load_model` builds models through it. The modules are imported only
when a family is used (``import helpers`` stays light).
"""

from __future__ import annotations

import importlib

from ..errors import UserInputError
from ..registry import ModelSpec, get_spec

__all__ = ["BACKEND_MODULES", "RUNTIME_MODULES", "RUNTIMES", "backend_for"]

#: Registry family -> the module whose ``BACKEND`` declares it.
BACKEND_MODULES = {
    "sam": "helpers.backends.sam",
    "mobile_sam": "helpers.backends.mobile_sam",
    "sam2": "helpers.backends.sam2",
    "fastsam": "helpers.backends.fastsam",
    "conventional": "helpers.backends.conventional",
}

#: Runtime -> family -> the module declaring that family on that runtime (a module serving several
#: families declares ``BACKENDS = {family: Backend}``, others one ``BACKEND``).
RUNTIME_MODULES = {
    "torch": BACKEND_MODULES,
    "onnx": {
        "sam": "helpers.backends.onnx_sam",
        "mobile_sam": "helpers.backends.onnx_sam",
        "sam2": "helpers.backends.onnx_sam2",
        "fastsam": "helpers.backends.onnx_fastsam",
    },
}
RUNTIMES = tuple(RUNTIME_MODULES)


def backend_for(model, runtime: str | None = None):
    """The :class:`~helpers.backends.base.Backend` of a registry name, a :class:`ModelSpec` or a model.

    Args:
        model: a registry name, a :class:`ModelSpec`, or a built model (its own ``backend``).
        runtime: ``"torch"`` or ``"onnx"``; ``None`` is the model's own runtime, or ``"torch"`` for names.

    Raises:
        ValueError: an unknown registry name or runtime, or a family without that runtime (one line).
    """
    declared = getattr(model, "backend", None)
    if declared is not None and runtime in (None, declared.runtime):
        return declared
    spec = get_spec(model.name) if declared is not None else model if isinstance(model, ModelSpec) else get_spec(model)
    runtime = "torch" if runtime is None else runtime
    if runtime not in RUNTIME_MODULES:
        raise UserInputError(f"unknown runtime {runtime!r}; choose one of: {', '.join(RUNTIMES)}")
    module_name = RUNTIME_MODULES[runtime].get(spec.family)
    if module_name is None:
        offered = [name for name, families in RUNTIME_MODULES.items() if spec.family in families]
        raise UserInputError(f"{spec.name} has no {runtime} runtime (it runs on: {', '.join(offered)})")
    module = importlib.import_module(module_name)
    return module.BACKENDS[spec.family] if hasattr(module, "BACKENDS") else module.BACKEND
