"""A binary fine-tuning data set: tiles of GeoTIFF scenes with per-instance masks, split without leaks.

    ds = build_finetune_dataset("scene.tif", "buildings.geojson", tile_size=256, split="block")
    ds.train, ds.val          # lists of TrainingTile (image HxWx3 uint8, instances uint32 HxW)
    ds.manifest               # tile bounds, CRS, source, split and the sha256 of every input
    ds.save("dataset/")       # manifest.json + tiles.npz

Why the choices:

* **Labels in any form**: a vector file or GeoDataFrame in any CRS (reprojected and rasterised onto each
  scene with :func:`helpers.metrics.reference_labels`), or a label/mask raster. Each tile's objects are
  the **connected components** of its labels (two touching buildings with different ids stay two; one
  id cut in two by the tile edge becomes two), components under ``min_instance_px`` are dropped.
* **Split by scene or by spatial block, never by random tile.** Neighbouring tiles share buildings,
  roofs of the same street and the same light; a random split puts near-copies on both sides and the
  validation score measures memory. ``split="block"`` cuts each scene into square blocks and gives whole
  blocks to validation; a training tile that overlaps a validation tile (when tiles overlap) is dropped.
  ``split="scene"`` keeps whole scenes apart (the stronger test: another place, another day).
* **A manifest** records every tile's window, map bounds and CRS, its split and the sha256 of every
  input, so a run can be reproduced and a resumed run can check it still has the same data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_output
from ..errors import UserInputError
from ..tiling import tile_grid

__all__ = ["MANIFEST_NAME", "SPLITS", "TileDataset", "TrainingTile", "build_finetune_dataset", "instance_labels"]

SPLITS = ("block", "scene")
"""How tiles are split between training and validation (never by random tile)."""

MANIFEST_NAME = "manifest.json"
TILES_NAME = "tiles.npz"
_FORMAT = "sam-rs fine-tuning dataset"
_VERSION = 1


@dataclass
class TrainingTile:
    """One tile: an image the model sees and the objects in it.

    Attributes:
        id: running number over the whole data set.
        image: HxWx3 uint8 RGB (row, column, channel).
        instances: uint32 (H, W): 0 background, 1..K one connected object each.
        scene: index of the source scene in :attr:`TileDataset.scenes`.
        window: (col_off, row_off, width, height) pixels in the scene.
        split: ``"train"`` or ``"val"``.
        block: (scene, block row, block column) for ``split="block"``, else ``None``.
        crs: the scene's CRS (``rasterio.crs.CRS``) or ``None``.
        transform: ``affine.Affine`` of the tile (pixel corner -> map) or ``None``.
    """

    id: int
    image: np.ndarray = field(repr=False)
    instances: np.ndarray = field(repr=False)
    scene: int
    window: tuple[int, int, int, int]
    split: str
    block: tuple[int, int, int] | None = None
    crs: object | None = None
    transform: object | None = None

    @property
    def n_instances(self) -> int:
        return int(self.instances.max()) if self.instances.size else 0

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.image.shape[0]), int(self.image.shape[1])

    def masks(self) -> np.ndarray:
        """bool (K, H, W), one mask per object (ids 1..K)."""
        ids = np.arange(1, self.n_instances + 1, dtype=self.instances.dtype)
        return self.instances[None] == ids[:, None, None]

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        """Map bounds (left, bottom, right, top) in :attr:`crs`, or ``None`` without georeferencing."""
        if self.transform is None:
            return None
        from rasterio.transform import array_bounds

        west, south, east, north = array_bounds(self.shape[0], self.shape[1], self.transform)
        return float(west), float(south), float(east), float(north)


def instance_labels(labels: np.ndarray, min_instance_px: int = 16) -> np.ndarray:
    """uint32 (H, W) objects of a label raster: connected components of each label, small ones dropped.

    Args:
        labels: integer (H, W) label raster (0 background) or bool mask.
        min_instance_px: components with fewer pixels become background (slivers cut by a tile edge).

    Returns:
        0 background, objects numbered 1..K in raster order (top row first).
    """
    from skimage.measure import label

    components = label(np.asarray(labels).astype(np.int64), background=0, connectivity=1)
    if min_instance_px > 1 and components.max():
        sizes = np.bincount(components.ravel())
        small = sizes < int(min_instance_px)
        small[0] = False
        components[small[components]] = 0
    # renumber 1..K without gaps, keeping raster order
    ids = np.unique(components)
    ids = ids[ids > 0]
    lookup = np.zeros(int(components.max()) + 1, np.uint32)
    lookup[ids] = np.arange(1, len(ids) + 1, dtype=np.uint32)
    return lookup[components]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _label_input(labels) -> dict:
    """Manifest entry of one label source: path and sha256, or what was passed in memory."""
    if isinstance(labels, (str, Path)):
        path = Path(labels)
        if not path.exists():
            raise UserInputError(f"labels {path} do not exist")
        return {"role": "labels", "path": str(path), "sha256": _file_sha256(path)}
    if hasattr(labels, "geometry"):
        import shapely

        digest = hashlib.sha256(str(labels.crs).encode())
        for geom in shapely.to_wkb(np.asarray(labels.geometry.to_numpy())):
            digest.update(geom or b"")
        return {"role": "labels", "path": None, "what": f"GeoDataFrame of {len(labels)} features",
                "sha256": digest.hexdigest()}
    array = np.ascontiguousarray(labels)
    digest = hashlib.sha256(f"{array.shape}|{array.dtype.str}|".encode())
    digest.update(memoryview(array).cast("B"))
    return {"role": "labels", "path": None, "what": f"array {array.shape} {array.dtype}", "sha256": digest.hexdigest()}


def _as_list(value, what: str) -> list:
    if isinstance(value, (str, Path)) or not isinstance(value, (list, tuple)):
        return [value]
    if not value:
        raise UserInputError(f"no {what} given")
    return list(value)


def _tile_digest(image: np.ndarray, instances: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in (image, instances):
        digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))
    return digest.hexdigest()[:16]


def _crs_text(crs) -> str | None:
    return None if crs is None else crs.to_string()


def _windows_overlap(a: tuple, b: tuple) -> bool:
    (ac, ar, aw, ah), (bc, br, bw, bh) = a, b
    return ac < bc + bw and bc < ac + aw and ar < br + bh and br < ar + ah


@dataclass
class TileDataset:
    """Tiles for training and validation, with the manifest that describes them.

    Attributes:
        tiles: every :class:`TrainingTile` (``train`` and ``val`` are views by split).
        manifest: a JSON-ready dict: ``settings``, ``inputs`` (path + sha256), ``scenes``, ``tiles``
            (id, scene, source, window, bounds, crs, split, block, n_instances, foreground, sha256) and
            ``counts``.
    """

    tiles: list[TrainingTile]
    manifest: dict

    @property
    def train(self) -> list[TrainingTile]:
        return [t for t in self.tiles if t.split == "train"]

    @property
    def val(self) -> list[TrainingTile]:
        return [t for t in self.tiles if t.split == "val"]

    @property
    def fingerprint(self) -> str:
        """sha256 of the manifest: equal fingerprints mean the same tiles from the same inputs."""
        text = json.dumps(self.manifest, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def summary(self) -> str:
        counts = self.manifest["counts"]
        return (
            f"{counts['train']} training tiles ({counts['train_instances']} objects), "
            f"{counts['val']} validation tiles ({counts['val_instances']} objects), split by "
            f"{self.manifest['settings']['split']}; dropped: {counts['dropped_empty']} too empty, "
            f"{counts['dropped_overlap']} overlapping validation"
        )

    def __repr__(self) -> str:
        return f"TileDataset({self.summary()})"

    def save(self, folder, tiles: bool = True) -> Path:
        """Write ``manifest.json`` (and ``tiles.npz`` with every image and instance raster) atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_output(folder / MANIFEST_NAME) as tmp:
            tmp.write_text(json.dumps(self.manifest, indent=1, default=str))
        if tiles:
            arrays = {}
            for tile in self.tiles:
                arrays[f"image_{tile.id}"] = tile.image
                arrays[f"instances_{tile.id}"] = tile.instances
            with atomic_output(folder / TILES_NAME) as tmp:
                np.savez_compressed(tmp, **arrays)
        return folder / MANIFEST_NAME

    @classmethod
    def load(cls, folder) -> TileDataset:
        """Read a data set written by :meth:`save` (tiles checked against the manifest's sha256)."""
        from affine import Affine
        from rasterio.crs import CRS

        folder = Path(folder)
        manifest_path, tiles_path = folder / MANIFEST_NAME, folder / TILES_NAME
        if not manifest_path.is_file() or not tiles_path.is_file():
            raise UserInputError(f"{folder} holds no saved data set ({MANIFEST_NAME} and {TILES_NAME})")
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("format") != _FORMAT:
            raise UserInputError(f"{manifest_path} is not a {_FORMAT} manifest")
        tiles = []
        with np.load(tiles_path) as arrays:
            for entry in manifest["tiles"]:
                image, instances = arrays[f"image_{entry['id']}"], arrays[f"instances_{entry['id']}"]
                if _tile_digest(image, instances) != entry["sha256"]:
                    raise UserInputError(f"tile {entry['id']} in {tiles_path} does not match its manifest sha256")
                tiles.append(TrainingTile(
                    entry["id"], image, instances, entry["scene"], tuple(entry["window"]), entry["split"],
                    tuple(entry["block"]) if entry["block"] is not None else None,
                    CRS.from_user_input(entry["crs"]) if entry["crs"] else None,
                    Affine(*entry["transform"]) if entry["transform"] else None,
                ))
        return cls(tiles, manifest)

    def show(self, n: int = 6, split: str | None = None, prompts: bool = True, seed: int = 0):
        """A figure of ``n`` tiles with their objects outlined and sampled training prompts drawn."""
        from .plots import show_tiles

        tiles = self.tiles if split is None else [t for t in self.tiles if t.split == split]
        return show_tiles(tiles[:n], prompts=prompts, seed=seed)


