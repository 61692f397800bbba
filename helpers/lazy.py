"""Packages whose public names are imported on first use (PEP 562 module ``__getattr__``).

``import helpers`` and the command line must not pay for torch, SAM 2 or rasterio before a name that
needs them is used; each such package maps its public names to the module that defines them.
"""

from __future__ import annotations

import importlib

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, str], namespace: dict):
    """``(__getattr__, __dir__)`` for ``package`` whose public names live in other modules.

    Args:
        package: the package's ``__name__`` (used in the error message and for relative module names).
        exports: public name -> module: absolute (``"helpers.models"``) or relative to ``package``
            (``"tracker"`` for ``package + ".tracker"``).
        namespace: the package's ``globals()``: a name, once imported, is stored there (later lookups
            are plain attribute reads).
    """

    def __getattr__(name):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        full = module if module.startswith("helpers.") else f"{package}.{module}"
        value = getattr(importlib.import_module(full), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted({*exports, *namespace.get("__all__", ())})

    return __getattr__, __dir__
