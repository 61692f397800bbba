"""The GPU check, prepared to run in one call on a machine lent for a few minutes: one table, under 8 minutes.

    .venv/bin/python benchmarks/gpu_check.py              # on a CUDA machine, after the README's setup
    .venv/bin/python benchmarks/gpu_check.py --dry-run    # anywhere: tiny inputs on the CPU, CUDA rows skipped

On one GPU (an H200-class card: ~5 minutes; ``--budget`` seconds at most, later rows are then skipped
with "time budget"), with the same smoke weights everywhere (untrained weights of the real
architectures, written on first use: timings and agreement are real, masks are meaningless):

1. **cuda vs cpu**: SAM ViT-B, SAM 2.1 Hiera-T, MobileSAM, FastSAM-s run the same workload (``set_image``,
   three prompts: 1 point, 5 points, a box; ``generate``) on the CPU and on CUDA: smallest mask IoU and
   largest score difference between the two, and the CUDA timings.
2. **half**: ``half=True`` (SAM / MobileSAM: float16 autocast of the encoder; SAM 2: bfloat16; FastSAM:
   float16) against CUDA float32: agreement and encoder speed-up.
3. **published latency**: FastSAM's Table 1 layout (1 / 10 / 100 points, 16² / 32² / 64² grids, FastSAM flat)
   measured with :func:`helpers.bench.run_latency_benchmark` beside the published RTX 3090 rows.
4. **tensorrt**: FastSAM exported to a TensorRT engine (float16) with ultralytics' exporter, when
   ``tensorrt`` is importable: agreement with the CUDA ``.pt`` model and speed.
5. **onnx cuda**: MobileSAM and FastSAM through ONNX Runtime's CUDA provider (onnxruntime-gpu), when present.
6. **compile**: ``compile=True`` (``torch.compile`` of the image encoder) against CUDA float32: agreement,
   speed, and the one-time compilation.

Every row is guarded: a failure prints its one-line reason in the table and the check goes on. The
package's GPU options refusing to run on the CPU (one line each) are checked too. ``--dry-run`` runs
every part that needs no CUDA on tiny inputs (the CPU reference workloads, ONNX Runtime on the CPU, the
latency runner, the refusals) and lists the CUDA rows as "skipped: no CUDA"; the test suite runs it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("YOLO_OFFLINE", "1")  # no ultralytics hub checks on a machine without internet

from helpers.bench import hardware_line, hardware_summary  # noqa: E402
from helpers.errors import one_line  # noqa: E402
from helpers.tables import format_table, write_csv  # noqa: E402

MODELS = ("sam_vit_b", "sam2.1_hiera_t", "mobile_sam", "fastsam_s")
DRY_RUN_MODELS = ("mobile_sam", "fastsam_s")
LATENCY_MODELS = ("sam_vit_b", "fastsam_s")  # the ones with published RTX 3090 rows (SAM-H: --vit-h)
COLUMNS = [("section", "check"), ("model", "model"), ("variant", "variant"), ("iou", "IoU min"),
           ("dscore", "|score diff| max"), ("ms", "ms"), ("ref_ms", "reference ms"), ("note", "note")]
NO_CUDA = "skipped: no CUDA"


class Check:
    """The table being filled, the time budget, and guarded rows."""

    def __init__(self, budget_s: float):
        self.start = time.perf_counter()
        self.budget_s = budget_s
        self.rows: list[dict] = []

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.start)

    def add(self, section, model, variant, iou=None, dscore=None, ms=None, ref_ms=None, note=""):
        row = {"section": section, "model": model, "variant": variant, "iou": iou, "dscore": dscore, "ms": ms,
               "ref_ms": ref_ms, "note": note}
        self.rows.append(row)
        print(f"gpu_check: {section} | {model} | {variant} | {note or 'done'} ({time.perf_counter() - self.start:.0f} s)",
              flush=True)
        return row

    def run(self, section, model, variant, fn, need_s: float = 0.0):
        """``fn()`` -> a row's fields (dict), or a row saying why not (time budget, the error's first line)."""
        if self.left() < need_s:
            return self.add(section, model, variant, note="skipped: time budget")
        try:
            return self.add(section, model, variant, **(fn() or {}))
        except Exception as error:  # noqa: BLE001 - one failing row must not lose the rest of the check
            return self.add(section, model, variant, note=f"failed: {one_line(error)}"[:160])


# ---- one workload, compared between runs ----------------------------------------------------------------
#: Network input size of FastSAM in a dry run (its default is 1024).
DRY_RUN_IMGSZ = 256


def _load(name: str, device: str, dry_run: bool = False, **options):
    from helpers.backends import backend_for
    from helpers.embedding_cache import EmbeddingCache
    from helpers.models import ensure_smoke_weights, load_model

    backend = backend_for(name, runtime=options.get("runtime"))
    if "embedding_cache" in backend.options:  # this model's own memory cache: generate reuses its encode
        options.setdefault("embedding_cache", EmbeddingCache(directory=False))
    if dry_run and "imgsz" in backend.options:
        options.setdefault("imgsz", DRY_RUN_IMGSZ)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the smoke banner: the table says it once
        return load_model(name, weights=ensure_smoke_weights(name), device=device, **options)


def _sync() -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _timed(fn) -> tuple[float, object]:
    _sync()
    start = time.perf_counter()
    result = fn()
    _sync()
    return (time.perf_counter() - start) * 1e3, result


def workload(model, image: np.ndarray, grid: int, warmup: bool = True) -> dict:
    """set_image, three prompts and generate on one model: their masks, scores and timings.

    With ``warmup`` the scene flipped upside down is encoded first (an image the model's cache does not
    hold), so the timed ``set_image`` is a warm one (CUDA initialisation, cuDNN autotuning).
    """
    height, width = image.shape[:2]
    if warmup:
        model.set_image(np.ascontiguousarray(image[::-1]))
    encode_ms, _ = _timed(lambda: model.set_image(image))
    rng = np.random.default_rng(0)
    five = np.column_stack([rng.uniform(0, width - 1, 5), rng.uniform(0, height - 1, 5)])
    prompts = [{"points": [(width * 0.4, height * 0.55)]}, {"points": five, "labels": [1, 0, 1, 1, 0]},
               {"boxes": [(width * 0.1, height * 0.2, width * 0.7, height * 0.8)]}]
    results = [model.predict(**p) for p in prompts]
    click_ms = min(_timed(lambda: model.predict(**prompts[0]))[0] for _ in range(3))
    params = {}
    if "points_per_side" in model.backend.generate_defaults():  # SAM families: a small grid, keep every mask
        params = {"points_per_side": grid, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
    generate_ms, everything = _timed(lambda: model.generate(**params))
    results.append(everything)
    return {"masks": [r.masks for r in results], "scores": [r.scores for r in results],
            "encode_ms": encode_ms, "click_ms": click_ms, "generate_ms": generate_ms}


def agreement(reference: dict, other: dict) -> dict:
    """Smallest IoU and largest score difference over every output mask (masks matched by best IoU when the
    number of masks differs, e.g. a non-maximum suppression tie resolved differently)."""
    ious, dscores, notes = [], [], []
    for ref_masks, masks, ref_scores, scores in zip(reference["masks"], other["masks"], reference["scores"],
                                                    other["scores"], strict=True):
        if len(ref_masks) == 0 and len(masks) == 0:
            continue
        if len(ref_masks) == 0 or len(masks) == 0:
            notes.append(f"{len(ref_masks)} vs {len(masks)} masks")
            ious.append(0.0)
            continue
        a = ref_masks.reshape(len(ref_masks), -1)
        b = masks.reshape(len(masks), -1)
        inter = a.astype(np.float32) @ b.astype(np.float32).T
        union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        if len(ref_masks) == len(masks):
            best = np.arange(len(masks))
        else:
            best = iou.argmax(axis=1)
            notes.append(f"{len(ref_masks)} vs {len(masks)} masks")
        ious.append(float(iou[np.arange(len(ref_masks)), best].min()))
        dscores.append(float(np.abs(np.asarray(ref_scores) - np.asarray(scores)[best]).max()))
    return {"iou": min(ious) if ious else None, "dscore": max(dscores) if dscores else None,
            "note": "; ".join(notes)}


# ---- the sections -----------------------------------------------------------------------------------------
def cpu_reference(check: Check, name: str, image, grid: int, references: dict, dry_run: bool) -> None:
    def run():
        model = _load(name, "cpu", dry_run=dry_run)
        references[name] = workload(model, image, grid, warmup=not dry_run)
        return {"ms": references[name]["encode_ms"], "note": f"cpu reference: encode; click "
                f"{references[name]['click_ms']:.0f} ms, generate {references[name]['generate_ms']:.0f} ms"}

    check.run("cpu reference", name, "fp32", run, need_s=30)


def compare_on(check: Check, section: str, name: str, variant: str, reference: dict | None, load, image, grid,
               need_s: float, note: str = "", warmup: bool = False, dry_run: bool = False) -> dict | None:
    """Run the workload on ``load()`` and compare it with ``reference``; returns the workload."""
    out = {}

    def run():
        model = load()
        extra = ""
        if warmup:  # torch.compile: the first call compiles (on a mirrored scene, so the timed one is not cached)
            compile_ms, _ = _timed(lambda: model.set_image(np.ascontiguousarray(image[:, ::-1])))
            extra = f"; first call (compiles) {compile_ms / 1e3:.1f} s"
        out.update(workload(model, image, grid, warmup=not dry_run))
        fields = agreement(reference, out) if reference is not None else {"note": "no reference"}
        fields["ms"] = out["encode_ms"]
        fields["note"] = "; ".join(filter(None, [note, f"encode ms; click {out['click_ms']:.1f} ms, generate "
                                                       f"{out['generate_ms']:.0f} ms{extra}", fields.get("note")]))
        return fields

    check.run(section, name, variant, run, need_s=need_s)
    return out or None


def latency_rows(check: Check, models, device: str, dry_run: bool) -> None:
    from helpers.bench.latency import (
        DEFAULT_GRIDS,
        DEFAULT_POINTS,
        PUBLISHED_RTX3090_MS,
        run_latency_benchmark,
    )

    for name in models:
        def run(name=name):
            options = dict(models=[name], device=device, smoke=True, verbose=False)
            options.update(dict(quick=True, points=(1,), grids=(2,), repeats=1, warmup=0, budget_s=5)
                           if dry_run else dict(repeats=3, warmup=1, budget_s=10))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = run_latency_benchmark(**options)
            published = next((v["ms"] for v in PUBLISHED_RTX3090_MS.values() if name in v["for"]), None)
            columns = [f"{n} pt" for n in DEFAULT_POINTS] + [f"E({g}x{g})" for g in DEFAULT_GRIDS]
            ours = out["summary"][0]
            for i, column in enumerate(columns):
                if column in ours:
                    check.add("latency", name, column, ms=ours[column],
                              ref_ms=None if published is None else published[i],
                              note="encoder included, as in FastSAM's Table 1; reference: published RTX 3090")
            measured = [c for c in ours if c.endswith(" pt") or c.startswith("E(")]
            return {"ms": ours.get("encode"), "note": f"encode only ({device}); measured {', '.join(measured)}"}

        check.run("latency", name, "encode", run, need_s=90 if not dry_run else 0)


def tensorrt_row(check: Check, name: str, reference: dict | None, image, grid) -> None:
    def run():
        import torch
        from ultralytics import FastSAM

        from helpers.backends.fastsam import FastSAMModel
        from helpers.models import ensure_smoke_weights
        from helpers.onnx.fastsam_graph import export_fastsam_network

        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            engine = export_fastsam_network(ensure_smoke_weights(name), Path(folder) / "network.engine", imgsz=1024,
                                            fmt="engine", half=True, device="0")
            build_s = time.perf_counter() - start
            model = FastSAMModel(name, FastSAM(str(engine)), device=torch.device("cuda"), smoke=True)
            out = workload(model, image, grid)
        fields = agreement(reference, out) if reference is not None else {"note": ""}
        fields.update(ms=out["encode_ms"], note=f"fp16 engine vs CUDA .pt; everything pass ms; engine build "
                      f"{build_s:.0f} s" + (f"; {fields['note']}" if fields.get("note") else ""))
        return fields

    check.run("tensorrt", name, "fp16 engine", run, need_s=150)


def refusal_rows(check: Check, models) -> None:
    """The package's GPU options on the CPU: one clear line each, before any weights are read."""
    from helpers.backends import backend_for
    from helpers.models import load_model
    from helpers.smoke import smoke_weights_path

    with tempfile.TemporaryDirectory() as folder:
        for name in models:
            for option in ("half", "compile"):
                if option not in backend_for(name).options:
                    check.add("gpu options on cpu", name, f"{option}=True", note=f"n/a: {name} has no {option} option")
                    continue

                def run(name=name, option=option):
                    dummy = Path(folder) / smoke_weights_path(name).name  # never read: the option is refused first
                    dummy.write_bytes(b"")
                    try:
                        load_model(name, weights=dummy, device="cpu", **{option: True})
                    except ValueError as error:
                        message = str(error)
                        ok = "needs a CUDA device" in message and "\n" not in message
                        return {"note": ("refused: " if ok else "unexpected: ") + message}
                    return {"note": "unexpected: accepted on the CPU"}

                check.run("gpu options on cpu", name, f"{option}=True", run)


