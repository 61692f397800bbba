"""Batch segmentation of files and folder trees: ``python -m helpers segment INPUT... --model NAME --out DIR``.

Every input is segmented with :func:`helpers.tiling.segment_tiled` (any size, seam-safe) and written to
``DIR`` mirroring the input tree::

    DIR/<relative folder>/<stem>.gpkg | .geojson | .shp | .parquet   polygons (formats chosen)
    DIR/<relative folder>/<stem>_labels.tif                           uint32 instance labels
    DIR/<relative folder>/<stem>_overlay.png                          preview overlay
    DIR/<relative folder>/<stem>.done.json                            written last: the input is finished
    DIR/gallery.png                                                   contact sheet of all overlays

Outputs are written atomically, so a killed run leaves no half-written file; re-running skips inputs
whose ``.done.json`` matches (same input size/mtime, formats, model and options): resume. A bad input
(corrupt, unsupported, no CRS when map prompts need one) is reported in one line and the batch goes on;
the exit code is 1 when any input failed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .export import atomic_output, draw_banner, overlay_labels, write_png, write_vector
from .tiling import DEFAULT_OVERLAP, DEFAULT_TILE_SIZE, segment_tiled

__all__ = ["FORMATS", "BatchSummary", "find_inputs", "segment_batch", "contact_sheet", "register_cli"]

# --formats name -> file ending appended to the output stem.
FORMATS = {
    "gpkg": ".gpkg",
    "geojson": ".geojson",
    "shp": ".shp",
    "parquet": ".parquet",
    "tif": "_labels.tif",
    "png": "_overlay.png",
}
DEFAULT_FORMATS = ("gpkg", "tif", "png")
VECTOR_FORMATS = ("gpkg", "geojson", "shp", "parquet")
MARKER = ".done.json"
THUMBNAIL = 256


@dataclass
class BatchSummary:
    """What a batch did: inputs done / skipped (already finished) / failed (with reasons), masks, time."""

    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    masks: int = 0
    seconds: float = 0.0
    gallery: Path | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def __str__(self) -> str:
        return (f"{len(self.done)} done, {len(self.skipped)} skipped (already finished), {len(self.failed)} failed; "
                f"{self.masks} masks in {self.seconds:.1f} s")


# ---- inputs and outputs -------------------------------------------------------------------------
def _is_raster(path: Path) -> bool:
    from .raster import RASTER_SUFFIXES

    return path.suffix.lower() in RASTER_SUFFIXES


def find_inputs(inputs) -> tuple[list[tuple[Path, Path]], list[tuple[Path, str]]]:
    """Files to segment as ``(path, path relative to its input root)``, and inputs rejected up front.

    Folders are searched recursively for raster files (``helpers.raster.RASTER_SUFFIXES``); hidden
    files and folders are ignored. A file named explicitly with another ending is rejected.
    """
    found, rejected = [], []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            for path in sorted(item.rglob("*")):
                rel = path.relative_to(item)
                if path.is_file() and _is_raster(path) and not any(p.startswith(".") for p in rel.parts):
                    found.append((path, rel))
        elif item.is_file():
            if _is_raster(item):
                found.append((item, Path(item.name)))
            else:
                rejected.append((item, f"unsupported file type {item.suffix or '(none)'!r}"))
        else:
            rejected.append((item, "no such file or folder"))
    return found, rejected


def _output_stems(jobs: list[tuple[Path, Path]], out_dir: Path) -> list[Path]:
    """``out_dir/<rel folder>/<stem>``; inputs sharing a stem (a.tif, a.png) get the ending appended."""
    stems = [out_dir / rel.parent / rel.stem for _, rel in jobs]
    clash = {s for s in stems if stems.count(s) > 1}
    return [s.with_name(f"{s.name}_{rel.suffix.lstrip('.').lower()}") if s in clash else s
            for s, (_, rel) in zip(stems, jobs, strict=True)]


def _outputs(stem: Path, formats) -> dict[str, Path]:
    return {fmt: stem.with_name(stem.name + FORMATS[fmt]) for fmt in formats}


def _fingerprint(path: Path, settings: dict) -> dict:
    stat = path.stat()
    return {"input": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, **settings}


def _finished(marker: Path, fingerprint: dict, outputs: dict[str, Path]) -> bool:
    try:
        saved = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    same = all(saved.get(k) == v for k, v in fingerprint.items())
    return same and all(p.exists() for p in outputs.values())


# ---- prompts --------------------------------------------------------------------------------------
def read_prompts(path, mode: str):
    """Prompt geometries from a vector file (any CRS): points for ``"points"``, polygons for ``"boxes"``."""
    import geopandas as gpd

    gdf = gpd.read_file(path)
    gdf = gdf[~gdf.geometry.is_empty & gdf.geometry.notna()]
    if len(gdf) == 0:
        raise ValueError(f"{path}: no geometries")
    return gdf


def _prompts_for_scene(gdf, mode: str, source) -> dict | None:
    """Prompts reprojected into the scene, keeping those inside it; ``None`` when none falls inside."""
    import shapely

    if gdf.crs is not None and source.crs is None:
        raise ValueError(f"no CRS in this image but the prompts are in {gdf.crs.to_string()}")
    if gdf.crs is None and source.crs is not None:
        raise ValueError("the prompts file has no CRS; cannot place its coordinates on a georeferenced scene")
    geoms = gdf.to_crs(source.crs).geometry if gdf.crs is not None else gdf.geometry
    if source.crs is not None:
        left, top = source.transform * (0, 0)
        right, bottom = source.transform * (source.width, source.height)
        footprint = shapely.box(min(left, right), min(top, bottom), max(left, right), max(top, bottom))
    else:  # prompts without CRS are pixel (column, row) indices, as everywhere in helpers.prompts
        footprint = shapely.box(-0.5, -0.5, source.width - 0.5, source.height - 0.5)
    if mode == "points":
        points = geoms.representative_point()
        points = points[points.within(footprint)]
        values = np.column_stack([points.x, points.y]) if len(points) else None
    else:
        boxes = geoms[geoms.intersects(footprint)].intersection(footprint)
        values = np.asarray(boxes.bounds) if len(boxes) else None
    if values is None or len(values) == 0:
        return None
    return {mode: values, "crs": source.crs}


# ---- one file -------------------------------------------------------------------------------------
def _write_overlay(result, path: Path) -> Path:
    from .masks import SMOKE_BANNER

    image = overlay_labels(result.preview, result.preview_labels, alpha=0.5)
    if result.smoke:
        image = draw_banner(image, SMOKE_BANNER.replace("\u2014", "-"))
    return write_png(image, path, text={"model": result.model, "smoke": str(result.smoke).lower(),
                                        "masks": len(result)})


def segment_file(model, path: Path, stem: Path, formats, mode="everything", prompts=None, tile_size=DEFAULT_TILE_SIZE,
                 overlap=DEFAULT_OVERLAP, params=None, read_options=None, progress=False, cog=False) -> int:
    """Segment one raster and write its outputs (all atomic). Returns the number of masks."""
    from .raster import open_raster

    outputs = _outputs(stem, formats)
    with open_raster(path, **(read_options or {})) as source:
        scene_prompts = None
        if mode != "everything":
            scene_prompts = _prompts_for_scene(prompts, mode, source)
            if scene_prompts is None:
                raise ValueError("none of the prompts falls inside this image")
        result = segment_tiled(model, source, tile_size=tile_size, overlap=overlap, mode=mode,
                               prompts=scene_prompts, params=params, out_path=outputs.get("tif"),
                               progress=progress, cog=cog, vectors=any(f in formats for f in VECTOR_FORMATS))
    for fmt in VECTOR_FORMATS:
        if fmt in outputs:
            write_vector(result.gdf, outputs[fmt], layer=stem.name)
    if "png" in outputs:
        _write_overlay(result, outputs["png"])
    return len(result)


# ---- gallery --------------------------------------------------------------------------------------
def contact_sheet(items: list[tuple[Path, str]], path, columns: int = 4, size: int = THUMBNAIL) -> Path | None:
    """Write a grid of PNG thumbnails with captions (like the SAM tutorial's grid of results).

    Args:
        items: ``(png path, caption)`` pairs.
        path: output PNG.
        columns: thumbnails per row.
        size: thumbnail box side in pixels.
    """
    from PIL import Image, ImageDraw

    if not items:
        return None
    columns = max(1, min(columns, len(items)))
    rows = -(-len(items) // columns)
    caption = 14
    sheet = Image.new("RGB", (columns * size, rows * (size + caption)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for k, (png, text) in enumerate(items):
        x, y = (k % columns) * size, (k // columns) * (size + caption)
        with Image.open(png) as image:
            thumb = image.convert("RGB")
            thumb.thumbnail((size - 4, size - 4))
        sheet.paste(thumb, (x + (size - thumb.width) // 2, y + caption + (size - thumb.height) // 2))
        draw.text((x + 3, y + 1), text[: size // 6], fill=(0, 0, 0))
    return write_png(np.asarray(sheet), path)


# ---- the batch --------------------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def segment_batch(inputs, out_dir, model, model_name: str = "", mode: str = "everything", prompts=None,
                  tile_size: int = DEFAULT_TILE_SIZE, overlap: int = DEFAULT_OVERLAP, formats=DEFAULT_FORMATS,
                  params: dict | None = None, read_options: dict | None = None, force: bool = False,
                  cog: bool = False, progress: bool = True, log=None) -> BatchSummary:
    """Segment every raster under ``inputs`` into ``out_dir``; see the module docstring for the layout.

    Args:
        inputs: files and/or folders (searched recursively).
        out_dir: output root (created).
        model: a loaded :class:`helpers.base.SegmentationModel`; ``model_name`` is recorded for resume.
        mode: ``"everything"``, ``"points"`` or ``"boxes"``.
        prompts: for prompted modes, a GeoDataFrame (any CRS; reprojected to each scene; without CRS:
            pixel coordinates) of points or polygons (their bounding boxes are the box prompts).
        tile_size, overlap: tiling (see :func:`helpers.tiling.segment_tiled`).
        formats: any of ``FORMATS`` (``gpkg``, ``geojson``, ``shp``, ``parquet``, ``tif``, ``png``).
        params: extra ``generate``/``predict`` keyword arguments.
        read_options: ``open_raster`` options (``bands``, ``sar``, ``nodata``, ``stretch``).
        force: redo inputs that are already finished.
        cog: write label rasters as Cloud Optimized GeoTIFFs.
        progress: tqdm bars; ``log``: where one-line reports go (default stderr).
    """
    from tqdm.auto import tqdm

    log = log or (lambda line: tqdm.write(line, file=sys.stderr))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs, rejected = find_inputs(inputs)
    summary = BatchSummary()
    for path, reason in rejected:
        summary.failed.append((path, reason))
        log(f"FAILED {path}: {reason}")
    settings = {"model": model_name or getattr(model, "name", ""), "mode": mode, "tile": tile_size,
                "overlap": overlap, "formats": sorted(formats), "params": params or {},
                "read_options": read_options or {}, "cog": cog}
    gallery = []
    for (path, _rel), stem in zip(tqdm(jobs, desc="files", unit="file", disable=not progress),
                                  _output_stems(jobs, out_dir), strict=True):
        outputs = _outputs(stem, formats)
        marker = stem.with_name(stem.name + MARKER)
        fingerprint = _fingerprint(path, json.loads(json.dumps(settings, default=str)))
        if not force and _finished(marker, fingerprint, outputs):
            summary.skipped.append(path)
            summary.masks += json.loads(marker.read_text()).get("masks", 0)
        else:
            file_start = time.perf_counter()
            try:
                n = segment_file(model, path, stem, formats, mode, prompts, tile_size, overlap, params,
                                 read_options, progress=False, cog=cog)
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
                summary.failed.append((path, _one_line(exc)))
                log(f"FAILED {path}: {_one_line(exc)}")
                continue
            record = {**fingerprint, "masks": n, "seconds": round(time.perf_counter() - file_start, 3),
                      "smoke": bool(getattr(model, "smoke", False)),
                      "outputs": {k: os.path.relpath(v, marker.parent) for k, v in outputs.items()}}
            with atomic_output(marker) as tmp:
                tmp.write_text(json.dumps(record, indent=1))
            summary.done.append(path)
            summary.masks += n
        if "png" in outputs and outputs["png"].exists():
            masks = json.loads(marker.read_text()).get("masks", 0)
            gallery.append((outputs["png"], f"{path.name} ({masks})"))
    summary.gallery = contact_sheet(gallery, out_dir / "gallery.png")
    summary.seconds = time.perf_counter() - start
    return summary


# ---- command line ---------------------------------------------------------------------------------
def _parse_param(text: str):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--param wants KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def _cmd_segment(args) -> int:
    from .models import load_model

    formats = [f.strip().lower() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown --formats {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    if args.mode != "everything" and not args.prompts:
        raise ValueError(f"--mode {args.mode} needs --prompts FILE (points or polygons, any CRS)")
    prompts = read_prompts(args.prompts, args.mode) if args.prompts else None
    read_options = {}
    if args.bands:
        read_options["bands"] = args.bands
    if args.sar:
        read_options["sar"] = True
    from .cli import UserError
    from .weights import WeightsUnavailableError

    try:
        model = load_model(args.model, weights=args.weights)
    except WeightsUnavailableError as exc:
        raise UserError(str(exc).splitlines()[0]) from None
    summary = segment_batch(
        args.inputs, args.out, model, model_name=args.model, mode=args.mode, prompts=prompts, tile_size=args.tile,
        overlap=args.overlap, formats=formats, params=dict(_parse_param(p) for p in args.param),
        read_options=read_options, force=args.force, cog=args.cog, progress=not args.quiet,
    )
    print(f"segment: {summary}")
    for path, reason in summary.failed:
        print(f"  failed: {path}: {reason}")
    if summary.gallery:
        print(f"  gallery: {summary.gallery}")
    return summary.exit_code


def register_cli(subparsers) -> None:
    """Add ``segment`` to ``python -m helpers``."""
    p = subparsers.add_parser(
        "segment", help="segment raster files / folder trees into GIS layers (tiled, resumable)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="raster files or folders (searched recursively)")
    p.add_argument("--model", required=True, help="registry name, e.g. sam_vit_b, fastsam_s, conventional")
    p.add_argument("--weights", help="local weights file (default: the cached official checkpoint)")
    p.add_argument("--mode", choices=("everything", "points", "boxes"), default="everything")
    p.add_argument("--prompts", help="vector file of points (points mode) or polygons (boxes mode), any CRS")
    p.add_argument("--tile", type=int, default=DEFAULT_TILE_SIZE, help="tile size in pixels (default %(default)s)")
    p.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP, help="tile overlap in pixels (default %(default)s)")
    p.add_argument("--out", required=True, help="output folder (mirrors the input tree)")
    p.add_argument("--formats", default=",".join(DEFAULT_FORMATS),
                   help=f"comma-separated, from {','.join(FORMATS)} (default %(default)s)")
    p.add_argument("--bands", help="bands to read, e.g. 4,3,2 or red,green,blue")
    p.add_argument("--sar", action="store_true", help="inputs are SAR linear power: convert to dB first")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="extra generate/predict option, e.g. points_per_side=16 (repeatable)")
    p.add_argument("--cog", action="store_true", help="write label rasters as Cloud Optimized GeoTIFFs")
    p.add_argument("--force", action="store_true", help="redo inputs that are already finished")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_segment)
