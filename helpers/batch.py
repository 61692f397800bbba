"""Batch segmentation of files and folder trees: ``python -m helpers segment INPUT... --model NAME --out DIR``.

Every input is segmented with :func:`helpers.tiling.segment_tiled` (any size, seam-safe) and written to
``DIR`` mirroring the input tree::

    DIR/<relative folder>/<stem>.gpkg | .geojson | .shp | .parquet   polygons (formats chosen)
    DIR/<relative folder>/<stem>_labels.tif                           uint32 instance labels
    DIR/<relative folder>/<stem>_overlay.png                          preview overlay
    DIR/<relative folder>/<stem>.done.json                            written last: the input is finished
    DIR/gallery.png                                                   contact sheet of all overlays

Outputs are written atomically, so a killed run leaves no half-written file; re-running skips inputs
whose ``.done.json`` matches (same input size/mtime, formats, model, weights, prompts and options): resume.
An input that is redone first loses its old marker and the outputs of formats not asked for any more;
an input that fails keeps no final-named output.

Outputs never land on an input and never mix: ``--out`` may not be an input folder, an output that
would replace an input file is refused, ``DIR`` (and any earlier output tree, marked by a hidden
``.samrs-segment-output`` file) is skipped when walking the inputs, and every input gets its own
names (:func:`plan_outputs`: ``a.tif`` + ``a.png`` -> ``a_tif`` / ``a_png``; ``x/scene.tif`` +
``y/scene.tif`` given as files -> ``x/scene`` / ``y/scene``); names that still clash (``scene.tif`` +
``scene.TIF``) are refused in one line. One run at a time writes to ``DIR`` (an OS lock, released even
when a run is killed); temp files of killed runs are removed at the next start.
The model is loaded only when some input still needs work. Argument mistakes (tile sizes, --param names,
--bands, prompt files, missing inputs) are reported in one line before anything is loaded or written
(exit 2). A bad input (corrupt, no CRS when map prompts need one) is reported in one line and the batch
goes on; the exit code is 1 when any input failed.

Prompt files (``--prompts``, any vector format and CRS): points for ``--mode points``, polygons for
``--mode boxes`` (their bounding boxes are the prompts). In points mode an optional ``label`` column says
1 = foreground (each such point segments one object) or 0 = background (added as a negative point to
every foreground point in the same tile, to keep that area out of its mask).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import (
    LOCK_NAME,
    atomic_output,
    check_path_argument,
    fold_path,
    is_disk_full,
    output_lock,
    remove_stale_temp_files,
    removing_new_empty_folders,
    writing,
)
from .config import smoke_mode
from .embedding_cache import checkpoint_identity
from .errors import UserInputError, one_line
from .export import safe_layer_name, write_png, write_vector
from .raster import RASTER_SUFFIXES, check_georeferencing_kept, open_raster, walk_rasters
from .registry import get_spec
from .render import draw_banner, overlay_labels
from .smoke import SMOKE_BANNER, read_smoke_marker, smoke_weights_path
from .tiling import DEFAULT_OVERLAP, DEFAULT_TILE_SIZE, segment_tiled
from .weights import weights_path

__all__ = ["FORMATS", "DEFAULT_FORMATS", "BatchSummary", "LazyModel", "find_inputs", "plan_outputs", "read_prompts",
           "segment_batch", "segment_file", "contact_sheet", "OUTPUT_MARKER"]

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
#: Hidden file in the root of every ``segment`` output folder: folders holding it are never walked as inputs.
OUTPUT_MARKER = ".samrs-segment-output"
_SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")
LABEL_COLUMN = "label"  # points mode: 1 = foreground, 0 = background
POINT_TYPES = ("Point", "MultiPoint")
POLYGON_TYPES = ("Polygon", "MultiPolygon")
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
    return path.suffix.lower() in RASTER_SUFFIXES


def find_inputs(inputs, out_dir=None) -> tuple[list[tuple[Path, Path]], list[tuple[Path, str]]]:
    """Files to segment as ``(path, path relative to its input root)``, and inputs rejected up front.

    Folders are searched recursively for raster files (``helpers.raster.RASTER_SUFFIXES``); hidden
    files and folders, ``out_dir`` and the output trees of earlier runs (folders holding
    :data:`OUTPUT_MARKER`) are skipped, so outputs are never segmented again. A file named explicitly
    with another ending is rejected, and so is an empty path (an unset shell variable would otherwise
    mean the current folder).
    """
    found, rejected = [], []
    exclude = [] if out_dir is None else [out_dir]
    for item in inputs:
        if item is None or not str(item).strip():
            rejected.append((Path(str(item or "")), "empty input path (an unset shell variable?)"))
            continue
        item = Path(item)
        if item.is_dir():
            for path in walk_rasters(item, exclude=exclude, marker=OUTPUT_MARKER):
                found.append((path, path.relative_to(item)))
        elif item.is_file():
            if _is_raster(item):
                found.append((item, Path(item.name)))
            else:
                rejected.append((item, f"unsupported file type {item.suffix or '(none)'!r}"))
        else:
            rejected.append((item, "no such file or folder"))
    seen, unique = set(), []
    for path, rel in found:  # a file named twice (alone and inside a named folder) is one input
        stat = path.stat()
        key = (stat.st_dev, stat.st_ino)
        if key not in seen:
            seen.add(key)
            unique.append((path, rel))
    return unique, rejected


def _root_label(path: Path, rel: Path) -> str:
    """The folder an input was found in, named from its input root (``p`` for ``p/x/a.tif`` found as ``x/a.tif``)."""
    root = path.resolve()
    for _ in rel.parts:
        root = root.parent
    return root.name or "root"


def plan_outputs(jobs: list[tuple[Path, Path]], out_dir: Path) -> list[Path]:
    """One output stem per input, ``out_dir/<rel folder>/<stem>``, unique per input even on case-blind disks.

    Inputs whose stems clash get the ending appended (``a.tif`` + ``a.png`` -> ``a_tif``, ``a_png``),
    then the name of the input folder they came from in front (``x/scene.tif`` + ``y/scene.tif`` ->
    ``x/scene``, ``y/scene``). What still clashes (``scene.tif`` + ``scene.TIF``) is refused.

    Raises:
        UserInputError: two inputs would share outputs (one line naming both).
    """
    def candidate(level: int, path: Path, rel: Path) -> Path:
        stem = rel.stem + (f"_{rel.suffix.lstrip('.').lower()}" if level in (1, 3) else "")
        folder = rel.parent if level < 2 else Path(_root_label(path, rel)) / rel.parent
        return out_dir / folder / stem

    levels = [0] * len(jobs)
    while True:
        stems = [candidate(level, path, rel) for level, (path, rel) in zip(levels, jobs, strict=True)]
        groups: dict[str, list[int]] = {}
        for i, stem in enumerate(stems):
            groups.setdefault(fold_path(stem), []).append(i)
        clashes = [g for g in groups.values() if len(g) > 1]
        if not clashes:
            return stems
        for group in clashes:
            if any(levels[i] == 3 for i in group):
                first, second = (jobs[i][0] for i in group[:2])
                raise UserInputError(
                    f"inputs {first} and {second} would share the outputs {stems[group[0]]}.*; rename one of "
                    "them (names differing only in letter case cannot be told apart on every disk) or segment "
                    "them into different --out folders"
                )
            for i in group:
                levels[i] += 1


def _outputs(stem: Path, formats) -> dict[str, Path]:
    return {fmt: stem.with_name(stem.name + FORMATS[fmt]) for fmt in formats}


def _fingerprint(path: Path, settings: dict) -> dict:
    stat = path.stat()
    return {"input": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, **settings}


def _weights_identity(model) -> dict:
    """Which weights made the outputs: other weights (``--weights``, smoke vs real) mean a re-run.

    Works for a loaded model and for a :class:`LazyModel` (the file it would load) alike; a file that
    does not exist yet (not downloaded) has no content id, so nothing counts as finished with it.
    """
    checkpoint = getattr(model, "checkpoint", None)
    identity = {"weights": None, "weights_id": None, "smoke": bool(getattr(model, "smoke", False))}
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        identity.update(weights=str(path.resolve()), weights_id=checkpoint_identity(path) if path.is_file() else None)
    return identity


class LazyModel:
    """A registry model loaded on first use: a resumed batch with nothing left to do loads nothing.

    ``checkpoint`` and ``smoke`` tell, without loading, which weights :func:`helpers.models.load_model`
    would use, so finished inputs are recognised exactly as with a loaded model.

    Args:
        name: registry name (``"sam_vit_b"``, ``"conventional"``...).
        weights: local weights file, or ``None`` for the cached official checkpoint.
    """

    def __init__(self, name: str, weights=None):
        self.name = name
        self.weights = weights
        if weights is not None:
            self.checkpoint = Path(weights).expanduser()
        elif not get_spec(name).has_weights:
            self.checkpoint = None
        elif smoke_mode():  # load_model would use the shared smoke weights
            self.checkpoint = smoke_weights_path(name)
        else:
            self.checkpoint = weights_path(name)
        self._model = None

    @property
    def smoke(self) -> bool:
        return self.checkpoint is not None and self.checkpoint.is_file() and read_smoke_marker(self.checkpoint) is not None

    def load(self):
        """The loaded :class:`helpers.base.SegmentationModel` (loaded once)."""
        if self._model is None:
            from .models import load_model

            self._model = load_model(self.name, weights=self.weights)
        return self._model


def _finished(marker: Path, fingerprint: dict, outputs: dict[str, Path]) -> bool:
    try:
        saved = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    same = all(saved.get(k) == v for k, v in fingerprint.items())
    return same and all(p.exists() for p in outputs.values())


# ---- prompts --------------------------------------------------------------------------------------
def read_prompts(path, mode: str = "points"):
    """Prompt geometries from a vector file (any CRS), checked for ``mode``.

    Args:
        path: any vector file GDAL reads (GeoPackage, GeoJSON, Shapefile...); without a CRS the
            coordinates are pixel (column, row) indices.
        mode: ``"points"`` needs Point geometries (MultiPoints are split), with an optional ``label``
            column, 1 = foreground and 0 = background (default: all foreground); ``"boxes"`` needs
            Polygons (their bounding boxes are the prompts; a ``label`` column is not used).

    Returns:
        A GeoDataFrame; in points mode its ``label`` column holds int 0/1.

    Raises:
        ValueError: missing or unreadable file, no geometries, geometries of the wrong type for
            ``mode``, ``label`` values other than 0/1, or no foreground point.
    """
    import geopandas as gpd

    path = Path(path)
    if not path.exists():
        raise ValueError(f"prompts file not found: {path}")
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - pyogrio/fiona raise several types for unreadable files
        raise ValueError(f"cannot read prompts file {path}: {one_line(exc)}") from None
    if "geometry" not in gdf.columns:
        raise ValueError(f"prompts file {path} has no geometries (a plain table?)")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if len(gdf) == 0:
        raise ValueError(f"prompts file {path} has no geometries")
    wanted = POINT_TYPES if mode == "points" else POLYGON_TYPES
    wrong = sorted(set(gdf.geom_type) - set(wanted))
    if wrong:
        hint = "--mode boxes takes polygons" if mode == "points" else "--mode points takes points"
        raise ValueError(f"--mode {mode} needs {' or '.join(wanted)} prompts, {path.name} has {', '.join(wrong)} ({hint})")
    if mode == "points":
        gdf = _checked_labels(gdf, path).explode(index_parts=False, ignore_index=True)
    return gdf


def _checked_labels(gdf, path: Path):
    """``gdf`` with an int 0/1 ``label`` column (a missing one means all foreground)."""
    import pandas as pd

    column = next((c for c in gdf.columns if str(c).lower() == LABEL_COLUMN), None)
    if column is None:
        return gdf.assign(**{LABEL_COLUMN: 1})
    values = gdf[column]
    numbers = pd.to_numeric(values.astype(object).map(lambda v: int(v) if isinstance(v, bool) else v), errors="coerce")
    bad = ~numbers.isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{path.name}: column {column!r} must be 1 (foreground) or 0 (background), "
                         f"got {values.iloc[row]!r} in row {row}")
    if not (numbers == 1).any():
        raise ValueError(f"{path.name}: every point has {column}=0 (background); at least one needs {column}=1")
    return gdf.drop(columns=[column]).assign(**{LABEL_COLUMN: numbers.astype(int).to_numpy()})


def _prompts_digest(gdf) -> str | None:
    """Content id of the prompts (geometry, CRS, labels): other prompts mean a re-run on resume."""
    if gdf is None:
        return None
    digest = hashlib.sha256(str(gdf.crs).encode())
    for wkb in gdf.geometry.to_wkb():
        digest.update(wkb)
    if LABEL_COLUMN in gdf:
        digest.update(np.asarray(gdf[LABEL_COLUMN], np.int8).tobytes())
    return digest.hexdigest()[:16]


def _prompts_for_scene(gdf, mode: str, source) -> dict | None:
    """Prompts reprojected into the scene, keeping those inside it; ``None`` when none falls inside.

    Points mode: ``"points"`` holds the points inside the scene (map coordinates in ``"crs"``),
    ``"labels"`` their 1 (foreground) / 0 (background) labels and ``"rows"`` their row numbers in ``gdf``;
    ``None`` when no foreground point falls inside.
    """
    import shapely
    from shapely.affinity import affine_transform

    if gdf.crs is not None and source.crs is None:
        raise ValueError(f"no CRS in this image but the prompts are in {gdf.crs.to_string()}")
    if gdf.crs is None and source.crs is not None:
        raise ValueError("the prompts file has no CRS; cannot place its coordinates on a georeferenced scene")
    geoms = gdf.to_crs(source.crs).geometry if gdf.crs is not None else gdf.geometry
    if source.crs is not None:  # the transformed scene rectangle: right for rotated/sheared transforms too
        footprint = affine_transform(shapely.box(0, 0, source.width, source.height), source.transform.to_shapely())
    else:  # prompts without CRS are pixel (column, row) indices, as everywhere in helpers.prompts
        footprint = shapely.box(-0.5, -0.5, source.width - 0.5, source.height - 0.5)
    if mode == "boxes":
        boxes = geoms[geoms.intersects(footprint)].intersection(footprint)
        return {mode: np.asarray(boxes.bounds), "crs": source.crs} if len(boxes) else None
    geoms = geoms.representative_point()  # the point itself for points (read_prompts allows only points)
    inside = geoms.within(footprint).to_numpy()
    labels = np.asarray(gdf[LABEL_COLUMN] if LABEL_COLUMN in gdf else np.ones(len(gdf)), int)
    xy = np.column_stack([geoms.x, geoms.y]) if len(geoms) else np.zeros((0, 2))
    rows = np.flatnonzero(inside)
    if not (labels[rows] == 1).any():
        return None
    return {mode: xy[rows], "labels": labels[rows], "crs": source.crs, "rows": rows}


# ---- one file -------------------------------------------------------------------------------------
def _write_overlay(result, path: Path) -> Path:
    image = overlay_labels(result.preview, result.preview_labels, alpha=0.5)
    if result.smoke:
        image = draw_banner(image, SMOKE_BANNER.replace("\u2014", "-"))
    return write_png(image, path, text={"model": result.model, "smoke": str(result.smoke).lower(),
                                        "masks": len(result)})


def segment_file(model, path: Path, stem: Path, formats, mode="everything", prompts=None, tile_size=DEFAULT_TILE_SIZE,
                 overlap=DEFAULT_OVERLAP, params=None, read_options=None, progress=False, cog=False) -> int:
    """Segment one raster and write its outputs (all atomic). Returns the number of masks.

    Raises:
        UserInputError: the file's georeferencing cannot be kept (ground control points only, or a
            transform without a CRS): the outputs would be silently misplaced.
        OSError: ``disk full writing PATH`` when the disk or quota fills up.
    """
    outputs = _outputs(stem, formats)
    with open_raster(path, **(read_options or {})) as source:
        check_georeferencing_kept(source)
        scene_prompts = None
        if mode != "everything":
            scene_prompts = _prompts_for_scene(prompts, mode, source)
            if scene_prompts is None:
                raise ValueError("none of the (foreground) prompts falls inside this image")
        with writing(outputs.get("tif", f"temporary tile files in {tempfile.gettempdir()}")):
            result = segment_tiled(model, source, tile_size=tile_size, overlap=overlap, mode=mode,
                                   prompts=scene_prompts, params=params, out_path=outputs.get("tif"),
                                   progress=progress, cog=cog, vectors=any(f in formats for f in VECTOR_FORMATS))
    if result.gdf is not None and scene_prompts is not None and "rows" in scene_prompts:
        # prompt_index numbers the prompts inside this image: report the prompts file's rows instead
        result.gdf["prompt_index"] = scene_prompts["rows"][result.gdf["prompt_index"].to_numpy()]
    for fmt in VECTOR_FORMATS:
        if fmt in outputs:
            with writing(outputs[fmt]):
                write_vector(result.gdf, outputs[fmt], layer=safe_layer_name(stem.name))
    if "png" in outputs:
        with writing(outputs["png"]):
            _write_overlay(result, outputs["png"])
    return len(result)


def _remove_outputs(stem: Path, keep_formats, inputs: set[str]) -> None:
    """Delete this stem's outputs of every format not in ``keep_formats`` (never an input file)."""
    for fmt, output in _outputs(stem, FORMATS).items():
        if fmt in keep_formats:
            continue
        paths = [output]
        if fmt == "shp":
            paths += [output.with_suffix(ending) for ending in _SHAPEFILE_SIDECARS]
        for candidate in paths:
            if fold_path(candidate.resolve()) not in inputs:
                candidate.unlink(missing_ok=True)


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
def _settings(model, model_name, mode, prompts, tile_size, overlap, formats, params, read_options, cog) -> dict:
    """What the outputs depend on (besides the input file): recorded in, and compared with, ``.done.json``."""
    settings = {"model": model_name or getattr(model, "name", ""), **_weights_identity(model), "mode": mode,
                "prompts": _prompts_digest(prompts), "tile": tile_size, "overlap": overlap,
                "formats": sorted(formats), "params": params or {}, "read_options": read_options or {}, "cog": cog}
    return json.loads(json.dumps(settings, default=str))


