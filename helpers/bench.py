"""Timing and memory utilities, and the SAM vs FastSAM latency benchmark (``python -m helpers bench``).

Utilities (used by ``benchmarks/*.py`` and the notebooks)::

    stats = measure(lambda: model.predict(points=[(10, 20)]), repeats=5, warmup=1)
    stats["median_s"], stats["min_s"], stats["all"]
    with track_peak_memory() as peak:  # peak GPU memory on CUDA, peak process RSS on CPU
        ...
    peak.gpu_mb, peak.rss_mb
    print_table(rows, ["model", ("median_ms", "median (ms)")])

The benchmark (:func:`run_latency_benchmark`) reproduces the layout of FastSAM's published latency
table (Zhao et al. 2023, Table 1, one RTX 3090) on the user's own hardware: latency for 1, 10 and 100
point prompts and for "everything" mode at 16x16, 32x32 and 64x64 point grids, for each model.

Nothing here imports torch at module import time: ``python -m helpers models`` stays fast.
"""

from __future__ import annotations

import contextlib
import csv
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

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
    "print_table",
    "format_table",
    "write_csv",
    "hardware_summary",
    "hardware_line",
    "PUBLISHED_RTX3090_MS",
    "run_latency_benchmark",
    "register_cli",
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


# ---- tables and files -----------------------------------------------------------------------------
def _columns(columns: Sequence) -> list[tuple[str, str]]:
    """Columns as (key, header): a plain string is both."""
    out = []
    for column in columns:
        if isinstance(column, str):
            out.append((column, column))
        else:
            key, header = column
            out.append((str(key), str(header)))
    return out


def _cell(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if value == 0 or abs(value) >= 100:
            return f"{value:.0f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"
    return str(value)


def format_table(rows: Sequence[dict], columns: Sequence) -> str:
    """A plain-text table: ``columns`` are keys of ``rows`` or ``(key, header)`` pairs.

    Missing values and NaN print as ``n/a``; floats get 3 significant digits (or none above 100).
    """
    cols = _columns(columns)
    cells = [[header for _, header in cols]]
    cells += [[_cell(row.get(key)) for key, _ in cols] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cols))]
    lines = []
    for n, r in enumerate(cells):
        left, *rest = r
        line = left.ljust(widths[0]) + "  " + "  ".join(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))
        lines.append(line.rstrip())
        if n == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def print_table(rows: Sequence[dict], columns: Sequence, title: str | None = None, file=None) -> str:
    """Print :func:`format_table` (with an optional title line) and return the text."""
    text = format_table(rows, columns)
    if title:
        text = f"{title}\n{text}"
    print(text, file=file or sys.stdout)
    return text


