"""Tracking a time series with SAM 2 vs predicting each date on its own; tracker memory for 10 and 40 dates.

For one synthetic stack (ponds on fields, one GeoTIFF per date) and the same prompts:

1. **Time** (the first ``--dates`` value): the tracker (``helpers.load_tracker``: SAM 2's video predictor,
   frames from memory, forward from the first date) against independent per-date prediction
   (``helpers.predict_each_date`` with the image model, embedding cache off: encode + predict every date),
   per date, side by side in one run.
2. **Memory**: for each ``--dates`` value a fresh subprocess loads the tracker, resets its peak RSS
   (``/proc/self/clear_refs``), tracks, and reports the peak growth, with ``bounded_memory`` on (the
   default: SAM 2's per-date outputs dropped once out of its reach) and off (sam2's behaviour: all kept).
   Beside them: the result's masks (what must grow) and the frames sam2's own JPEG-folder loader would
   hold (``N x 3 x S x S`` float32, computed from its code; ours reads one date at a time).

    .venv/bin/python benchmarks/timeseries.py                       # 10 and 40 dates, SAM 2 at 1024
    .venv/bin/python benchmarks/timeseries.py --image-size 256      # quicker on a CPU (coarser)

Smoke weights (SAMRS_SMOKE=1) give the real architectures' timings and memory; their masks are meaningless.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

PONDS = [(40, 40, 90, 84), (150, 120, 210, 170), (60, 170, 110, 220)]


def rss_mb(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` (peak) of this process in MiB, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> bool:
    """Start the peak RSS afresh (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def write_stack(folder: Path, dates: int, size: int) -> Path:
    """``dates`` synthetic water scenes of ``size`` px, one a year, the ponds a little different each date."""
    from helpers.data import write_synthetic_geotiff

    folder.mkdir(parents=True, exist_ok=True)
    scale = size / 256
    for t in range(dates):
        grow = 3 * np.sin(t / 2)
        ponds = [tuple(np.array([x0 - grow, y0 - grow, x1 + grow, y1 + grow]) * scale) for x0, y0, x1, y1 in PONDS]
        write_synthetic_geotiff(folder / f"scene_{1980 + t}.tif", kind="water", size=(size, size), seed=t,
                                objects=[{"polygon": [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]} for x0, y0, x1, y1 in ponds])
    return folder


def prompts(objects: int, size: int):
    from helpers.timeseries import ObjectPrompt

    scale = size / 256
    return [ObjectPrompt(k + 1, points=[((x0 + x1) / 2 * scale, (y0 + y1) / 2 * scale)])
            for k, (x0, y0, x1, y1) in enumerate(PONDS[:objects])]


def child(folder: str, model: str, image_size: int | None, objects: int, size: int, bounded: bool) -> dict:
    """Subprocess: load the tracker, reset the peak, track every date, report memory and time."""
    from helpers.timeseries import load_tracker, open_stack

    options = {"image_size": image_size} if image_size else {}
    tracker = load_tracker(model, device="cpu", bounded_memory=bounded, **options)
    stack = open_stack(folder, quiet=True)
    state_prompts = prompts(objects, size)
    before = rss_mb("VmRSS")
    reset = reset_peak_rss()
    result = tracker.track(stack, state_prompts, progress=False)
    peak = rss_mb("VmHWM")
    return {"dates": len(stack), "peak_growth_mb": peak - before if reset else float("nan"),
            "masks_mb": result.masks.nbytes / 2**20, "seconds": result.timings["seconds"],
            "per_frame_s": result.timings["per_frame_s"], "forgotten": result.extra["outputs_forgotten"],
            "sam2_state_mb": result.extra["peak_state_mb"],
            "image_size": result.extra["image_size"], "frames_read": result.extra["frames_read"]}


def time_comparison(folder: Path, model: str, baseline_model: str, image_size, objects: int, size: int):
    from helpers.backends import backend_for
    from helpers.models import load_model
    from helpers.timeseries import load_tracker, open_stack, predict_each_date

    stack = open_stack(folder, quiet=True)
    options = {"image_size": image_size} if image_size else {}
    tracker = load_tracker(model, device="cpu", **options)
    tracked = tracker.track(stack, prompts(objects, size), progress=False)
    # every date encoded for real: no embedding cache (a second run would read the first's embeddings)
    no_cache = {"embedding_cache": False} if "embedding_cache" in backend_for(baseline_model).options else {}
    image_model = load_model(baseline_model, device="cpu", **no_cache)
    each = predict_each_date(stack, image_model, prompts(objects, size), progress=False)
    n = len(stack)
    per_date_s = each.timings["seconds"] / n
    return [
        {"method": f"tracker ({model}, image size {tracked.extra['image_size']})", "dates": n,
         "total_s": tracked.timings["seconds"], "per_date_s": tracked.timings["seconds"] / n,
         "encode_per_date_s": float("nan"), "vs_tracker": 1.0},
        {"method": f"each date alone ({baseline_model})", "dates": n, "total_s": each.timings["seconds"],
         "per_date_s": per_date_s, "encode_per_date_s": float(np.mean(each.timings["encode_s"])),
         "vs_tracker": per_date_s / (tracked.timings["seconds"] / n)},
    ], tracked.smoke or each.smoke


def main(argv=None) -> int:
    from helpers.bench import hardware_line, print_table
    from helpers.smoke import SMOKE_BANNER

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dates", type=int, nargs="+", default=[10, 40], help="stack lengths (default 10 40)")
    parser.add_argument("--size", type=int, default=256, help="frame side in pixels (default %(default)s)")
    parser.add_argument("--objects", type=int, default=2, choices=(1, 2, 3))
    parser.add_argument("--model", default="sam2.1_hiera_t", help="a registry model that can track")
    parser.add_argument("--baseline-model", default="sam2.1_hiera_t", help="the image model of the per-date baseline")
    parser.add_argument("--image-size", type=int, help="SAM 2 input side of the tracker (default: the model's 1024)")
    parser.add_argument("--skip-time", action="store_true", help="only the memory part")
    parser.add_argument("--memory", choices=("both", "bounded"), default="both",
                        help="memory rows: bounded and all-kept (default), or bounded only")
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "BOUNDED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        stats = child(args.child[0], args.model, args.image_size, args.objects, args.size, args.child[1] == "1")
        print(json.dumps(stats))
        return 0

    print(hardware_line())
    smoke = False
    with tempfile.TemporaryDirectory(prefix="samrs-timeseries-bench-") as tmp:
        folders = {n: write_stack(Path(tmp) / f"stack_{n}", n, args.size) for n in args.dates}
        if not args.skip_time:
            rows, smoke = time_comparison(folders[args.dates[0]], args.model, args.baseline_model, args.image_size,
                                          args.objects, args.size)
            print_table(rows, ["method", "dates", "total_s", "per_date_s", "encode_per_date_s", "vs_tracker"],
                        title=f"time: {args.objects} object(s), {args.size}x{args.size} px frames, same stack and prompts")
        rows = []
        for n in args.dates:
            for bounded in (True, False) if args.memory == "both" else (True,):
                cmd = [sys.executable, __file__, "--model", args.model, "--objects", str(args.objects),
                       "--size", str(args.size), "--child", str(folders[n]), "1" if bounded else "0"]
                if args.image_size:
                    cmd += ["--image-size", str(args.image_size)]
                env = dict(os.environ, PYTHONWARNINGS="ignore")
                done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
                stats = json.loads(done.stdout.strip().splitlines()[-1])
                side = stats["image_size"]
                stats["official_frames_mb"] = n * 3 * side * side * 4 / 2**20
                stats["memory"] = "bounded" if bounded else "all kept (sam2)"
                rows.append(stats)
    print_table(rows, ["dates", "memory", "peak_growth_mb", "sam2_state_mb", "masks_mb", "official_frames_mb",
                       "forgotten", "per_frame_s"],
                title="memory: peak RSS growth while tracking (fresh process per row); sam2_state_mb = the most "
                      "SAM 2's per-date outputs held at once; official_frames_mb = what sam2's JPEG-folder loader "
                      "would hold")
    small = {r["memory"]: r for r in rows if r["dates"] == args.dates[0]}
    large = {r["memory"]: r for r in rows if r["dates"] == args.dates[-1]}
    if len(args.dates) > 1:
        extra = args.dates[-1] - args.dates[0]
        for key in small:
            growth = (large[key]["peak_growth_mb"] - small[key]["peak_growth_mb"]) / extra
            state = (large[key]["sam2_state_mb"] - small[key]["sam2_state_mb"]) / extra
            masks = (large[key]["masks_mb"] - small[key]["masks_mb"]) / extra
            print(f"{key}: per extra date +{growth:.2f} MiB peak RSS, +{state:.3f} MiB SAM 2 state, "
                  f"+{masks:.2f} MiB result masks")
    if smoke:
        print(f"(smoke weights: {SMOKE_BANNER}; timings and memory are the real architectures')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