def segment_batch(inputs, out_dir, model, model_name: str = "", mode: str = "everything", prompts=None,
                  tile_size: int = DEFAULT_TILE_SIZE, overlap: int = DEFAULT_OVERLAP, formats=DEFAULT_FORMATS,
                  params: dict | None = None, read_options: dict | None = None, force: bool = False,
                  cog: bool = False, progress: bool = True, log=None) -> BatchSummary:
    """Segment every raster under ``inputs`` into ``out_dir``; see the module docstring for the layout.

    Args:
        inputs: files and/or folders (searched recursively).
        out_dir: output root (created).
        model: a loaded :class:`helpers.base.SegmentationModel`, or a :class:`LazyModel` (loaded only
            when some input still needs work); ``model_name`` is recorded for resume.
        mode: ``"everything"``, ``"points"`` or ``"boxes"``.
        prompts: for prompted modes, a GeoDataFrame from :func:`read_prompts` (any CRS; reprojected to
            each scene; without CRS: pixel coordinates) of points (optional ``label`` column, 1/0) or
            polygons (their bounding boxes are the box prompts).
        tile_size, overlap: tiling (see :func:`helpers.tiling.segment_tiled`).
        formats: any of ``FORMATS`` (``gpkg``, ``geojson``, ``shp``, ``parquet``, ``tif``, ``png``).
        params: extra ``generate``/``predict`` keyword arguments.
        read_options: ``open_raster`` options (``bands``, ``sar``, ``nodata``, ``stretch``).
        force: redo inputs that are already finished.
        cog: write label rasters as Cloud Optimized GeoTIFFs.
        progress: tqdm bars; ``log``: where one-line reports go (default stderr).

    Raises:
        ValueError: unknown formats, or no raster found in ``inputs`` (nothing rejected either).
    """
    from tqdm.auto import tqdm

    log = log or (lambda line: tqdm.write(line, file=sys.stderr))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    start = time.perf_counter()
    out_dir = check_path_argument(out_dir, "--out")
    jobs, rejected = find_inputs(inputs, out_dir=out_dir)
    if not jobs and not rejected:
        raise ValueError(f"no rasters found under {', '.join(map(str, inputs))} (looked for {', '.join(RASTER_SUFFIXES)})")
    stems = check_outputs_apart(inputs, jobs, out_dir, formats)
    summary = BatchSummary()
    for path, reason in rejected:
        summary.failed.append((path, reason))
        log(f"FAILED {path}: {reason}")
    options = (model_name, mode, prompts, tile_size, overlap, formats, params, read_options, cog)
    settings = _settings(model, *options)
    input_keys = {fold_path(path.resolve()) for path, _ in jobs}
    planned = [p for stem in stems for p in (*_outputs(stem, formats).values(), stem.with_name(stem.name + MARKER))]
    gallery = []
    with removing_new_empty_folders([*planned, out_dir / "gallery.png", out_dir / OUTPUT_MARKER]), \
            output_lock(out_dir, "segment"):
        remove_stale_temp_files(out_dir)  # hidden temp files of runs killed by SIGKILL
        if not (out_dir / OUTPUT_MARKER).exists():
            with writing(out_dir / OUTPUT_MARKER):
                (out_dir / OUTPUT_MARKER).write_text("sam-rs segment outputs: never walked as inputs\n")
        for (path, _rel), stem in zip(tqdm(jobs, desc="files", unit="file", disable=not progress), stems, strict=True):
            outputs = _outputs(stem, formats)
            marker = stem.with_name(stem.name + MARKER)
            if not force and _finished(marker, _fingerprint(path, settings), outputs):
                summary.skipped.append(path)
                summary.masks += json.loads(marker.read_text()).get("masks", 0)
            else:
                if isinstance(model, LazyModel):  # first input with work left: load now (may download)
                    model = model.load()
                    settings = _settings(model, *options)
                fingerprint = _fingerprint(path, settings)
                file_start = time.perf_counter()
                # The old marker no longer describes what is in the folder, and outputs of formats not
                # asked for this time would be stale: both go before anything new is written.
                marker.unlink(missing_ok=True)
                _remove_outputs(stem, formats, input_keys)
                try:
                    n = segment_file(model, path, stem, formats, mode, prompts, tile_size, overlap, params,
                                     read_options, progress=False, cog=cog)
                    record = {**fingerprint, "masks": n, "seconds": round(time.perf_counter() - file_start, 3),
                              "outputs": {k: os.path.relpath(v, marker.parent) for k, v in outputs.items()}}
                    with writing(marker), atomic_output(marker) as tmp:  # written last: the input is finished
                        tmp.write_text(json.dumps(record, indent=1))
                except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
                    _remove_outputs(stem, (), input_keys)  # no final-named file for a failed input
                    marker.unlink(missing_ok=True)
                    reason = f"disk full writing {out_dir}" if is_disk_full(exc) and "disk full" not in str(exc) \
                        else one_line(exc)
                    summary.failed.append((path, reason))
                    log(f"FAILED {path}: {reason}")
                    continue
                except BaseException:  # Ctrl-C: what this input wrote is incomplete
                    _remove_outputs(stem, (), input_keys)
                    raise
                summary.done.append(path)
                summary.masks += n
            if "png" in outputs and outputs["png"].exists():
                masks = json.loads(marker.read_text()).get("masks", 0)
                gallery.append((outputs["png"], f"{path.name} ({masks})"))
        with writing(out_dir / "gallery.png"):
            summary.gallery = contact_sheet(gallery, out_dir / "gallery.png")
        if not summary.done and not summary.skipped:  # nothing written: leave no marker in a new folder
            _remove_if_alone(out_dir)
    summary.seconds = time.perf_counter() - start
    return summary