def _choose_val_blocks(blocks: dict, val_fraction: float, rng: np.random.Generator) -> set:
    """Whole blocks to validation, in a seeded random order, until ``val_fraction`` of the tiles."""
    keys = sorted(blocks)
    order = rng.permutation(len(keys))
    total = sum(blocks.values())
    chosen, count = set(), 0
    for index in order[:-1]:  # at least one block stays for training
        if count >= val_fraction * total:
            break
        chosen.add(keys[index])
        count += blocks[keys[index]]
    return chosen


def _scene_split(n_scenes: int, val_scenes, val_fraction: float, rng: np.random.Generator) -> set:
    if n_scenes < 2:
        raise UserInputError("split='scene' needs at least two scenes (give several images, or split='block')")
    if val_scenes is not None:
        chosen = {int(v) for v in val_scenes}
        if not chosen or not chosen <= set(range(n_scenes)) or len(chosen) == n_scenes:
            raise UserInputError(
                f"val_scenes must be scene indexes within 0..{n_scenes - 1}, some left for training; got {sorted(chosen)}"
            )
        return chosen
    count = min(max(1, round(val_fraction * n_scenes)), n_scenes - 1)
    return {int(i) for i in rng.choice(n_scenes, size=count, replace=False)}


def build_finetune_dataset(
    images,
    labels,
    tile_size: int = 256,
    overlap: int = 0,
    max_empty: float = 0.95,
    split: str = "block",
    block_size: int | None = None,
    val_fraction: float = 0.25,
    val_scenes=None,
    seed: int = 0,
    min_instance_px: int = 16,
    binary_labels: bool | None = None,
    read_options: dict | None = None,
    progress: bool = False,
) -> TileDataset:
    """Tiles with per-instance masks from GeoTIFF scene(s) and their labels, split without leaks.

    Args:
        images: one raster path (GeoTIFF, PNG, ...) or a list of them; read as 8-bit RGB with
            :func:`helpers.raster.read_scene` (``read_options``: ``bands``, ``stretch``, ...).
        labels: one label source for every scene, or a list with one per image. A source is a vector file
            or GeoDataFrame of polygons in any CRS, a label raster / mask raster path, or an integer /
            bool (H, W) array on the scene's grid.
        tile_size: tile side in pixels (>= 32). SAM 2 resizes every tile to 1024 x 1024.
        overlap: pixels shared by neighbouring tiles (0 .. tile_size / 2).
        max_empty: drop tiles whose share of pixels outside every object (background or nodata) is above
            this (0..1); tiles without any object are always dropped (they hold no prompt).
        split: ``"block"`` (square blocks of each scene go wholly to one side) or ``"scene"`` (whole
            scenes go to one side).
        block_size: block side in pixels for ``split="block"`` (default ``2 * tile_size``).
        val_fraction: share of tiles (block split) or scenes (scene split) for validation (0..1).
        val_scenes: scene indexes for validation (``split="scene"``); default: drawn with ``seed``.
        seed: seed of the block / scene draw.
        min_instance_px: smallest object kept, in pixels.
        binary_labels: ``True`` reads a non-zero label raster as one mask (e.g. 0/255 canopy).
        read_options: passed to :func:`helpers.raster.read_scene`.
        progress: show a tqdm bar over scenes.

    Raises:
        UserInputError: one line, for missing files, bad settings, labels that miss every scene, or a
            split that leaves training or validation empty.
    """
    from tqdm.auto import tqdm

    from ..metrics import reference_labels
    from ..raster import read_scene

    if split not in SPLITS:
        raise UserInputError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)} (never random tiles)")
    if not 0 <= max_empty <= 1:
        raise UserInputError(f"max_empty must be within 0..1, got {max_empty}")
    if not 0 < val_fraction < 1:
        raise UserInputError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    tile_size, overlap = int(tile_size), int(overlap)
    try:
        tile_grid(tile_size, tile_size, tile_size, overlap)
    except ValueError as error:
        raise UserInputError(str(error)) from None
    block_size = int(block_size or 2 * tile_size)
    if block_size < tile_size:
        raise UserInputError(f"block_size ({block_size}) must be at least the tile size ({tile_size})")

    image_paths = [Path(p) for p in _as_list(images, "images")]
    for path in image_paths:
        if not path.is_file():
            raise UserInputError(f"image {path} does not exist")
    label_sources = labels if isinstance(labels, (list, tuple)) else [labels] * len(image_paths)
    if len(label_sources) != len(image_paths):
        raise UserInputError(f"{len(image_paths)} images but {len(label_sources)} label sources; give one, or one per image")
    shared_labels = not isinstance(labels, (list, tuple))
    rng = np.random.default_rng(seed)
    settings = {
        "tile_size": tile_size, "overlap": overlap, "max_empty": float(max_empty), "split": split,
        "block_size": block_size if split == "block" else None, "val_fraction": float(val_fraction),
        "val_scenes": sorted(int(v) for v in val_scenes) if val_scenes is not None else None, "seed": int(seed),
        "min_instance_px": int(min_instance_px), "binary_labels": binary_labels, "read_options": read_options or {},
    }
    inputs = [{"role": "image", "path": str(p), "sha256": _file_sha256(p)} for p in image_paths]
    inputs += [_label_input(src) for src in (label_sources[:1] if shared_labels else label_sources)]

    candidates, scenes, dropped_empty = [], [], 0
    bar = tqdm(list(enumerate(image_paths)), desc="tiling scenes", unit="scene", disable=not progress)
    for index, path in bar:
        scene = read_scene(path, **(read_options or {}))
        try:
            labelled = reference_labels(label_sources[index], scene, binary=binary_labels)
        except UserInputError:
            if not shared_labels or len(image_paths) == 1:
                raise
            labelled = np.zeros(scene.shape, np.uint32)  # a scene the shared labels do not reach
        scenes.append({
            "index": index, "path": str(path), "crs": _crs_text(scene.crs), "width": scene.width,
            "height": scene.height, "transform": list(scene.transform)[:6] if scene.transform else None,
        })
        for cell in tile_grid(scene.width, scene.height, tile_size, overlap):
            rows = slice(cell.row_off, cell.row_off + cell.height)
            cols = slice(cell.col_off, cell.col_off + cell.width)
            instances = instance_labels(labelled[rows, cols], min_instance_px)
            empty = instances == 0
            if scene.valid is not None:
                empty |= ~scene.valid[rows, cols]
            if not instances.any() or empty.mean() > max_empty:
                dropped_empty += 1
                continue
            window = (cell.col_off, cell.row_off, cell.width, cell.height)
            centre = (cell.row_off + cell.height // 2, cell.col_off + cell.width // 2)
            block = (index, centre[0] // block_size, centre[1] // block_size) if split == "block" else None
            crop = scene.crop(*window)
            candidates.append((index, window, block, np.ascontiguousarray(crop.image), instances, crop))
    if not candidates:
        raise UserInputError(
            f"no tile of {tile_size} px has an object of >= {min_instance_px} px with at most "
            f"{max_empty:.0%} empty pixels; lower --max-empty or the tile size, or check the labels"
        )

    if split == "block":
        blocks: dict = {}
        for _, _, block, *_ in candidates:
            blocks[block] = blocks.get(block, 0) + 1
        if len(blocks) < 2:
            raise UserInputError(
                f"all {len(candidates)} tiles lie in one {block_size}-px block: nothing left for validation; "
                "give a smaller block_size or more scenes"
            )
        val_keys = _choose_val_blocks(blocks, val_fraction, rng)
        sides = ["val" if c[2] in val_keys else "train" for c in candidates]
    else:
        val_set = _scene_split(len(image_paths), val_scenes, val_fraction, rng)
        sides = ["val" if c[0] in val_set else "train" for c in candidates]

    # a training tile sharing pixels with a validation tile would leak them: drop it
    val_windows = [(c[0], c[1]) for c, side in zip(candidates, sides, strict=True) if side == "val"]
    dropped_overlap = 0
    tiles, entries = [], []
    for (index, window, block, image, instances, crop), side in zip(candidates, sides, strict=True):
        if side == "train" and any(s == index and _windows_overlap(window, w) for s, w in val_windows):
            dropped_overlap += 1
            continue
        tile = TrainingTile(len(tiles), image, instances, index, window, side, block, crop.crs, crop.transform)
        tiles.append(tile)
        entries.append({
            "id": tile.id, "scene": index, "source": str(image_paths[index]), "window": list(window),
            "bounds": list(tile.bounds) if tile.bounds else None, "crs": _crs_text(crop.crs),
            "transform": list(crop.transform)[:6] if crop.transform else None, "split": side,
            "block": list(block) if block is not None else None, "n_instances": tile.n_instances,
            "foreground": round(float((instances > 0).mean()), 4), "sha256": _tile_digest(image, instances),
        })
    counts = {
        split_name: sum(1 for t in tiles if t.split == split_name) for split_name in ("train", "val")
    }
    for split_name in ("train", "val"):
        if counts[split_name] == 0:
            raise UserInputError(
                f"the {split} split left no {'training' if split_name == 'train' else 'validation'} tile "
                f"({len(candidates)} tiles); change val_fraction, block_size, overlap or val_scenes"
            )
    counts.update({
        "train_instances": sum(t.n_instances for t in tiles if t.split == "train"),
        "val_instances": sum(t.n_instances for t in tiles if t.split == "val"),
        "dropped_empty": dropped_empty, "dropped_overlap": dropped_overlap,
    })
    manifest = {"format": _FORMAT, "version": _VERSION, "settings": settings, "inputs": inputs,
                "scenes": scenes, "tiles": entries, "counts": counts}
    return TileDataset(tiles, manifest)
