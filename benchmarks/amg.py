"""Official SamAutomaticMaskGenerator vs helpers.amg.generate_sam: time and ratio, same embedding.

    .venv/bin/python benchmarks/amg.py [--sides 16 32] [--size 512] [--scenes blocks landsat] [--repeats 2]

Both generators run in this one process on the same Sam module and the same cached image embedding
(the official predictor's set_image is patched to reuse it), so the image-encoder time is EXCLUDED from
both. Weights are smoke weights (random init of the real architecture): timings are representative of
the work done, the masks themselves are meaningless. Each generator runs --repeats times per row and the
fastest run is reported (the first run of a process is often slower for both); each row also prints both
mask counts. Three threshold settings, with the share of points whose masks our generator computed:

* "defaults": the official thresholds. With smoke weights no candidate reaches pred_iou_thresh=0.88, so
  ours computes no masks at all (0% decoded) while the official generator computes and upscales all of
  them: the best case for us, and not what trained weights give.
* "iou median": pred_iou_thresh at the median predicted IoU of the grid's candidates, no stability
  threshold: about half the candidates survive, so most points still need their masks (a middle case).
* "keep all": pred_iou_thresh=0, stability_score_thresh=0: every candidate goes to NMS.

Two scenes, because the size of the masks decides how much work can be skipped:

* "blocks": 32 px random colour blocks; untrained weights give small masks (few % of the image), so
  upscaling only the region a mask can occupy saves most of the work.
* "landsat": a crop of the real Landsat sample scene; untrained weights give image-sized masks (most of the
  image), the case where region-restricted upscaling saves nothing. With thresholds at 0 our generator
  then computes exact boxes from the low-resolution logits, runs NMS, and upscales only the survivors.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import helpers  # noqa: E402
import helpers.amg.generator as amg  # noqa: E402
from helpers.amg import generate_sam  # noqa: E402
from helpers.bench import hardware_line, measure, print_table  # noqa: E402
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


class DecodedShare:
    """Counts how many points ``decode_multimask`` computed masks for (patched in while ours runs)."""

    def __init__(self):
        self.points = self.decoded = 0
        self.original = amg.decode_multimask

    def __call__(self, *args, **kwargs):
        masks, iou, has_masks = self.original(*args, **kwargs)
        self.points += len(has_masks)
        self.decoded += int(has_masks.sum())
        return masks, iou, has_masks


@torch.no_grad()
def median_iou(sam, features, side: int, image_hw, batch: int = 64) -> float:
    """Median predicted IoU over the candidates of a side x side grid on the whole image (no masks computed)."""
    from segment_anything.utils.amg import build_point_grid
    from segment_anything.utils.transforms import ResizeLongestSide

    points = build_point_grid(side) * np.array(image_hw)[None, ::-1]
    coords = ResizeLongestSide(sam.image_encoder.img_size).apply_coords(points, image_hw)
    ious = [amg._decode_points(sam, features, coords[i : i + batch], math.inf)[1] for i in range(0, len(coords), batch)]
    return float(torch.cat(ious).median())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[16, 32], help="points_per_side values")
    parser.add_argument("--size", type=int, default=512, help="square test image side (pixels)")
    parser.add_argument("--model", default="sam_vit_b")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each generator per row; the fastest is reported")
    parser.add_argument("--scenes", nargs="+", choices=SCENES, default=list(SCENES), help="test images (default: both)")
    args = parser.parse_args(argv)

    model = helpers.load_model(args.model, weights=ensure_smoke_weights(args.model), device="cpu")
    print(f"{hardware_line()}; smoke weights (random init): timings are real, masks are meaningless")
    rows = []
    for scene in args.scenes:
        rows += run_scene(model, scene, args)
    print_table(
        rows,
        ["scene", "points", "thresholds", ("area", "median mask area"), ("official_s", "official (s)"),
         ("ours_s", "ours (s)"), ("speedup", "official/ours"), ("decoded", "points decoded (ours)"),
         ("masks", "masks official / ours")],
        title=f"SAM everything mode, {args.model} smoke weights, {args.size}x{args.size} images, CPU, embedding excluded",
    )
    return 0


SCENES = ("blocks", "landsat")


def scene_image(name: str, size: int) -> np.ndarray:
    if name == "landsat":
        image = helpers.sample_scene("landsat").image
        return np.ascontiguousarray(image[:size, :size])
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 255, (size // 32 + 1, size // 32 + 1, 3))
    return np.kron(blocks, np.ones((32, 32, 1)))[:size, :size].astype(np.uint8)


def run_scene(model, scene: str, args) -> list[dict]:
    image = scene_image(scene, args.size)
    model.set_image(image)
    source = model.embedding.source  # "computed", or loaded from the embedding cache
    print(f"{scene}: encode (excluded from both) {model.timings['set_image']:.1f} s ({source})")
    features, input_size = model.features, model.embedding.input_size
    rows = []
    for side in args.sides:
        median = median_iou(model.sam, features, side, image.shape[:2])
        settings = {
            "defaults": {},
            "iou median": {"pred_iou_thresh": median, "stability_score_thresh": 0.0},
            "keep all": {"pred_iou_thresh": 0.0, "stability_score_thresh": 0.0},
        }
        for label, thresholds in settings.items():
            params = {"points_per_side": side, **thresholds}
            official_run = functools.partial(official_generate, model.sam, image, features, input_size, **params)
            official = measure(official_run, repeats=args.repeats, warmup=0)
            amg.decode_multimask = share = DecodedShare()
            try:
                ours_run = functools.partial(generate_sam, model.sam, image, lambda crop: features, progress=False, **params)
                mine = measure(ours_run, repeats=args.repeats, warmup=0)
            finally:
                amg.decode_multimask = share.original
            masks = mine["result"]["masks"]
            area = float(np.median(masks.reshape(len(masks), -1).mean(axis=1))) if len(masks) else float("nan")
            rows.append(
                {
                    "scene": scene,
                    "area": f"{100 * area:.0f}%" if area == area else "-",
                    "points": f"{side}x{side}",
                    "thresholds": label,
                    "official_s": official["min_s"],
                    "ours_s": mine["min_s"],
                    "speedup": official["min_s"] / mine["min_s"],
                    "decoded": f"{100 * share.decoded / max(share.points, 1):.0f}%",
                    "masks": f"{len(official['result'])} / {len(mine['result']['masks'])}",
                }
            )
            print_table(rows[-1:], list(rows[-1]))
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
