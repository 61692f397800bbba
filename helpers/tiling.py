"""Seam-safe tiled inference for scenes of any size, with any backend.

``segment_tiled(model, "scene.tif")`` reads the scene window by window (``helpers.raster.open_raster``:
one scene-global stretch for every tile), runs the model on each tile, and merges the tiles so that an
object crossing a seam gets exactly ONE instance id:

1. **Crop rule** (segment-anything's automatic mask generator drops masks near crop edges): a mask
   that touches an *interior* tile edge (a seam, not the scene border) is clipped there. It is dropped
   when a neighbouring tile sees the same object whole (a mask not touching any of that tile's
   interior edges that agrees with it where the two tiles overlap).
2. **Duplicates**: an object seen whole by two tiles (it lies in their overlap) is kept once (the
   first tile in row-major order wins).
3. **Stitching**: objects larger than the overlap are clipped in every tile; their pieces agree in the
   overlap (IoU >= ``stitch_iou``) and are joined into one instance (union of the pieces).

Tiles are processed in row-major order. The label raster itself is the memory of what earlier tiles
found: each tile reads back its window of the (disk-backed) label raster, compares, and writes its
window. Ids are provisional (union-find); a last pass maps them to consecutive final ids block by block
into the output GeoTIFF. Peak memory is therefore set by the tile size, not the scene size (the
polygons of the objects found are kept in memory; they scale with the number of objects).

Objects smaller than ``overlap - 2 * edge_margin`` are always seen whole by some tile. Prompted modes
(``"points"``, ``"boxes"``) run each prompt once, in the tile where it is most central.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import process_alive
from .export import LabelRasterWriter
from .maskops import boxes_from_masks
from .prompts import to_pixel_boxes, to_pixel_points
from .raster import as_scene, check_georeferencing_kept, open_raster
from .render import overlay_labels
from .scene import Scene
from .vectorize import build_gdf, vectorize_labels, vectorize_masks

__all__ = ["DEFAULT_TILE_SIZE", "DEFAULT_OVERLAP", "Tile", "TilingOptions", "tile_grid", "TiledResult",
           "segment_tiled", "remove_stale_scratch", "SCRATCH_PREFIX"]

# 1024 px is SAM's native input (its encoder resizes the long side to 1024): one tile = one encoder pass
# at full resolution, no down-sampling. 128 px of overlap (12.5 % extra work per axis) exceeds the size
# of most objects in 0.3-10 m imagery (buildings, trees, small fields, ponds), so such objects are seen
# whole by at least one tile; larger objects are stitched across the seam.
DEFAULT_TILE_SIZE = 1024
DEFAULT_OVERLAP = 128
# A mask within this many pixels of an interior tile edge counts as touching it (SAM's crop rule uses a
# tolerance too: masks right next to a crop edge are usually cut by it).
DEFAULT_EDGE_MARGIN = 2
# Two pieces (or views) of an object agree when their IoU inside the shared overlap reaches this.
DEFAULT_STITCH_IOU = 0.5
# Label blocks for the final relabelling pass and GDAL's block cache (MB): both bound memory.
_FINAL_BLOCK = 1024
_GDAL_CACHE_MB = 64
_MODES = ("everything", "points", "boxes")
#: Prompts predicted and merged together in prompted modes: bounds memory (one tile-sized mask each).
PROMPT_CHUNK = 64
#: Scratch folders in the temp dir are ``samrs-tiles-<pid>-XXXX``: those of dead processes are removed.
SCRATCH_PREFIX = "samrs-tiles-"


@dataclass(frozen=True)
class TilingOptions:
    """How :func:`segment_tiled` cuts, merges and writes a scene.

    Attributes:
        tile_size: tile side in pixels (default 1024, SAM's native input size), >= 32.
        overlap: pixels shared by neighbouring tiles (default 128, larger than typical objects), 0 to
            ``tile_size / 2``.
        edge_margin: a mask within this many pixels of a seam counts as touching it.
        stitch_iou: IoU inside the overlap above which two views/pieces are the same object.
        min_area: masks with fewer valid pixels are ignored.
        cache_embeddings: keep each tile's image embedding in the model's embedding cache (worth it when
            re-running with other parameters; off by default so big scenes do not fill the disk).
        keep_tile_polygons: also return the per-tile polygons with their merge status (``tile_gdf``).
        vectors: build polygons (``gdf``); ``False`` writes only the label raster, for scenes with so
            many objects that their polygons would not fit in memory.
        cog: write the label raster as a Cloud Optimized GeoTIFF.
        preview_size: longest side of ``preview`` / ``preview_labels``.
        progress: show a tqdm bar over tiles.
    """

    tile_size: int = DEFAULT_TILE_SIZE
    overlap: int = DEFAULT_OVERLAP
    edge_margin: int = DEFAULT_EDGE_MARGIN
    stitch_iou: float = DEFAULT_STITCH_IOU
    min_area: int = 1
    cache_embeddings: bool = False
    keep_tile_polygons: bool = False
    vectors: bool = True
    cog: bool = False
    preview_size: int = 1024
    progress: bool = True

    def __post_init__(self):
        tile_grid(self.tile_size, self.tile_size, self.tile_size, self.overlap)  # checks both, one line each

    def replace(self, **changes) -> TilingOptions:
        """A copy with ``changes`` (unknown names are a one-line ``ValueError``)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            valid = ", ".join(f.name for f in dataclasses.fields(self))
            raise ValueError(f"unknown tiling option(s) {', '.join(unknown)}; valid: {valid}")
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Tile:
    """One tile of the grid.

    Attributes:
        id: running number in row-major order.
        row, col: grid position.
        col_off, row_off, width, height: pixel window in the scene.
        interior: (left, top, right, bottom) -> ``True`` where that edge is a seam, not the scene border.
    """

    id: int
    row: int
    col: int
    col_off: int
    row_off: int
    width: int
    height: int
    interior: tuple[bool, bool, bool, bool]

    @property
    def window(self):
        from rasterio.windows import Window

        return Window(self.col_off, self.row_off, self.width, self.height)

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        """XYXY pixel bounds (x0, y0, x1, y1), x1/y1 exclusive."""
        return self.col_off, self.row_off, self.col_off + self.width, self.row_off + self.height


def _starts(length: int, tile: int, stride: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] + tile < length:  # last tile flush with the scene edge (never padded)
        starts.append(length - tile)
    return starts


def tile_grid(width: int, height: int, tile_size: int = DEFAULT_TILE_SIZE, overlap: int = DEFAULT_OVERLAP) -> list[Tile]:
    """Overlapping tiles covering a ``width`` x ``height`` scene, row-major.

    Tiles are ``tile_size`` square (smaller only when the scene is); consecutive tiles share at least
    ``overlap`` pixels; the last row/column is flush with the scene edge.
    """
    if int(tile_size) < 32:
        raise ValueError(f"tile_size must be at least 32 pixels, got {tile_size}")
    if not 0 <= int(overlap) <= int(tile_size) // 2:
        raise ValueError(f"overlap must be between 0 and tile_size / 2 = {int(tile_size) // 2}, got {overlap}")
    stride = int(tile_size) - int(overlap)
    cols, rows = _starts(width, tile_size, stride), _starts(height, tile_size, stride)
    tiles = []
    for r, y in enumerate(rows):
        for c, x in enumerate(cols):
            w, h = min(tile_size, width), min(tile_size, height)
            interior = (x > 0, y > 0, x + w < width, y + h < height)
            tiles.append(Tile(len(tiles), r, c, x, y, w, h, interior))
    return tiles


@dataclass
class TiledResult:
    """What :func:`segment_tiled` produced.

    Attributes:
        gdf: merged polygons (GeoDataFrame): one row per instance, ``id`` equal to the label raster
            value; columns as :func:`helpers.export.masks_to_gdf` plus ``n_tiles`` (tiles the instance was
            stitched from) and, for prompted modes, ``prompt_index``.
        labels_path: the uint32 label GeoTIFF (``out_path``), or ``None``.
        tiles: the tile grid; ``skipped``: ids of tiles skipped (nodata only / no prompt).
        tile_gdf: per-tile polygons before merging (``keep_tile_polygons=True``), with ``status``:
            ``kept``, ``stitched`` (joined with pieces from other tiles), ``dropped_edge`` (a neighbour
            saw the object whole), ``duplicate``; and ``final_id``.
        counts: numbers of candidates, kept, dropped_edge, duplicate, stitched masks.
        width, height, crs, transform: the scene grid.
        preview, preview_labels: decimated scene image (HxWx3 uint8) and labels for quick looks.
        model, smoke, timings: provenance; ``smoke`` means the masks are meaningless.
    """

    gdf: object
    labels_path: Path | None
    tiles: list[Tile]
    skipped: list[int]
    counts: dict
    width: int
    height: int
    crs: object = None
    transform: object = None
    tile_gdf: object = None
    preview: np.ndarray | None = None
    preview_labels: np.ndarray | None = None
    model: str = ""
    smoke: bool = False
    timings: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.counts.get("objects", 0))

    def read_labels(self, window=None) -> np.ndarray:
        """uint32 labels from the output GeoTIFF (whole scene, or a ``rasterio.windows.Window``)."""
        import rasterio

        if self.labels_path is None:
            raise ValueError("no label raster was written; pass out_path= to segment_tiled")
        with rasterio.open(self.labels_path) as dataset:
            return dataset.read(1, window=window)

    def preview_overlay(self, alpha: float = 0.5, seed: int = 0) -> np.ndarray:
        """The preview image with the preview labels painted on it (HxWx3 uint8)."""
        return overlay_labels(self.preview, self.preview_labels, alpha=alpha, seed=seed, boundaries=False)

    def __repr__(self) -> str:
        smoke = ", SMOKE" if self.smoke else ""
        return (f"TiledResult(n={len(self)}, scene={self.width}x{self.height}, tiles={len(self.tiles)}, "
                f"skipped={len(self.skipped)}, model={self.model!r}{smoke})")


