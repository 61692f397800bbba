"""ONNX Runtime sessions: which execution provider runs a device, and one place for session settings."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserInputError

__all__ = ["ORT_INSTALL_HINT", "providers_for", "open_session", "device_type", "runtime_device"]

ORT_INSTALL_HINT = "the ONNX runtime needs onnxruntime: pip install onnxruntime (or onnxruntime-gpu for CUDA)"

# torch device type -> the ONNX Runtime execution providers that run it, best first (CPU always last).
_PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "mps": ["CoreMLExecutionProvider", "CPUExecutionProvider"],
}


def _ort():
    try:
        import onnxruntime
    except ImportError:
        raise ImportError(ORT_INSTALL_HINT) from None
    return onnxruntime


def device_type(device) -> str:
    """``"cpu"``, ``"cuda"`` or ``"mps"`` of a torch device, a device string or ``None`` (CPU)."""
    return getattr(device, "type", None) or str(device or "cpu").split(":")[0]


def runtime_device(device):
    """The ``torch.device`` ONNX Runtime will really run on for ``device`` (``None``: CPU).

    CUDA without ``onnxruntime-gpu`` falls back to the CPU with one warning, because ``load_model`` picks
    CUDA by itself on a GPU machine, where the PyTorch models use it and the ONNX ones need the other
    package; ask for ``device="cpu"`` to silence it.
    """
    import warnings

    import torch

    chosen = torch.device(device if device is not None else "cpu")
    if chosen.type == "cuda" and "CUDAExecutionProvider" not in _ort().get_available_providers():
        warnings.warn("onnxruntime has no CUDAExecutionProvider (pip install onnxruntime-gpu): the ONNX model runs "
                      "on the CPU", RuntimeWarning, stacklevel=3)
        return torch.device("cpu")
    return chosen


def providers_for(device) -> list:
    """ONNX Runtime providers for a device (``torch.device``, ``"cpu"``, ``"cuda:1"``, ``None`` = CPU).

    CUDA needs ``onnxruntime-gpu`` (its ``CUDAExecutionProvider``); the device index is passed on.
    Apple's MPS maps to CoreML when this onnxruntime build has it, else to the CPU.

    Raises:
        UserInputError: CUDA asked for but this onnxruntime has no CUDA provider (one line saying what to install).
    """
    kind = device_type(device)
    if kind not in _PROVIDERS:
        raise UserInputError(f"the ONNX runtime runs on cpu, cuda or mps, not {kind!r}")
    available = set(_ort().get_available_providers())
    wanted = [p for p in _PROVIDERS[kind] if p in available]
    if kind == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise UserInputError("device='cuda' with runtime='onnx' needs onnxruntime-gpu (CUDAExecutionProvider); "
                                 "this onnxruntime has " + ", ".join(sorted(available)))
        if hasattr(device, "type"):  # a torch.device
            index = device.index
        else:
            index = int(str(device).split(":")[1]) if ":" in str(device) else None
        return [("CUDAExecutionProvider", {"device_id": int(index or 0)}), "CPUExecutionProvider"]
    return wanted or ["CPUExecutionProvider"]


def open_session(path, device=None, threads: int | None = None):
    """An ``onnxruntime.InferenceSession`` for ``path`` with full graph optimisation.

    Args:
        path: an ``.onnx`` file (external data next to it is found by ONNX Runtime).
        device: see :func:`providers_for`.
        threads: intra-op threads (``None``: ONNX Runtime's default, one per physical core).
    """
    ort = _ort()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: shape-merge notes on valid graphs are not the user's concern
    if threads is not None:
        options.intra_op_num_threads = int(threads)
    # Idle worker threads sleep instead of spinning: on a shared or busy CPU spinning threads take the cores
    # the working ones need (a SAM decoder call on 2 busy cores: 93 ms without spinning, 172 ms with it).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(Path(path)), sess_options=options, providers=providers_for(device))
