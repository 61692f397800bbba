"""Time series of rasters of one place: one grid, one stretch, objects tracked through the dates.

=========================  ======================================================================
module                     concept
=========================  ======================================================================
``timeseries.dates``       acquisition dates from file names (``YYYYMMDD``, ``YYYY``...) or given
``timeseries.grid``        the pixel grid (CRS, transform, size) and how another grid relates
``timeseries.stack``       :func:`open_stack`: dates on one grid (aligned/reprojected), one stretch
``timeseries.frames``      lossless in-memory frames for SAM 2's video predictor
``timeseries.prompts``     :class:`ObjectPrompt`: object id, date, points/box in pixels or any CRS
``timeseries.tracker``     :func:`load_tracker` / :func:`track`: SAM 2 propagation, both directions
``timeseries.result``      :class:`TrackResult`: masks per date and object, areas, layers, files
``timeseries.baseline``    the same prompts per date with an image model; spectral-index masks
``timeseries.metrics``     temporal consistency (area jumps, IoU between dates), agreement
``timeseries.plots``       area curves, a grid of dates, an animated GIF, a date slider
=========================  ======================================================================
"""

from .baseline import index_masks, predict_each_date
from .dates import DATE_PATTERNS, AcquisitionDate, date_from_name, parse_date
from .grid import Grid
from .metrics import agreement, consecutive_iou, temporal_consistency
from .plots import date_slider, plot_areas, render_frames, show_dates, write_gif
from .prompts import ObjectPrompt, place_prompts, prompts_from_gdf, read_track_prompts
from .result import TrackResult
from .stack import TimeStack, find_stack_files, open_stack
from .tracker import VideoTracker, load_tracker, track

__all__ = [
    "DATE_PATTERNS",
    "AcquisitionDate",
    "Grid",
    "ObjectPrompt",
    "TimeStack",
    "TrackResult",
    "VideoTracker",
    "agreement",
    "consecutive_iou",
    "date_from_name",
    "date_slider",
    "find_stack_files",
    "index_masks",
    "load_tracker",
    "open_stack",
    "parse_date",
    "place_prompts",
    "plot_areas",
    "predict_each_date",
    "prompts_from_gdf",
    "read_track_prompts",
    "render_frames",
    "show_dates",
    "temporal_consistency",
    "track",
    "write_gif",
]