def remove_stale_scratch(folder=None) -> list[Path]:
    """Remove the scratch folders (``samrs-tiles-<pid>-*``) that killed runs left in the temp dir.

    Only folders of processes no longer alive on this machine are removed (never a running one's).
    """
    folder = Path(folder or tempfile.gettempdir())
    pattern = re.compile(rf"^{re.escape(SCRATCH_PREFIX)}(\d+)-")
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match and entry.is_dir() and not entry.is_symlink() and not process_alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


# ---- sources --------------------------------------------------------------------------------------
class _ArraySource:
    """``read_window`` over an in-memory :class:`Scene` (small scenes, tests)."""

    def __init__(self, scene: Scene):
        self.scene = scene
        self.width, self.height = scene.width, scene.height
        self.crs, self.transform = scene.crs, scene.transform

    def read_window(self, window) -> Scene:
        x, y, w, h = int(window.col_off), int(window.row_off), int(window.width), int(window.height)
        tile = self.scene.crop(x, y, w, h)
        tile.meta = {"window": (x, y, w, h)}
        return tile

    def close(self) -> None:
        pass


def _open_source(source, read_options: dict):
    """(source with read_window, whether we opened it): paths, RasterSource-likes, Scenes, arrays."""
    if isinstance(source, (str, Path)):
        return open_raster(source, **read_options), True
    if hasattr(source, "read_window"):
        return source, False
    return _ArraySource(as_scene(source)), False


