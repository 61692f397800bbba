"""Synthetic scenes with known ground truth: buildings, fields, water and SAR-like speckle.

    scene, labels = helpers.make_synthetic_scene("buildings", size=(512, 512), seed=0)
    write_synthetic_geotiff("big.tif", "fields", size=(16384, 16384), labels_path="big_labels.tif")

Every synthetic pixel is a pure function of its scene coordinates (noise is drawn from fixed tiles
indexed by row/column), so a scene rendered whole, window by window, or written to disk in blocks is
identical, and memory does not grow with the scene size when writing.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from skimage.draw import polygon as draw_polygon

from ..atomic import atomic_output
from ..raster import DEFAULT_SAR_DB_RANGE, DEFAULT_STRETCH, power_to_db, stretch_to_uint8
from ..scene import Scene

__all__ = ["SYNTHETIC_KINDS", "SYNTHETIC_VARIANTS", "DEFAULT_RESOLUTION", "SyntheticObject", "rectangle", "polygon",
           "make_synthetic_scene", "write_synthetic_geotiff"]

SYNTHETIC_KINDS = ("buildings", "fields", "water", "sar")

DEFAULT_RESOLUTION = {"buildings": 0.5, "fields": 10.0, "water": 10.0, "sar": 10.0}
"""Pixel size in metres per kind (converted to degrees for a geographic CRS)."""

_NOISE_TILE = 512  # side of the fixed noise tiles every pixel's texture/speckle is looked up in
_SAR_LOOKS = 4.0  # equivalent number of looks of the default speckle (multi-looked GRD-like)

_ROOFS = ((178, 70, 58), (205, 205, 200), (95, 95, 105), (160, 150, 135), (120, 60, 50), (230, 225, 210))
_CROPS = ((60, 120, 40), (95, 140, 55), (150, 160, 70), (185, 165, 95), (120, 95, 65), (75, 105, 45))
_WATER = (25, 50, 75)


@dataclass
class SyntheticObject:
    """One ground-truth object.

    Attributes:
        polygon: (N,2) float vertices as pixel (col, row) EDGE coordinates (pixel (r, c) covers
            [c, c+1) x [r, r+1)); a pixel belongs to the object when its centre is inside.
        value: RGB colour (3 floats, 0-255) for optical kinds, or linear power (1 float) for ``"sar"``.
        rectangle: ``True`` for axis-aligned rectangles (filled exactly by slicing).
    """

    polygon: np.ndarray
    value: tuple
    rectangle: bool = False

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """Pixel XYXY (col0, row0, col1, row1) bounds of the polygon."""
        (x0, y0), (x1, y1) = self.polygon.min(axis=0), self.polygon.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)


def rectangle(x0: float, y0: float, x1: float, y1: float, value=None) -> SyntheticObject:
    """An axis-aligned rectangle object from pixel XYXY edges (col0, row0, col1, row1), half-open."""
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"rectangle needs x0 < x1 and y0 < y1 (pixel XYXY), got {(x0, y0, x1, y1)}")
    poly = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], dtype=np.float64)
    return SyntheticObject(poly, value, rectangle=True)


def polygon(vertices, value=None) -> SyntheticObject:
    """A polygon object from (N,2) pixel (col, row) edge-coordinate vertices (N >= 3)."""
    poly = np.asarray(vertices, dtype=np.float64)
    if poly.ndim != 2 or poly.shape[1] != 2 or len(poly) < 3:
        raise ValueError(f"polygon needs (N>=3, 2) pixel (col, row) vertices, got shape {poly.shape}")
    return SyntheticObject(poly, value)


def _as_object(spec, kind: str, rng: np.random.Generator) -> SyntheticObject:
    """User object spec -> SyntheticObject; a missing value gets the kind's object colour/power."""
    if isinstance(spec, SyntheticObject):
        obj = SyntheticObject(spec.polygon, spec.value, spec.rectangle)
    elif isinstance(spec, dict):
        if "box" in spec:
            obj = rectangle(*spec["box"], value=spec.get("value"))
        elif "polygon" in spec:
            obj = polygon(spec["polygon"], value=spec.get("value"))
        else:
            raise ValueError(f"object dict needs 'box' (pixel XYXY) or 'polygon' ((N,2) col,row), got {spec}")
    elif np.ndim(spec) == 1 and len(spec) == 4:
        obj = rectangle(*spec)
    else:
        obj = polygon(spec)
    if obj.value is None:
        obj.value = _object_value(kind, rng)
    return obj


