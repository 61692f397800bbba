"""Prompts for tracking: which object, on which date, where (pixels or map coordinates in any CRS).

    prompts = [
        helpers.ObjectPrompt(1, points=[(487310, 5208170)], crs="EPSG:26914"),          # first date
        helpers.ObjectPrompt(2, points=[(-98.88, 47.02)], crs="EPSG:4326", date="2015"),  # a later date
        helpers.ObjectPrompt(3, box=(120, 40, 180, 90), date="2012-07-31"),            # pixel box
    ]

Every frame of a :class:`~helpers.timeseries.stack.TimeStack` is on one grid, so a prompt converted to
that grid's pixels is valid on every date (conventions of :mod:`helpers.prompts`: points are pixel
centres (column, row), boxes XYXY pixel edges).

A prompt file (``python -m helpers track --prompts FILE``) is any vector file GDAL reads, in any CRS
(none: pixel coordinates), one row per point or box: ``object_id`` (int >= 1, required), optional
``label`` (1 foreground, 0 background; default 1), optional ``date`` (default: the first date).
Point rows are points; polygon rows are boxes (their bounding box; one per object and date).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserInputError, one_line
from ..prompts import normalise_boxes, normalise_labels, normalise_points, to_pixel_boxes, to_pixel_points

__all__ = ["ObjectPrompt", "PlacedPrompt", "place_prompts", "prompts_from_gdf", "read_track_prompts"]

OBJECT_COLUMN = "object_id"
LABEL_COLUMN = "label"
DATE_COLUMN = "date"


@dataclass
class ObjectPrompt:
    """The clicks and/or box that show one object on one date.

    Attributes:
        object_id: the object's id, an int >= 1 (the value in the label rasters; several prompts may share
            it, on different dates, to correct the track).
        points: ``[(x, y), ...]`` (N, 2): pixel-centre (column, row) of the stack grid when ``crs`` is
            ``None``, else map coordinates in ``crs``; or ``None``.
        labels: (N,) 1 = foreground, 0 = background (default all 1).
        box: one XYXY box (x0, y0, x1, y1): pixel edges (x1/y1 exclusive) or map (xmin, ymin, xmax, ymax)
            in ``crs``; or ``None``.
        date: the date the prompt is drawn on: ``None`` (the first date), a position, or a date
            (``"2015"``, ``"2012-07-31"``, ``datetime.date``); see :meth:`TimeStack.index`.
        crs: ``None`` (pixels) or the CRS of ``points``/``box`` (e.g. ``"EPSG:4326"``).
    """

    object_id: int
    points: object = None
    labels: object = None
    box: object = None
    date: object = None
    crs: object = None


@dataclass
class PlacedPrompt:
    """An :class:`ObjectPrompt` checked and converted to the stack grid's pixels.

    Attributes:
        object_id: int >= 1.
        frame: the date's position in the stack.
        points: float64 (N, 2) pixel-centre (column, row), or ``None``.
        labels: int32 (N,), or ``None``.
        box: float64 (4,) XYXY pixel edges, or ``None``.
    """

    object_id: int
    frame: int
    points: np.ndarray | None = None
    labels: np.ndarray | None = None
    box: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


def _object_id(value) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number) or number != int(number) or number < 1 or isinstance(value, bool):
        raise UserInputError(f"object_id must be an integer >= 1 (0 is the background of the label rasters), got {value!r}")
    return int(number)


def place_prompts(prompts, stack) -> list[PlacedPrompt]:
    """Check ``prompts`` and convert them to pixels of ``stack``'s grid, one per (object, date).

    Args:
        prompts: a list of :class:`ObjectPrompt`, a GeoDataFrame (see :func:`prompts_from_gdf`) or the path
            of a prompt file.
        stack: the :class:`~helpers.timeseries.stack.TimeStack` (its grid and dates).

    Raises:
        UserInputError: no prompt, a bad object id, a prompt without points or box, an unknown date, a
            point or box outside the grid (the message names the grid's extent), two boxes or two
            prompts for one object on one date.
    """
    if isinstance(prompts, (str, Path)):
        prompts = read_track_prompts(prompts)
    elif hasattr(prompts, "geometry"):
        prompts = prompts_from_gdf(prompts)
    prompts = list(prompts)
    if not prompts:
        raise UserInputError("no prompts given: add at least one ObjectPrompt (object_id, points or box)")
    scene = stack.grid.scene()
    placed, seen = [], set()
    for prompt in prompts:
        if not isinstance(prompt, ObjectPrompt):
            raise UserInputError(f"prompts must be ObjectPrompt items, got {type(prompt).__name__}")
        object_id = _object_id(prompt.object_id)
        frame = stack.index(0 if prompt.date is None else prompt.date)
        if (object_id, frame) in seen:
            raise UserInputError(f"two prompts for object {object_id} on {stack.labels[frame]}; "
                                 "put all its points (and at most one box) in one prompt")
        seen.add((object_id, frame))
        where = f"object {object_id} on {stack.labels[frame]}"
        if prompt.points is None and prompt.box is None:
            raise UserInputError(f"{where}: give points and/or a box")
        points = labels = box = None
        try:
            if prompt.points is not None:
                points = to_pixel_points(normalise_points(prompt.points), prompt.crs, scene)
                labels = normalise_labels(prompt.labels, len(points))
                if not (labels == 1).any() and prompt.box is None:
                    raise UserInputError("every point is background (label 0); add a foreground point or a box")
            elif prompt.labels is not None:
                raise UserInputError("labels given without points")
            if prompt.box is not None:
                boxes = normalise_boxes(prompt.box)
                if len(boxes) != 1:
                    raise UserInputError(f"one box per object and date, got {len(boxes)}")
                box = to_pixel_boxes(boxes, prompt.crs, scene)[0]
        except (ValueError, TypeError) as error:
            raise UserInputError(f"{where}: {one_line(error, with_type=False)}") from None
        placed.append(PlacedPrompt(object_id, frame, points, labels, box))
    return sorted(placed, key=lambda p: (p.frame, p.object_id))


def prompts_from_gdf(gdf) -> list[ObjectPrompt]:
    """Prompts from a GeoDataFrame: one row per point (Point) or box (Polygon, its bounding box).

    Columns: ``object_id`` (required, int >= 1), ``label`` (optional, 1/0, points only), ``date``
    (optional; empty means the first date). The GeoDataFrame's CRS is the prompts' CRS (``None``: pixel
    coordinates). Rows of one object and date become one :class:`ObjectPrompt`.

    Raises:
        UserInputError: no ``object_id`` column, other geometry types, bad labels, two boxes for one
            object and date.
    """
    import pandas as pd

    columns = {str(c).lower(): c for c in gdf.columns}
    if OBJECT_COLUMN not in columns:
        raise UserInputError(f"the prompts need an {OBJECT_COLUMN!r} column (int >= 1); columns: "
                             f"{', '.join(str(c) for c in gdf.columns if c != 'geometry') or 'none'}")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if len(gdf) == 0:
        raise UserInputError("the prompts have no geometries")
    kinds = set(gdf.geom_type)
    wrong = sorted(kinds - {"Point", "MultiPoint", "Polygon", "MultiPolygon"})
    if wrong:
        raise UserInputError(f"prompts must be points (clicks) or polygons (boxes), got {', '.join(wrong)}")
    gdf = gdf.explode(index_parts=False, ignore_index=True)
    crs = gdf.crs
    ids = [_object_id(v) for v in gdf[columns[OBJECT_COLUMN]]]
    labels = np.ones(len(gdf), dtype=int)
    if LABEL_COLUMN in columns:
        values = pd.to_numeric(gdf[columns[LABEL_COLUMN]], errors="coerce").fillna(1).to_numpy()
        if not np.isin(values, (0, 1)).all():
            raise UserInputError(f"column {LABEL_COLUMN!r} must be 1 (foreground) or 0 (background)")
        labels = values.astype(int)
    dates = [None] * len(gdf)
    if DATE_COLUMN in columns:
        dates = [None if _missing(v) else v for v in gdf[columns[DATE_COLUMN]]]
    groups: dict[tuple, dict] = {}
    for row, (object_id, label, date, geometry) in enumerate(zip(ids, labels, dates, gdf.geometry, strict=True)):
        key = (object_id, _date_key(date))
        group = groups.setdefault(key, {"date": date, "points": [], "labels": [], "box": None})
        if geometry.geom_type == "Point":
            group["points"].append((geometry.x, geometry.y))
            group["labels"].append(int(label))
        else:
            if group["box"] is not None:
                raise UserInputError(f"row {row}: a second box for object {object_id} on the same date")
            group["box"] = tuple(geometry.bounds)
    return [
        ObjectPrompt(object_id, points=g["points"] or None, labels=g["labels"] or None, box=g["box"],
                     date=g["date"], crs=crs)
        for (object_id, _), g in groups.items()
    ]


def _missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    text = str(value).strip()
    return text == "" or text.lower() in ("nat", "nan", "none")


def _date_key(date) -> str:
    return "" if date is None else str(date)


def read_track_prompts(path) -> list[ObjectPrompt]:
    """:func:`prompts_from_gdf` of a vector file (GeoPackage, GeoJSON, Shapefile, ...).

    Raises:
        UserInputError: a missing or unreadable file, or the checks of :func:`prompts_from_gdf`.
    """
    import geopandas as gpd

    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"prompts file not found: {path}")
    try:
        gdf = gpd.read_file(path)
    except Exception as error:  # noqa: BLE001 - pyogrio raises several types for unreadable files
        raise UserInputError(f"cannot read prompts file {path.name}: {one_line(error)}") from None
    if "geometry" not in gdf.columns:
        raise UserInputError(f"prompts file {path.name} has no geometries")
    return prompts_from_gdf(gdf)