# ---- prompts --------------------------------------------------------------------------------------
def _header_scene(width: int, height: int, crs, transform) -> Scene:
    """A Scene of the right size that costs no memory (for coordinate conversions)."""
    image = np.broadcast_to(np.zeros(3, dtype=np.uint8), (height, width, 3))
    return Scene(image=image, crs=crs, transform=transform)


def _pixel_prompts(prompts, mode: str, src) -> tuple[np.ndarray, np.ndarray]:
    """Prompts -> ((N, 2) points or (N, 4) boxes in scene pixel coordinates, (N,) int labels 1/0)."""
    from .prompts import normalise_labels

    if prompts is None:
        raise ValueError(f"mode={mode!r} needs prompts={{'{mode}': [...]}} (pixel or map coordinates)")
    if not isinstance(prompts, dict):
        prompts = {mode: prompts}
    values = prompts.get(mode)
    if values is None or len(values) == 0:
        raise ValueError(f"mode={mode!r} but prompts has no {mode!r}")
    header = _header_scene(src.width, src.height, src.crs, src.transform)
    crs = prompts.get("crs")
    if mode == "boxes":
        if prompts.get("labels") is not None:
            raise ValueError("labels apply to points only; every box is one object")
        pixel = to_pixel_boxes(values, crs, header)
        return pixel, np.ones(len(pixel), dtype=np.int32)
    pixel = to_pixel_points(values, crs, header)
    labels = normalise_labels(prompts.get("labels"), len(pixel))
    if not (labels == 1).any():
        raise ValueError("every point is background (label 0); at least one foreground point (label 1) is needed")
    return pixel, labels


def _assign_prompts(pixel: np.ndarray, tiles: list[Tile]) -> np.ndarray:
    """Index of the tile where each prompt (point or box) is farthest from a seam."""
    lo = pixel[:, :2]
    hi = pixel[:, 2:] if pixel.shape[1] == 4 else pixel[:, :2]
    best = np.full(len(pixel), -np.inf)
    choice = np.zeros(len(pixel), dtype=np.int64)
    for tile in tiles:
        x0, y0, x1, y1 = tile.bounds
        left, top, right, bottom = tile.interior
        margins = np.stack([
            lo[:, 0] - x0 if left else np.full(len(pixel), np.inf),
            lo[:, 1] - y0 if top else np.full(len(pixel), np.inf),
            (x1 - 1) - hi[:, 0] if right else np.full(len(pixel), np.inf),
            (y1 - 1) - hi[:, 1] if bottom else np.full(len(pixel), np.inf),
        ]).min(axis=0)
        inside = (lo[:, 0] >= x0 - 0.5) & (lo[:, 1] >= y0 - 0.5) & (lo[:, 0] < x1) & (lo[:, 1] < y1)
        better = inside & (margins > best)
        best[better], choice[better] = margins[better], tile.id
    return choice