def write_csv(rows: Sequence[dict], path, columns: Sequence[str] | None = None) -> Path:
    """Write ``rows`` (dicts) to a CSV file with ``columns`` (default: keys of the first row)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in keys})
    return path


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


# ---- the SAM vs FastSAM latency benchmark ----------------------------------------------------------
#: FastSAM paper (Zhao et al. 2023, arXiv:2306.12156) Table 1: ms on one NVIDIA RTX 3090.
#: Columns: 1, 10, 100 point prompts; everything mode with 16x16, 32x32, 64x64 point grids.
PUBLISHED_RTX3090_MS = {
    "SAM-H (ViT-H, 0.6G params)": {"for": "sam_vit_h", "ms": (446, 464, 627, 852, 2099, 6972)},
    "SAM-B (ViT-B, 136M params)": {"for": "sam_vit_b", "ms": (110, 125, 230, 432, 1383, 5417)},
    "FastSAM (68M params)": {"for": "fastsam", "ms": (40, 40, 40, 40, 40, 40)},
}

DEFAULT_MODELS = ("sam_vit_b", "fastsam_s")
DEFAULT_POINTS = (1, 10, 100)
DEFAULT_GRIDS = (16, 32, 64)
QUICK_POINTS = (1, 10)
QUICK_GRIDS = (4, 8)
SMOKE_NOTE = "Smoke (untrained) weights: latencies are real, mask counts are meaningless."

CSV_COLUMNS = (
    "model", "weights", "device", "params_m", "workload", "kind", "n", "prompt_ms", "encode_ms",
    "total_ms", "repeats", "n_masks", "peak_gpu_mb", "peak_rss_mb", "note",
)  # fmt: skip


def _load_for_bench(name: str, smoke: bool, device):
    """(model, weights label): smoke weights when asked (or when the real ones cannot be had)."""
    import warnings

    from .models import ensure_smoke_weights, load_model
    from .weights import WeightsUnavailableError, get_spec

    # a cached embedding would make the timed set_image a cache hit (and write to the user's disk cache)
    options = {"embedding_cache": False} if get_spec(name).family in ("sam", "mobile_sam", "sam2") else {}
    if not smoke:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return load_model(name, device=device, **options), "real"
        except (WeightsUnavailableError, NotImplementedError) as error:
            print(f"bench: {name}: real weights unavailable ({str(error).splitlines()[0]}); using smoke weights")
    path = ensure_smoke_weights(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_model(name, weights=path, device=device, **options), "smoke"


def _bench_scene(size: int, seed: int = 0):
    """A size x size RGB scene (HxWx3 uint8): the synthetic buildings scene of :mod:`helpers.data`."""
    from .data import make_synthetic_scene

    scene, _ = make_synthetic_scene("buildings", size=(size, size), seed=seed)
    return scene.image


def _grid_points(n: int, height: int, width: int):
    """``n`` pixel points spread over the image (a jittered grid, deterministic)."""
    import numpy as np

    rng = np.random.default_rng(n)
    return np.column_stack([rng.uniform(0, width - 1, n), rng.uniform(0, height - 1, n)])


def _param_count_m(model) -> float | None:
    module = getattr(model, "sam", None) or getattr(getattr(model, "yolo", None), "model", None)
    if module is None:
        return None
    return sum(p.numel() for p in module.parameters()) / 1e6


def _bench_one_model(model, image, points_n, grids, repeats, warmup, budget_s) -> list[dict]:
    """Rows for one model: encode, N point prompts (one mask each) and everything at each grid."""
    is_fastsam = model.name.startswith("fastsam")
    rows = []

    def row(workload, kind, n, stats, encode_ms, n_masks=None, note=""):
        prompt_ms = None if stats is None else stats["median_s"] * 1e3
        total = None if prompt_ms is None else prompt_ms + (encode_ms or 0.0)
        rows.append({
            "workload": workload, "kind": kind, "n": n, "prompt_ms": prompt_ms, "encode_ms": encode_ms,
            "total_ms": total, "repeats": None if stats is None else stats["repeats"], "n_masks": n_masks,
            "note": note,
        })  # fmt: skip

    # Encoding: SAM's image encoder; FastSAM's everything pass (set_image runs it once and caches it).
    encode = measure(lambda: model.set_image(image), repeats=repeats, warmup=warmup, budget_s=budget_s)
    encode_ms = encode["median_s"] * 1e3
    row("encode", "encode", 0, encode, None, note="set_image")
    height, width = image.shape[:2]
    for n in points_n:
        pts = _grid_points(n, height, width)
        if is_fastsam:  # prompts only select among the cached everything masks
            fn = lambda pts=pts: model.predict(points=pts, labels=[1] * len(pts), mode="per_prompt")  # noqa: E731
        else:  # n independent clicks, one mask each, on the cached embedding
            fn = lambda pts=pts: [model.predict(points=[p], labels=[1], multimask=False) for p in pts]  # noqa: E731
        stats = measure(fn, repeats=repeats, warmup=warmup, budget_s=budget_s)
        result = stats["result"]
        n_masks = sum(len(m) for m in result) if isinstance(result, list) else len(result)
        row(f"{n} pt", "points", n, stats, encode_ms, n_masks)
    if is_fastsam:
        # FastSAM has no point grid: its everything mode is one pass, the same for every grid column.
        stats = measure(lambda: model.set_image(image).generate(), repeats=repeats, warmup=warmup, budget_s=budget_s)
        for g in grids:
            row(f"E({g}x{g})", "everything", g * g, stats, 0.0, len(stats["result"]), "one pass, no grid")
        return rows
    for g in grids:
        try:
            # SAM built without an embedding cache re-encodes inside generate: the encoder is included,
            # as in the published table; prompt_ms is the whole call, encode_ms is reported separately.
            stats = measure(
                lambda g=g: model.generate(points_per_side=g), repeats=repeats, warmup=warmup, budget_s=budget_s
            )
        except Exception as error:  # noqa: BLE001 - generate missing or failing: show n/a, keep the table
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            print(f"bench: {model.name} generate(points_per_side={g}) unavailable: {reason}", file=sys.stderr)
            row(f"E({g}x{g})", "everything", g * g, None, encode_ms, note=f"n/a: {reason}")
            continue
        row(f"E({g}x{g})", "everything", g * g, stats, 0.0, len(stats["result"]), "includes encoder")
    return rows


def _published_key(model_name: str) -> str | None:
    for key, entry in PUBLISHED_RTX3090_MS.items():
        if entry["for"] == model_name or (entry["for"] == "fastsam" and model_name.startswith("fastsam")):
            return key
    return None


def _summary_rows(rows: list[dict], points_n, grids) -> tuple[list[dict], list]:
    """One line per model in the published layout (total ms per column), published rows beside ours."""
    workloads = [f"{n} pt" for n in points_n] + [f"E({g}x{g})" for g in grids]
    published_cols = [f"{n} pt" for n in DEFAULT_POINTS] + [f"E({g}x{g})" for g in DEFAULT_GRIDS]
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        first = mine[0]
        line = {
            "name": f"{model} ({first['weights']}, {first['device']})",
            "params_m": first["params_m"],
            "encode": next((r["prompt_ms"] for r in mine if r["kind"] == "encode"), None),
            "memory": first["peak_gpu_mb"] if first["peak_gpu_mb"] is not None else first["peak_rss_mb"],
        }
        for r in mine:
            if r["workload"] in workloads:
                line[r["workload"]] = r["total_ms"]
        out.append(line)
        key = _published_key(model)
        if key is not None:
            ref = {"name": f"  published RTX 3090: {key}", "params_m": None, "encode": None, "memory": None}
            ref.update(dict(zip(published_cols, PUBLISHED_RTX3090_MS[key]["ms"], strict=True)))
            out.append(ref)
    columns = [("name", "model"), ("params_m", "params (M)"), ("encode", "encode ms")]
    columns += [(w, w) for w in workloads] + [("memory", "peak MiB")]
    return out, columns


def _plot(rows: list[dict], points_n, grids, path: Path, title: str) -> Path:
    """Line plot (log scale) of total latency per workload, ours solid and published dashed."""
    import matplotlib

    matplotlib.use(os.environ.get("MPLBACKEND", "Agg"), force=False)
    import matplotlib.pyplot as plt

    workloads = [f"{n} pt" for n in points_n] + [f"E({g}x{g})" for g in grids]
    fig, ax = plt.subplots(figsize=(9, 5))
    x = range(len(workloads))
    for model in dict.fromkeys(r["model"] for r in rows):
        by = {r["workload"]: r["total_ms"] for r in rows if r["model"] == model}
        ys = [by.get(w) if by.get(w) is not None else float("nan") for w in workloads]
        device = next(r["device"] for r in rows if r["model"] == model)
        ax.plot(list(x), ys, marker="o", label=f"{model} ({device}, measured)")
    published_cols = [f"{n} pt" for n in DEFAULT_POINTS] + [f"E({g}x{g})" for g in DEFAULT_GRIDS]
    shown = {_published_key(m) for m in {r["model"] for r in rows}} - {None}
    for key in shown:
        ref = dict(zip(published_cols, PUBLISHED_RTX3090_MS[key]["ms"], strict=True))
        ys = [ref.get(w, float("nan")) for w in workloads]
        ax.plot(list(x), ys, ls="--", marker="x", label=f"{key}, published RTX 3090")
    ax.set_xticks(list(x), workloads)
    ax.set_yscale("log")
    ax.set_ylabel("latency per image (ms, log scale)")
    ax.set_title(title, fontsize=7, wrap=True)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_latency_benchmark(
    models: Sequence[str] = DEFAULT_MODELS,
    repeats: int = 5,
    warmup: int = 1,
    out_dir=None,
    smoke: bool | None = None,
    device=None,
    points: Sequence[int] | None = None,
    grids: Sequence[int] | None = None,
    image=None,
    image_size: int | None = None,
    quick: bool = False,
    budget_s: float | None = 60.0,
    verbose: bool = True,
) -> dict:
    """Latency of SAM and FastSAM per prompt count and everything-mode grid, in FastSAM's table layout.

    For each model: the encoder (SAM's image encoder; FastSAM's everything pass, which ``set_image``
    runs once), ``n`` independent point prompts with one mask each on the cached encoding (SAM: prompt
    encoder + mask decoder per click; FastSAM: selection among the cached masks), and everything mode
    (SAM: ``model.generate(points_per_side=g)``, encoder included as in the paper; FastSAM: one
    everything pass, the same for every grid). Totals (``total_ms``) add the encoder to the prompt
    columns, which is how the published table counts. Warm-up calls, CUDA synchronisation, median of
    ``repeats``; peak GPU memory (CUDA) and peak process RSS (always) per model.

    Args:
        models: registry names, e.g. ``("sam_vit_b", "fastsam_s")``; add ``"sam_vit_h"`` etc.
        repeats, warmup: timed and untimed calls per cell (see :func:`measure`).
        out_dir: where ``latency.csv`` and ``latency.png`` go (``None``: write nothing).
        smoke: ``True`` uses untrained weights of the real architectures (latency is the same; masks
            are meaningless); ``None`` follows ``$SAMRS_SMOKE == "1"``; ``False`` loads the real
            checkpoints and falls back to smoke weights (labelled) when they cannot be had.
        device: ``None`` (CUDA, MPS, CPU), or ``"cpu"``, ``"cuda"``...
        points, grids: prompt counts and grid sizes (default 1/10/100 and 16/32/64; quick 1/10 and 4/8).
        image: HxWx3 uint8 scene to time on (default: a synthetic 1024x1024 scene, 256 when quick).
        quick: CI-size run: small image, few points, tiny grids, FastSAM at ``imgsz=256``.
        budget_s: per-cell time budget for repeats (``None``: always ``repeats``).

    Returns:
        dict with ``rows`` (one per model and workload, :data:`CSV_COLUMNS`), ``summary`` (published
        layout), ``table`` (the printed text), ``hardware`` and ``csv`` / ``png`` paths when written.
    """
    from .device import pick_device
    from .models import smoke_mode

    smoke = smoke_mode() if smoke is None else bool(smoke)
    points_n = tuple(points) if points is not None else (QUICK_POINTS if quick else DEFAULT_POINTS)
    grids = tuple(grids) if grids is not None else (QUICK_GRIDS if quick else DEFAULT_GRIDS)
    if not models:
        raise ValueError("no models to benchmark; pass e.g. models=('sam_vit_b', 'fastsam_s')")
    if any(int(n) < 1 for n in points_n) or any(int(g) < 1 for g in grids):
        raise ValueError(f"point counts and grid sizes must be >= 1, got points={points_n} grids={grids}")
    if image is None:
        image = _bench_scene(image_size or (256 if quick else 1024))
    dev = pick_device(device, verbose=verbose)
    hardware = hardware_summary()
    rows: list[dict] = []
    for name in models:
        model, weights = _load_for_bench(name, smoke, dev)
        if quick and name.startswith("fastsam"):
            model.defaults.update(imgsz=256)
        if verbose:
            print(f"bench: {name} ({weights} weights) on {dev} ...", flush=True)
        with track_peak_memory() as peak:
            model_rows = _bench_one_model(model, image, points_n, grids, repeats, warmup, budget_s)
        common = {
            "model": name, "weights": weights, "device": str(dev), "params_m": _param_count_m(model),
            "peak_gpu_mb": peak.gpu_mb, "peak_rss_mb": peak.rss_mb,
        }  # fmt: skip
        rows += [{**common, **r} for r in model_rows]
        del model
    summary, columns = _summary_rows(rows, points_n, grids)
    lines = [
        "Latency per image (ms; prompt columns include the encoder, as in FastSAM's Table 1)",
        f"Hardware: {hardware_line(hardware)}; image {image.shape[1]}x{image.shape[0]}, "
        f"median of {repeats} after {warmup} warm-up",
    ]
    if any(r["weights"] == "smoke" for r in rows):
        lines.append(SMOKE_NOTE)
    table = "\n".join(lines) + "\n" + format_table(summary, columns)
    if verbose:
        print(table)
    out = {"rows": rows, "summary": summary, "table": table, "hardware": hardware}
    if out_dir is not None:
        out_dir = Path(out_dir)
        out["csv"] = write_csv(rows, out_dir / "latency.csv", CSV_COLUMNS)
        out["png"] = _plot(rows, points_n, grids, out_dir / "latency.png", lines[1])
        (out_dir / "latency.txt").write_text(table + "\n")
        if verbose:
            print(f"bench: wrote {out['csv']} and {out['png']}")
    return out


# ---- command line ---------------------------------------------------------------------------------
def _split_models(values: Sequence[str] | None) -> list[str]:
    names = [n.strip() for v in (values or []) for n in v.split(",") if n.strip()]
    return names or list(DEFAULT_MODELS)


def _cmd_bench(args) -> int:
    from .weights import get_spec

    models = _split_models(args.models)
    for name in models:
        get_spec(name)  # unknown names -> ValueError, one line
    if args.repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {args.repeats}")
    run_latency_benchmark(
        models=models,
        repeats=args.repeats,
        warmup=args.warmup,
        out_dir=args.out,
        smoke=True if args.smoke else None,
        device=args.device,
        quick=args.quick,
        budget_s=args.budget,
    )
    return 0


def register_cli(subparsers) -> None:
    """Add ``python -m helpers bench``."""
    parser = subparsers.add_parser(
        "bench",
        help="latency of SAM vs FastSAM (1/10/100 points, everything 16/32/64 grids), as in FastSAM's table",
        description=run_latency_benchmark.__doc__.split("\n\n")[0],
    )
    parser.add_argument("--models", nargs="+", help=f"registry names (default: {' '.join(DEFAULT_MODELS)})")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per cell; the median is reported")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up runs per cell")
    parser.add_argument("--out", default="out/bench", help="folder for latency.csv / latency.png (default out/bench)")
    parser.add_argument("--smoke", action="store_true", help="untrained weights of the real architectures")
    parser.add_argument("--quick", action="store_true", help="CI-size run: small image, few points, tiny grids")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of repeats per cell at most")
    parser.set_defaults(func=_cmd_bench)
