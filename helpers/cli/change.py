"""``change``: SAR change detection for one pair or folder trees of pairs (:mod:`helpers.change.batch`)."""

from __future__ import annotations

import argparse
import warnings

from ..change.batch import change_batch, find_pairs
from ..change.difference import GridWarning
from ..change.pipeline import DEFAULT_FORMATS, FORMATS, ChangeOptions
from ..change.segment import DEFAULT_MODELS, METHODS, PROMPT_KINDS
from ..change.thresholds import parse_threshold
from ..errors import UserInputError
from .arguments import parse_formats, parse_param

DESCRIPTION = """\
SAR change detection for one pair or folder trees of pairs: speckle filter and log-ratio in linear power,
a threshold (Kittler-Illingworth, Otsu or manual), change objects by the chosen method, written as a
GeoPackage of change polygons and a change GeoTIFF on the first date's grid.

Pairs (naming rule):
  BEFORE AFTER are files      one pair
  BEFORE AFTER are folders    each raster under BEFORE pairs with the raster at the same relative path
                              and stem under AFTER (2019/site_a/vv.tif <-> 2020/site_a/vv.tif)
  BEFORE is a folder alone    NAME_before.EXT pairs with NAME_after.EXT in the same folder

Outputs mirror the tree (DIR/site_a/vv.gpkg, vv_change.tif, vv_log_ratio.tif, vv_change.png, and last
vv.done.json); re-running skips finished pairs (resume). A raster without its partner or a bad pair is
reported in one line and the others go on.
"""


def _check_params(params: dict, model_name: str | None) -> None:
    """Unknown ``--param`` names fail up front, through the backend contract (no model loaded)."""
    if not params:
        return
    from ..backends import backend_for
    from ..backends.base import split_run_options

    backend = backend_for(model_name)
    valid = backend.generate_parameters()
    unknown = [k for k in params if k not in valid]
    if unknown:
        raise UserInputError(f"unknown --param {', '.join(unknown)} for {model_name}; valid: {', '.join(valid)}")
    try:
        backend.check_generate_params(split_run_options(params)[1])
    except TypeError as exc:
        raise UserInputError(f"--param: a value has the wrong type ({exc})") from None


def _cmd_change(args) -> int:
    """Check every argument (nothing loaded or written yet), then run the pairs."""
    params = dict(parse_param(p) for p in args.param)
    if params and args.method not in ("fastsam", "sam"):
        raise UserInputError(f"--param applies to --method fastsam / sam (automatic masks), not {args.method}")
    options = ChangeOptions(
        method=args.method, model=args.model, weights=args.weights, units=args.units, band=args.band,
        speckle_filter=args.filter, looks=args.looks, threshold=parse_threshold(args.threshold),
        signed=not args.absolute, min_area=args.min_area, prompt=args.prompt,
        min_change_fraction=args.min_change_fraction, scale_db=args.scale_db, style=args.style,
        tile_size=args.tile, overlap=args.overlap, params=params, formats=parse_formats(args.formats, FORMATS),
        progress=not args.quiet,
    )
    _check_params(params, options.model_name)
    find_pairs(args.before, args.after)  # naming-rule mistakes (missing folder, file + folder) fail here
    with warnings.catch_warnings():
        warnings.simplefilter("always", GridWarning)  # a resampled second date is reported for every pair
        summary = change_batch(args.before, args.after, args.out, options, force=args.force,
                               log=lambda line: print(line, flush=True))
    objects = f"{summary.masks} change objects"
    print(f"change: {len(summary.done)} done, {len(summary.skipped)} skipped (already finished), "
          f"{len(summary.failed)} failed; {objects} in {summary.seconds:.1f} s")
    for path, reason in summary.failed:
        print(f"  failed: {path}: {reason}")
    return summary.exit_code


def register(subparsers) -> None:
    """Add ``change`` to ``python -m helpers``."""
    p = subparsers.add_parser(
        "change", help="SAR change detection: log-ratio -> threshold / FastSAM / SAM -> change polygons",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 all pairs done, 1 some pairs failed (one line each), 2 bad arguments "
        "(reported before anything is loaded or written), 3 weights unavailable.",
    )
    p.add_argument("before", metavar="BEFORE", help="first date: a raster, or a folder")
    p.add_argument("after", metavar="AFTER", nargs="?",
                   help="second date: a raster, or a folder mirroring BEFORE (omit: BEFORE holds *_before/*_after)")
    p.add_argument("--out", required=True, help="output folder (mirrors the input tree)")
    p.add_argument("--method", choices=METHODS, default="threshold",
                   help="threshold: classical baseline, no weights (default); fastsam / sam: automatic masks "
                   "of the difference image, kept when mostly over the threshold; sam-prompted: SAM outlines "
                   "each threshold blob")
    p.add_argument("--model", help="registry name for the model methods (default: "
                   + ", ".join(f"{m}: {n}" for m, n in DEFAULT_MODELS.items()) + ")")
    p.add_argument("--weights", help="local weights file (default: the cached official checkpoint)")
    p.add_argument("--units", choices=("linear", "db"), default="linear",
                   help="input values: linear power (sigma0/gamma0, default) or dB; obvious mistakes are refused")
    p.add_argument("--band", type=int, default=1, help="band holding the intensity in both files (default 1)")
    p.add_argument("--filter", default="lee:5", help="speckle filter: none, boxcar:N or lee:N (N odd, pixels; "
                   "default %(default)s)")
    p.add_argument("--looks", type=float, help="equivalent number of looks for Lee (default: estimated; "
                   "Sentinel-1 IW GRD high resolution: about 4.4)")
    p.add_argument("--threshold", default="ki",
                   help="ki (Kittler-Illingworth minimum error, default), otsu, or a value in dB (e.g. 3)")
    p.add_argument("--absolute", action="store_true",
                   help="change of either sign is one class (default: increase and decrease kept apart)")
    p.add_argument("--min-area", type=int, default=10, help="smallest change object in pixels (default 10)")
    p.add_argument("--prompt", choices=PROMPT_KINDS, default="boxes",
                   help="sam-prompted: prompt with each blob's box or its peak pixel (default boxes)")
    p.add_argument("--min-change-fraction", type=float, default=0.5,
                   help="fastsam / sam: share of a segment over the threshold that makes it change (default 0.5)")
    p.add_argument("--scale-db", type=float, default=10.0,
                   help="|log-ratio| shown white in the 8-bit difference image (default 10 dB)")
    p.add_argument("--style", choices=("signed", "grey"), default="signed",
                   help="difference image: signed (increase red-yellow, decrease cyan) or grey")
    p.add_argument("--tile", type=int, default=1024, help="tile size for the model methods (default 1024)")
    p.add_argument("--overlap", type=int, default=128, help="tile overlap in pixels (default 128)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="generate option of the model (fastsam / sam), e.g. conf=0.25 (repeatable)")
    p.add_argument("--formats", default=",".join(DEFAULT_FORMATS),
                   help=f"comma-separated, from {','.join(FORMATS)}, or all (default %(default)s)")
    p.add_argument("--force", action="store_true", help="redo pairs that are already finished")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_change)
