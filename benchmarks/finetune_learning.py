"""Does the fine-tuning loop learn? Held-out IoU before and after, from untrained (smoke) SAM 2 weights.

    .venv/bin/python benchmarks/finetune_learning.py [--data synthetic|lidar] [--epochs 12] [--lr 1e-3]

``--data synthetic`` (default): a 64 x 128 px GeoTIFF (EPSG:32618, 0.5 m) with six bright roofs on
grass, cut into two 64-px tiles, one per spatial block: one trains, the other is held out.
``--data lidar``: the vendored LiDAR height-above-ground raster of Alexandria (``elevation/hag.tif``, 2 m,
EPSG:26918) with its building footprints (``elevation/buildings.geojson``, EPSG:4326, reprojected):
buildings are bright (tall) blobs on a dark ground, a signal a decoder can learn. Tiles are split by
spatial block (never random tiles). Starting from smoke weights of ``sam2.1_hiera_t`` (random: the
zero-shot masks are meaningless) with the image encoder frozen, a short CPU run must raise the held-out
IoU (same fixed box and point prompts before and after) by a clear margin. This proves the loop trains
the decoder; it says nothing about how good real SAM 2 weights become (that needs the GPU run in the
docs). Encodings go to the embedding cache on disk, so a second run does not encode again.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SAMRS_SMOKE", "1")  # smoke weights: nothing to download, no real model needed

import helpers  # noqa: E402
from helpers.bench.timing import hardware_line  # noqa: E402
from helpers.finetune import build_finetune_dataset, finetune_sam2  # noqa: E402

ROOF = (215, 205, 190)
BUILDINGS = [(4, 4, 22, 26), (32, 6, 58, 20), (10, 36, 44, 58), (68, 8, 92, 30), (100, 10, 124, 28), (74, 38, 118, 58)]
"""Pixel XYXY rectangles (x1/y1 exclusive): three roofs in each 64-pixel half (the test suite's scene)."""


def synthetic_scene(folder: Path):
    """(image, labels) GeoTIFF paths of six bright roofs on grass, 64 x 128 px."""
    from helpers.data import write_synthetic_geotiff

    folder.mkdir(parents=True, exist_ok=True)
    labels = folder / "labels.tif"
    objects = [{"box": box, "value": ROOF} for box in BUILDINGS]
    image = write_synthetic_geotiff(folder / "scene.tif", "buildings", size=(64, 128), seed=0, objects=objects,
                                    labels_path=labels)
    return image, labels


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("synthetic", "lidar"), default="synthetic")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--tile", type=int, default=64)
    parser.add_argument("--objects-per-step", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-gain", type=float, default=0.3,
                        help="exit 1 unless the held-out IoU rises by at least this much (the pinned margin)")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: a temporary one)")
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix="finetune_learning_"))
    if args.data == "lidar":
        hag = helpers.real_data_path("alexandria_hag")
        footprints = helpers.real_data_path("alexandria_buildings")
        dataset = build_finetune_dataset(hag, footprints, tile_size=args.tile, block_size=2 * args.tile,
                                         val_fraction=0.25, seed=args.seed, min_instance_px=8, max_empty=0.98)
    else:
        image, labels = synthetic_scene(out / "data")
        dataset = build_finetune_dataset(image, labels, tile_size=64, block_size=64, val_fraction=0.5,
                                         min_instance_px=8)
    print(dataset.summary())
    start, cpu = time.perf_counter(), time.process_time()
    result = finetune_sam2(dataset, out, model="sam2.1_hiera_t", device="cpu", resume=False, epochs=args.epochs,
                           lr=args.lr, objects_per_step=args.objects_per_step, seed=args.seed, select_by="iou",
                           progress=False)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(result.table())
    for h in result.history:
        print(f"epoch {h['epoch']:2d}  train loss {h['train_loss'] or float('nan'):.3f}  val loss {h['val_loss']:.3f}"
              f"  val IoU {h['iou']:.3f}")
    before, after = result.metrics["before"]["iou"], result.metrics["after"]["iou"]
    print(f"held-out IoU {before:.3f} -> {after:.3f} (+{after - before:.3f}), best epoch {result.metrics['best_epoch']}, "
          f"{wall:.0f} s wall / {cpu:.0f} s CPU ({result.metrics['encoded_tiles']} tiles encoded, "
          f"{result.metrics['encode_seconds']:.0f} s) on {hardware_line()}")
    if after - before < args.min_gain:
        print(f"FAILED: the held-out IoU rose by {after - before:.3f} < --min-gain {args.min_gain}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
