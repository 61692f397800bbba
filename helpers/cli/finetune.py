"""``finetune``: SAM 2 on GeoTIFF tiles + vector or raster labels -> best checkpoint + before/after metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserInputError
from ..finetune.config import METRICS, FinetuneConfig
from ..finetune.dataset import SPLITS
from ..finetune.prompts import EVAL_PROMPT_KINDS
from ..registry import get_spec

_DEFAULTS = FinetuneConfig()


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune SAM 2 on GeoTIFF tiles + labels; writes the best checkpoint and held-out metrics before/after",
        description=(
            "Fine-tune SAM 2 for one binary class (buildings, canopy, water...). Tiles are cut from the "
            "images, objects are the connected parts of the labels (a vector file in any CRS, or a label "
            "raster), and validation tiles are whole spatial blocks or scenes (never random tiles). The "
            "image encoder is frozen by default (each tile is encoded once); the best epoch by --select-by "
            "is written to OUT/best.pt in SAM 2's own format, and OUT/metrics.json holds the held-out IoU, "
            "Dice and boundary F before and after, with the same prompts. Re-running the same command "
            "resumes a killed run."
        ),
    )
    parser.add_argument("--model", default="sam2.1_hiera_t", help="SAM 2 registry name (default sam2.1_hiera_t)")
    parser.add_argument("--weights", type=Path, default=None,
                        help="starting checkpoint (default: the official weights; smoke weights in smoke mode)")
    parser.add_argument("--images", nargs="+", required=True, help="GeoTIFF scene(s) (any raster GDAL reads)")
    parser.add_argument("--labels", nargs="+", required=True,
                        help="one label source for all images, or one per image: vector file (any CRS) or label raster")
    parser.add_argument("--out", type=Path, required=True, help="run folder (best.pt, metrics.json, curves.png, ...)")
    parser.add_argument("--epochs", type=int, default=_DEFAULTS.epochs, help=f"epochs (default {_DEFAULTS.epochs})")
    parser.add_argument("--lr", type=float, default=_DEFAULTS.lr, help=f"decoder learning rate (default {_DEFAULTS.lr:g})")
    parser.add_argument("--encoder-lr", type=float, default=None,
                        help="encoder learning rate with --no-freeze-encoder (default 0.6 x --lr, as SAM 2.1)")
    parser.add_argument("--tile", type=int, default=256, help="tile size in pixels (default 256)")
    parser.add_argument("--overlap", type=int, default=0, help="pixels shared by neighbouring tiles (default 0)")
    parser.add_argument("--max-empty", type=float, default=0.95,
                        help="drop tiles with a larger share of pixels outside every object (default 0.95)")
    parser.add_argument("--split", choices=SPLITS, default="block", help="validation by spatial block or by scene")
    parser.add_argument("--block-size", type=int, default=None, help="block side in pixels (default 2 x --tile)")
    parser.add_argument("--val-fraction", type=float, default=0.25, help="share held out (default 0.25)")
    parser.add_argument("--min-object-px", type=int, default=16, help="smallest object kept, pixels (default 16)")
    parser.add_argument("--binary-labels", action="store_true",
                        help="a label raster is one mask (non-zero = class): connected parts are objects")
    parser.add_argument("--freeze-encoder", action=argparse.BooleanOptionalAction, default=True,
                        help="keep the image encoder fixed and encode each tile once (default); "
                        "--no-freeze-encoder trains it too at a lower learning rate (GPU advised)")
    parser.add_argument("--objects-per-step", type=int, default=_DEFAULTS.objects_per_step,
                        help=f"objects of a tile prompted per step (default {_DEFAULTS.objects_per_step})")
    parser.add_argument("--correction-clicks", type=int, default=0,
                        help="extra decoder passes per step with a click from the error region (default 0)")
    parser.add_argument("--eval-prompts", nargs="+", choices=EVAL_PROMPT_KINDS, default=list(EVAL_PROMPT_KINDS),
                        help="validation prompts: exact box, deepest interior point (default both)")
    parser.add_argument("--select-by", choices=METRICS, default="iou",
                        help="validation metric that picks best.pt (default iou; loss: lowest)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (split, prompts, order)")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    parser.add_argument("--no-resume", action="store_true", help="start again even if OUT holds a run")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run)


def _run(args) -> int:
    from ..finetune.dataset import build_finetune_dataset
    from ..finetune.trainer import finetune_sam2

    get_spec(args.model)  # unknown names fail before anything is read
    if args.weights is not None and not args.weights.expanduser().is_file():
        raise UserInputError(f"weights file not found: {args.weights}")
    labels = args.labels[0] if len(args.labels) == 1 else args.labels
    config = FinetuneConfig(
        epochs=args.epochs, lr=args.lr, encoder_lr=args.encoder_lr, freeze_encoder=args.freeze_encoder,
        objects_per_step=args.objects_per_step, correction_clicks=args.correction_clicks,
        eval_prompts=tuple(args.eval_prompts), select_by=args.select_by, seed=args.seed,
    )
    dataset = build_finetune_dataset(
        args.images, labels, tile_size=args.tile, overlap=args.overlap, max_empty=args.max_empty,
        split=args.split, block_size=args.block_size, val_fraction=args.val_fraction, seed=args.seed,
        min_instance_px=args.min_object_px, binary_labels=True if args.binary_labels else None,
        progress=not args.quiet,
    )
    print(f"finetune: {dataset.summary()}")
    result = finetune_sam2(dataset, args.out, model=args.model, weights=args.weights, device=args.device,
                           resume=not args.no_resume, progress=not args.quiet, config=config)
    print(result.table())
    print(f"finetune: best checkpoint -> {result.checkpoint}; metrics -> {args.out / 'metrics.json'}")
    return 0
