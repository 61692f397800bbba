"""``vectorize``: a label GeoTIFF (ours or another tool's) -> polygons in any vector format."""

from __future__ import annotations

from pathlib import Path

from ..export import VECTOR_DRIVERS, driver_for, write_vector
from ..vectorize import vectorize_raster


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "vectorize",
        help="label GeoTIFF (uint8-uint32 instance ids) -> exact pixel-footprint polygons (gpkg, geojson, shp...)",
        description=vectorize_raster.__doc__.splitlines()[0],
    )
    parser.add_argument("labels", metavar="LABELS.tif", help="single-band integer label raster; 0 and nodata are background")
    parser.add_argument("out", metavar="OUT", help=f"vector file to write: {', '.join(sorted(VECTOR_DRIVERS))}")
    parser.add_argument("--connectivity", type=int, choices=(4, 8), default=4, help="pixel neighbourhood (default 4)")
    parser.add_argument("--simplify", type=float, help="simplification tolerance in pixels (default: exact footprints)")
    parser.add_argument("--to-crs", help="reproject the polygons, e.g. EPSG:4326")
    parser.add_argument("--layer", help="layer name (GeoPackage; default: the file stem)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)


def _run(args) -> int:
    driver_for(Path(args.out))  # an unknown format fails before the raster is read
    gdf = vectorize_raster(args.labels, connectivity=args.connectivity, simplify=args.simplify, to_crs=args.to_crs,
                           progress=not args.quiet)
    write_vector(gdf, args.out, layer=args.layer)
    print(f"vectorize: {len(gdf)} labels -> {args.out}")
    return 0
