"""Every (runtime, family) declaration keeps the Backend contract; runtimes differ only in what runs the network."""

from __future__ import annotations

import pytest

from helpers.backends import RUNTIME_MODULES, RUNTIMES, backend_for
from helpers.errors import UserInputError
from helpers.registry import REGISTRY

FIRST_OF_FAMILY = {spec.family: name for name, spec in reversed(list(REGISTRY.items()))}


@pytest.mark.parametrize("runtime, family", [(r, f) for r in RUNTIMES for f in RUNTIME_MODULES[r]])
def test_each_runtime_declares_the_family_contract(runtime, family):
    name = FIRST_OF_FAMILY[family]
    backend, torch_backend = backend_for(name, runtime=runtime), backend_for(name)
    assert (backend.family, backend.runtime) == (family, runtime)
    assert backend.prompts == torch_backend.prompts and backend.predict_params == torch_backend.predict_params
    assert backend.generate_defaults() == torch_backend.generate_defaults()  # same generate() on every runtime
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in backend.options.items())
    if runtime == "torch":
        assert backend.export_onnx is not None or not backend.has_weights  # every network can be exported
        assert not backend.weights_folder
    else:
        assert backend.export_onnx is None and backend.weights_folder
        assert "half" not in backend.options and "compile" not in backend.options  # PyTorch-only options


def test_unknown_runtimes_and_families_without_one_are_one_line_errors():
    with pytest.raises(UserInputError, match="unknown runtime 'tflite'; choose one of: torch, onnx"):
        backend_for("sam_vit_b", runtime="tflite")
    with pytest.raises(UserInputError, match=r"conventional has no onnx runtime \(it runs on: torch\)"):
        backend_for("conventional", runtime="onnx")
