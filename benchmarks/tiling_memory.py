"""Peak memory of tiled inference for two scene sizes: it must not grow with the scene.

For each size a synthetic GeoTIFF is written strip by strip (helpers.data.write_synthetic_geotiff), then
``segment_tiled`` runs in a fresh subprocess (so the peak RSS belongs to that size alone) with a cheap,
deterministic backend (threshold + connected components: the model's own memory is not what is being
measured) or ``--model conventional``. Printed: scene size, tiles, objects, seconds, peak RSS and the
ratio of peak RSS between sizes next to the ratio of pixels.

    .venv/bin/python benchmarks/tiling_memory.py [--sizes 4096 16384] [--tile 1024] [--vectors]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from helpers.bench import peak_rss_mb, print_table


def process_peak_mb() -> float:
    """Peak RSS of this process (MiB).

    Linux: ``VmHWM`` from /proc, which starts afresh at ``exec``; ``ru_maxrss`` would inherit the
    parent's peak (the parent that wrote a 16k scene), hiding the child's own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()

MAX_MASKS_PER_TILE = 150


def cheap_model():
    """A backend whose per-tile cost is small and constant: bright connected components."""
    from scipy import ndimage

    from helpers.backends.base import SegmentationModel

    class ThresholdComponents(SegmentationModel):
        def _set_scene(self, scene):
            grey = scene.image.mean(axis=2)
            labels, n = ndimage.label(grey > grey.mean() + grey.std())
            sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
            self._keep = [i + 1 for i in np.argsort(-sizes)[:MAX_MASKS_PER_TILE] if sizes[i] >= 32]
            self._labels = labels

        def generate(self, **params):
            masks = np.stack([self._labels == i for i in self._keep]) if self._keep else np.zeros(
                (0, *self._labels.shape), bool)
            return self._result(masks, np.ones(len(masks)), prompt_type="everything")

    return ThresholdComponents("threshold_components")


def run_one(scene: str, tile: int, overlap: int, model_name: str, vectors: bool, out: str) -> dict:
    """Child process: tile the scene, report peak RSS."""
    from helpers.tiling import segment_tiled

    if model_name == "cheap":
        model = cheap_model()
    else:
        from helpers.models import load_model

        model = load_model(model_name)
    base = process_peak_mb()
    start = time.perf_counter()
    result = segment_tiled(model, scene, tile_size=tile, overlap=overlap, out_path=out, vectors=vectors,
                           progress=False)
    return {"seconds": time.perf_counter() - start, "peak_rss_mb": process_peak_mb(), "baseline_rss_mb": base,
            "tiles": len(result.tiles), "objects": result.counts["objects"]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=(4096, 16384))
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--overlap", type=int, default=128)
    parser.add_argument("--model", default="cheap", help="'cheap' (threshold components) or a registry name")
    parser.add_argument("--vectors", action="store_true", help="also build the merged polygons in memory")
    parser.add_argument("--child", nargs=2, metavar=("SCENE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child[0], args.tile, args.overlap, args.model, args.vectors, args.child[1])))
        return

    from helpers.data import write_synthetic_geotiff

    rows = []
    with tempfile.TemporaryDirectory(prefix="samrs-tiling-bench-") as tmp:
        for size in args.sizes:
            scene = Path(tmp) / f"scene_{size}.tif"
            start = time.perf_counter()
            write_synthetic_geotiff(scene, kind="buildings", size=(size, size), seed=0)
            written = time.perf_counter() - start
            cmd = [sys.executable, __file__, "--tile", str(args.tile), "--overlap", str(args.overlap),
                   "--model", args.model, "--child", str(scene), str(Path(tmp) / f"labels_{size}.tif")]
            if args.vectors:
                cmd.append("--vectors")
            child = subprocess.run(cmd, check=True, capture_output=True, text=True)
            stats = json.loads(child.stdout.strip().splitlines()[-1])
            rows.append({"scene": f"{size}x{size}", "megapixels": size * size / 1e6, "write_s": written, **stats})
            scene.unlink()
    small, large = rows
    print_table(rows, ["scene", "megapixels", "tiles", "objects", "write_s", "seconds", "baseline_rss_mb",
                       "peak_rss_mb"],
                title=f"tiled inference peak memory (tile {args.tile}, overlap {args.overlap}, model {args.model}, "
                      f"vectors {'on' if args.vectors else 'off'})")
    print(f"pixels ratio {large['megapixels'] / small['megapixels']:.1f}x; "
          f"peak RSS ratio {large['peak_rss_mb'] / small['peak_rss_mb']:.2f}x")


if __name__ == "__main__":
    main()
