"""Official SamAutomaticMaskGenerator vs helpers.amg.generate_sam: time and ratio, same embedding.

    .venv/bin/python benchmarks/amg.py [--sides 16 32] [--size 512] [--model sam_vit_b]

Both generators run in this one process on the same Sam module and the same cached image embedding
(the official predictor's set_image is patched to reuse it), so the image-encoder time is EXCLUDED from
both. Weights are smoke weights (random init of the real architecture): timings are representative of
the work done, the masks themselves are meaningless. Each row also checks that both return the same
number of masks. Two threshold settings: the official defaults, and "keep all" (pred_iou_thresh=0,
stability_score_thresh=0: every candidate is upscaled and filtered by NMS, the most work).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import helpers  # noqa: E402
from helpers.amg import generate_sam  # noqa: E402
from helpers.bench import hardware_line, print_table  # noqa: E402
from helpers.models import ensure_smoke_weights  # noqa: E402


def official_generate(sam, image, features, input_size, **params):
    from segment_anything import SamAutomaticMaskGenerator

    generator = SamAutomaticMaskGenerator(sam, **params)
    predictor = generator.predictor

    def set_image(crop, image_format="RGB"):  # reuse the embedding: encoder time excluded
        predictor.reset_image()
        predictor.original_size, predictor.input_size = crop.shape[:2], input_size
        predictor.features, predictor.is_image_set = features, True

    predictor.set_image = set_image
    return generator.generate(image)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[16, 32], help="points_per_side values")
    parser.add_argument("--size", type=int, default=512, help="square test image side (pixels)")
    parser.add_argument("--model", default="sam_vit_b")
    args = parser.parse_args(argv)

    model = helpers.load_model(args.model, weights=ensure_smoke_weights(args.model), device="cpu")
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 255, (args.size // 32 + 1, args.size // 32 + 1, 3))
    image = np.kron(blocks, np.ones((32, 32, 1)))[: args.size, : args.size].astype(np.uint8)
    start = time.perf_counter()
    model.set_image(image)
    print(f"encode (excluded from both): {time.perf_counter() - start:.1f} s; {hardware_line()}")
    print("smoke weights (random init): timings are real, masks are meaningless")
    features, input_size = model.encode(image), model.embedding.input_size

    rows = []
    for side in args.sides:
        for label, thresholds in (("defaults", {}), ("keep all", {"pred_iou_thresh": 0.0, "stability_score_thresh": 0.0})):
            params = {"points_per_side": side, **thresholds}
            t0 = time.perf_counter()
            theirs = official_generate(model.sam, image, features, input_size, **params)
            t1 = time.perf_counter()
            ours = generate_sam(model.sam, image, lambda crop: features, progress=False, **params)
            t2 = time.perf_counter()
            rows.append(
                {
                    "points": f"{side}x{side}",
                    "thresholds": label,
                    "official_s": t1 - t0,
                    "ours_s": t2 - t1,
                    "speedup": (t1 - t0) / (t2 - t1),
                    "masks": f"{len(theirs)} / {len(ours['masks'])}",
                }
            )
            print_table(rows[-1:], list(rows[-1]))
    print_table(
        rows,
        ["points", "thresholds", ("official_s", "official (s)"), ("ours_s", "ours (s)"), ("speedup", "official/ours"), ("masks", "masks official / ours")],
        title=f"SAM everything mode, {args.model} smoke weights, {args.size}x{args.size} image, CPU, embedding excluded",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
