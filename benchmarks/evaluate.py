"""Evaluation speed: ``helpers.evaluate`` on 10,000 predicted objects against 10,000 reference objects.

The references are irregular blobs on a grid (one per cell, some touching); the predictions copy them
with realistic errors: shifted by a pixel or two, eroded or dilated, some split in two, some pairs
merged, some missed, plus false positives. Every stage is timed separately (median of repeats), and the
goal is the whole evaluation (object matching, pixel scores, boundary F at 2 px) under 2 s.

    .venv/bin/python benchmarks/evaluate.py [--objects 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy import ndimage

from helpers.bench import measure, print_table
from helpers.metrics import boundary_f, evaluate, match_objects, pixel_scores

CELL = 20  # pixels per grid cell: a 10,000-object scene is 2000 x 2000


def make_objects(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, reference) uint32 label rasters with ``n`` reference objects and ~``n`` predictions."""
    rng = np.random.default_rng(seed)
    side = math.ceil(math.sqrt(n))
    size = side * CELL
    ref = np.zeros((size, size), np.uint32)
    pred = np.zeros((size, size), np.uint32)
    yy, xx = np.mgrid[:CELL, :CELL]
    next_pred = 1
    for i in range(n):
        r0, c0 = (i // side) * CELL, (i % side) * CELL
        ry, rx = rng.uniform(4, 9.5, 2)
        blob = ((yy - CELL / 2) / ry) ** 2 + ((xx - CELL / 2) / rx) ** 2 <= 1
        ref[r0 : r0 + CELL, c0 : c0 + CELL][blob] = i + 1
        kind = rng.choice(["good", "good", "good", "shifted", "eroded", "dilated", "split", "missed"])
        if kind == "missed":
            continue
        shape = np.roll(blob, tuple(rng.integers(-2, 3, 2)), axis=(0, 1)) if kind == "shifted" else blob
        shape = ndimage.binary_erosion(shape) if kind == "eroded" else shape
        shape = ndimage.binary_dilation(shape) if kind == "dilated" else shape
        window = pred[r0 : r0 + CELL, c0 : c0 + CELL]
        if kind == "split":
            window[shape & (xx < CELL // 2)] = next_pred
            window[shape & (xx >= CELL // 2)] = next_pred + 1
            next_pred += 2
        else:
            window[shape] = next_pred
            next_pred += 1
    return pred, ref


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000, help="reference objects (default 10000)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    pred, ref = make_objects(args.objects)
    stages = {
        "match_objects (IoU >= 0.5)": lambda: match_objects(pred, ref),
        "pixel_scores": lambda: pixel_scores(pred, ref),
        "boundary_f (2 px)": lambda: boundary_f(pred, ref, tolerance_px=2),
        "evaluate (all of the above)": lambda: evaluate(pred, ref, tolerance_px=2),
    }
    rows = []
    for name, fn in stages.items():
        timing = measure(fn, repeats=args.repeats, warmup=1)
        rows.append({"stage": name, "median_s": timing["median_s"], "min_s": timing["min_s"]})
    ev = timing["result"]
    print_table(rows, ["stage", "median_s", "min_s"],
                title=f"evaluation of {ev.summary['n_pred']} predicted vs {ev.summary['n_ref']} reference objects "
                      f"on a {ref.shape[1]}x{ref.shape[0]} grid (goal: evaluate < 2 s)")
    print(f"object F1 {ev.summary['object_f1']:.3f}, mean IoU {ev.summary['mean_iou']:.3f}, "
          f"pixel IoU {ev.summary['pixel_iou']:.3f}, boundary F {ev.summary['boundary_f']:.3f}")
    return 0


if __name__ == "__main__":
    main()
