"""Fine-tuning with a frozen encoder: time per epoch with the embedding cache vs re-encoding every step.

    .venv/bin/python benchmarks/finetune_cache.py [--epochs 2] [--tiles 4] [--weights PATH]

With the image encoder frozen, a tile's features never change, so :func:`helpers.finetune_sam2` encodes
each tile once (through the project's embedding cache) and every step runs only SAM 2's prompt encoder
and mask decoder. ``cache_features=False`` re-encodes the tile at every training step and validation
pass (what a naive loop does). Both runs use the same tiles, prompts and seed, measured side by side in
one process; the ratio is the speed-up of an epoch. The one-time encoding of the cached run is printed
separately (a fresh in-memory cache, so it is really computed). Smoke weights unless ``--weights``: the
timings are real, the masks meaningless.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SAMRS_SMOKE", "1")

from helpers.bench.timing import hardware_line  # noqa: E402
from helpers.data import write_synthetic_geotiff  # noqa: E402
from helpers.embedding_cache import EmbeddingCache  # noqa: E402
from helpers.finetune import FinetuneConfig, Trainer, build_finetune_dataset  # noqa: E402
from helpers.models import load_model  # noqa: E402
from helpers.tables import print_table  # noqa: E402


def synthetic_dataset(folder: Path, tiles: int, tile: int = 64):
    """A row of ``tiles`` square tiles with bright roofs on grass (one validation block)."""
    roof = (215, 205, 190)
    objects = []
    for i in range(tiles):
        x = i * tile
        objects += [{"box": (x + 4, 4, x + 24, 26), "value": roof}, {"box": (x + 30, 34, x + 58, 58), "value": roof}]
    labels = folder / "labels.tif"
    image = write_synthetic_geotiff(folder / "scene.tif", "buildings", size=(tile, tiles * tile), seed=0,
                                    objects=objects, labels_path=labels)
    return build_finetune_dataset(image, labels, tile_size=tile, block_size=tile, val_fraction=1 / tiles,
                                  min_instance_px=8)


def run(dataset, out: Path, cache_features: bool, epochs: int, weights) -> dict:
    model = load_model("sam2.1_hiera_t", weights=weights, device="cpu", embedding_cache=False)
    config = FinetuneConfig(epochs=epochs, cache_features=cache_features, eval_prompts=("box",), seed=0)
    trainer = Trainer(model, dataset, out, config, progress=False)
    if trainer.cache is not None:
        trainer.cache = EmbeddingCache(directory=False, memory_items=len(dataset.train) + len(dataset.val))
        trainer.model.cache = trainer.cache  # memory only: the one-time encoding is really computed
    start = time.perf_counter()
    trainer.encode_all()
    encode = time.perf_counter() - start
    epoch_seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        trainer.run_epoch()
        epoch_seconds.append(time.perf_counter() - start)
    return {"encode_once_s": encode, "epoch_s": sum(epoch_seconds) / len(epoch_seconds)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--tiles", type=int, default=4, help="64-pixel tiles (one of them validation)")
    parser.add_argument("--weights", type=Path, default=None)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="finetune_cache_"))
    dataset = synthetic_dataset(folder, args.tiles)
    print(dataset.summary())
    cached = run(dataset, folder / "cached", True, args.epochs, args.weights)
    naive = run(dataset, folder / "naive", False, args.epochs, args.weights)
    rows = [
        {"mode": "frozen encoder + embedding cache", "encode": cached["encode_once_s"], "epoch": cached["epoch_s"]},
        {"mode": "re-encode every step", "encode": None, "epoch": naive["epoch_s"]},
    ]
    print_table(rows, [("mode", "sam2.1_hiera_t, CPU"), ("encode", "encode once (s)"),
                       ("epoch", "time per epoch (s)")])
    print(f"time per epoch, re-encoding / cached: {naive['epoch_s'] / cached['epoch_s']:.1f}x "
          f"({len(dataset.train)} training + {len(dataset.val)} validation tiles, {args.epochs} epochs each; "
          f"{hardware_line()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
