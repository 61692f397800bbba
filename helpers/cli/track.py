"""``track``: follow prompted objects through a time series of rasters with SAM 2 (:mod:`helpers.timeseries`).

    python -m helpers track naip/ --model sam2.1_hiera_t --prompts ponds.gpkg --out tracks/

writes ``tracks/labels_<date>.tif`` (one uint32 label GeoTIFF per date on the stack's grid, nodata 0,
values = object ids), ``tracks/tracks.gpkg`` (one layer: date, object_id, area_m2, score, polygon),
``tracks/areas.csv`` and, with ``--gif``, ``tracks/tracks.gif``.
"""

from __future__ import annotations

from pathlib import Path

from ..backends import backend_for
from ..errors import UserInputError
from ..export import VECTOR_DRIVERS
from ..registry import get_spec
from ..timeseries.stack import RESAMPLING


def _cmd_track(args) -> int:
    """Check every argument and input (nothing loaded or written yet), then track and write."""
    from ..timeseries.prompts import place_prompts, read_track_prompts
    from ..timeseries.stack import open_stack

    spec = get_spec(args.model)  # unknown names fail here, in one line
    backend = backend_for(spec)
    if not backend.can_track:
        from ..timeseries.tracker import trackable_models

        raise UserInputError(f"{args.model} cannot track objects through time; use one of: {', '.join(trackable_models())}")
    if args.weights is not None and not Path(args.weights).expanduser().is_file():
        raise UserInputError(f"--weights file not found: {args.weights}")
    if Path(args.vector).suffix.lower() not in VECTOR_DRIVERS:
        raise UserInputError(f"--vector {args.vector}: use one of {', '.join(sorted(VECTOR_DRIVERS))}")
    dates = [d.strip() for d in args.dates.split(",")] if args.dates else None
    read_options = {"bands": args.bands} if args.bands else {}
    if args.stretch_uint8:
        read_options["stretch_uint8"] = True
    stack = open_stack(args.stack if len(args.stack) > 1 else args.stack[0], dates=dates, reference=args.reference,
                       bounds=args.bounds, bounds_crs=args.bounds_crs, resampling=args.resampling, quiet=True,
                       **read_options)
    prompts = read_track_prompts(args.prompts)
    place_prompts(prompts, stack)  # every prompt checked against the grid and the dates before loading
    print(stack.describe())
    options = {"image_size": args.image_size} if args.image_size else {}

    from ..timeseries.plots import write_gif
    from ..timeseries.tracker import load_tracker

    tracker = load_tracker(args.model, weights=args.weights, device=args.device, **options)
    result = tracker.track(stack, prompts, progress=not args.quiet)
    written = result.write(args.out, vector=args.vector, cog=args.cog)
    if args.gif:
        written["gif"] = write_gif(result, stack, Path(args.out) / "tracks.gif")
    timing = result.timings
    print(f"track: {len(result.object_ids)} object(s) through {len(stack)} dates in {timing['seconds']:.1f} s "
          f"({timing['per_frame_s']:.2f} s per frame, image size {result.extra['image_size']})")
    if result.smoke:
        print("  untrained (smoke) weights: the masks are meaningless")
    print(f"  labels: {len(written['labels'])} GeoTIFFs in {args.out} ({written['labels'][0].name} ...)")
    for key in ("vector", "table", "gif"):
        if key in written:
            print(f"  {key}: {written[key]}")
    return 0


def register(subparsers) -> None:
    """Add ``track`` to ``python -m helpers``."""
    p = subparsers.add_parser(
        "track", help="track prompted objects through a time series of rasters with SAM 2 (per-date layers)",
        description=__doc__.splitlines()[0],
        epilog="Dates come from the file names (YYYYMMDD, YYYY-MM-DD, YYYY...) unless --dates is given. Dates "
        "not on the first date's grid are reprojected onto it. Exit status: 0 done, 2 bad arguments or inputs "
        "(reported before anything is loaded or written), 3 weights unavailable.",
    )
    p.add_argument("stack", nargs="+", metavar="STACK", help="raster files of one place, or one folder of them")
    p.add_argument("--model", required=True, help="a registry model with a video predictor, e.g. sam2.1_hiera_t")
    p.add_argument("--weights", help="local weights file (default: the cached official checkpoint)")
    p.add_argument("--prompts", required=True, metavar="FILE",
                   help="vector file, any CRS (none: pixel column/row of the stack grid): points (clicks) or "
                   "polygons (boxes) with an 'object_id' column (int >= 1), optional 'label' (1 foreground, "
                   "0 background) and 'date' (the date the prompt is drawn on; default the first)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--dates", help="comma-separated dates, one per file in the order given (instead of names)")
    p.add_argument("--reference", help="a raster whose grid every date is put on (default: the first date's)")
    p.add_argument("--bounds", type=float, nargs=4, metavar=("LEFT", "BOTTOM", "RIGHT", "TOP"),
                   help="crop the grid to these bounds (an area of interest), in --bounds-crs")
    p.add_argument("--bounds-crs", help="CRS of --bounds, e.g. EPSG:4326 (default: the grid's)")
    p.add_argument("--resampling", default="bilinear", choices=RESAMPLING,
                   help="for dates on another grid (default %(default)s)")
    p.add_argument("--bands", help="3 bands to show SAM, e.g. 4,3,2 or nir,red,green (the same for every date)")
    p.add_argument("--stretch-uint8", action="store_true",
                   help="stretch 8-bit data too (one stretch for all dates; default: 8-bit values unchanged)")
    p.add_argument("--image-size", type=int, help="SAM 2 input side (multiple of 32; default the model's 1024; "
                   "smaller is faster on a CPU and coarser)")
    p.add_argument("--vector", default="tracks.gpkg", help="file name of the polygons (default %(default)s)")
    p.add_argument("--device", help="cpu, cuda, mps (default: the best available)")
    p.add_argument("--cog", action="store_true", help="write the label rasters as Cloud Optimized GeoTIFFs")
    p.add_argument("--gif", action="store_true", help="also write tracks.gif (the dates with the masks)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_track)
