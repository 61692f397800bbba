"""``TrackResult``: one mask per object per date, on the stack's grid, and everything made from them.

    result.areas()                      # table: date, object_id, area_px, area_m2, score
    result.to_gdf()                     # polygons with date, object_id, area_m2, score
    result.write("out/")                # labels_<date>.tif per date + tracks.gpkg + areas.csv
    result.masks_on(3)                  # the 4th date as a helpers.Masks (one mask per object)

The tracker, the per-date baseline and the spectral-index reference all return this type, so their
areas, layers and consistency metrics (:mod:`helpers.timeseries.metrics`) compare directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import removing_new_empty_folders
from ..export import write_label_geotiff, write_vector
from ..maskops import label_raster
from ..masks import Masks
from ..smoke import SMOKE_BANNER
from ..tables import write_csv

__all__ = ["TrackResult"]


@dataclass
class TrackResult:
    """Per-date masks of tracked objects.

    Attributes:
        masks: bool (T, N, H, W): object ``object_ids[n]`` on date ``t`` (pixels of the stack grid; never
            on nodata).
        scores: float32 (T, N): the method's confidence for each mask: SAM 2 tracking: the object-presence
            probability (sigmoid of SAM 2's object score; < 0.5 means "not visible", and the mask is empty);
            per-date image prediction: the predicted IoU; spectral index: NaN (no score).
        object_ids: the N object ids (ints >= 1), as in the prompts.
        labels: the T date labels (``"2009-08-18"``, ``"1985"``); ``dates`` the ``datetime.date`` values.
        crs, transform: the stack grid's georeferencing (``None`` for plain images).
        method: what made the masks (``"SAM 2 video tracking"``, ``"per-date image prediction"``, ...).
        model: registry name of the model ('' for index masks).
        smoke: ``True`` when the model had untrained weights: the masks are meaningless.
        prompt_frames: object id -> the date positions it was prompted on.
        valid_fraction: float (T,), the fraction of each frame with data.
        timings: seconds per step.
        extra: anything else (image size, reads, ...).
    """

    masks: np.ndarray
    scores: np.ndarray
    object_ids: list[int]
    labels: list[str]
    dates: list
    crs: object = None
    transform: object = None
    method: str = ""
    model: str = ""
    smoke: bool = False
    prompt_frames: dict = field(default_factory=dict)
    valid_fraction: np.ndarray | None = None
    timings: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.masks = np.asarray(self.masks, dtype=bool)
        if self.masks.ndim != 4:
            raise ValueError(f"masks must be (dates, objects, H, W), got shape {self.masks.shape}")
        t, n = self.masks.shape[:2]
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(t, n)
        self.object_ids = [int(v) for v in self.object_ids]
        if len(self.object_ids) != n or len(self.labels) != t or len(self.dates) != t:
            raise ValueError(f"{t} dates x {n} objects of masks, but {len(self.labels)} labels, "
                             f"{len(self.dates)} dates and {len(self.object_ids)} object ids")

    # ---- shape ----------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the grid."""
        return int(self.masks.shape[2]), int(self.masks.shape[3])

    def __len__(self) -> int:
        return int(self.masks.shape[0])

    def column(self, object_id: int) -> int:
        """The position of ``object_id`` in :attr:`object_ids`."""
        try:
            return self.object_ids.index(int(object_id))
        except ValueError:
            raise ValueError(f"no object {object_id}; objects are {self.object_ids}") from None

    def masks_on(self, t: int) -> Masks:
        """Date ``t`` as a :class:`helpers.masks.Masks` (one mask per object, in ``object_ids`` order;
        ``extra["object_ids"]`` and ``extra["date"]`` say which)."""
        return Masks(
            masks=self.masks[t], scores=self.scores[t], model=self.model, prompt_type=self.method,
            crs=self.crs, transform=self.transform, smoke=self.smoke,
            extra={"object_ids": list(self.object_ids), "date": self.labels[t]},
        )

    def label_raster(self, t: int) -> np.ndarray:
        """uint32 (H, W) of date ``t``: each object's pixels hold its object id, 0 elsewhere; where
        objects overlap the smaller one is on top (the rule of every label raster in sam-rs)."""
        lookup = np.array([0, *self.object_ids], dtype=np.uint32)
        return lookup[label_raster(self.masks[t])]

    # ---- areas and polygons ---------------------------------------------------------------------------
    def pixel_areas(self) -> np.ndarray:
        """int64 (T, N) pixel counts."""
        return self.masks.sum(axis=(2, 3), dtype=np.int64)

    def _polygons(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Date ``t``'s exact pixel-edge polygons in map coordinates and their areas in m² (NaN without
        CRS), one per object (``None`` / 0 for an empty mask), through the one exporter of
        :meth:`helpers.masks.Masks.to_gdf`."""
        geoms = np.full(len(self.object_ids), None, dtype=object)
        square_metres = np.zeros(len(self.object_ids)) if self.crs is not None else np.full(len(self.object_ids), np.nan)
        if self.masks[t].any():
            gdf = self.masks_on(t).to_gdf()
            index = gdf["id"].to_numpy() - 1  # mask i has id i + 1
            geoms[index] = gdf.geometry.to_numpy()
            square_metres[index] = gdf["area_m2"].to_numpy()
        return geoms, square_metres

    def areas(self):
        """A table (pandas DataFrame), one row per date and object: ``date`` (label), ``object_id``,
        ``area_px``, ``area_m2`` (of the exact pixel-edge polygons: geodesic in geographic CRSs, see
        :func:`helpers.crs.areas_m2`; 0 for an empty mask, NaN without CRS), ``score``, ``method``."""
        import pandas as pd

        rows = []
        pixels = self.pixel_areas()
        for t, label in enumerate(self.labels):
            _, square_metres = self._polygons(t)
            for n, object_id in enumerate(self.object_ids):
                rows.append({"date": label, "object_id": object_id, "area_px": int(pixels[t, n]),
                             "area_m2": float(square_metres[n]), "score": float(self.scores[t, n]),
                             "method": self.method})
        table = pd.DataFrame(rows)
        table.attrs.update({"smoke": self.smoke, "model": self.model})
        return table

    def to_gdf(self, simplify: float | None = None, to_crs=None):
        """One polygon per date and object (empty masks left out) as a GeoDataFrame.

        Columns: ``date`` (``datetime64``), ``date_label`` (text), ``object_id``, ``area_px``, ``area_m2``
        (exact footprint, before any ``simplify``), ``score``, ``method``, ``model``, ``smoke``,
        ``geometry``; ``gdf.attrs["smoke"]`` too.

        Args:
            simplify: optional Douglas-Peucker tolerance in pixels (topology kept); areas stay exact.
            to_crs: optional CRS to reproject to (e.g. ``"EPSG:4326"``).
        """
        import geopandas as gpd
        import pandas as pd
        import shapely

        records, geometries = [], []
        pixels = self.pixel_areas()
        for t, (label, date) in enumerate(zip(self.labels, self.dates, strict=True)):
            geoms, square_metres = self._polygons(t)
            for n, object_id in enumerate(self.object_ids):
                if geoms[n] is None:
                    continue
                records.append({"date": pd.Timestamp(date), "date_label": label, "object_id": object_id,
                                "area_px": int(pixels[t, n]), "area_m2": float(square_metres[n]),
                                "score": float(self.scores[t, n]), "method": self.method, "model": self.model,
                                "smoke": bool(self.smoke)})
                geometries.append(geoms[n])
        geoms = np.asarray(geometries, dtype=object)
        if simplify and len(geoms):
            size = np.sqrt(abs(self.transform.determinant)) if self.transform is not None else 1.0
            geoms = shapely.simplify(geoms, float(simplify) * size, preserve_topology=True)
        columns = ["date", "date_label", "object_id", "area_px", "area_m2", "score", "method", "model", "smoke"]
        frame = pd.DataFrame.from_records(records, columns=columns)
        frame["date"] = pd.to_datetime(frame["date"])
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(list(geoms), crs=self.crs), crs=self.crs)
        if to_crs is not None:
            if self.crs is None:
                raise ValueError("to_crs given but the stack has no CRS (pixel coordinates)")
            gdf = gdf.to_crs(to_crs)
        gdf.attrs.update({"smoke": bool(self.smoke), "model": self.model, "method": self.method})
        return gdf

    # ---- files ----------------------------------------------------------------------------------------
    def label_path(self, out_dir, t: int, prefix: str = "labels_") -> Path:
        return Path(out_dir) / f"{prefix}{self.labels[t]}.tif"

    def write(self, out_dir, vector: str = "tracks.gpkg", cog: bool = False, prefix: str = "labels_",
              table: str | None = "areas.csv") -> dict:
        """Write one label GeoTIFF per date, one vector layer and the area table, each atomically.

        Args:
            out_dir: the folder (created).
            vector: file name of the polygons (``.gpkg``, ``.geojson``, ``.shp``, ``.parquet``, ``.fgb``),
                or ``None`` for none. One layer, with a ``date`` column.
            cog: write the label rasters as Cloud Optimized GeoTIFFs.
            prefix: label rasters are ``<prefix><date>.tif``.
            table: file name of the area table (CSV), or ``None``.

        Returns:
            ``{"labels": [paths per date], "vector": path, "table": path}``. Every label raster is uint32 on
            the stack's grid (CRS, transform, size), nodata 0, values = object ids, with tags ``date``,
            ``object_ids``, ``model``, ``method``, ``smoke``.
        """
        out_dir = Path(out_dir)
        planned = [self.label_path(out_dir, t, prefix) for t in range(len(self))]
        planned += [out_dir / name for name in (vector, table) if name]
        written: dict = {"labels": []}
        with removing_new_empty_folders(planned):
            for t in range(len(self)):
                tags = {"date": self.labels[t], "object_ids": ",".join(map(str, self.object_ids)),
                        "model": self.model, "method": self.method, "smoke": str(bool(self.smoke)).lower(),
                        "software": "sam-rs"}
                written["labels"].append(write_label_geotiff(
                    self.label_raster(t), planned[t], crs=self.crs, transform=self.transform, cog=cog, tags=tags))
            if vector:
                written["vector"] = write_vector(self.to_gdf(), out_dir / vector, layer=Path(vector).stem)
            if table:
                written["table"] = write_csv(self.areas().to_dict("records"), out_dir / table)
        return written

    def __repr__(self) -> str:
        smoke = f", {SMOKE_BANNER}" if self.smoke else ""
        return (f"TrackResult({self.method!r}, {len(self)} dates x {len(self.object_ids)} objects "
                f"{self.object_ids}, {self.shape[1]}x{self.shape[0]} px{smoke})")
