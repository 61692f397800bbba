"""``segment``: raster files and folder trees -> GIS layers, tiled and resumable (:mod:`helpers.batch`)."""

from __future__ import annotations

import json
from pathlib import Path

from .. import batch
from ..atomic import check_path_argument
from ..backends import backend_for
from ..backends.base import split_run_options
from ..batch import (
    DEFAULT_FORMATS,
    DEFAULT_SPLIT_TILES,
    FORMATS,
    LazyModel,
    check_outputs_apart,
    find_inputs,
    read_prompts,
    segment_batch,
)
from ..errors import UserInputError
from ..raster import RASTER_SUFFIXES, check_bands
from ..registry import get_spec
from ..tiling import DEFAULT_OVERLAP, DEFAULT_TILE_SIZE, tile_grid
from .arguments import parse_formats, parse_param
from .cluster import add_dask_arguments, dask_from_args


def _check_params(params: dict, model_name: str, mode: str) -> None:
    """Unknown ``--param`` names and bad values fail up front, through the backend's contract."""
    if not params:
        return
    backend = backend_for(model_name)
    if mode != "everything" and not backend.predict_params:  # prompted SAM/FastSAM predict takes no options
        raise UserInputError(f"--param is not used by {model_name} in --mode {mode} (only in --mode everything)")
    valid = backend.generate_parameters()
    unknown = [k for k in params if k not in valid]
    if unknown:
        raise UserInputError(f"unknown --param {', '.join(unknown)} for {model_name}; valid: {', '.join(valid)}")
    _, own = split_run_options(params)
    try:
        backend.check_generate_params(own)
    except TypeError as exc:  # e.g. points_per_side=null reaching int()
        given = ", ".join(f"{k}={json.dumps(v)}" for k, v in params.items())
        raise UserInputError(f"--param {given}: a value has the wrong type ({exc})") from None


def _checked_inputs(inputs, out_dir, formats) -> list[Path]:
    """The raster files to segment; a missing or unsupported input, no raster at all, an empty ``--out`` or
    outputs that would land on an input or clash are a UserInputError (before any cluster starts)."""
    out_dir = check_path_argument(out_dir, "--out")  # ValueError: the command line exits 2 as for UserInputError
    jobs, rejected = find_inputs(inputs, out_dir=out_dir)
    if rejected:
        path, reason = rejected[0]
        raise UserInputError(f"input {path}: {reason}")
    if not jobs:
        raise UserInputError(f"no rasters found under {', '.join(map(str, inputs))} (looked for {', '.join(RASTER_SUFFIXES)})")
    check_outputs_apart(inputs, jobs, out_dir, formats)
    return [path for path, _ in jobs]


def _cmd_segment(args) -> int:
    """Check every argument (nothing loaded or written yet), then run the batch with a lazily loaded model."""
    formats = parse_formats(args.formats, FORMATS)
    get_spec(args.model)  # unknown names fail here, in one line
    if args.weights is not None and not Path(args.weights).expanduser().is_file():
        raise UserInputError(f"--weights file not found: {args.weights}")
    try:
        tile_grid(args.tile, args.tile, args.tile, args.overlap)
    except ValueError as exc:
        raise UserInputError(f"--tile {args.tile} --overlap {args.overlap}: {exc}") from None
    params = dict(parse_param(p) for p in args.param)
    _check_params(params, args.model, args.mode)
    if args.mode != "everything" and not args.prompts:
        raise UserInputError(f"--mode {args.mode} needs --prompts FILE (points or polygons, any CRS)")
    if args.mode == "everything" and args.prompts:
        raise UserInputError("--prompts needs --mode points or --mode boxes")
    prompts = read_prompts(args.prompts, args.mode) if args.prompts else None
    check_bands(_checked_inputs(args.inputs, args.out, formats), args.bands)
    read_options = {}
    if args.bands:
        read_options["bands"] = args.bands
    if args.sar:
        read_options["sar"] = True
    if args.split_tiles < 1:
        raise UserInputError(f"--split-tiles must be at least 1, got {args.split_tiles}")
    with dask_from_args(args) as client:
        summary = segment_batch(
            args.inputs, args.out, LazyModel(args.model, args.weights), model_name=args.model, mode=args.mode,
            prompts=prompts, tile_size=args.tile, overlap=args.overlap, formats=formats, params=params,
            read_options=read_options, force=args.force, cog=args.cog, progress=not args.quiet, client=client,
            split_tiles=args.split_tiles,
        )
    print(f"segment: {summary}")
    for path, reason in summary.failed:
        print(f"  failed: {path}: {reason}")
    if summary.gallery:
        print(f"  gallery: {summary.gallery}")
    return summary.exit_code


def register(subparsers) -> None:
    """Add ``segment`` to ``python -m helpers``."""
    p = subparsers.add_parser(
        "segment", help="segment raster files / folder trees into GIS layers (tiled, resumable)",
        description=batch.__doc__.splitlines()[0],
        epilog="Exit status: 0 all inputs done, 1 some inputs failed (one line each), 2 bad arguments "
        "(reported before anything is loaded or written).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="raster files or folders (searched recursively)")
    p.add_argument("--model", required=True, help="registry name, e.g. sam_vit_b, fastsam_s, conventional")
    p.add_argument("--weights", help="local weights file (default: the cached official checkpoint); FastSAM .pt "
                   "files are opened with ultralytics' safe loading, which runs no code from the file")
    p.add_argument("--mode", choices=("everything", "points", "boxes"), default="everything",
                   help="everything: automatic masks; points / boxes: one object per prompt in --prompts")
    p.add_argument("--prompts", metavar="FILE",
                   help="vector file, any CRS (none: pixel column/row). points mode: Point geometries, optional "
                   "'label' column 1=foreground (one object each) / 0=background (excluded from the foreground "
                   "masks in its tile); boxes mode: Polygons (their bounding boxes)")
    p.add_argument("--tile", type=int, default=DEFAULT_TILE_SIZE,
                   help="tile size in pixels, >= 32 (default %(default)s)")
    p.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP,
                   help="tile overlap in pixels, 0 to tile/2 (default %(default)s)")
    p.add_argument("--out", required=True, help="output folder (mirrors the input tree)")
    p.add_argument("--formats", default=",".join(DEFAULT_FORMATS),
                   help=f"comma-separated, from {','.join(FORMATS)}, or all (default %(default)s)")
    p.add_argument("--bands", help="1 or 3 bands to read, e.g. 4,3,2 or red,green,blue (checked on the first input)")
    p.add_argument("--sar", action="store_true", help="inputs are SAR linear power: convert to dB first")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="extra generate option (everything mode; conventional: any mode), e.g. "
                   "points_per_side=16; names are checked against the model's parameters (repeatable)")
    p.add_argument("--cog", action="store_true", help="write label rasters as Cloud Optimized GeoTIFFs")
    p.add_argument("--force", action="store_true", help="redo inputs that are already finished")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_dask_arguments(p)
    p.add_argument("--split-tiles", type=int, default=DEFAULT_SPLIT_TILES, metavar="N",
                   help="with --dask: an input of more than N tiles runs as one task per tile, so one huge mosaic "
                   "also spreads over the workers (default %(default)s)")
    p.set_defaults(func=_cmd_segment)