def _object_value(kind: str, rng: np.random.Generator) -> tuple:
    if kind == "buildings":
        return tuple(float(v) for v in _ROOFS[rng.integers(len(_ROOFS))])
    if kind == "fields":
        return tuple(float(v) for v in _CROPS[rng.integers(len(_CROPS))])
    if kind == "water":
        return tuple(float(v) + rng.uniform(-8, 8) for v in _WATER)
    return (float(10 ** (rng.uniform(0.0, 6.0) / 10)),)  # sar: bright man-made targets, 0..+6 dB


def _blob(cx: float, cy: float, radius: float, rng: np.random.Generator, n: int = 48) -> np.ndarray:
    """A smooth, star-shaped lake outline: radius modulated by a few low harmonics."""
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in (2, 3, 4):
        r += rng.uniform(0, 0.25 / k * 2) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    r *= radius / r.max()
    return np.stack([cx + r * np.cos(theta), cy + r * np.sin(theta)], axis=1)


def _random_objects(kind: str, size: tuple[int, int], rng: np.random.Generator) -> list[SyntheticObject]:
    """Non-overlapping objects, fully inside the scene, one per jittered grid cell (O(n), any size)."""
    height, width = size
    cell = {"buildings": 64, "fields": 64, "water": 128, "sar": 96}[kind]
    if kind == "fields":
        return _field_tessellation(height, width, cell, rng)
    objects = []
    for r in range(math.ceil(height / cell)):
        for c in range(math.ceil(width / cell)):
            if rng.random() > 0.6:
                continue  # an empty cell
            obj = _object_in_cell(kind, c * cell, r * cell, cell, rng)
            x0, y0, x1, y1 = obj.bbox
            if x1 <= width - 1 and y1 <= height - 1:  # keep ground truth free of clipped slivers
                objects.append(obj)
    if not objects:  # tiny scenes: one object in the middle, so there is always ground truth
        side = min(height, width)
        objects.append(_object_in_cell(kind, (width - side) / 2, (height - side) / 2, side, rng))
    return objects


def _object_in_cell(kind: str, x0: float, y0: float, cell: float, rng: np.random.Generator):
    """A random building/ship rectangle or a water blob inside the square cell at pixel (x0, y0)."""
    if kind == "water" or (kind == "sar" and rng.random() < 0.5):
        radius = rng.uniform(0.2, 0.42) * cell
        room = cell / 2 - radius - 1
        cx, cy = x0 + cell / 2 + rng.uniform(-1, 1) * room, y0 + cell / 2 + rng.uniform(-1, 1) * room
        dark = (float(10 ** (rng.uniform(-24, -20) / 10)),)  # SAR water: -24..-20 dB
        value = dark if kind == "sar" else _object_value(kind, rng)
        return polygon(_blob(cx, cy, radius, rng), value)
    w, h = rng.uniform(cell / 6, cell * 3 / 4, size=2).round()
    bx, by = x0 + rng.uniform(1, cell - w - 1), y0 + rng.uniform(1, cell - h - 1)
    bx, by = round(bx), round(by)
    return rectangle(bx, by, bx + w, by + h, _object_value(kind, rng))


