"""Scenes per minute on Dask distributed: one vs two local worker processes, conventional and FastSAM.

For each backend the same folder of synthetic GeoTIFFs (helpers.data.write_synthetic_geotiff) is
segmented by ``segment_batch`` in this process (reference) and on a ``LocalCluster`` of 1 and of 2
single-threaded worker processes (``helpers.distributed.dask_client``). Before each timed cluster run
a warm-up batch on other scenes of the same size lets every worker import its libraries and load the
model, so the rate is the steady state of a long archive; the start-up (cluster + warm-up) is printed
apart. FastSAM uses smoke (untrained) weights: its masks are meaningless, its cost per scene is real.

Printed per backend and run: scenes per minute, speed-up over 1 worker (goal >= 1.7x with 2 workers on
2 cores), model loads per worker (each worker must load once: the load count equals the worker count),
the 1-minute load average before and after, and the cores free for this run, measured just before it
(N busy processes at once vs one alone: N on an idle machine). Other processes on a shared machine take
cores away, and the speed-up cannot exceed the free cores: compare the two columns.

    .venv/bin/python benchmarks/dask_scaling.py [--scenes 8] [--size 512] [--backends conventional fastsam_s]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

# FastSAM at a reduced network size: the full 1024 px pass would take minutes per run on 2 cores.
FASTSAM_OPTIONS = {"imgsz": 512}


def write_scenes(folder: Path, count: int, size: int, seed: int) -> list[Path]:
    from helpers.data import write_synthetic_geotiff

    kinds = ("buildings", "fields", "water")
    return [write_synthetic_geotiff(folder / f"scene_{i:03d}.tif", kind=kinds[i % len(kinds)], size=(size, size),
                                    seed=seed + i) for i in range(count)]


def lazy_model(name: str):
    """The model as workers get it: a recipe (smoke weights for models that have weights)."""
    from helpers.backends import backend_for
    from helpers.batch import LazyModel
    from helpers.models import ensure_smoke_weights
    from helpers.registry import get_spec

    if not get_spec(name).has_weights:
        return LazyModel(name)
    options = {k: v for k, v in FASTSAM_OPTIONS.items() if k in backend_for(name).options}
    return LazyModel(name, weights=ensure_smoke_weights(name), **options)


def load_average() -> float:
    return os.getloadavg()[0]


def _spin(iterations: int) -> float:
    start = time.perf_counter()
    total = 0
    for i in range(iterations):
        total += i * i
    return time.perf_counter() - start


def free_cores(processes: int, iterations: int = 2_000_000) -> float:
    """How many cores ``processes`` busy processes get now: ``processes * t(one alone) / t(all at once)``."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(_spin, [1000] * processes))  # start the processes first
        alone = min(pool.submit(_spin, iterations).result() for _ in range(2))
        together = max(pool.map(_spin, [iterations] * processes))
    return min(float(processes), processes * alone / together)


def timed_batch(scenes, out: Path, model, tile: int, client=None) -> dict:
    from helpers.batch import segment_batch

    shutil.rmtree(out, ignore_errors=True)
    before = load_average()
    start = time.perf_counter()
    summary = segment_batch(scenes, out, model, tile_size=tile, overlap=tile // 8, formats=["gpkg", "tif"],
                            progress=False, client=client, log=print)
    seconds = time.perf_counter() - start
    if summary.failed:
        raise RuntimeError(f"benchmark inputs failed: {summary.failed}")
    return {"scenes": len(summary.done), "seconds": seconds, "per_minute": 60 * len(summary.done) / seconds,
            "masks": summary.masks, "load_before": before, "load_after": load_average()}


def cluster_run(workers: int, scenes: list[Path], warmup: list[Path], out: Path, model, tile: int) -> dict:
    from helpers.distributed import dask_client, model_loads, plugin_name

    cores = free_cores(workers)
    start = time.perf_counter()
    with dask_client(workers=workers, dashboard=None, log=lambda line: None) as client:
        timed_batch(warmup[: 2 * workers], out / "warmup", model, tile, client)  # every worker loads the model
        startup = time.perf_counter() - start
        row = timed_batch(scenes, out / "timed", model, tile, client)
        loads = model_loads(client, plugin_name(model))
    return {**row, "run": f"{workers} worker{'s' if workers > 1 else ''}", "startup_s": startup, "free_cores": cores,
            "loads": "+".join(str(n) for n in loads.values()), "loads_ok": sorted(loads.values()) == [1] * workers}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=8, help="timed scenes per run (default %(default)s)")
    parser.add_argument("--size", type=int, default=512, help="scene side in pixels (default %(default)s)")
    parser.add_argument("--tile", type=int, default=256, help="tile size in pixels (default %(default)s)")
    parser.add_argument("--backends", nargs="+", default=["conventional", "fastsam_s"])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="cluster sizes (default 1 2)")
    parser.add_argument("--no-local", action="store_true", help="skip the in-process reference run")
    args = parser.parse_args(argv)

    from helpers.bench import hardware_summary, print_table

    warnings.simplefilter("ignore")  # smoke-weights warnings: the table says SMOKE once
    hardware = hardware_summary()
    print(f"machine: {hardware.get('cpu')}, {os.cpu_count()} logical cores; load average now "
          f"{load_average():.1f} (1 min) -- other processes on the machine lower every rate")
    rows = []
    with tempfile.TemporaryDirectory(prefix="samrs-dask-bench-") as tmp:
        root = Path(tmp)
        scenes = write_scenes(root / "scenes", args.scenes, args.size, seed=0)
        warmup = write_scenes(root / "warmup", max(args.workers) * 2, args.size, seed=1000)
        for name in args.backends:
            model = lazy_model(name)
            label = f"{name}{' (SMOKE)' if model.smoke else ''}"
            if not args.no_local:
                timed_batch(warmup[:2], root / "out" / name / "warmup", model, args.tile)  # load + imports, as workers
                rows.append({"backend": label, "run": "this process", "loads": "1", "loads_ok": True,
                             "startup_s": None, **timed_batch(scenes, root / "out" / name / "local", model,
                                                              args.tile)})
            base = None
            for workers in args.workers:
                row = cluster_run(workers, scenes, warmup, root / "out" / name / str(workers), lazy_model(name),
                                  args.tile)
                base = row["per_minute"] if workers == 1 else base
                row.update(backend=label, speedup=row["per_minute"] / base if base else None)
                rows.append(row)
    columns = [("backend", "backend"), ("run", "run"), ("scenes", "scenes"), ("seconds", "seconds"),
               ("per_minute", "scenes/min"), ("speedup", "vs 1 worker"), ("loads", "model loads/worker"),
               ("loads_ok", "one load each"), ("startup_s", "start-up s"), ("free_cores", "free cores"),
               ("load_before", "load avg before"),
               ("load_after", "load avg after")]
    print_table(rows, columns, title=f"{args.scenes} scenes of {args.size} x {args.size} px, tiles of {args.tile} px "
                f"(FastSAM imgsz {FASTSAM_OPTIONS['imgsz']}, smoke weights: masks meaningless, timings real)")
    return 0 if all(row["loads_ok"] for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
