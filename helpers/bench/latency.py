"""The SAM vs FastSAM latency benchmark (``python -m helpers bench``), in FastSAM's published table layout.

:func:`run_latency_benchmark` reproduces the layout of FastSAM's published latency table (Zhao et al.
2023, Table 1, one RTX 3090) on the user's own hardware: latency for 1, 10 and 100 point prompts and for
"everything" mode at 16x16, 32x32 and 64x64 point grids, for each model.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..atomic import atomic_output
from ..errors import one_line
from ..tables import format_table, write_csv
from .timing import hardware_line, hardware_summary, measure, track_peak_memory

__all__ = ["PUBLISHED_RTX3090_MS", "run_latency_benchmark", "DEFAULT_MODELS"]


# ---- the SAM vs FastSAM latency benchmark ----------------------------------------------------------
#: FastSAM paper (Zhao et al. 2023, arXiv:2306.12156) Table 1: ms on one NVIDIA RTX 3090.
#: Columns: 1, 10, 100 point prompts; everything mode with 16x16, 32x32, 64x64 point grids.
PUBLISHED_RTX3090_MS = {
    "SAM-H (ViT-H, 0.6G params)": {"for": ("sam_vit_h",), "ms": (446, 464, 627, 852, 2099, 6972)},
    "SAM-B (ViT-B, 136M params)": {"for": ("sam_vit_b",), "ms": (110, 125, 230, 432, 1383, 5417)},
    "FastSAM (68M params)": {"for": ("fastsam_s", "fastsam_x"), "ms": (40, 40, 40, 40, 40, 40)},
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

    from ..backends import backend_for
    from ..errors import WeightsUnavailableError
    from ..models import ensure_smoke_weights, load_model

    # a cached embedding would make the timed set_image a cache hit (and write to the user's disk cache)
    options = {"embedding_cache": False} if "embedding_cache" in backend_for(name).options else {}
    if not smoke:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return load_model(name, device=device, **options), "real"
        except (WeightsUnavailableError, NotImplementedError) as error:
            print(f"bench: {name}: real weights unavailable ({one_line(error)}); using smoke weights")
    path = ensure_smoke_weights(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_model(name, weights=path, device=device, **options), "smoke"


def _bench_scene(size: int, seed: int = 0):
    """A size x size RGB scene (HxWx3 uint8): the synthetic buildings scene of :mod:`helpers.data`."""
    from ..data import make_synthetic_scene

    scene, _ = make_synthetic_scene("buildings", size=(size, size), seed=seed)
    return scene.image


def _grid_points(n: int, height: int, width: int):
    """``n`` pixel points spread over the image (a jittered grid, deterministic)."""
    import numpy as np

    rng = np.random.default_rng(n)
    return np.column_stack([rng.uniform(0, width - 1, n), rng.uniform(0, height - 1, n)])


def _param_count_m(model) -> float | None:
    count = model.num_parameters()
    return None if count is None else count / 1e6


def _bench_one_model(model, image, points_n, grids, repeats, warmup, budget_s) -> list[dict]:
    """Rows for one model: encode, N point prompts (one mask each) and everything at each grid."""
    grid_parameter = "points_per_side" if "points_per_side" in model.backend.generate_defaults() else None
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
        # n independent clicks, one mask each, on the cached encoding (FastSAM: a selection among its masks)
        fn = lambda pts=pts: [model.predict(points=[p], labels=[1], multimask=False) for p in pts]  # noqa: E731
        stats = measure(fn, repeats=repeats, warmup=warmup, budget_s=budget_s)
        result = stats["result"]
        n_masks = sum(len(m) for m in result) if isinstance(result, list) else len(result)
        row(f"{n} pt", "points", n, stats, encode_ms, n_masks)
    if grid_parameter is None:
        # No point grid (FastSAM): everything mode is one pass, the same for every grid column.
        stats = measure(lambda: model.set_image(image).generate(), repeats=repeats, warmup=warmup, budget_s=budget_s)
        for g in grids:
            row(f"E({g}x{g})", "everything", g * g, stats, 0.0, len(stats["result"]), "one pass, no grid")
        return rows
    for g in grids:
        try:
            # SAM built without an embedding cache re-encodes inside generate: the encoder is included,
            # as in the published table; prompt_ms is the whole call, encode_ms is reported separately.
            stats = measure(
                lambda g=g: model.generate(**{grid_parameter: g}, progress=False), repeats=repeats, warmup=warmup,
                budget_s=budget_s,
            )
        except Exception as error:  # noqa: BLE001 - generate missing or failing: show n/a, keep the table
            reason = one_line(error)
            print(f"bench: {model.name} generate(points_per_side={g}) unavailable: {reason}", file=sys.stderr)
            row(f"E({g}x{g})", "everything", g * g, None, encode_ms, note=f"n/a: {reason}")
            continue
        row(f"E({g}x{g})", "everything", g * g, stats, 0.0, len(stats["result"]), "includes encoder")
    return rows


def _published_key(model_name: str) -> str | None:
    for key, entry in PUBLISHED_RTX3090_MS.items():
        if model_name in entry["for"]:
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
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=110)
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
    from ..config import smoke_mode
    from ..device import pick_device

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
        if quick and "imgsz" in model.backend.generate_defaults():
            model.defaults.update(imgsz=256)  # a network input size: CI-size runs use a small one
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
        with atomic_output(out_dir / "latency.txt") as tmp:
            tmp.write_text(table + "\n")
        if verbose:
            print(f"bench: wrote {out['csv']} and {out['png']}")
    return out