def _field_tessellation(height: int, width: int, cell: int, rng: np.random.Generator):
    """Jittered quadrilateral fields tiling the scene, separated by ~3 px margins/tracks (background)."""
    rows, cols = max(1, round(height / cell)), max(1, round(width / cell))
    cell_h, cell_w = height / rows, width / cols  # cells stretched to fit: no sliver fields at the edge
    jitter = rng.uniform(-0.2, 0.2, size=(rows + 1, cols + 1, 2)) * (cell_w, cell_h)
    jitter[[0, -1], :, 1] = 0  # the outer corners stay on the scene border
    jitter[:, [0, -1], 0] = 0
    objects = []
    for r in range(rows):
        for c in range(cols):
            corners = [(r, c), (r, c + 1), (r + 1, c + 1), (r + 1, c)]
            quad = np.array([(cc * cell_w, rr * cell_h) + jitter[rr, cc] for rr, cc in corners])
            centre = quad.mean(axis=0)
            step = 3.0 / (np.linalg.norm(quad - centre, axis=1, keepdims=True) + 1e-9)
            quad = quad - (quad - centre) * np.minimum(step, 0.5)  # pull each corner 3 px inwards
            objects.append(polygon(quad, _object_value("fields", rng)))
    return objects


@dataclass
class _Plan:
    """Everything needed to render any window of a synthetic scene (small; independent of scene size)."""

    kind: str
    size: tuple[int, int]
    objects: list[SyntheticObject]
    boxes: np.ndarray  # (N,4) float XYXY of objects, for fast window intersection
    coarse: np.ndarray  # low-frequency background field, one value per 64 px
    noise: np.ndarray  # (C, T, T) standard-normal texture tile
    speckle: np.ndarray | None  # (T, T) unit-mean gamma speckle tile, or None
    nodata_edge: float