# ---- merging ----------------------------------------------------------------------------------------
class _Instances:
    """Provisional instance ids: groups of pieces (scipy's ``DisjointSet``), kinds (whole vs clipped), polygons.

    ``interior``, ``dropped`` and ``records`` are indexed by id and meaningful at a group's root
    (:meth:`find`); :meth:`union` carries them over to the merged group's root.
    """

    def __init__(self):
        from scipy.cluster.hierarchy import DisjointSet

        self.sets = DisjointSet([0])  # id 0 = background
        self.interior = [False]  # group seen whole by some tile
        self.dropped = [0]  # 0 = alive, else the id of the instance that replaced this group
        self.records: list[dict | None] = [None]

    def new(self, interior: bool, record: dict) -> int:
        ident = len(self.records)
        self.sets.add(ident)
        self.interior.append(interior)
        self.dropped.append(0)
        self.records.append(record)
        return ident

    def find(self, i: int) -> int:
        return self.sets[i]

    def union(self, a: int, b: int) -> int:
        ra, rb = self.sets[a], self.sets[b]
        if ra != rb:
            self.sets.merge(ra, rb)
            root = self.sets[ra]
            other = rb if root == ra else ra
            self.interior[root] = self.interior[root] or self.interior[other]
            self.dropped[root] = self.dropped[root] or self.dropped[other]
            self.records[root] = self.records[root] if root == min(ra, rb) else self.records[other]
        return self.sets[a]

    def roots_lut(self) -> tuple[np.ndarray, np.ndarray]:
        """(root of every id, 0 for dropped), and final consecutive numbers per root (0 = none).

        Final numbers follow each group's smallest id (the order in which tiles found the objects).
        """
        n = len(self.records)
        roots = np.array([self.find(i) for i in range(n)], dtype=np.int64)
        alive = np.array([not self.dropped[r] for r in roots], dtype=bool)
        alive[0] = False
        roots[~alive] = 0
        first_id = np.full(n, n, dtype=np.int64)  # smallest member id of each root
        np.minimum.at(first_id, roots[alive], np.flatnonzero(alive))
        live_roots = np.unique(roots[alive])
        order = live_roots[np.argsort(first_id[live_roots], kind="stable")]
        final = np.zeros(n, dtype=np.uint32)
        final[order] = np.arange(1, order.size + 1, dtype=np.uint32)
        return roots, final


def _touches_interior_edge(box, tile: Tile, margin: int) -> bool:
    """Whether an XYXY tile-local box comes within ``margin`` px of one of the tile's seams."""
    x0, y0, x1, y1 = box
    left, top, right, bottom = tile.interior
    return bool(
        (left and x0 <= margin)
        or (top and y0 <= margin)
        or (right and x1 >= tile.width - margin)
        or (bottom and y1 >= tile.height - margin)
    )


def _seen_mask(tile: Tile, done: list[Tile]) -> np.ndarray:
    """bool (h, w): the part of ``tile`` already covered by processed tiles."""
    seen = np.zeros((tile.height, tile.width), dtype=bool)
    x0, y0, x1, y1 = tile.bounds
    for other in done:
        ox0, oy0, ox1, oy1 = other.bounds
        cx0, cy0, cx1, cy1 = max(x0, ox0), max(y0, oy0), min(x1, ox1), min(y1, oy1)
        if cx0 < cx1 and cy0 < cy1:
            seen[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] = True
    return seen


def _neighbours_done(tile: Tile, done: list[Tile]) -> list[Tile]:
    x0, y0, x1, y1 = tile.bounds
    return [o for o in done if o.col_off < x1 and o.col_off + o.width > x0 and o.row_off < y1 and o.row_off + o.height > y0]


def _crop(box) -> tuple[slice, slice]:
    x0, y0, x1, y1 = (int(v) for v in box)
    return slice(y0, y1), slice(x0, x1)


def _match_previous(mask: np.ndarray, box, prev: np.ndarray, seen: np.ndarray, inst: _Instances,
                    prev_area: dict, threshold: float) -> list[int]:
    """Live instance roots from earlier tiles that agree with ``mask`` inside the shared region."""
    sl = _crop(box)  # work inside the mask's box: much cheaper than whole-tile operations
    prev, seen = prev[sl], seen[sl]
    shared = mask[sl] & seen
    n_shared = int(np.count_nonzero(shared))
    if n_shared == 0:
        return []
    ids, counts = np.unique(prev[shared], return_counts=True)
    overlap: dict[int, int] = {}
    for i, c in zip(ids.tolist(), counts.tolist(), strict=True):
        if i == 0:
            continue
        root = inst.find(i)
        if not inst.dropped[root]:
            overlap[root] = overlap.get(root, 0) + c
    matches = []
    for root, inter in overlap.items():
        iou = inter / (n_shared + prev_area[root] - inter)
        if iou >= threshold:
            matches.append(root)
    return matches


def _prev_areas(prev: np.ndarray, seen: np.ndarray, inst: _Instances) -> dict:
    ids, counts = np.unique(prev[seen], return_counts=True)
    areas: dict[int, int] = {}
    for i, c in zip(ids.tolist(), counts.tolist(), strict=True):
        if i:
            root = inst.find(i)
            areas[root] = areas.get(root, 0) + c
    return areas


# ---- the model on one tile -------------------------------------------------------------------------
def _background_in_tile(background: np.ndarray, tile: Tile) -> np.ndarray:
    """Background points (scene pixel centres) lying in ``tile``, in tile coordinates."""
    local = background - (tile.col_off, tile.row_off)
    inside = (local >= -0.5).all(axis=1) & (local[:, 0] < tile.width - 0.5) & (local[:, 1] < tile.height - 0.5)
    return local[inside]


