"""Timing, memory and hardware facts for benchmarks and notebooks.

    stats = measure(lambda: model.predict(points=[(10, 20)]), repeats=5, warmup=1)
    stats["median_s"], stats["min_s"], stats["all"]
    with track_peak_memory() as peak:  # peak GPU memory on CUDA, peak process RSS on CPU
        ...
    peak.gpu_mb, peak.rss_mb

Nothing here imports torch at module import time.
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable

__all__ = [
    "measure",
    "timer",
    "median",
    "cuda_sync",
    "peak_rss_mb",
    "current_rss_mb",
    "peak_gpu_mb",
    "reset_peak_gpu",
    "track_peak_memory",
    "hardware_summary",
    "hardware_line",
]


# ---- timing ---------------------------------------------------------------------------------------
def _torch_if_loaded():
    """torch, only when something already imported it (never pay its import just to sync)."""
    return sys.modules.get("torch")


def cuda_sync() -> None:
    """Wait for queued CUDA kernels so a timer measures finished work (no-op without CUDA)."""
    torch = _torch_if_loaded()
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def median(values: Iterable[float]) -> float:
    """Median of ``values`` (raises ``ValueError`` when empty)."""
    values = list(values)
    if not values:
        raise ValueError("median of no values")
    return float(statistics.median(values))


class timer(contextlib.AbstractContextManager):  # noqa: N801 - used like a function: `with timer() as t:`
    """Context manager measuring wall-clock seconds of a block (CUDA-synchronised at both ends).

    Example::

        with timer() as t:
            model.set_image(image)
        print(t.seconds)
    """

    def __init__(self, sync_cuda: bool = True):
        self.sync_cuda = sync_cuda
        self.seconds = float("nan")

    def __enter__(self):
        if self.sync_cuda:
            cuda_sync()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self.sync_cuda:
            cuda_sync()
        self.seconds = time.perf_counter() - self._start
        return False


def measure(
    fn: Callable[[], object],
    repeats: int = 5,
    warmup: int = 1,
    sync_cuda: bool = True,
    budget_s: float | None = None,
) -> dict:
    """Time ``fn()``: ``warmup`` untimed calls, then up to ``repeats`` timed calls.

    Args:
        fn: a callable without arguments (wrap arguments in a lambda).
        repeats: timed calls (>= 1).
        warmup: untimed calls first (>= 0): lazy initialisation, cuDNN autotuning, caches.
        sync_cuda: synchronise CUDA before and after each call so GPU work is counted.
        budget_s: stop repeating once this many seconds were spent on timed calls (at least one
            timed call always runs). Keeps slow cells (SAM 64x64 grids on a CPU) bounded.

    Returns:
        dict with ``median_s``, ``min_s``, ``mean_s``, ``max_s``, ``all`` (list of seconds),
        ``repeats`` (timed calls actually made), ``warmup`` and ``result`` (the last return value).
    """
    if int(repeats) < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if int(warmup) < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    result = None
    for _ in range(int(warmup)):
        result = fn()
    times: list[float] = []
    for _ in range(int(repeats)):
        with timer(sync_cuda=sync_cuda) as t:
            result = fn()
        times.append(t.seconds)
        if budget_s is not None and sum(times) >= budget_s:
            break
    return {
        "median_s": median(times),
        "min_s": min(times),
        "mean_s": float(statistics.fmean(times)),
        "max_s": max(times),
        "all": times,
        "repeats": len(times),
        "warmup": int(warmup),
        "result": result,
    }


# ---- memory ---------------------------------------------------------------------------------------
def peak_rss_mb() -> float:
    """Peak resident memory of this process since it started, in MiB."""
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # Linux reports KiB, macOS bytes.
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10
    except ImportError:  # Windows: psutil knows the peak working set
        import psutil

        info = psutil.Process().memory_info()
        return getattr(info, "peak_wset", info.rss) / 2**20


def current_rss_mb() -> float:
    """Resident memory of this process now, in MiB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_gpu_mb(device=None) -> float | None:
    """Peak CUDA memory allocated by torch since the last :func:`reset_peak_gpu`, in MiB (``None`` without CUDA)."""
    torch = _torch_if_loaded()
    if torch is None or not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20


def reset_peak_gpu(device=None) -> None:
    """Start a new peak for :func:`peak_gpu_mb` (no-op without CUDA)."""
    torch = _torch_if_loaded()
    if torch is not None and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats(device)


class track_peak_memory(contextlib.AbstractContextManager):  # noqa: N801 - reads like a function
    """Peak memory used inside a block: GPU (torch allocator) when CUDA is present, and process RSS.

    ``ru_maxrss`` only knows the peak since the process started, so the RSS peak of a block is
    sampled by a background thread every ``interval_s`` seconds (short spikes can be missed).

    Attributes (after the block):
        rss_mb: highest sampled RSS during the block (MiB; includes what the process held before).
        rss_start_mb: RSS when the block started.
        gpu_mb: peak torch CUDA allocation during the block (MiB), ``None`` without CUDA.
    """

    def __init__(self, interval_s: float = 0.005):
        self.interval_s = interval_s
        self.rss_mb = float("nan")
        self.rss_start_mb = float("nan")
        self.gpu_mb: float | None = None

    def _sample(self):
        while not self._stop.wait(self.interval_s):
            self.rss_mb = max(self.rss_mb, current_rss_mb())

    def __enter__(self):
        reset_peak_gpu()
        self.rss_start_mb = self.rss_mb = current_rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.rss_mb = max(self.rss_mb, current_rss_mb())
        cuda_sync()
        self.gpu_mb = peak_gpu_mb()
        return False


# ---- hardware -------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        import subprocess

        with contextlib.suppress(Exception):
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True)
            if out.stdout.strip():
                return out.stdout.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def hardware_summary() -> dict:
    """What the numbers were measured on: CPU model, cores, RAM, GPU name, torch threads and versions."""
    import psutil

    info = {
        "cpu": _cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "gpu": None,
        "gpu_memory_gb": None,
    }
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return info
    info["torch"] = torch.__version__
    info["torch_threads"] = torch.get_num_threads()
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["gpu"] = props.name
        info["gpu_memory_gb"] = round(props.total_memory / 2**30, 1)
        info["cuda"] = torch.version.cuda
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        info["gpu"] = "Apple MPS"
    return info


def hardware_line(info: dict | None = None) -> str:
    """One line naming the hardware, for table captions."""
    info = info or hardware_summary()
    cores = f"{info.get('cores_physical') or '?'} cores / {info.get('cores_logical')} threads"
    gpu = f"GPU {info['gpu']} ({info['gpu_memory_gb']} GB)" if info.get("gpu") else "no GPU"
    return f"{info['cpu']} ({cores}, {info.get('ram_gb')} GB RAM), {gpu}, torch {info.get('torch', '?')}"