def _make_plan(kind, size, seed, objects, speckle, nodata_edge) -> _Plan:
    if kind not in SYNTHETIC_KINDS:
        raise ValueError(f"unknown synthetic kind {kind!r}; choose one of: {', '.join(SYNTHETIC_KINDS)}")
    height, width = (int(v) for v in size)
    if height < 8 or width < 8:
        raise ValueError(f"size must be at least 8x8 pixels (rows, cols), got {size}")
    if not 0 <= nodata_edge < 1:
        raise ValueError(f"nodata_edge must be a fraction in [0, 1), got {nodata_edge}")
    rng = np.random.default_rng(seed)
    if objects is None:
        objs = _random_objects(kind, (height, width), rng)
    else:
        objs = [_as_object(spec, kind, rng) for spec in objects]
    boxes = np.array([o.bbox for o in objs], dtype=np.float64).reshape(-1, 4)
    coarse = rng.random((height // 64 + 2, width // 64 + 2))
    channels = 1 if kind == "sar" else 3
    noise = rng.standard_normal((channels, _NOISE_TILE, _NOISE_TILE)).astype(np.float32)
    looks = _SAR_LOOKS if speckle is None and kind == "sar" else (speckle or None)
    if looks is True:
        looks = _SAR_LOOKS
    speckle_tile = None
    if looks:
        shape = (_NOISE_TILE, _NOISE_TILE)
        speckle_tile = rng.gamma(float(looks), 1.0 / float(looks), shape).astype(np.float32)
    return _Plan(kind, (height, width), objs, boxes, coarse, noise, speckle_tile, float(nodata_edge))


def _tile_lookup(tile: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Values of a periodic tile at global pixel rows/cols, with per-period shifts to hide the period."""
    t = tile.shape[-1]
    r, c = rows[:, None], cols[None, :]
    ri = (r + 97 * (c // t)) % t
    ci = (c + 61 * (r // t)) % t
    return tile[..., ri, ci]


def _coarse_at(coarse: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of the 64-px coarse field at global pixel rows/cols -> (h, w) in [0, 1]."""
    fr, fc = rows / 64.0, cols / 64.0
    r0, c0 = np.floor(fr).astype(int), np.floor(fc).astype(int)
    tr, tc = (fr - r0)[:, None], (fc - c0)[None, :]
    g = coarse
    top = g[np.ix_(r0, c0)] * (1 - tc) + g[np.ix_(r0, c0 + 1)] * tc
    bottom = g[np.ix_(r0 + 1, c0)] * (1 - tc) + g[np.ix_(r0 + 1, c0 + 1)] * tc
    return top * (1 - tr) + bottom * tr


def _valid_at(plan: _Plan, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """A slanted nodata wedge along the left edge (like a satellite swath border)."""
    height, width = plan.size
    if plan.nodata_edge <= 0:
        return np.ones((len(rows), len(cols)), dtype=bool)
    edge = plan.nodata_edge * width * (0.5 + rows / height)  # wedge widens downwards
    return cols[None, :] >= edge[:, None]


def _render(plan: _Plan, row0: int, col0: int, height: int, width: int):
    """Render a window: (C,h,w) float32 data (RGB 0-255 or SAR linear power), (h,w) uint32 labels, valid."""
    rows = np.arange(row0, row0 + height)
    cols = np.arange(col0, col0 + width)
    base = _coarse_at(plan.coarse, rows, cols)[None]
    if plan.kind == "sar":
        data = 10 ** ((-11.0 + 5.0 * base) / 10)  # land -11..-6 dB
    else:
        low, high = {
            "buildings": ((86, 110, 60), (150, 135, 105)),
            "fields": ((165, 160, 140), (185, 175, 150)),
            "water": ((90, 115, 65), (140, 130, 95)),
        }[plan.kind]
        low, high = np.array(low, np.float32)[:, None, None], np.array(high, np.float32)[:, None, None]
        data = low + (high - low) * base
    data = data.astype(np.float32)
    labels = np.zeros((height, width), dtype=np.uint32)
    hits = np.nonzero(
        (plan.boxes[:, 0] < col0 + width) & (plan.boxes[:, 2] > col0)
        & (plan.boxes[:, 1] < row0 + height) & (plan.boxes[:, 3] > row0)
    )[0]
    value_cube = np.zeros_like(data)
    for index in hits:  # later objects paint over earlier ones (ids increase)
        _paint_object(plan.objects[index], index + 1, labels, value_cube, row0, col0)
    inside = labels > 0
    data[:, inside] = value_cube[:, inside]
    texture = _tile_lookup(plan.noise, rows, cols)
    if plan.kind == "sar":
        data *= np.exp(0.05 * texture)  # mild scene texture on top of speckle
    else:
        data += np.where(inside, 4.0, 7.0) * texture
    if plan.speckle is not None:
        data *= _tile_lookup(plan.speckle, rows, cols)[None]
    valid = _valid_at(plan, rows, cols)
    labels[~valid] = 0
    data[:, ~valid] = 0.0
    return data, labels, valid


def _paint_object(obj: SyntheticObject, object_id: int, labels, values, row0: int, col0: int) -> None:
    """Paint the window pixels whose centres lie inside ``obj`` (work proportional to the object's size)."""
    height, width = labels.shape
    value = np.asarray(obj.value, np.float32)
    if obj.rectangle:
        x0, y0, x1, y1 = obj.bbox
        c0, c1 = (min(max(math.ceil(x - 0.5) - col0, 0), width) for x in (x0, x1))
        r0, r1 = (min(max(math.ceil(y - 0.5) - row0, 0), height) for y in (y0, y1))
        labels[r0:r1, c0:c1] = object_id
        values[:, r0:r1, c0:c1] = value[:, None, None]
        return
    # skimage's integer coordinates are pixel centres; ours are edges
    rows = obj.polygon[:, 1] - 0.5 - row0
    cols = obj.polygon[:, 0] - 0.5 - col0
    rr, cc = draw_polygon(rows, cols, shape=(height, width))
    labels[rr, cc] = object_id
    values[:, rr, cc] = value[:, None]


def _georeference(crs, resolution, origin, kind):
    from rasterio.crs import CRS
    from rasterio.transform import from_origin

    crs = CRS.from_user_input(crs)
    if resolution is None:
        resolution = DEFAULT_RESOLUTION[kind]
        if crs.is_geographic:
            resolution /= 111_320.0
    if origin is None:
        origin = (-75.0, 40.65) if crs.is_geographic else (500_000.0, 4_500_000.0)
    return crs, from_origin(float(origin[0]), float(origin[1]), float(resolution), float(resolution))


def _to_uint8_rgb(plan: _Plan, data: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, dict]:
    """Rendered data -> HxWx3 uint8: optical clipped; SAR in dB, clipped, stretched on this scene's pixels."""
    if plan.kind != "sar":
        image = np.clip(np.rint(data), 1, 255).astype(np.uint8)  # as written to files (0 is nodata there)
        return np.moveaxis(image, 0, -1), {}
    db = np.clip(power_to_db(data), *DEFAULT_SAR_DB_RANGE)
    low, high = np.percentile(db[:, valid], DEFAULT_STRETCH, axis=1)
    grey = stretch_to_uint8(db, low, high)[0]
    return np.repeat(grey[..., None], 3, axis=2), {"stretch_low": low.tolist(), "stretch_high": high.tolist()}


def make_synthetic_scene(
    kind: str = "buildings",
    size: tuple[int, int] = (512, 512),
    seed: int = 0,
    crs="EPSG:32618",
    resolution: float | None = None,
    origin: tuple[float, float] | None = None,
    objects=None,
    speckle=None,
    nodata_edge: float = 0.0,
) -> tuple[Scene, np.ndarray]:
    """A synthetic georeferenced scene and its ground-truth instance labels.

    Args:
        kind: ``"buildings"`` (roof-coloured rectangles on grass/soil, 0.5 m), ``"fields"`` (a
            tessellation of crop-coloured quadrilaterals, 10 m), ``"water"`` (lakes/ponds as smooth
            polygons on land, 10 m) or ``"sar"`` (dark ponds and bright rectangles in speckled backscatter;
            the image is dB, clipped and 2-98 % stretched; write the linear power with
            :func:`write_synthetic_geotiff`).
        size: (rows, cols) in pixels.
        seed: fixes the layout, colours, texture and speckle.
        crs: anything ``rasterio.crs.CRS.from_user_input`` accepts.
        resolution: pixel size in CRS units (default: :data:`DEFAULT_RESOLUTION` metres, or the
            equivalent in degrees for a geographic CRS).
        origin: map (x, y) of the top-left corner (default (500000, 4500000), or (-75, 40.65) in degrees).
        objects: place these objects instead of random ones (ids 1..N in order, later ones on top):
            each a pixel XYXY ``(col0, row0, col1, row1)`` rectangle, an (N,2) (col, row) polygon, a dict
            with ``"box"`` or ``"polygon"`` and optional ``"value"`` (RGB or SAR power), or a
            :class:`SyntheticObject` (:func:`rectangle`, :func:`polygon`). Coordinates are pixel edges.
        speckle: multiplicative gamma speckle: number of looks, ``True`` (4 looks) or ``False``/``None``
            (default: 4 looks for ``"sar"``, none otherwise).
        nodata_edge: width fraction of a nodata wedge on the left edge (``Scene.valid`` False, image 0).

    Returns:
        ``(scene, labels)``: a :class:`Scene` (HxWx3 uint8, CRS, transform) and HxW uint32 instance ids
        (0 = background), exactly the pixels each object covers.
    """
    plan = _make_plan(kind, size, seed, objects, speckle, nodata_edge)
    height, width = plan.size
    data, labels, valid = _render(plan, 0, 0, height, width)
    image, meta = _to_uint8_rgb(plan, data, valid)
    image[~valid] = 0
    crs, transform = _georeference(crs, resolution, origin, kind)
    meta.update(kind=kind, seed=seed, n_objects=len(plan.objects), synthetic=True)
    scene = Scene(
        image=image,
        crs=crs,
        transform=transform,
        valid=valid if nodata_edge > 0 else None,
        name=f"synthetic_{kind}",
        meta=meta,
    )
    return scene, labels


SYNTHETIC_VARIANTS = ("rgb8", "multiband16", "sar_power")


def _variant_bands(variant: str, data: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Rendered block -> the file's bands: uint8 RGB, uint16 blue/green/red/NIR, or float32 power."""
    if variant == "sar_power":
        return data.astype(np.float32)
    if variant == "rgb8":
        out = np.clip(np.rint(data), 1, 255).astype(np.uint8)  # >= 1 keeps valid pixels off nodata 0
    else:  # reflectance-like digital numbers (200..~8000): needs a stretch, like real 16-bit products
        red, green, blue = np.clip(data, 0, 255)
        nir = np.clip(2.2 * green - 0.9 * red, 5, 255)  # vegetation bright, water and roofs dark
        out = np.rint(np.stack([blue, green, red, nir]) * 30 + 200).astype(np.uint16)
    out[:, ~valid] = 0
    return out


def write_synthetic_geotiff(
    path,
    kind: str = "buildings",
    size: tuple[int, int] = (512, 512),
    seed: int = 0,
    crs="EPSG:32618",
    resolution: float | None = None,
    origin: tuple[float, float] | None = None,
    objects=None,
    speckle=None,
    variant: str | None = None,
    nodata_edge: float | None = None,
    labels_path=None,
    window_size: int = 512,
) -> Path:
    """Write a synthetic scene as a tiled GeoTIFF (and optionally its labels), block by block.

    Pixels and labels are identical to :func:`make_synthetic_scene` with the same arguments; memory does
    not grow with ``size``, so 16k x 16k benchmark scenes are fine.

    Args:
        path: output ``.tif``.
        kind, size, seed, crs, resolution, origin, objects, speckle: as in :func:`make_synthetic_scene`.
        variant: ``"rgb8"`` (3-band uint8 RGB; default for optical kinds), ``"multiband16"`` (4-band
            uint16 blue, green, red, nir with band descriptions, nodata 0) or ``"sar_power"`` (1-band
            float32 linear power, nodata 0; default for ``"sar"``).
        nodata_edge: nodata wedge width fraction (default 0.15 for multiband16/sar_power, else 0); the
            file gets nodata 0 whenever there is a wedge or the variant is not rgb8.
        labels_path: also write uint32 instance labels (nodata 0) with the same georeferencing here.
        window_size: side of the square blocks rendered and written (memory ~ window_size**2).

    Returns:
        ``Path`` of the image written.
    """
    import rasterio
    from rasterio.windows import Window

    variant = variant or ("sar_power" if kind == "sar" else "rgb8")
    if variant not in SYNTHETIC_VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of: {', '.join(SYNTHETIC_VARIANTS)}")
    if (variant == "sar_power") != (kind == "sar"):
        raise ValueError(f"variant {variant!r} does not fit kind {kind!r}: sar_power is for kind 'sar' only")
    if nodata_edge is None:
        nodata_edge = 0.0 if variant == "rgb8" else 0.15
    plan = _make_plan(kind, size, seed, objects, speckle, nodata_edge)
    height, width = plan.size
    crs, transform = _georeference(crs, resolution, origin, kind)
    count, dtype = {"rgb8": (3, "uint8"), "multiband16": (4, "uint16"), "sar_power": (1, "float32")}[variant]
    profile = dict(
        driver="GTiff", width=width, height=height, count=count, dtype=dtype, crs=crs, transform=transform,
        tiled=True, blockxsize=256, blockysize=256, compress="deflate",
    )
    if variant != "rgb8" or nodata_edge > 0:
        profile["nodata"] = 0
    if variant == "rgb8":
        profile["photometric"] = "RGB"
    path = Path(path)
    label_profile = dict(profile, count=1, dtype="uint32", nodata=0)
    label_profile.pop("photometric", None)
    with contextlib.ExitStack() as files:  # both files appear only when complete (atomic_output)
        dst = rasterio.open(files.enter_context(atomic_output(path)), "w", **profile)
        files.callback(dst.close)  # closed before the rename
        labels_dst = None
        if labels_path:
            labels_dst = rasterio.open(files.enter_context(atomic_output(labels_path)), "w", **label_profile)
            files.callback(labels_dst.close)
        if variant == "multiband16":
            dst.descriptions = ("blue", "green", "red", "nir")
        elif variant == "sar_power":
            dst.descriptions = ("sigma0_vv_linear",)
        for row0 in range(0, height, window_size):
            for col0 in range(0, width, window_size):
                rows, cols = min(window_size, height - row0), min(window_size, width - col0)
                data, labels, valid = _render(plan, row0, col0, rows, cols)
                window = Window(col0, row0, cols, rows)
                dst.write(_variant_bands(variant, data, valid), window=window)
                if labels_dst is not None:
                    labels_dst.write(labels[None], window=window)
        dst.update_tags(SAMRS_SYNTHETIC=kind, SAMRS_SEED=str(seed), SAMRS_VARIANT=variant)
    return path
