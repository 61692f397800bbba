"""Choosing the torch device: CUDA, then Apple MPS, then CPU, and saying which."""

from __future__ import annotations

import torch


def pick_device(device: str | torch.device | None = None, *, verbose: bool = True) -> torch.device:
    """Return the torch device to run on.

    Args:
        device: ``None`` picks CUDA if available, then Apple MPS, then CPU. A string such as
            ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"`` (or a ``torch.device``) is used as given,
            after checking that it exists on this machine.
        verbose: print one line saying which device was chosen and why.

    Raises:
        ValueError: the requested device is not available here.
    """
    if device is not None:
        try:
            chosen = torch.device(device)
        except (RuntimeError, TypeError):
            raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda', 'cuda:N' or 'mps'") from None
        if chosen.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r} requested but CUDA is not available on this machine")
        if chosen.type == "mps" and not _mps_available():
            raise ValueError(f"device {str(device)!r} requested but Apple MPS is not available on this machine")
        reason = "as requested"
    elif torch.cuda.is_available():
        chosen, reason = torch.device("cuda"), f"CUDA GPU found: {torch.cuda.get_device_name(0)}"
    elif _mps_available():
        chosen, reason = torch.device("mps"), "Apple MPS found"
    else:
        chosen, reason = torch.device("cpu"), "no CUDA or MPS found"
    if verbose:
        print(f"sam-rs: using device {chosen} ({reason})")
    return chosen


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