def _run_tile(model, scene: Scene, mode: str, params: dict, tile_prompts, tile: Tile, background: np.ndarray):
    """Masks for one tile, in chunks: yields (bool (N, h, w), scores, stability or None, prompt indexes or
    None, prompt type, number of prompts done).

    ``"everything"`` is one chunk. Prompted modes yield :data:`PROMPT_CHUNK` prompts at a time, so memory
    stays bounded (never one tile-sized mask per prompt of the whole tile at once) and time grows
    linearly with the number of prompts.
    """
    if mode == "everything":
        result = model.set_image(scene).generate(**params)
        yield result.masks, result.scores, result.stability_scores, None, result.prompt_type or "everything", 0
        return
    model.set_image(scene)
    negatives = _background_in_tile(background, tile)
    for start in range(0, len(tile_prompts), PROMPT_CHUNK):
        masks, scores, indexes = [], [], []
        chunk = tile_prompts[start:start + PROMPT_CHUNK]
        for index, prompt in chunk:
            local = np.asarray(prompt, dtype=np.float64).copy()
            local[0::2] -= tile.col_off
            local[1::2] -= tile.row_off
            if mode == "points":
                points = np.concatenate([local[None], negatives])
                labels = np.r_[1, np.zeros(len(negatives), dtype=np.int32)]
                result = model.predict(points=points, labels=labels, multimask=True, **params).best()
            else:
                result = model.predict(boxes=local[None], multimask=False, **params).best()
            masks.append(result.masks[0])
            scores.append(float(result.scores[0]))
            indexes.append(index)
        yield np.stack(masks), np.asarray(scores, np.float32), None, np.asarray(indexes), mode, len(chunk)


def _model_name(model) -> str:
    return getattr(model, "name", type(model).__name__)


@contextlib.contextmanager
def _embedding_cache(model, enabled: bool):
    """Tiles are seen once: unless asked, keep tile embeddings out of SAM's (disk) embedding cache."""
    if enabled or not hasattr(model, "cache"):
        yield
        return
    saved = model.cache
    model.cache = None
    try:
        yield
    finally:
        model.cache = saved


