"""PyTorch vs ONNX Runtime on this machine: encoder time and click -> mask latency, side by side in one run.

    .venv/bin/python benchmarks/onnx_latency.py [--models sam_vit_b mobile_sam fastsam_s] [--size 1024]

For each model, on one synthetic ``size`` x ``size`` scene and the same (smoke) weights:

* **encoder**: ``set_image`` without any embedding cache (SAM: the image encoder; FastSAM: its whole
  "everything" network pass, which its prompts then select from);
* **click**: ``predict(points=[one point])`` on the encoded scene: prompt encoder + mask decoder +
  upscaling the masks to the scene (SAM: three candidate masks, ``multimask=True``; FastSAM: the selection
  among its masks); for SAM also the single-mask click and the int8-quantised decoder;
* the agreement of the ONNX masks with PyTorch's (IoU of the click's masks) and of the int8 decoder's
  with the float decoder's (measured, not expected to be equal);

each the best of ``--repeats`` timed runs after one warm-up (the machine may be shared: the best run is the
one least disturbed), and the ratios PyTorch / ONNX (> 1: ONNX is faster). Goals: a click under 50 ms
through ONNX Runtime on a 2-core CPU, and an ONNX encoder no slower than PyTorch's.

Smoke weights (untrained, the real architectures): timings are real, masks are meaningless. The ONNX
graphs are exported on first use and kept under ``$SAMRS_HOME/onnx`` (the export time is printed once).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.bench import hardware_line, hardware_summary, measure, print_table  # noqa: E402
from helpers.embedding_cache import EmbeddingCache, embedding_key  # noqa: E402
from helpers.models import ensure_smoke_weights, load_model  # noqa: E402

DEFAULT_MODELS = ("sam_vit_b", "mobile_sam", "fastsam_s")
CLICK_GOAL_MS = 50.0


def best_ms(fn, repeats: int, warmup: int = 1) -> tuple[float, object]:
    """(best of ``repeats`` timed calls in ms after ``warmup`` untimed ones, the last result)."""
    stats = measure(fn, repeats=repeats, warmup=warmup, budget_s=None)
    return stats["min_s"] * 1e3, stats["result"]


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest IoU between corresponding masks of two (N, H, W) stacks."""
    inter = (a & b).sum(axis=(1, 2))
    union = np.maximum((a | b).sum(axis=(1, 2)), 1)
    return float(np.min(np.where((a | b).any(axis=(1, 2)), inter / union, 1.0)))


def bench_model(name: str, image: np.ndarray, repeats: int, encoder_repeats: int, warmup: int = 1,
                imgsz: int | None = None) -> dict:
    """Timings and agreement of one model on both runtimes (``imgsz``: FastSAM's network input size)."""
    weights = ensure_smoke_weights(name)
    options = _options(name, imgsz)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the smoke-weights banner: the table says it once
        torch_model = load_model(name, weights=weights, device="cpu", **options)
        start = time.perf_counter()
        onnx_model = load_model(name, weights=weights, device="cpu", runtime="onnx", **options)
        load_s = time.perf_counter() - start
    row = {"model": name, "onnx_load_s": load_s}
    row["enc_torch"], _ = best_ms(lambda: torch_model.set_image(image), encoder_repeats, warmup)
    row["enc_onnx"], _ = best_ms(lambda: onnx_model.set_image(image), encoder_repeats, warmup)
    height, width = image.shape[:2]
    point = [(width * 0.4, height * 0.55)]
    row["click_torch"], reference = best_ms(lambda: torch_model.predict(points=point), repeats)
    row["click_onnx"], result = best_ms(lambda: onnx_model.predict(points=point), repeats)
    row["iou_onnx"] = mask_iou(reference.masks, result.masks)
    if "mask_input" in onnx_model.backend.prompts:  # SAM family: single mask, upscaling share, int8 decoder
        row["click1_onnx"], _ = best_ms(lambda: onnx_model.predict(points=point, multimask=False), repeats)
        low_res = result.logits
        upscaler = onnx_model.upscaler()
        row["upscale_onnx"], _ = best_ms(lambda: upscaler.masks(low_res, onnx_model.mask_threshold), repeats)
        # the int8 decoder on the float model's embedding (handed over through a cache): only the decoders differ
        shared = EmbeddingCache(directory=False)
        key = embedding_key(image, name, onnx_model.info.checkpoint_identity, "cpu|fp32")
        shared.get_or_compute(key, lambda: onnx_model.embedding, persist=False)
        int8_model = load_model(name, weights=onnx_model.folder, device="cpu", runtime="onnx", quantized=True,
                                embedding_cache=shared)
        int8_model.set_image(image)
        row["click_int8"], int8_result = best_ms(lambda: int8_model.predict(points=point), repeats)
        row["iou_int8"] = mask_iou(result.masks, int8_result.masks)
        row["score_int8"] = float(np.abs(result.scores - int8_result.scores).max())
    return row


