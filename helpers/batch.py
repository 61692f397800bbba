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

Many scenes, many machines (``--dask``, or ``segment_batch(..., client=...)``): every input becomes a
task on a Dask cluster (a local one, or any scheduler), and an input of more than ``--split-tiles`` tiles
one task per tile, merged in the sequential order, so the outputs, ids and geometries are identical to a
run in one process; each worker loads the model once (:mod:`helpers.distributed`). The guarantees above
hold there too: this process holds the lock and checks the names, each input's task clears its stale
outputs, writes its marker last and leaves no output when it fails (a lost worker's input is cleaned here).

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
from .tiling import (
    DEFAULT_OVERLAP,
    DEFAULT_TILE_SIZE,
    TileMasks,
    TileMerger,
    TilingOptions,
    gdal_env,
    infer_tile,
    plan_tiles,
    segment_tiled,
    tile_grid,
    tile_params,
)
from .weights import weights_path

__all__ = ["FORMATS", "DEFAULT_FORMATS", "BatchSummary", "LazyModel", "find_inputs", "plan_outputs", "read_prompts",
           "segment_batch", "segment_file", "contact_sheet", "OUTPUT_MARKER", "input_fingerprint", "is_finished",
           "weights_identity"]

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
# With a Dask client, an input of more than this many tiles runs as one task per tile (a 3 x 3 grid of
# 1024 px tiles, ~2600 px square, stays one task: splitting small scenes only adds transfers).
DEFAULT_SPLIT_TILES = 9


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


def input_fingerprint(path: Path, settings: dict) -> dict:
    """What a finished input's marker records: the file (path, size, mtime) and the run's settings."""
    stat = path.stat()
    return {"input": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, **settings}


def weights_identity(model) -> dict:
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
    would use, so finished inputs are recognised exactly as with a loaded model. It is also the recipe a
    Dask run sends to every worker (pickled without the loaded model), each worker loading its own copy.

    Args:
        name: registry name (``"sam_vit_b"``, ``"conventional"``...).
        weights: local weights file, or ``None`` for the cached official checkpoint.
        **options: backend options for :func:`helpers.models.load_model` (``half=True``...).
    """

    def __init__(self, name: str, weights=None, **options):
        self.name = name
        self.weights = weights
        self.options = options
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

    @property
    def backend(self):
        """The model's :class:`helpers.backends.base.Backend` (from the registry: nothing is loaded)."""
        from .backends import backend_for

        return backend_for(self.name)

    def load(self):
        """The loaded :class:`helpers.base.SegmentationModel` (loaded once)."""
        if self._model is None:
            from .models import load_model

            self._model = load_model(self.name, weights=self.weights, **self.options)
        return self._model

    def fetch(self) -> None:
        """Put the weights file in place without building the model (download + verify, or write the smoke
        weights): a Dask run fetches once here, into the cache the workers share, instead of every worker
        racing to download (compute nodes often have no internet)."""
        if self.weights is not None or self.checkpoint is None or self.checkpoint.is_file():
            return
        if smoke_mode():
            from .models import ensure_smoke_weights

            ensure_smoke_weights(self.name)
        else:
            from .weights import ensure_weights

            ensure_weights(self.name)

    def __getstate__(self) -> dict:  # the recipe only: a loaded model is never pickled
        return {**self.__dict__, "_model": None}

    def __repr__(self) -> str:
        return f"LazyModel({self.name!r}, weights={self.weights!r})"


def is_finished(marker: Path, fingerprint: dict, outputs: dict[str, Path]) -> bool:
    """Whether ``marker`` records ``fingerprint`` and every output still exists (resume skips the input)."""
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
@dataclass(frozen=True)
class _Request:
    """What every input of one batch is segmented with (small: a Dask run sends it with every task)."""

    formats: tuple
    mode: str = "everything"
    tile_size: int = DEFAULT_TILE_SIZE
    overlap: int = DEFAULT_OVERLAP
    params: dict = field(default_factory=dict)
    read_options: dict = field(default_factory=dict)
    cog: bool = False

    def tiling(self, progress: bool = False) -> TilingOptions:
        return TilingOptions(tile_size=self.tile_size, overlap=self.overlap, cog=self.cog, progress=progress,
                             vectors=any(f in self.formats for f in VECTOR_FORMATS))


@dataclass(frozen=True)
class _Job:
    """One input: its file and its output stem (``out_dir/<relative folder>/<stem>``).

    ``inputs`` holds the input files (:func:`helpers.atomic.fold_path` of the resolved path) that carry one
    of this stem's output names, of any format: stale-output cleaning never deletes them. Almost always
    empty; computed by the batch, which knows every input, so a worker needs nothing else.
    """

    path: Path
    stem: Path
    formats: tuple
    inputs: frozenset = frozenset()

    @property
    def outputs(self) -> dict[str, Path]:
        return _outputs(self.stem, self.formats)

    @property
    def marker(self) -> Path:
        return self.stem.with_name(self.stem.name + MARKER)


def _write_overlay(result, path: Path) -> Path:
    image = overlay_labels(result.preview, result.preview_labels, alpha=0.5)
    if result.smoke:
        image = draw_banner(image, SMOKE_BANNER.replace("\u2014", "-"))
    return write_png(image, path, text={"model": result.model, "smoke": str(result.smoke).lower(),
                                        "masks": len(result)})


def _scene_prompts(prompts, mode: str, source) -> dict | None:
    """The prompts inside this scene (prompted modes), or ``None`` in everything mode."""
    if mode == "everything":
        return None
    scene_prompts = _prompts_for_scene(prompts, mode, source)
    if scene_prompts is None:
        raise ValueError("none of the (foreground) prompts falls inside this image")
    return scene_prompts


def _tiling_target(tif) -> object:
    """What a full disk during tiling was writing: the label raster, else the scratch rasters' folder."""
    return tif if tif is not None else f"temporary tile files in {tempfile.gettempdir()}"


def _write_outputs(result, stem: Path, formats, scene_prompts) -> int:
    """Polygons and overlay of a finished :class:`TiledResult` (its label raster is written already)."""
    outputs = _outputs(stem, formats)
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


def _segment_one(model, path: Path, stem: Path, request: _Request, prompts, progress: bool = False) -> int:
    tif = _outputs(stem, request.formats).get("tif")
    with open_raster(path, **request.read_options) as source:
        check_georeferencing_kept(source)
        scene_prompts = _scene_prompts(prompts, request.mode, source)
        with writing(_tiling_target(tif)):
            result = segment_tiled(model, source, mode=request.mode, prompts=scene_prompts, params=request.params,
                                   out_path=tif, options=request.tiling(progress))
    return _write_outputs(result, stem, request.formats, scene_prompts)


def segment_file(model, path: Path, stem: Path, formats, mode="everything", prompts=None, tile_size=DEFAULT_TILE_SIZE,
                 overlap=DEFAULT_OVERLAP, params=None, read_options=None, progress=False, cog=False) -> int:
    """Segment one raster and write its outputs (all atomic). Returns the number of masks.

    Raises:
        UserInputError: the file's georeferencing cannot be kept (ground control points only, or a
            transform without a CRS): the outputs would be silently misplaced.
        OSError: ``disk full writing PATH`` when the disk or quota fills up.
    """
    request = _Request(tuple(formats), mode, tile_size, overlap, dict(params or {}), dict(read_options or {}), cog)
    return _segment_one(model, Path(path), Path(stem), request, prompts, progress)


def _write_marker(job: _Job, fingerprint: dict, masks: int, seconds: float) -> None:
    """``.done.json``, written last: the input is finished (what resume looks for)."""
    record = {**fingerprint, "masks": masks, "seconds": round(seconds, 3),
              "outputs": {k: os.path.relpath(v, job.marker.parent) for k, v in job.outputs.items()}}
    with writing(job.marker), atomic_output(job.marker) as tmp:
        tmp.write_text(json.dumps(record, indent=1))


def _output_files(stem: Path, formats) -> list[tuple[str, Path]]:
    """``(format, file)`` for every file the formats write for ``stem`` (Shapefile sidecars included)."""
    files = []
    for fmt, output in _outputs(stem, formats).items():
        files.append((fmt, output))
        if fmt == "shp":
            files += [(fmt, output.with_suffix(ending)) for ending in _SHAPEFILE_SIDECARS]
    return files


def _inputs_among_outputs(stem: Path, input_keys: set[str]) -> frozenset:
    """The input files (keys of ``input_keys``) carrying one of ``stem``'s output names, any format."""
    return frozenset(key for key in (fold_path(p.resolve()) for _, p in _output_files(stem, FORMATS))
                     if key in input_keys)


def _remove_outputs(stem: Path, keep_formats, inputs) -> None:
    """Delete this stem's outputs of every format not in ``keep_formats`` (never an input file)."""
    for fmt, candidate in _output_files(stem, FORMATS):
        if fmt not in keep_formats and fold_path(candidate.resolve()) not in inputs:
            candidate.unlink(missing_ok=True)


def _clear(job: _Job) -> None:
    """Before an input is redone: its old marker no longer describes the folder, and outputs of formats not
    asked for this time would be stale; both go before anything new is written."""
    job.marker.unlink(missing_ok=True)
    _remove_outputs(job.stem, job.formats, job.inputs)


def _discard(job: _Job) -> None:
    """A failed or interrupted input keeps no final-named output and no marker (idempotent)."""
    _remove_outputs(job.stem, (), job.inputs)
    job.marker.unlink(missing_ok=True)


def _process(model, job: _Job, request: _Request, prompts, settings: dict) -> int:
    """Clear the input's stale outputs, segment it, write its outputs and then its marker: the unit of work of
    every batch, in this process or on a Dask worker. A failure (or Ctrl-C) leaves none of its outputs."""
    fingerprint = input_fingerprint(job.path, settings)
    start = time.perf_counter()
    _clear(job)
    try:
        masks = _segment_one(model, job.path, job.stem, request, prompts)
        _write_marker(job, fingerprint, masks, time.perf_counter() - start)  # last: the input is finished
    except BaseException:  # a failure, or Ctrl-C: what this input wrote is incomplete
        _discard(job)
        raise
    return masks


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
def _settings(model, model_name, request: _Request, prompts) -> dict:
    """What the outputs depend on (besides the input file): recorded in, and compared with, ``.done.json``."""
    settings = {"model": model_name or getattr(model, "name", ""), **weights_identity(model), "mode": request.mode,
                "prompts": _prompts_digest(prompts), "tile": request.tile_size, "overlap": request.overlap,
                "formats": sorted(request.formats), "params": request.params, "read_options": request.read_options,
                "cog": request.cog}
    if isinstance(model, LazyModel) and model.options:  # load options change the masks too
        settings["load_options"] = model.options
    return json.loads(json.dumps(settings, default=str))


def _report_failure(summary: BatchSummary, log, path: Path, exc: BaseException, out_dir: Path) -> None:
    reason = f"disk full writing {out_dir}" if is_disk_full(exc) and "disk full" not in str(exc) else one_line(exc)
    summary.failed.append((path, reason))
    log(f"FAILED {path}: {reason}")


def segment_batch(inputs, out_dir, model, model_name: str = "", mode: str = "everything", prompts=None,
                  tile_size: int = DEFAULT_TILE_SIZE, overlap: int = DEFAULT_OVERLAP, formats=DEFAULT_FORMATS,
                  params: dict | None = None, read_options: dict | None = None, force: bool = False,
                  cog: bool = False, progress: bool = True, log=None, client=None,
                  split_tiles: int = DEFAULT_SPLIT_TILES) -> BatchSummary:
    """Segment every raster under ``inputs`` into ``out_dir``; see the module docstring for the layout.

    Args:
        inputs: files and/or folders (searched recursively).
        out_dir: output root (created).
        model: a registry name, a :class:`LazyModel` (loaded only when some input still needs work), or
            (without ``client``) a loaded :class:`helpers.base.SegmentationModel`; ``model_name`` is
            recorded for resume.
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
        client: a :class:`distributed.Client` (:func:`helpers.distributed.dask_client`): run on its
            cluster, one task per input; each worker loads the model once. Outputs are identical to a run
            without it, with the same guarantees (this process holds the output lock for the whole run,
            a failed input keeps no output, markers are written last). Workers and this process must see
            the same paths (a shared filesystem).
        split_tiles: with ``client``, an input of more than this many tiles becomes one task per tile
            (merged here, in the sequential order, as the tiles arrive), so one huge mosaic also spreads
            over the workers.

    Raises:
        ValueError: unknown formats, no raster found in ``inputs`` (nothing rejected either), an empty
            ``out_dir``, another run writing to ``out_dir``, or a loaded model with ``client`` (workers
            load their own copy: pass the name or a :class:`LazyModel`).
        UserInputError: outputs would land on an input or two inputs would share outputs
            (:func:`check_outputs_apart`).
    """
    from tqdm.auto import tqdm

    log = log or (lambda line: tqdm.write(line, file=sys.stderr))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    if isinstance(model, str):
        model = LazyModel(model)
    if client is not None and not isinstance(model, LazyModel):
        raise ValueError("with client=, pass the model as a registry name or LazyModel(name, weights): every "
                         "worker loads its own copy (a loaded model is never shipped to the workers)")
    start = time.perf_counter()
    out_dir = check_path_argument(out_dir, "--out")
    found, rejected = find_inputs(inputs, out_dir=out_dir)
    if not found and not rejected:
        raise ValueError(f"no rasters found under {', '.join(map(str, inputs))} (looked for {', '.join(RASTER_SUFFIXES)})")
    stems = check_outputs_apart(inputs, found, out_dir, formats)
    summary = BatchSummary()
    for path, reason in rejected:
        summary.failed.append((path, reason))
        log(f"FAILED {path}: {reason}")
    request = _Request(tuple(formats), mode, tile_size, overlap, dict(params or {}), dict(read_options or {}), cog)
    settings = _settings(model, model_name, request, prompts)
    input_keys = {fold_path(path.resolve()) for path, _ in found}
    jobs = [_Job(path, stem, request.formats, _inputs_among_outputs(stem, input_keys))
            for (path, _), stem in zip(found, stems, strict=True)]
    planned = [p for job in jobs for p in (*job.outputs.values(), job.marker)]
    with removing_new_empty_folders([*planned, out_dir / "gallery.png", out_dir / OUTPUT_MARKER]), \
            output_lock(out_dir, "segment"):
        remove_stale_temp_files(out_dir)  # hidden temp files of runs killed by SIGKILL
        if not (out_dir / OUTPUT_MARKER).exists():
            with writing(out_dir / OUTPUT_MARKER):
                (out_dir / OUTPUT_MARKER).write_text("sam-rs segment outputs: never walked as inputs\n")
        todo = []
        for job in jobs:
            if not force and is_finished(job.marker, input_fingerprint(job.path, settings), job.outputs):
                summary.skipped.append(job.path)
                summary.masks += json.loads(job.marker.read_text()).get("masks", 0)
            else:
                todo.append(job)
        if todo and client is None:
            _run_here(model, todo, request, prompts, model_name, summary, progress, log, out_dir)
        elif todo:
            model.fetch()  # once, here: the workers find the weights in the shared cache
            settings = _settings(model, model_name, request, prompts)
            _ClusterRun(client, model, request, prompts, settings, summary, progress, log, split_tiles,
                        out_dir).run(todo)
        order = {job.path: i for i, job in enumerate(jobs)}
        summary.done.sort(key=order.__getitem__)  # a cluster finishes inputs in any order
        finished = set(summary.done) | set(summary.skipped)
        gallery = [(job.outputs["png"], f"{job.path.name} ({json.loads(job.marker.read_text()).get('masks', 0)})")
                   for job in jobs if job.path in finished and "png" in job.outputs and job.outputs["png"].exists()]
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


def _run_here(model, todo: list[_Job], request: _Request, prompts, model_name, summary, progress, log,
              out_dir: Path) -> None:
    """The inputs one after the other in this process."""
    from tqdm.auto import tqdm

    settings = loaded = None
    for job in tqdm(todo, desc="files", unit="file", disable=not progress):
        if loaded is None:  # first input with work left: load now (may download)
            loaded = model.load() if isinstance(model, LazyModel) else model
            settings = _settings(model, model_name, request, prompts)  # after the load: a downloaded file has its id
        try:
            masks = _process(loaded, job, request, prompts, settings)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            _report_failure(summary, log, job.path, exc, out_dir)
            continue
        summary.done.append(job.path)
        summary.masks += masks


# ---- the batch on a Dask cluster --------------------------------------------------------------------
# Tasks are module-level functions (workers import them by name); the model comes from the worker's
# ModelPlugin, never from the task's arguments.
def _scene_task(model_key: str, job: _Job, request: _Request, prompts, settings: dict) -> int:
    """One whole input on a worker: exactly the sequential unit of work (outputs, then marker)."""
    from .distributed import worker_model

    return _process(worker_model(model_key), job, request, prompts, settings)


@dataclass
class _ScenePlan:
    """A large input's tile plan, its stretch (every tile task reuses it) and its prompts."""

    plan: object  # helpers.tiling.TilePlan
    stats: object  # helpers.raster.StretchStats
    prompts: dict | None


def _plan_task(path: Path, request: _Request, prompts) -> _ScenePlan:
    """On a worker: open a large input once (scene-global stretch), place its prompts, cut its tiles."""
    with open_raster(path, **request.read_options) as source:
        check_georeferencing_kept(source)
        scene_prompts = _scene_prompts(prompts, request.mode, source)
        return _ScenePlan(plan_tiles(source, request.mode, scene_prompts, request.tiling()), source.stats,
                          scene_prompts)


def _tile_task(model_key: str, path: Path, request: _Request, scene: _ScenePlan, tile_id: int) -> TileMasks:
    """On a worker: one tile of a large input (the same :func:`helpers.tiling.infer_tile` as sequential runs)."""
    from .distributed import worker_model

    model = worker_model(model_key)
    with gdal_env(), open_raster(path, **request.read_options, stats=scene.stats) as source:
        return infer_tile(model, source, scene.plan, scene.plan.tiles[tile_id], tile_params(request.mode, request.params),
                          request.tiling())


def _tile_count(path: Path, request: _Request) -> int:
    """Tiles of ``path`` from its header (0 if it does not open: its scene task then says why)."""
    import warnings

    import rasterio

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # plain PNG/JPEG: not georeferenced, fine here
            with rasterio.open(path) as dataset:
                width, height = dataset.width, dataset.height
    except Exception:  # noqa: BLE001 - any unreadable file: the scene task reports it in one line
        return 0
    return len(tile_grid(width, height, request.tile_size, request.overlap))


@dataclass
class _SplitScene:
    """A large input processed tile by tile on the cluster and merged here."""

    job: _Job
    fingerprint: dict
    start: float
    plan_future: object = None
    plan: _ScenePlan | None = None
    merger: TileMerger | None = None
    next_index: int = 0  # next tile to submit
    results: dict = field(default_factory=dict)  # tile id -> TileMasks waiting for their turn
    futures: dict = field(default_factory=dict)  # tile id -> running future
    held: set = field(default_factory=set)  # tile ids occupying the in-flight window
    failed: bool = False


class _ClusterRun:
    """One batch on a Dask cluster: small inputs as one task each; large ones (more than ``split_tiles``
    tiles) as a plan task, then one task per tile, merged in row-major order with the same
    :class:`helpers.tiling.TileMerger` as :func:`helpers.tiling.segment_tiled` (so ids are identical).

    The guarantees of a run in one process hold: a scene task is :func:`_process` itself (stale outputs
    cleared, marker written last, a failure leaves no output); a large input is cleared, merged and
    written here in the same order; an input whose task fails in any way (worker lost, cancelled) is
    discarded here too; on Ctrl-C every unfinished input is cancelled and discarded. (Dask cannot stop a
    task already running on a worker: such an input may still be written completely, marker last, or, if
    its worker is killed, leave outputs without a marker, which the next run redoes.)

    At most ``2 x worker threads`` tiles are in flight or waiting to be merged (the order of the sequential
    merge), so memory stays bounded however large a scene is: a worker holds the tile it is computing and
    at most about one queued tile, this process at most that many tile results.
    """

    def __init__(self, client, model: LazyModel, request: _Request, prompts, settings: dict, summary: BatchSummary,
                 progress: bool, log, split_tiles: int, out_dir: Path):
        from .distributed import TaskRunner, register_model

        self.client, self.model, self.request, self.settings = client, model, request, settings
        self.summary, self.progress, self.log, self.split_tiles = summary, progress, log, split_tiles
        self.out_dir = out_dir
        self.runner = TaskRunner(client)
        self.model_key = register_model(client, model)
        self.prompts = None if prompts is None else client.scatter(prompts, broadcast=True, hash=False)
        self.in_flight = 0
        self.queue: list[_SplitScene] = []  # planned large scenes whose tiles are being submitted, in order
        self.active: list[_SplitScene] = []
        self.pending: dict[Path, tuple[_Job, object]] = {}  # small inputs submitted, not reported: job, future
        self.bar = None

    def run(self, todo: list[_Job]) -> None:
        from functools import partial

        from tqdm.auto import tqdm

        self.bar = tqdm(total=len(todo), desc="files", unit="file", disable=not self.progress)
        try:
            for job in todo:
                if _tile_count(job.path, self.request) > self.split_tiles:
                    self._submit_split(job)
                else:
                    self.pending[job.path] = (job, self.runner.submit(
                        partial(self._scene_done, job), _scene_task, self.model_key, job, self.request,
                        self.prompts, self.settings))
            with gdal_env():
                self.runner.run()
        except BaseException:  # Ctrl-C (or a bug): nothing unfinished keeps outputs
            self._abandon()
            raise
        finally:
            for scene in self.active:  # interrupted: no scratch raster left behind
                if scene.merger is not None:
                    scene.merger.close()
            self.bar.close()

    def _submit_split(self, job: _Job) -> None:
        from functools import partial

        scene = _SplitScene(job, input_fingerprint(job.path, self.settings), time.perf_counter())
        self.active.append(scene)
        _clear(job)  # as _process does: old marker and outputs of formats not asked for go first
        scene.plan_future = self.runner.submit(partial(self._planned, scene), _plan_task, job.path, self.request,
                                               self.prompts)

    def _abandon(self) -> None:
        """Interrupted: cancel what is still running and discard every unfinished input."""
        futures = [future for _, future in self.pending.values()]
        for scene in self.active:
            futures += [*scene.futures.values(), *([scene.plan_future] if scene.plan_future is not None else [])]
        try:
            self.runner.cancel(futures)
        finally:
            for job, _ in self.pending.values():
                _discard(job)
            for scene in self.active:
                if scene.merger is not None:
                    scene.merger.close()
                _discard(scene.job)

    # -- outcomes ----------------------------------------------------------------------------------------
    def _report(self, job: _Job, masks: int | None = None, error: BaseException | None = None) -> None:
        if error is not None:
            _discard(job)  # the task may have died mid-write (worker lost): no output of it is kept
            _report_failure(self.summary, self.log, job.path, error, self.out_dir)
        else:
            self.summary.done.append(job.path)
            self.summary.masks += masks
        self.bar.update()

    def _scene_done(self, job: _Job, masks, error) -> None:
        self.pending.pop(job.path, None)
        self._report(job, masks, error)

    # -- large scenes --------------------------------------------------------------------------------------
    def _planned(self, scene: _SplitScene, plan: _ScenePlan | None, error) -> None:
        if error is not None:
            return self._fail(scene, error)
        scene.plan = plan
        try:
            with writing(_tiling_target(None)):
                scene.merger = TileMerger(plan.plan, self.request.tiling(), self.model)
        except Exception as exc:  # noqa: BLE001 - e.g. no space for the scratch raster: this input fails
            return self._fail(scene, exc)
        self.queue.append(scene)
        self._feed()

    def _feed(self) -> None:
        """Submit tiles, scene after scene in order, while the in-flight window has room."""
        from functools import partial

        from .distributed import cluster_threads

        window = 2 * cluster_threads(self.client)  # asked each time: an adaptive cluster grows and shrinks
        while self.queue and self.in_flight < window:
            scene = self.queue[0]
            tiles = scene.plan.plan.tiles
            if scene.failed or scene.next_index >= len(tiles):
                self.queue.pop(0)
                continue
            tile = tiles[scene.next_index]
            scene.next_index += 1
            if not scene.plan.plan.has_work(tile):  # no prompt in this tile: skipped without a task
                scene.results[tile.id] = TileMasks(tile, skipped=True)
                self._merge_ready(scene)
                continue
            scene.held.add(tile.id)
            self.in_flight += 1
            scene.futures[tile.id] = self.runner.submit(
                partial(self._tile_done, scene, tile.id), _tile_task, self.model_key, scene.job.path, self.request,
                scene.plan_future, tile.id, priority=1)  # tiles first: finish a started scene before new ones

    def _release(self, scene: _SplitScene, tile_id: int) -> None:
        if tile_id in scene.held:
            scene.held.discard(tile_id)
            self.in_flight -= 1

    def _tile_done(self, scene: _SplitScene, tile_id: int, tile_masks: TileMasks | None, error) -> None:
        scene.futures.pop(tile_id, None)
        if scene.failed:
            self._release(scene, tile_id)
        elif error is not None:
            self._fail(scene, error)
        else:
            scene.results[tile_id] = tile_masks
            self._merge_ready(scene)
        self._feed()

    def _merge_ready(self, scene: _SplitScene) -> None:
        """Merge the tiles that are next in row-major order; write the outputs once the last one is in."""
        merger = scene.merger
        try:
            while merger.next_tile is not None and merger.next_tile.id in scene.results:
                tile_id = merger.next_tile.id
                merger.add(scene.results.pop(tile_id))
                self._release(scene, tile_id)
            if merger.next_tile is not None:
                return
            job = scene.job
            tif = job.outputs.get("tif")
            with writing(_tiling_target(tif)):
                result = merger.finish(tif)
            masks = _write_outputs(result, job.stem, self.request.formats, scene.plan.prompts)
            _write_marker(job, scene.fingerprint, masks, time.perf_counter() - scene.start)  # last: finished
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the batch
            return self._fail(scene, exc)
        self.active.remove(scene)
        scene.plan_future = scene.plan = None  # the workers may forget the plan
        self._report(job, masks)

    def _fail(self, scene: _SplitScene, error: BaseException) -> None:
        scene.failed = True
        self.runner.cancel(scene.futures.values())
        for tile_id in list(scene.held):
            self._release(scene, tile_id)
        scene.results.clear()
        if scene.merger is not None:
            scene.merger.close()
        if scene in self.active:
            self.active.remove(scene)
        scene.plan_future = None
        self._report(scene.job, error=error)