def environment_lines(device: str) -> list[str]:
    import onnxruntime
    import torch

    cuda = torch.cuda.is_available()
    gpu = torch.cuda.get_device_name(0) if cuda else "none"
    try:
        import tensorrt

        trt = f"tensorrt {tensorrt.__version__}"
    except Exception:  # noqa: BLE001 - any import failure means no TensorRT here
        trt = "tensorrt not importable"
    return [
        f"GPU: {gpu}; torch {torch.__version__} (CUDA {torch.version.cuda or 'none'}); onnxruntime "
        f"{onnxruntime.__version__} ({', '.join(onnxruntime.get_available_providers())}); {trt}",
        f"Hardware: {hardware_line(hardware_summary())}",
        "Smoke weights (untrained, real architectures): timings and agreement are real, masks are meaningless.",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny inputs on the CPU; CUDA rows skipped")
    parser.add_argument("--models", nargs="+", default=None, help=f"registry names (default: {' '.join(MODELS)})")
    parser.add_argument("--device", default="cuda", help="CUDA device (default cuda)")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds before later rows are skipped (default 420)")
    parser.add_argument("--size", type=int, default=None, help="scene side in pixels (default 512; dry run 64)")
    parser.add_argument("--vit-h", action="store_true", help="also SAM ViT-H in the latency table (writes 2.5 GB of smoke weights)")
    parser.add_argument("--out", default=None, help="also write gpu_check.csv and gpu_check.txt into this folder")
    args = parser.parse_args(argv)

    import torch

    from helpers.backends import backend_for
    from helpers.data import make_synthetic_scene

    check = Check(args.budget)
    models = list(args.models or MODELS)
    cuda = torch.cuda.is_available() and not args.dry_run
    size = args.size or (64 if args.dry_run else 512)
    grid = 2 if args.dry_run else 8
    run_here = [m for m in models if m in DRY_RUN_MODELS] if args.dry_run and args.models is None else models
    image = make_synthetic_scene("buildings", size=(size, size), seed=0)[0].image
    lines = environment_lines(args.device)
    for line in lines:
        print(line, flush=True)

    references, cuda_runs = {}, {}
    # 1. the same workload on the CPU and on CUDA
    for name in models:
        if name in run_here:
            cpu_reference(check, name, image, grid, references, args.dry_run)
        if cuda:
            cuda_runs[name] = compare_on(check, "cuda vs cpu", name, "fp32", references.get(name),
                                         lambda name=name: _load(name, args.device), image, grid, need_s=40)
        else:
            check.add("cuda vs cpu", name, "fp32", note=NO_CUDA)
    # 2. half precision against CUDA float32
    for name in models:
        variant = "bf16" if backend_for(name).family == "sam2" else "fp16"  # SAM 2 autocasts to bfloat16 (its docs)
        if not cuda:
            check.add("half", name, variant, note=NO_CUDA)
            continue
        compare_on(check, "half", name, variant, cuda_runs.get(name), lambda name=name: _load(name, args.device, half=True),
                   image, grid, need_s=40, note="vs CUDA fp32")
    # 3. the published latency table
    latency_models = [m for m in LATENCY_MODELS if m in models] + (["sam_vit_h"] if args.vit_h else [])
    if cuda:
        latency_rows(check, latency_models, args.device, dry_run=False)
    else:
        for name in latency_models:
            check.add("latency", name, "cuda", note=NO_CUDA)
        latency_rows(check, [m for m in latency_models if m in run_here and backend_for(m).family == "fastsam"],
                     "cpu", dry_run=True)
    # 4. FastSAM as a TensorRT engine
    for name in (m for m in models if backend_for(m).family == "fastsam"):
        if not cuda:
            check.add("tensorrt", name, "fp16 engine", note=NO_CUDA)
            continue
        try:
            import tensorrt  # noqa: F401
        except Exception as error:  # noqa: BLE001
            check.add("tensorrt", name, "fp16 engine", note=f"skipped: tensorrt not importable ({one_line(error)})"[:120])
            continue
        tensorrt_row(check, name, cuda_runs.get(name), image, grid)
    # 5. ONNX Runtime (CUDA provider on the GPU; the CPU in a dry run)
    import onnxruntime

    providers = onnxruntime.get_available_providers()
    for name in (m for m in models if m in ("mobile_sam", "fastsam_s")):
        if cuda and "CUDAExecutionProvider" in providers:
            compare_on(check, "onnx cuda", name, "fp32", cuda_runs.get(name),
                       lambda name=name: _load(name, args.device, runtime="onnx"), image, grid, need_s=60,
                       note="vs CUDA torch")
        elif cuda:
            check.add("onnx cuda", name, "fp32", note="skipped: onnxruntime has no CUDAExecutionProvider (onnxruntime-gpu)")
        elif name in run_here:
            compare_on(check, "onnx cpu", name, "fp32", references.get(name),
                       lambda name=name: _load(name, "cpu", dry_run=args.dry_run, runtime="onnx"), image, grid,
                       need_s=0, note="vs CPU torch", dry_run=args.dry_run)
    # 6. torch.compile (slowest: first calls compile)
    for name in models:
        if "compile" not in backend_for(name).options:
            check.add("compile", name, "compile=True", note=f"n/a: {name} has no compile option")
        elif not cuda:
            check.add("compile", name, "compile=True", note=NO_CUDA)
        else:
            compare_on(check, "compile", name, "compile=True", cuda_runs.get(name),
                       lambda name=name: _load(name, args.device, compile=True), image, grid, need_s=150,
                       note="vs CUDA fp32", warmup=True)
    # the package's GPU options refuse the CPU in one line
    refusal_rows(check, models)

    table = format_table(check.rows, COLUMNS)
    elapsed = time.perf_counter() - check.start
    title = (f"GPU check ({'dry run: CPU, tiny inputs' if args.dry_run else args.device}), {size}x{size} scene, "
             f"{elapsed:.0f} s")
    print("\n" + "\n".join([title, *lines]) + "\n" + table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_csv(check.rows, out / "gpu_check.csv", [key for key, _ in COLUMNS])
        (out / "gpu_check.txt").write_text("\n".join([title, *lines]) + "\n" + table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