def _preview_shape(width: int, height: int, size: int) -> tuple[int, int, int]:
    step = max(1, int(np.ceil(max(width, height) / size)))
    return step, -(-height // step), -(-width // step)


# ---- the main loop -------------------------------------------------------------------------------
def segment_tiled(
    model,
    source,
    mode: str = "everything",
    prompts=None,
    params: dict | None = None,
    out_path=None,
    read_options: dict | None = None,
    options: TilingOptions | None = None,
    **option_values,
) -> TiledResult:
    """Segment a scene of any size tile by tile and merge the tiles seam-safely.

    Args:
        model: any :class:`helpers.backends.base.SegmentationModel` (SAM, FastSAM, conventional, SAM 2...).
            ``"everything"`` uses ``model.generate(**params)`` (with ``progress=False`` unless given: the
            tile bar is the progress); prompted modes ``model.predict``.
        source: a raster path (read window by window with :func:`helpers.raster.open_raster`), an open
            ``RasterSource``, a :class:`Scene` or an HxWx3 uint8 array.
        mode: ``"everything"`` (automatic masks), ``"points"`` or ``"boxes"``.
        prompts: for prompted modes, ``{"points": [(x, y), ...], "labels": [1, 0, ...]}`` or
            ``{"boxes": [(x0, y0, x1, y1), ...]}`` in scene pixel coordinates (points: pixel-centre column,
            row; boxes: XYXY pixel edges), plus ``"crs"`` for map coordinates (reprojected to the scene).
            Each foreground point (label 1, the default) and each box yields one instance, predicted in the
            tile where it is most central (an object reaching past that tile is clipped). Background
            points (label 0) are added as negative points to every foreground point of their tile.
        params: keyword arguments for ``generate`` / ``predict`` (e.g. ``points_per_side``).
        out_path: where to write the uint32 label GeoTIFF (``None``: no raster output).
        read_options: passed to ``open_raster`` for paths (``bands``, ``stretch``, ``sar``, ``nodata``).
        options: a :class:`TilingOptions` (tile size, overlap, merge rules, outputs, progress).
        **option_values: :class:`TilingOptions` fields given directly (``tile_size=512, progress=False``),
            overriding ``options``.

    Returns:
        :class:`TiledResult` (polygons in ``gdf``, label raster at ``labels_path``).
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}; got {mode!r}")
    opts = (options or TilingOptions()).replace(**option_values)
    params = dict(params or {})
    if mode == "everything":
        params.setdefault("progress", False)
    src, opened = _open_source(source, dict(read_options or {}))
    try:
        if opened:  # outputs in pixel coordinates of a GCP-only / CRS-less file would be misplaced
            check_georeferencing_kept(src)
        with _embedding_cache(model, opts.cache_embeddings):
            return _segment(model, src, mode, prompts, params, out_path, opts)
    finally:
        if opened:
            src.close()


def _segment(model, src, mode, prompts, params, out_path, opts: TilingOptions) -> TiledResult:
    import rasterio
    from tqdm.auto import tqdm

    start = time.perf_counter()
    keep_tile_polygons = opts.keep_tile_polygons and opts.vectors
    tiles = tile_grid(src.width, src.height, opts.tile_size, opts.overlap)
    prompt_tiles = None
    background = np.zeros((0, 2))
    if mode != "everything":
        pixel, labels = _pixel_prompts(prompts, mode, src)
        foreground = np.flatnonzero(labels == 1)
        if mode == "points":  # background points only exist in points mode (boxes are all objects)
            background = pixel[labels == 0]
        owner = _assign_prompts(pixel[foreground], tiles)
        prompt_tiles = {t.id: [(i, pixel[i]) for i in foreground[owner == t.id]] for t in tiles}
    inst = _Instances()
    counts = dict(candidates=0, kept=0, dropped_edge=0, duplicate=0, stitched=0)
    candidates: list[dict] = []  # per-tile polygons (keep_tile_polygons)
    step, ph, pw = _preview_shape(src.width, src.height, opts.preview_size)
    preview = np.zeros((ph, pw, 3), dtype=np.uint8)
    done: list[Tile] = []
    skipped: list[int] = []
    prompt_type = mode
    remove_stale_scratch()
    workdir = tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
    with workdir, rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE_MB):
        work = LabelRasterWriter(Path(workdir.name) / "work.tif", src.width, src.height, compress="zstd")
        try:
            if prompt_tiles is None:
                bar = tqdm(total=len(tiles), desc="tiles", unit="tile", disable=not opts.progress)
            else:  # prompted: progress in prompts, which is where the time goes
                bar = tqdm(total=sum(map(len, prompt_tiles.values())), desc="prompts", unit="prompt",
                           disable=not opts.progress)
            for tile in tiles:
                if prompt_tiles is not None and not prompt_tiles[tile.id]:
                    skipped.append(tile.id)
                    continue
                scene = src.read_window(tile.window)
                valid = scene.valid
                if valid is not None and not valid.any():
                    skipped.append(tile.id)  # nodata only: nothing to segment
                    bar.update(1 if prompt_tiles is None else len(prompt_tiles[tile.id]))
                    continue
                _paint_preview(preview, scene.image, tile, step)
                for masks, scores, stability, prompt_index, prompt_type, n_prompts in _run_tile(  # noqa: B007
                        model, scene, mode, params, None if prompt_tiles is None else prompt_tiles[tile.id], tile,
                        background):
                    if valid is not None:
                        masks = masks & valid[None]
                    _merge_tile(tile, masks, scores, stability, prompt_index, work, inst, done, counts,
                                candidates if keep_tile_polygons else None, opts, mode)
                    bar.update(n_prompts)
                    bar.set_postfix(masks=counts["kept"], refresh=False)
                done.append(tile)
                if prompt_tiles is None:
                    bar.update(1)
            bar.close()
            work.dataset.close()  # flush: the relabelling pass reads the file
            timings = {"tiles": time.perf_counter() - start}
            roots, final = inst.roots_lut()
            lut = final[roots]
            # A backend that partitions the scene keeps a partition: its polygons come from the final raster.
            partition_parts = {} if opts.vectors and mode == "everything" and _partitions(model) else None
            preview_labels, visible = _finalise_raster(work.temp_path, lut, src, out_path, opts.cog, step, (ph, pw),
                                                       model, prompt_type, partition_parts)
            timings["relabel"] = time.perf_counter() - start - timings["tiles"]
        finally:
            work.abort()  # scratch raster: closed and deleted whatever happened
    gdf = _merged_gdf(inst, roots, final, src, model, prompt_type, visible, partition_parts) if opts.vectors else None
    tile_gdf = _tile_gdf(candidates, inst, lut, src, model, prompt_type) if keep_tile_polygons else None
    timings["total"] = time.perf_counter() - start
    counts["objects"] = int(np.count_nonzero(final))
    return TiledResult(
        gdf=gdf, labels_path=None if out_path is None else Path(out_path), tiles=tiles, skipped=skipped,
        counts=counts, width=src.width, height=src.height, crs=src.crs, transform=src.transform,
        tile_gdf=tile_gdf, preview=preview, preview_labels=preview_labels, model=_model_name(model),
        smoke=bool(getattr(model, "smoke", False)), timings=timings,
    )


def _paint_preview(preview: np.ndarray, image: np.ndarray, tile: Tile, step: int) -> None:
    # Sample the scene's pixel grid (every ``step``-th pixel) so tiles land seamlessly in the preview.
    r0 = -(-tile.row_off // step) * step - tile.row_off
    c0 = -(-tile.col_off // step) * step - tile.col_off
    part = image[r0::step, c0::step]
    pr, pc = (tile.row_off + r0) // step, (tile.col_off + c0) // step
    preview[pr : pr + part.shape[0], pc : pc + part.shape[1]] = part


def _merge_tile(tile, masks, scores, stability, prompt_index, work, inst, done, counts, candidates,
                opts: TilingOptions, mode) -> None:
    """Apply the crop/duplicate/stitch rules to one tile's masks and write its window of labels."""
    min_area, edge_margin, stitch_iou, vectors = opts.min_area, opts.edge_margin, opts.stitch_iou, opts.vectors
    if len(masks) == 0:
        return
    areas = masks.reshape(len(masks), -1).sum(axis=1)
    keep = areas >= min_area
    masks, scores, areas = masks[keep], scores[keep], areas[keep]
    stability = None if stability is None else np.asarray(stability)[keep]
    prompt_index = None if prompt_index is None else prompt_index[keep]
    if len(masks) == 0:
        return
    boxes = boxes_from_masks(masks)
    prev = work.read(tile.window)
    neighbours = _neighbours_done(tile, done)
    seen = _seen_mask(tile, neighbours)
    prev_area = _prev_areas(prev, seen, inst) if neighbours else {}
    geoms = (vectorize_masks(masks, offset=(tile.col_off, tile.row_off), boxes=boxes) if vectors
             else np.full(len(masks), None, dtype=object))
    decisions = []
    for i in range(len(masks)):
        counts["candidates"] += 1
        record = dict(geometry=geoms[i], score=float(scores[i]), tile_id=tile.id, area=int(areas[i]),
                      stability_score=None if stability is None else float(stability[i]),
                      prompt_index=None if prompt_index is None else int(prompt_index[i]))
        if mode != "everything":  # each prompt is its own instance: no merging
            decisions.append((i, inst.new(True, record), "kept"))
            continue
        whole = not _touches_interior_edge(boxes[i], tile, edge_margin)
        matches = _match_previous(masks[i], boxes[i], prev, seen, inst, prev_area, stitch_iou) if neighbours else []
        seen_whole = [r for r in matches if inst.interior[r]]
        clipped = [r for r in matches if not inst.interior[r]]
        if seen_whole:  # an earlier tile already has this object whole
            decisions.append((i, seen_whole[0], "duplicate" if whole else "dropped_edge"))
            continue
        new_id = inst.new(whole, record)
        if whole:
            for root in clipped:  # the crop rule: this tile sees the object whole, drop the pieces
                inst.dropped[root] = new_id
                counts["dropped_edge"] += 1
            decisions.append((i, new_id, "kept"))
        else:
            for root in clipped:
                area = inst.records[inst.find(root)]["area"] + inst.records[inst.find(new_id)]["area"]
                inst.records[inst.union(new_id, root)]["area"] = area  # pieces overlap: an upper bound
            decisions.append((i, new_id, "stitched" if clipped else "kept"))
            counts["stitched"] += bool(clipped)
    _paint(prev, masks, boxes, areas, decisions, inst)
    counts["kept"] += sum(status in ("kept", "stitched") for _, _, status in decisions)
    counts["duplicate"] += sum(status == "duplicate" for _, _, status in decisions)
    counts["dropped_edge"] += sum(status == "dropped_edge" for _, _, status in decisions)
    work.write(prev, tile.window)
    for index, ident, status in decisions if candidates is not None else ():
        candidates.append(dict(geometry=geoms[index], tile_id=tile.id, score=float(scores[index]),
                               provisional=ident, status=status))


def _paint(labels: np.ndarray, masks: np.ndarray, boxes: np.ndarray, areas: np.ndarray, decisions: list,
           inst: _Instances) -> None:
    """Paint kept masks into ``labels`` (in place) with the smaller object on top, across tiles too.

    A pixel already owned by a live instance from an earlier tile is only taken by a smaller mask;
    pixels of dropped instances are free.
    """
    ids = np.unique(labels)
    owner_area = np.zeros(int(ids.max(initial=0)) + 1, dtype=np.float64)
    owner_area[0] = np.inf
    for i in ids[ids > 0].tolist():
        root = inst.find(i)
        owner_area[i] = np.inf if inst.dropped[root] else inst.records[root]["area"]
    area_of = owner_area[labels]
    for i in np.argsort(-areas, kind="stable"):  # large first: small objects stay on top
        index, ident, status = decisions[i]
        if status not in ("kept", "stitched"):
            continue
        root = inst.find(ident)
        area = inst.records[root]["area"]
        sl = _crop(boxes[index])
        paint = masks[index][sl] & (area_of[sl] > area)
        labels[sl][paint] = ident
        area_of[sl][paint] = area


def _finalise_raster(work_path: Path, lut: np.ndarray, src, out_path, cog: bool, step: int, preview_shape,
                     model, prompt_type, partition_parts: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Map provisional ids to final ids block by block into ``out_path``.

    Returns the decimated labels and the pixel count of every final id in the raster (index = id). With
    ``partition_parts`` (a dict), also collects each final id's polygon parts from the final raster.
    """
    import rasterio
    from rasterio.windows import Window

    preview = np.zeros(preview_shape, dtype=np.uint32)
    visible = np.zeros(int(lut.max(initial=0)) + 1, dtype=np.int64)
    tags = {"model": _model_name(model), "prompt_type": prompt_type,
            "smoke": str(bool(getattr(model, "smoke", False))).lower(), "software": "sam-rs"}
    writer = None
    if out_path is not None:
        writer = LabelRasterWriter(out_path, src.width, src.height, crs=src.crs, transform=src.transform,
                                   cog=cog, tags=tags)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            work = rasterio.open(work_path)
        with work:
            for row in range(0, src.height, _FINAL_BLOCK):
                for col in range(0, src.width, _FINAL_BLOCK):
                    window = Window(col, row, min(_FINAL_BLOCK, src.width - col), min(_FINAL_BLOCK, src.height - row))
                    labels = lut[work.read(1, window=window)]
                    visible += np.bincount(labels.ravel(), minlength=visible.size)
                    if partition_parts is not None:
                        for ident, part in enumerate(vectorize_labels(labels, visible.size - 1, offset=(col, row)), 1):
                            if part is not None:
                                partition_parts.setdefault(ident, []).append(part)
                    if writer is not None:
                        writer.write(labels, window)
                    r0, c0 = (-row) % step, (-col) % step
                    part = labels[r0::step, c0::step]
                    pr, pc = (row + r0) // step, (col + c0) // step
                    preview[pr : pr + part.shape[0], pc : pc + part.shape[1]] = part
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        writer.close()
    return preview, visible


def _partitions(model) -> bool:
    backend = getattr(model, "backend", None)
    return bool(getattr(backend, "partitions", False))


def _merged_gdf(inst: _Instances, roots: np.ndarray, final: np.ndarray, src, model, prompt_type: str,
                visible: np.ndarray, partition_parts: dict | None = None):
    """One row per final instance: union of its pieces (pixel coordinates are integers: exact).

    ``visible`` (pixel count per final id in the label raster) gives ``visible_px`` / ``hidden``; with
    ``partition_parts`` (final id -> polygon parts read from the raster) the polygons are the raster's.
    """
    import shapely

    groups: dict[int, list[int]] = {}
    for ident in range(1, len(roots)):
        if roots[ident]:
            groups.setdefault(int(roots[ident]), []).append(ident)
    order = sorted(groups, key=lambda r: final[r])
    if partition_parts is not None:
        order = [r for r in order if int(final[r]) in partition_parts]  # an id without a pixel has no polygon
    geoms, ids, scores, stab, tile_ids, n_tiles, prompt_index = [], [], [], [], [], [], []
    for root in order:
        records = [inst.records[i] for i in groups[root]]
        if partition_parts is not None:
            parts = partition_parts[int(final[root])]
        else:
            parts = [r["geometry"] for r in records if r["geometry"] is not None]
        geoms.append(parts[0] if len(parts) == 1 else shapely.union_all(parts))
        ids.append(int(final[root]))
        scores.append(max(r["score"] for r in records))
        stab.append(max((r["stability_score"] for r in records if r["stability_score"] is not None), default=np.nan))
        tile_ids.append(records[0]["tile_id"])
        n_tiles.append(len({r["tile_id"] for r in records}))
        prompt_index.append(records[0]["prompt_index"])
    geoms = np.asarray(geoms, dtype=object)
    columns = {"id": np.asarray(ids, np.int64), "score": np.asarray(scores, np.float64)}
    if np.isfinite(np.asarray(stab, dtype=np.float64)).any():
        columns["stability_score"] = np.asarray(stab, np.float64)
    columns["area_px"] = np.rint(shapely.area(geoms)).astype(np.int64) if len(geoms) else np.zeros(0, np.int64)
    columns["visible_px"] = visible[np.asarray(ids, np.int64)] if ids else np.zeros(0, np.int64)
    columns["hidden"] = columns["visible_px"] == 0
    columns["n_tiles"] = np.asarray(n_tiles, np.int32)
    if prompt_type in ("points", "boxes"):
        columns["prompt_index"] = np.asarray(prompt_index, np.int64)
    return build_gdf(geoms, columns, src.crs, src.transform, model=_model_name(model), prompt_type=prompt_type,
                     tile_ids=np.asarray(tile_ids, np.int32), smoke=bool(getattr(model, "smoke", False)))


def _tile_gdf(candidates: list[dict], inst: _Instances, lut: np.ndarray, src, model, prompt_type: str):
    """Per-tile polygons with their fate, for figures explaining the seam rule."""
    import shapely

    final_status, final_ids = [], []
    for c in candidates:
        status, ident = c["status"], c["provisional"]
        if status in ("kept", "stitched") and lut[ident] == 0:
            status = "dropped_edge"  # a later tile saw the object whole
        while lut[ident] == 0 and inst.dropped[inst.find(ident)]:
            ident = inst.dropped[inst.find(ident)]  # follow to the instance that replaced it
        final_status.append(status)
        final_ids.append(int(lut[ident]))
    geoms = np.asarray([c["geometry"] for c in candidates], dtype=object)
    columns = {
        "final_id": np.asarray(final_ids, np.int64),
        "score": np.asarray([c["score"] for c in candidates], np.float64),
        "area_px": np.rint(shapely.area(geoms)).astype(np.int64) if len(geoms) else np.zeros(0, np.int64),
        "status": np.asarray(final_status, dtype=object),
    }
    return build_gdf(geoms, columns, src.crs, src.transform, model=_model_name(model), prompt_type=prompt_type,
                     tile_ids=np.asarray([c["tile_id"] for c in candidates], np.int32),
                     smoke=bool(getattr(model, "smoke", False)))
