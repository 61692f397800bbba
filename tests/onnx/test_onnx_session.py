"""ONNX Runtime sessions: the execution providers a device maps to, and the CPU fallback without onnxruntime-gpu."""

from __future__ import annotations

import onnxruntime
import pytest
import torch

from helpers.errors import UserInputError
from helpers.onnx.session import providers_for, runtime_device


def test_cpu_and_cuda_devices_map_to_providers(monkeypatch):
    assert providers_for(None) == providers_for("cpu") == ["CPUExecutionProvider"]
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert providers_for("cuda:1") == [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]
    assert runtime_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(UserInputError, match="runs on cpu, cuda or mps, not 'xla'"):
        providers_for("xla")


def test_cuda_without_onnxruntime_gpu_falls_back_to_the_cpu_with_one_warning(monkeypatch):
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.warns(RuntimeWarning, match="pip install onnxruntime-gpu"):
        assert runtime_device("cuda") == torch.device("cpu")
    with pytest.raises(UserInputError, match="needs onnxruntime-gpu"):
        providers_for("cuda")  # asked for directly, the provider list says what is missing
