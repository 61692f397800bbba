"""Vectorisation speed: helpers.export.vectorize_masks vs rasterio.features.shapes (the GDAL reference).

Thousands of masks on one scene, two cases:

* ``separate``: non-overlapping masks (tiled / FastSAM-like output). The reference polygonises the label
  raster once with ``rasterio.features.shapes`` and builds shapely geometries.
* ``overlapping``: automatic-generation-like output where masks overlap (nested parts). The reference
  must polygonise each mask on its own (one ``shapes`` call per mask on its bounding-box crop), since a
  label raster loses the overlaps.

Ours starts from the (N, H, W) bool masks and returns one exact polygon per mask. Goal: ratio <= 1.2.

A third row times ``helpers.vectorize.vectorize_raster`` (``python -m helpers vectorize``: a label GeoTIFF,
read in blocks, to georeferenced polygons with areas) against ``shapes`` + shapely on the same int32 raster.

    .venv/bin/python benchmarks/vectorize.py [--masks 2000] [--size 1024]
"""

from __future__ import annotations

import argparse

import numpy as np
from rasterio.features import shapes
from shapely.geometry import shape

from helpers.bench import measure, print_table
from helpers.masks import boxes_from_masks
from helpers.vectorize import vectorize_masks


def blob_masks(n: int, size: int, seed: int = 0, overlapping: bool = False) -> np.ndarray:
    """n irregular blobs (discs with bites) on a size x size grid; nested pairs when ``overlapping``."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size), dtype=bool)
    cell = max(8, int(size / np.sqrt(n if not overlapping else n / 2)))
    per_row = size // cell
    yy, xx = np.mgrid[:cell, :cell]
    for i in range(n):
        slot = i // 2 if overlapping else i
        r0, c0 = (slot // per_row) * cell % (size - cell), (slot % per_row) * cell
        radius = rng.uniform(0.25, 0.45) * cell * (0.6 if overlapping and i % 2 else 1.0)
        cy, cx = cell / 2 + rng.uniform(-1, 1), cell / 2 + rng.uniform(-1, 1)
        blob = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
        by, bx = rng.integers(0, cell, 2)
        blob &= (yy - by) ** 2 + (xx - bx) ** 2 > (radius / 2) ** 2  # a bite: concave shapes, some holes
        masks[i, r0 : r0 + cell, c0 : c0 + cell] = blob
    return masks


def reference_label_raster(labels: np.ndarray) -> list:
    return [shape(geom) for geom, _ in shapes(labels, mask=labels > 0, connectivity=4)]


def reference_shapes_only(labels: np.ndarray) -> list:
    """GeoJSON-like dicts only, no geometry objects: a lower bound for any shapes()-based route."""
    return list(shapes(labels, mask=labels > 0, connectivity=4))


def reference_per_mask(masks: np.ndarray, boxes: np.ndarray) -> list:
    out = []
    for m, (x0, y0, x1, y1) in zip(masks, boxes.astype(int), strict=True):
        crop = m[y0:y1, x0:x1].astype(np.uint8)
        out.append([shape(geom) for geom, _ in shapes(crop, mask=crop > 0, connectivity=4)])
    return out


def _label_geotiff_row(args) -> dict:
    import tempfile
    from pathlib import Path

    from rasterio.transform import from_origin

    from helpers.export import write_label_geotiff
    from helpers.vectorize import vectorize_raster

    masks = blob_masks(args.masks, args.size)
    labels = np.zeros(masks.shape[1:], np.int32)
    for i, m in enumerate(masks):
        labels[m] = i + 1
    with tempfile.TemporaryDirectory() as folder:
        path = write_label_geotiff(labels, Path(folder) / "labels.tif", crs="EPSG:32618",
                                   transform=from_origin(500_000, 4_500_000, 1, 1))
        ref = measure(lambda: reference_label_raster(labels), repeats=args.repeats, warmup=1)
        ours = measure(lambda: vectorize_raster(path, progress=False), repeats=args.repeats, warmup=1)
    return {"case": "label GeoTIFF", "masks": args.masks, "reference": "shapes(array in memory) + shapely",
            "reference_s": ref["median_s"], "ours_s": ours["median_s"], "ratio": ours["median_s"] / ref["median_s"]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--masks", type=int, default=2000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    rows = []
    for case in ("separate", "overlapping"):
        masks = blob_masks(args.masks, args.size, overlapping=case == "overlapping")
        boxes = boxes_from_masks(masks)  # Masks carries these already
        if case == "separate":
            labels = np.zeros(masks.shape[1:], np.int32)
            for i, m in enumerate(masks):
                labels[m] = i + 1
            ref = measure(lambda labels=labels: reference_label_raster(labels), repeats=args.repeats, warmup=1)
            ref_name = "shapes(label raster) + shapely"
            bare = measure(lambda labels=labels: reference_shapes_only(labels), repeats=args.repeats, warmup=1)
        else:
            ref = measure(lambda m=masks, b=boxes: reference_per_mask(m, b), repeats=args.repeats, warmup=1)
            ref_name = "shapes per mask + shapely"
        ours = measure(lambda m=masks, b=boxes: vectorize_masks(m, boxes=b), repeats=args.repeats, warmup=1)
        rows.append({
            "case": case, "masks": args.masks, "reference": ref_name,
            "reference_s": ref["median_s"], "ours_s": ours["median_s"],
            "ratio": ours["median_s"] / ref["median_s"],
        })
        if case == "separate":
            rows.append({
                "case": case, "masks": args.masks, "reference": "shapes(label raster), dicts only",
                "reference_s": bare["median_s"], "ours_s": ours["median_s"],
                "ratio": ours["median_s"] / bare["median_s"],
            })
    rows.append(_label_geotiff_row(args))
    print_table(rows, ["case", "masks", "reference", "reference_s", "ours_s", "ratio"],
                title=f"vectorisation, {args.size}x{args.size} scene (ratio = ours / reference; goal <= 1.2)")


if __name__ == "__main__":
    main()