def _remove_if_alone(out_dir: Path) -> None:
    """Remove the output marker and lock when nothing else is in ``out_dir`` (it is removed too if new)."""
    names = {p.name for p in out_dir.iterdir()} if out_dir.is_dir() else set()
    if names <= {OUTPUT_MARKER, LOCK_NAME}:
        (out_dir / OUTPUT_MARKER).unlink(missing_ok=True)


def check_outputs_apart(inputs, jobs: list[tuple[Path, Path]], out_dir: Path, formats) -> list[Path]:
    """The output stems of ``jobs`` (:func:`plan_outputs`), checked never to land on an input.

    Raises:
        UserInputError: ``out_dir`` is an input folder, or an output would replace an input file.
    """
    out_resolved = out_dir.resolve()
    for item in inputs:
        if str(item).strip() and Path(item).is_dir() and Path(item).resolve() == out_resolved:
            raise UserInputError(f"--out {out_dir} is the input folder {item}: its outputs would mix with (and "
                                 "could overwrite) the inputs; choose another output folder")
    stems = plan_outputs(jobs, out_dir)
    inputs_by_key = {fold_path(path.resolve()): path for path, _ in jobs}
    for stem in stems:
        for output in (*_outputs(stem, formats).values(), stem.with_name(stem.name + MARKER)):
            victim = inputs_by_key.get(fold_path(output.resolve()))
            if victim is not None:
                raise UserInputError(f"output {output} would overwrite the input {victim}; choose another --out")
    return stems
