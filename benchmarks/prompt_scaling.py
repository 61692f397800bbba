"""Time and peak memory of prompted tiled inference against the number of prompts: both must grow linearly.

Random foreground points on a synthetic scene, one tile, ``--model conventional`` (no weights; its
prediction per point is cheap, so the tiling/merging/vectorising cost per prompt is what is measured).
Each count runs in a fresh subprocess (its own peak RSS). Printed: prompts, seconds, seconds per
prompt, the per-prompt time relative to the smallest count (1.0 = linear), and peak RSS.

    .venv/bin/python benchmarks/prompt_scaling.py [--counts 250 1000 4000] [--size 512]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from helpers.bench import print_table

CHILD = """
import json, sys, time
from pathlib import Path
import numpy as np
from helpers.data import make_synthetic_scene
from helpers.models import load_model
from helpers.tiling import segment_tiled

count, size = int(sys.argv[1]), int(sys.argv[2])
scene = make_synthetic_scene(kind="buildings", size=(size, size), seed=0)
scene = scene[0] if isinstance(scene, tuple) else scene
model = load_model("conventional")
points = np.random.default_rng(0).uniform(0, size - 1, size=(count, 2))
start = time.perf_counter()
result = segment_tiled(model, scene, mode="points", prompts={"points": points}, tile_size=size, overlap=0,
                       progress=False)
seconds = time.perf_counter() - start
peak = next(int(line.split()[1]) / 1024 for line in Path("/proc/self/status").read_text().splitlines()
            if line.startswith("VmHWM:"))
print(json.dumps({"prompts": count, "objects": len(result), "seconds": seconds, "peak_mb": peak}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[250, 1000, 4000])
    parser.add_argument("--size", type=int, default=512, help="scene side in pixels (one tile)")
    args = parser.parse_args()
    rows = []
    for count in args.counts:
        out = subprocess.run([sys.executable, "-c", CHILD, str(count), str(args.size)], capture_output=True,
                             text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    base = rows[0]["seconds"] / rows[0]["prompts"]
    table = [{**r, "ms_per_prompt": 1000 * r["seconds"] / r["prompts"],
              "ratio": r["seconds"] / r["prompts"] / base} for r in rows]
    print_table(table, [("prompts", "prompts"), ("objects", "objects"), ("seconds", "seconds"),
                        ("ms_per_prompt", "ms/prompt"), ("ratio", "per-prompt vs first (1 = linear)"),
                        ("peak_mb", "peak RSS MB")],
                title=f"prompted segment_tiled, conventional, one {args.size}x{args.size} tile")

if __name__ == "__main__":
    main()
