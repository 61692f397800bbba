"""The CPU numbers quoted in the lessons' "Hardware" notes, measured on this machine.

    .venv/bin/python benchmarks/lesson_hardware.py [--size 1024] [--repeats 3] [--threads N]

Measured side by side in one process, with smoke (untrained) weights of the real architectures (the
work, hence the time and memory, is the same as with the official weights; the masks are meaningless):

* per model (default SAM ViT-B, MobileSAM, FastSAM-s): loading; ``set_image`` of a size x size scene
  (SAM: one encode, embedding cache off; FastSAM: its everything pass at ``imgsz=size``); one click
  (SAM: prompt encoder + mask decoder + upscaling the three candidate masks to the full scene; FastSAM:
  a selection among its masks); the peak resident memory of the process while doing so;
* for the first model: everything mode per grid point, every candidate kept (``pred_iou_thresh=0``,
  ``stability_score_thresh=0``: the upper bound, what a 32x32 grid costs when many masks survive).

Each timing is the median wall-clock time of ``--repeats`` runs (clicks: three times as many) after ``--warmup`` untimed runs, beside the CPU time
per run (all threads). The load average is printed with the table: on a machine shared with other
work, the wall clock includes waiting for a core; the CPU time does not.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.backends import backend_for  # noqa: E402
from helpers.bench import hardware_line, measure, print_table, track_peak_memory  # noqa: E402
from helpers.data import make_synthetic_scene  # noqa: E402
from helpers.models import ensure_smoke_weights, load_model  # noqa: E402


def load(name: str, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # smoke weights: the point of this script is time and memory
        return load_model(name, weights=ensure_smoke_weights(name), device="cpu", **options)


def timed(fn, repeats: int, warmup: int = 1) -> tuple[dict, float]:
    """:func:`measure` of ``fn``, plus the CPU seconds (all threads) per timed call: on a shared machine the
    wall clock includes waiting for a core, the CPU time does not."""
    for _ in range(warmup):
        fn()
    start = time.process_time()
    stats = measure(fn, repeats=repeats, warmup=0)
    return stats, (time.process_time() - start) / stats["repeats"]


def model_rows(name: str, scene, repeats: int, amg_side: int, warmup: int = 1) -> list[dict]:
    """Load, ``set_image`` (SAM: the encoder; FastSAM: its everything pass), one click, peak memory, and for
    models with a point grid (the backend contract says which) everything mode per grid point."""
    backend = backend_for(name)
    options = {"embedding_cache": False} if "embedding_cache" in backend.options else {}
    if "imgsz" in backend.options:
        options["imgsz"] = scene.width  # the network sees the scene at full size, as SAM's encoder does
    with track_peak_memory() as peak:
        loading, loading_cpu = timed(lambda: load(name, **options), repeats=1, warmup=0)
        model = loading["result"]
        encode, encode_cpu = timed(lambda: model.set_image(scene), repeats=repeats, warmup=warmup)
        centre = (scene.width // 2, scene.height // 2)
        click, click_cpu = timed(lambda: model.predict(points=[centre], labels=[1]), repeats=3 * repeats, warmup=warmup)
    size = f"{scene.width}x{scene.height}"
    rows = [
        {"what": f"{name}: load", "wall": loading["median_s"], "cpu": loading_cpu, "unit": "s"},
        {"what": f"{name}: set_image {size} (SAM: encoder; FastSAM: everything pass)", "wall": encode["median_s"],
         "cpu": encode_cpu, "unit": "s"},
        {"what": f"{name}: one click, masks at {size}", "wall": click["median_s"] * 1e3, "cpu": click_cpu * 1e3,
         "unit": "ms"},
        {"what": f"{name}: peak memory (process RSS)", "wall": peak.rss_mb / 1024, "unit": "GB"},
    ]
    if amg_side and "points_per_side" in backend.generate_defaults():
        params = {"points_per_side": amg_side, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0,
                  "progress": False}
        amg, amg_cpu = timed(lambda: model.generate(**params), repeats=1, warmup=0)
        points = amg_side**2
        rows += [
            {"what": f"{name}: everything mode per grid point (all kept, {amg_side}x{amg_side})",
             "wall": amg["median_s"] / points * 1e3, "cpu": amg_cpu / points * 1e3, "unit": "ms"},
            {"what": f"{name}: everything mode 32x32, estimated", "wall": amg["median_s"] / points * 1024,
             "cpu": amg_cpu / points * 1024, "unit": "s"},
        ]
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="scene side in pixels (default 1024)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per number (median; default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before each number (default 1)")
    parser.add_argument("--amg-side", type=int, default=8, help="grid side for the everything-mode row (0: skip)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--models", nargs="+", default=["sam_vit_b", "mobile_sam", "fastsam_s"])
    args = parser.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    scene, _ = make_synthetic_scene("buildings", size=(args.size, args.size), seed=0)
    rows = []
    for name in args.models:
        rows += model_rows(name, scene, args.repeats, args.amg_side if name == args.models[0] else 0, args.warmup)
    load_1, load_5, _ = os.getloadavg()
    print_table(rows, ["what", ("wall", "wall (median)"), ("cpu", "CPU time, all threads"), "unit"],
                title=f"{hardware_line()}; torch threads {torch.get_num_threads()}; "
                      f"load average {load_1:.1f} (1 min) / {load_5:.1f} (5 min); median of {args.repeats} (clicks {3 * args.repeats}) after {args.warmup} warm-up; "
                      "smoke weights (time and memory as with the official weights, masks meaningless)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
