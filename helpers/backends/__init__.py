"""Backends: one module per model family, each declaring a :class:`~helpers.backends.base.Backend`.

======================  ==========================================================================
module                  family
======================  ==========================================================================
``backends.sam``        SAM ViT-B/L/H (segment-anything), equal to the official ``SamPredictor``
``backends.mobile_sam`` MobileSAM: SAM's decoder with a TinyViT encoder
``backends.sam2``       SAM 2.1 Hiera (the ``sam2`` package)
``backends.fastsam``    FastSAM on ultralytics (``clip``: text prompts, ``fastsam_smoke``: smoke weights)
``backends.conventional`` scikit-image baseline, no weights
======================  ==========================================================================

:func:`backend_for` returns a family's declaration; :func:`helpers.models.load_model` builds models
through it. The modules are imported only when a family is used (``import helpers`` stays light).
"""

from __future__ import annotations

import importlib

from ..registry import ModelSpec, get_spec

__all__ = ["BACKEND_MODULES", "backend_for"]

#: Registry family -> the module whose ``BACKEND`` declares it.
BACKEND_MODULES = {
    "sam": "helpers.backends.sam",
    "mobile_sam": "helpers.backends.mobile_sam",
    "sam2": "helpers.backends.sam2",
    "fastsam": "helpers.backends.fastsam",
    "conventional": "helpers.backends.conventional",
}


def backend_for(model):
    """The :class:`~helpers.backends.base.Backend` of a registry name, a :class:`ModelSpec` or a model.

    Raises:
        ValueError: an unknown registry name (one line listing the valid ones).
    """
    declared = getattr(model, "backend", None)
    if declared is not None:
        return declared
    spec = model if isinstance(model, ModelSpec) else get_spec(model)
    return importlib.import_module(BACKEND_MODULES[spec.family]).BACKEND