def _options(name: str, imgsz: int | None) -> dict:
    """No embedding cache (every encode is timed), and FastSAM's input size when given."""
    from helpers.backends import backend_for

    options = backend_for(name).options
    out = {"embedding_cache": False} if "embedding_cache" in options else {}
    if imgsz is not None and "imgsz" in options:
        out["imgsz"] = int(imgsz)
    return out


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), help="registry names")
    parser.add_argument("--size", type=int, default=1024, help="scene side in pixels (default 1024)")
    parser.add_argument("--repeats", type=int, default=10, help="timed clicks per cell; the best is reported")
    parser.add_argument("--encoder-repeats", type=int, default=3, help="timed encoder runs per cell (best reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed encoder runs before the timed ones")
    parser.add_argument("--imgsz", type=int, default=None, help="FastSAM's network input size (default 1024)")
    args = parser.parse_args(argv)
    from helpers.data import make_synthetic_scene

    image = make_synthetic_scene("buildings", size=(args.size, args.size), seed=0)[0].image
    rows = [bench_model(name, image, args.repeats, args.encoder_repeats, args.warmup, args.imgsz) for name in args.models]
    for row in rows:
        row["enc_ratio"] = ratio(row["enc_torch"], row["enc_onnx"])
        row["click_ratio"] = ratio(row["click_torch"], row["click_onnx"])
    print(f"PyTorch vs ONNX Runtime, {args.size}x{args.size} scene, smoke weights (timings real, masks meaningless)")
    print(f"Hardware: {hardware_line(hardware_summary())}; best of {args.encoder_repeats} encoder runs after "
          f"{args.warmup} warm-up, best of {args.repeats} clicks after 1")
    print_table(rows, [
        ("model", "model"), ("enc_torch", "encoder torch ms"), ("enc_onnx", "encoder onnx ms"),
        ("enc_ratio", "torch/onnx"), ("click_torch", "click torch ms"), ("click_onnx", "click onnx ms"),
        ("click_ratio", "torch/onnx"), ("iou_onnx", "IoU onnx~torch"),
    ])  # fmt: skip
    sam_rows = [r for r in rows if "click_int8" in r]
    if sam_rows:
        print("\nSAM-family clicks on ONNX Runtime: single mask, upscaling share, int8 decoder (agreement measured)")
        print_table(sam_rows, [
            ("model", "model"), ("click_onnx", "3 masks ms"), ("click1_onnx", "1 mask ms"),
            ("upscale_onnx", "of which upscale ms"), ("click_int8", "int8 3 masks ms"),
            ("iou_int8", "IoU int8~float"), ("score_int8", "|score diff| int8"),
        ])  # fmt: skip
    for row in rows:
        fast = "yes" if row["click_onnx"] < CLICK_GOAL_MS else "no"
        encoder = "yes" if row["enc_onnx"] <= row["enc_torch"] else "no"
        print(f"{row['model']}: click under {CLICK_GOAL_MS:.0f} ms through ONNX Runtime: {fast}; "
              f"ONNX encoder no slower than PyTorch: {encoder}; ONNX load {row['onnx_load_s']:.1f} s "
              f"(includes the one-time export when it is not cached)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
