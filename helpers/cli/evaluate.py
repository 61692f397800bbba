"""``evaluate``: score a label raster against reference data (object F1, mean IoU, pixel IoU, boundary F)."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserInputError
from ..metrics import VECTOR_SUFFIXES, evaluate, reference_labels
from ..tables import format_table

_WORST_ROWS = 10


def register(subparsers) -> None:
    """Add ``python -m helpers evaluate PRED REF [--tolerance-m 2] [--iou 0.5] [--csv OUT]``."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score predicted objects against reference data: object F1 / mean IoU, pixel IoU, boundary F",
        description=(
            "Score a predicted label raster (what `segment` writes: 0 = background, one value per object) "
            "against reference data: a label raster, a 0/1 mask (--binary-ref) or polygons in any CRS "
            "(GeoJSON, GeoPackage, Shapefile, GeoParquet), rasterised onto the prediction's grid."
        ),
    )
    parser.add_argument("pred", help="predicted label GeoTIFF (uint, 0 = background)")
    parser.add_argument("ref", help="reference: label raster, mask raster, or vector file in any CRS")
    parser.add_argument("--tolerance-m", type=float, default=None,
                        help="boundary tolerance in metres (default: DAVIS's 0.8%% of the image diagonal)")
    parser.add_argument("--tolerance-px", type=float, default=None, help="boundary tolerance in pixels instead")
    parser.add_argument("--iou", type=float, default=0.5, help="IoU an object match needs (default 0.5)")
    parser.add_argument("--binary-ref", action="store_true",
                        help="the reference raster is one mask (non-zero = object): its connected parts are objects")
    parser.add_argument("--region", default=None,
                        help="polygons (any CRS) or a mask raster of the area where REF is complete: objects "
                        "mostly outside it and pixels outside it are not scored")
    parser.add_argument("--csv", type=Path, default=None, help="write one row per reference object to this CSV")
    parser.set_defaults(func=_cmd_evaluate)


def _region(path, like):
    """The --region file as a bool mask on the prediction's grid (any non-zero pixel / any polygon)."""
    if path is None:
        return None
    return reference_labels(path, like, binary=True) > 0


def _cmd_evaluate(args) -> int:
    pred = Path(args.pred)
    if pred.suffix.lower() in VECTOR_SUFFIXES:
        raise UserInputError(f"PRED must be a label raster (the grid to score on), got the vector file {pred.name}")
    if not pred.is_file():
        raise UserInputError(f"prediction {pred} does not exist")
    ev = evaluate(pred, args.ref, iou_threshold=args.iou, tolerance_m=args.tolerance_m,
                  tolerance_px=args.tolerance_px, binary_reference=args.binary_ref or None,
                  region=_region(args.region, pred))
    print(ev.table())
    failed = ev.objects[ev.objects["diagnosis"] != "matched"].sort_values("best_iou").head(_WORST_ROWS)
    if len(failed):
        columns = ["ref_id", "best_pred_id", "best_iou", "ref_area_px", "n_parts", "diagnosis"]
        print(f"\nunmatched reference objects (worst {len(failed)} of {ev.summary['fn']}):")
        print(format_table(failed[columns].to_dict("records"), columns))
    if args.csv is not None:
        ev.to_csv(args.csv)
        print(f"\nper-object rows -> {args.csv}")
    return 0
