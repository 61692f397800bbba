"""``preprocess``: 16-bit / multiband / SAR rasters -> 8-bit RGB GeoTIFFs with the same georeferencing."""

from __future__ import annotations

import sys

from ..preprocessing import preprocess
from ..raster import DEFAULT_SAR_DB_RANGE, DEFAULT_STRETCH


def register(subparsers) -> None:
    """Add ``python -m helpers preprocess INPUT OUTPUT [--bands 4,3,2] [--stretch 2 98] [--sar]``."""
    parser = subparsers.add_parser(
        "preprocess",
        help="convert rasters (file or folder tree) to 8-bit 3-band GeoTIFFs with the same georeferencing",
        description=preprocess.__doc__.splitlines()[0],
    )
    parser.add_argument("input", help="raster file or folder (walked recursively)")
    parser.add_argument(
        "output", help="file input: output .tif/.tiff, or a folder (existing, or a path without an ending); "
        "folder input: output folder (mirrored tree)",
    )
    parser.add_argument("--bands", help="1-based indexes or band descriptions, e.g. 4,3,2 or B4,B3,B2")
    parser.add_argument(
        "--stretch", nargs=2, type=float, default=list(DEFAULT_STRETCH), metavar=("LOW", "HIGH"),
        help="scene-global percentile stretch (default: 2 98)",
    )
    parser.add_argument("--no-stretch", action="store_true", help="map data min/max (SAR: dB range) instead")
    parser.add_argument("--sar", action="store_true", help="input is linear SAR power: convert to dB first")
    parser.add_argument(
        "--sar-db-range", nargs=2, type=float, default=list(DEFAULT_SAR_DB_RANGE), metavar=("LOW", "HIGH"),
        help="dB clip range for --sar (default: -30 10)",
    )
    parser.add_argument("--stretch-uint8", action="store_true", help="stretch 8-bit inputs too")
    parser.add_argument(
        "--no-recursive", dest="recursive", action="store_false", help="do not walk sub-folders"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run_preprocess_cli)


def _run_preprocess_cli(args) -> int:
    summary = preprocess(
        args.input,
        args.output,
        bands=args.bands,
        stretch=None if args.no_stretch else tuple(args.stretch),
        sar=args.sar,
        recursive=args.recursive,
        sar_db_range=tuple(args.sar_db_range),
        stretch_uint8=args.stretch_uint8,
        progress=not args.quiet,
    )
    for path, reason in summary.failed:
        print(f"failed: {path}: {reason}", file=sys.stderr)
    print(f"preprocess: {len(summary.written)} written, {len(summary.failed)} failed -> {args.output}")
    return 0 if summary.ok else 1
