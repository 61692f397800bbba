"""Exact vectorisation: masks and label rasters -> pixel-footprint polygons, and label GeoTIFFs -> GIS layers.

Polygons trace pixel *edges*: a polygon covers exactly its pixels (area in pixel units = pixel count).
Coordinates are pixel corners ``(x, y) = (column, row)`` (integers, exact) until :func:`pixel_to_map` applies
the scene's affine transform. :func:`vectorize_raster` (``python -m helpers vectorize``) turns any integer
label GeoTIFF (ours or another tool's, uint32 included, which ``rasterio.features.shapes`` refuses) into
polygons, block by block.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .crs import areas_m2
from .maskops import boxes_from_masks

__all__ = ["vectorize_masks", "vectorize_labels", "pixel_to_map", "build_gdf", "vectorize_raster"]

_LAYER_TRIES = 8  # vectorize_masks tries a mask on the last this many layers only (see _layers)
VECTORIZE_BLOCK = 2048  # label raster block side read at once: memory ~ 16 MB of uint32 per block


def _polygons_from_shapes(shape_iter):
    """(GeoJSON polygon, value) pairs from ``rasterio.features.shapes`` -> (values, shapely polygons).

    Built in one ``from_ragged_array`` call: much faster than ``shapely.geometry.shape`` per polygon.
    """
    import shapely

    coords, ring_offsets, poly_offsets, values = [], [0], [0], []
    for geom, value in shape_iter:
        for ring in geom["coordinates"]:
            coords.extend(ring)
            ring_offsets.append(len(coords))
        poly_offsets.append(len(ring_offsets) - 1)
        values.append(value)
    if not values:
        return np.zeros(0, np.int64), np.zeros(0, dtype=object)
    polygons = shapely.from_ragged_array(
        shapely.GeometryType.POLYGON,
        np.asarray(coords, dtype=np.float64),
        (np.asarray(ring_offsets), np.asarray(poly_offsets)),
    )
    return np.asarray(values, dtype=np.int64), polygons


def _group_parts(ids: np.ndarray, polygons: np.ndarray, n: int) -> np.ndarray:
    """Polygons with instance ids 1..n -> object array (n,): Polygon, MultiPolygon, or None."""
    import shapely

    out = np.full(n, None, dtype=object)
    if ids.size == 0:
        return out
    order = np.argsort(ids, kind="stable")
    ids, polygons = ids[order], polygons[order]
    uniq, start, count = np.unique(ids, return_index=True, return_counts=True)
    single = count == 1
    out[uniq[single] - 1] = polygons[start[single]]
    for value, s, c in zip(uniq[~single], start[~single], count[~single], strict=True):
        out[value - 1] = shapely.multipolygons(polygons[s : s + c])
    return out


def vectorize_labels(labels: np.ndarray, n: int | None = None, offset=(0, 0), connectivity: int = 4):
    """Polygons of a label raster, in pixel coordinates.

    Args:
        labels: int (H, W) instance labels, 0 = background, values 1..n.
        n: number of instances (default ``labels.max()``).
        offset: (column, row) of ``labels[0, 0]`` in the full scene, added to every coordinate.
        connectivity: 4 or 8 (pixel neighbourhood joining pixels into one polygon).

    Returns:
        object array (n,): the (Multi)Polygon of label ``i + 1`` at ``[i]``, ``None`` where absent.
    """
    from affine import Affine
    from rasterio.features import shapes

    labels = np.asarray(labels)
    n = int(labels.max(initial=0)) if n is None else int(n)
    if n >= 2**31:
        raise ValueError(f"too many instances for vectorisation: {n}")
    source = labels.astype(np.int32, copy=False)
    shift = Affine.translation(float(offset[0]), float(offset[1]))
    parts = shapes(source, mask=source > 0, connectivity=connectivity, transform=shift)
    ids, polygons = _polygons_from_shapes(parts)
    return _group_parts(ids, polygons, n)


def _bbox_slices(mask_boxes: np.ndarray, i: int):
    x0, y0, x1, y1 = (int(v) for v in mask_boxes[i])
    return slice(y0, y1), slice(x0, x1)


def _layers(masks: np.ndarray, mask_boxes: np.ndarray) -> list[list[int]]:
    """Split masks into layers of non-overlapping masks (greedy, larger masks first).

    One ``shapes`` call per layer is much faster than one per mask; automatic generation rarely
    stacks more than a few masks on a pixel, so there are few layers.
    """
    layers: list[list[int]] = []
    occupied: list[np.ndarray] = []
    crops = [masks[i][_bbox_slices(mask_boxes, i)] for i in range(len(masks))]  # views, no copies
    areas = np.array([int(np.count_nonzero(c)) for c in crops])
    for i in np.argsort(-areas, kind="stable"):
        if areas[i] == 0:
            continue
        rows, cols = _bbox_slices(mask_boxes, i)
        crop = crops[i]
        # Only the last few layers are tried: heavily overlapping masks (many prompts on one object)
        # would otherwise make this quadratic; a mask that fits none gets its own layer.
        for layer, occ in zip(layers[-_LAYER_TRIES:], occupied[-_LAYER_TRIES:], strict=True):
            if not (occ[rows, cols] & crop).any():
                layer.append(int(i))
                occ[rows, cols] |= crop
                break
        else:
            occ = np.zeros(masks.shape[1:], dtype=bool)
            occ[rows, cols] = crop
            layers.append([int(i)])
            occupied.append(occ)
            if len(occupied) > _LAYER_TRIES:
                occupied[-_LAYER_TRIES - 1] = None  # never tried again: free its scene-sized array
    return layers


def vectorize_masks(masks: np.ndarray, offset=(0, 0), connectivity: int = 4, boxes=None) -> np.ndarray:
    """One exact pixel-footprint polygon per mask, overlapping masks vectorised separately.

    Args:
        masks: bool (N, H, W).
        offset: (column, row) of pixel ``[0, 0]`` in the full scene (tiles), added to coordinates.
        connectivity: 4 (default, like ``rasterio.features.shapes``) or 8.
        boxes: optional XYXY (N, 4) pixel boxes of the masks (``Masks.boxes``) to skip recomputing.

    Returns:
        object array (N,): shapely Polygon / MultiPolygon (holes kept) in pixel coordinates of corners,
        ``None`` for empty masks.
    """
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3:
        raise ValueError(f"masks must be (N, H, W), got shape {masks.shape}")
    n = masks.shape[0]
    out = np.full(n, None, dtype=object)
    if n == 0:
        return out
    mask_boxes = boxes_from_masks(masks) if boxes is None else np.asarray(boxes).reshape(n, 4)
    mask_boxes = np.round(mask_boxes).astype(np.int64)
    for layer in _layers(masks, mask_boxes):
        # Vectorise the layer only inside the union of its boxes.
        x0, y0 = mask_boxes[layer, 0].min(), mask_boxes[layer, 1].min()
        x1, y1 = mask_boxes[layer, 2].max(), mask_boxes[layer, 3].max()
        labels = np.zeros((y1 - y0, x1 - x0), dtype=np.int32)
        for i in layer:
            rows, cols = _bbox_slices(mask_boxes, i)
            labels[rows.start - y0 : rows.stop - y0, cols.start - x0 : cols.stop - x0][masks[i, rows, cols]] = i + 1
        found = vectorize_labels(labels, n=n, offset=(offset[0] + x0, offset[1] + y0), connectivity=connectivity)
        out[layer] = found[layer]
    return out


def pixel_to_map(geometries, transform) -> np.ndarray:
    """Apply an affine ``transform`` (pixel corner (col, row) -> map (x, y)) to geometries; ``None`` kept."""
    import shapely

    geometries = np.asarray(geometries, dtype=object)
    if transform is None:
        return geometries
    # affine.Affine multiplies coordinate arrays directly (vectorised)
    return shapely.transform(geometries, lambda xy: np.column_stack(transform * (xy[:, 0], xy[:, 1])))


def _pixel_size(transform) -> float:
    return float(np.sqrt(abs(transform.determinant))) if transform else 1.0


def build_gdf(pixel_geoms, columns: dict, crs, transform, model: str = "", prompt_type: str = "",
              tile_ids=None, smoke: bool = False, simplify: float | None = None, to_crs=None,
              area_method: str = "auto"):
    """GeoDataFrame from pixel-coordinate polygons plus attribute columns (shared by tiling and export).

    ``pixel_geoms`` are mapped through ``transform``; ``area_m2`` is computed from the exact footprint
    before optional simplification (``simplify`` in pixels) and reprojection (``to_crs``).
    """
    import geopandas as gpd
    import shapely

    from .crs import to_pyproj

    if simplify is not None and (isinstance(simplify, bool) or not isinstance(simplify, (int, float, np.number))
                                 or not np.isfinite(simplify) or simplify < 0):
        raise ValueError(f"simplify must be a tolerance in pixels >= 0 (or None for exact footprints), got {simplify!r}")
    if to_crs is not None:
        if crs is None:
            raise ValueError("to_crs given but the masks have no CRS (plain image, pixel coordinates)")
        to_crs = to_pyproj(to_crs)  # an unknown CRS fails here, in one line, before any work
    geoms = pixel_to_map(np.asarray(pixel_geoms, dtype=object), transform)
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():  # polygonised pixel footprints are valid; this is a guard, not a repair path
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    data = dict(columns)
    data["area_m2"] = areas_m2(geoms, crs, method=area_method)
    n = len(geoms)
    data["model"] = np.full(n, model, dtype=object)
    data["prompt_type"] = np.full(n, prompt_type, dtype=object)
    data["tile_id"] = np.full(n, -1, np.int32) if tile_ids is None else np.asarray(tile_ids, np.int32)
    data["smoke"] = np.full(n, bool(smoke))
    if simplify:
        geoms = shapely.simplify(geoms, float(simplify) * _pixel_size(transform), preserve_topology=True)
    gdf = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=crs), crs=crs)
    if to_crs is not None:
        gdf = gdf.to_crs(to_crs)
    gdf.attrs.update({"smoke": bool(smoke), "model": model})
    return gdf


def vectorize_raster(path, connectivity: int = 4, simplify: float | None = None, to_crs=None,
                     block_size: int = VECTORIZE_BLOCK, progress: bool = True):
    """Polygons of a label GeoTIFF: one row per label value (0 and nodata are background).

    Args:
        path: an integer label raster (uint8/16/32, int8/16/32/64; one band): ours (``segment``,
            ``Masks.to_geotiff``) or another tool's.
        connectivity: 4 or 8 (pixel neighbourhood joining pixels into one polygon part).
        simplify: optional tolerance in pixels (topology-preserving); areas are of the exact footprint.
        to_crs: optional CRS to reproject the polygons to.
        block_size: the raster is read in square blocks of this many pixels; parts of a label in several
            blocks are joined exactly (their edges coincide), so memory stays bounded for any raster size.
        progress: tqdm bar over blocks.

    Returns:
        GeoDataFrame with ``id`` (the label value), ``area_px``, ``area_m2`` (NaN without CRS) and the
        polygons in the raster's CRS (pixel coordinates without georeferencing); write it with
        :func:`helpers.export.write_vector`.

    Raises:
        ValueError: not a single-band integer raster, or not readable (one line).
    """
    import shapely
    from rasterio.windows import Window
    from tqdm.auto import tqdm

    from .errors import UserInputError
    from .raster import open_dataset

    path = Path(path)
    with open_dataset(path) as ds:
        if ds.count != 1 or np.dtype(ds.dtypes[0]).kind not in "iu":
            raise UserInputError(f"{path.name} is not a label raster: expected 1 integer band, got {ds.count} "
                                 f"band(s) of {ds.dtypes[0]}")
        crs = ds.crs
        transform = None if ds.transform.is_identity and crs is None else ds.transform
        nodata = ds.nodata
        parts: dict[int, list] = {}
        windows = [Window(c, r, min(block_size, ds.width - c), min(block_size, ds.height - r))
                   for r in range(0, ds.height, block_size) for c in range(0, ds.width, block_size)]
        for window in tqdm(windows, desc=f"vectorize {path.name}", unit="block", disable=not progress or len(windows) < 4):
            labels = ds.read(1, window=window)
            if nodata is not None and nodata != 0:
                labels = np.where(labels == nodata, 0, labels)
            top = int(labels.max(initial=0))
            if top < 2**24:  # ids used as they are (rasterio's shapes() takes int32)
                values, dense = None, labels.astype(np.int32, copy=False)
            else:  # huge uint32/int64 ids: number the ones present 1..k for shapes(), map back below
                values, dense = np.unique(labels, return_inverse=True)
                dense = dense.reshape(labels.shape).astype(np.int32)
                if values[0] != 0:  # no background in this block: dense ids must start at 1
                    dense += 1
                    values = np.concatenate([[0], values])
                top = len(values) - 1
            found = vectorize_labels(dense, n=top, offset=(int(window.col_off), int(window.row_off)),
                                     connectivity=connectivity)
            for index in np.flatnonzero(found != None):  # noqa: E711 - elementwise on an object array
                value = index + 1 if values is None else int(values[index + 1])
                parts.setdefault(int(value), []).append(found[index])
    ids = np.array(sorted(parts), dtype=np.int64)
    geoms = np.array([parts[i][0] if len(parts[i]) == 1 else shapely.union_all(parts[i]) for i in ids], dtype=object)
    columns = {"id": ids, "area_px": np.rint(shapely.area(geoms)).astype(np.int64) if len(ids) else np.zeros(0, np.int64)}
    gdf = build_gdf(geoms, columns, crs, transform, prompt_type="labels", simplify=simplify, to_crs=to_crs)
    return gdf.drop(columns=["model", "prompt_type", "tile_id", "smoke"])
