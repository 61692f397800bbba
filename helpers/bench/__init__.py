"""Benchmarks: timing and memory utilities (:mod:`~helpers.bench.timing`) and the SAM vs FastSAM latency
benchmark (:mod:`~helpers.bench.latency`, ``python -m helpers bench``)."""

from ..tables import format_table, print_table, write_csv
from .latency import PUBLISHED_RTX3090_MS, run_latency_benchmark
from .timing import (
    cuda_sync,
    current_rss_mb,
    hardware_line,
    hardware_summary,
    measure,
    median,
    peak_gpu_mb,
    peak_rss_mb,
    reset_peak_gpu,
    timer,
    track_peak_memory,
)

__all__ = [
    "PUBLISHED_RTX3090_MS",
    "cuda_sync",
    "current_rss_mb",
    "format_table",
    "hardware_line",
    "hardware_summary",
    "measure",
    "median",
    "peak_gpu_mb",
    "peak_rss_mb",
    "print_table",
    "reset_peak_gpu",
    "run_latency_benchmark",
    "timer",
    "track_peak_memory",
    "write_csv",
]
