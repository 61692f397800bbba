"""Embedding cache benchmark: fresh encode vs cached ``set_image``, and prompt -> mask latency.

    .venv/bin/python benchmarks/cache.py [--model sam_vit_b] [--scene landsat] [--weights PATH]

Measured side by side in one run on this machine:

* ``set_image`` with a fresh encode (empty cache), from the memory cache, and from the disk cache
  (a new cache object, as a new kernel would have), and the speed-up ratios (goal: >= 200x for
  ``sam_vit_b`` on a CPU);
* ``predict`` latency for 1, 10 and 100 point prompts on the cached embedding.

Without ``--weights`` it uses smoke (untrained) weights of the real architecture: the timings are
real, the masks are meaningless.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.backends.sam import SamModel  # noqa: E402
from helpers.bench import hardware_line, measure, print_table  # noqa: E402
from helpers.embedding_cache import EmbeddingCache  # noqa: E402
from helpers.models import ensure_smoke_weights, load_model  # noqa: E402


def scene_image(name: str) -> np.ndarray:
    """The sample scene as 8-bit RGB (falls back to a synthetic scene if the sample is missing)."""
    try:
        from helpers.data import sample_scene

        return sample_scene(name).image
    except Exception as error:  # noqa: BLE001 - the benchmark still runs on a synthetic image
        from helpers.data import make_synthetic_scene

        print(f"(sample scene {name!r} unavailable: {error}; using a synthetic 1024x1024 scene)")
        return make_synthetic_scene("fields", size=(1024, 1024))[0].image


def with_cache(model: SamModel, cache: EmbeddingCache) -> SamModel:
    """Another SamModel on the same network and weights, using ``cache``."""
    return SamModel(model.name, model.sam, device=model.device, checkpoint=model.checkpoint,
                    smoke=model.smoke, cache=cache)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sam_vit_b", choices=["sam_vit_b", "sam_vit_l", "sam_vit_h"])
    parser.add_argument("--scene", default="landsat", help="sample scene name (helpers.list_sample_scenes())")
    parser.add_argument("--weights", default=None, help="a real checkpoint; default: smoke weights")
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    weights = Path(args.weights) if args.weights else ensure_smoke_weights(args.model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = load_model(args.model, weights=weights, device=args.device, embedding_cache=False)
    image = scene_image(args.scene)
    label = "SMOKE weights (untrained: timings real, masks meaningless)" if base.smoke else f"weights {weights.name}"
    print(f"{args.model} on {base.device} · scene {args.scene} {image.shape[1]}x{image.shape[0]} · {label}")
    print(hardware_line())

    with tempfile.TemporaryDirectory(prefix="samrs-cache-bench-") as folder:
        # fresh encode: an empty cache, so set_image runs the image encoder
        fresh = measure(lambda: with_cache(base, EmbeddingCache(folder)).set_image(image), repeats=1, warmup=0)
        model = with_cache(base, EmbeddingCache(folder))
        model.set_image(image)  # disk -> memory
        memory = measure(lambda: model.set_image(image), repeats=args.repeats, warmup=1)
        # disk: a new cache object each time (empty memory), like a new kernel re-opening the scene
        disk = measure(lambda: with_cache(base, EmbeddingCache(folder)).set_image(image),
                       repeats=args.repeats, warmup=1)
        assert disk["result"].embedding.source == "disk" and memory["result"].embedding.source == "memory"

    encode_s = fresh["median_s"]
    rows = [
        {"step": "set_image, fresh encode", "ms": encode_s * 1e3, "ratio": 1.0},
        {"step": "set_image, memory cache", "ms": memory["median_s"] * 1e3, "ratio": encode_s / memory["median_s"]},
        {"step": "set_image, disk cache (new kernel)", "ms": disk["median_s"] * 1e3, "ratio": encode_s / disk["median_s"]},
    ]
    print()
    print_table(rows, [("step", "step"), ("ms", "median ms"), ("ratio", "speed-up vs encode (x)")],
                title="set_image: encode vs cached embedding (goal >= 200x)")

    rng = np.random.default_rng(0)
    height, width = image.shape[:2]
    prompt_rows = []
    for n in (1, 10, 100):
        points = np.column_stack([rng.uniform(0, width - 1, n), rng.uniform(0, height - 1, n)])
        labels = (rng.random(n) < 0.8).astype(int)
        labels[0] = 1
        stats = measure(lambda p=points, lab=labels: model.predict(points=p, labels=lab), repeats=args.repeats)
        prompt_rows.append({"points": n, "ms": stats["median_s"] * 1e3, "min_ms": stats["min_s"] * 1e3,
                            "vs_encode": encode_s / stats["median_s"]})
    print()
    print_table(prompt_rows, [("points", "points in one prompt"), ("ms", "median ms"), ("min_ms", "min ms"),
                              ("vs_encode", "encode / predict (x)")],
                title="prompt -> masks latency on the cached embedding (3 candidates, upscaled to the scene)")
    if base.smoke:
        print("\nNote: smoke (untrained) weights — latencies are real, the masks are meaningless.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
