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

from __future__ import annotations

from ..lazy import lazy_exports

# Public names -> their module, imported on first use: the command line and `import helpers.timeseries.dates`
# must not pay for torch and SAM 2 (the tracker) when they do not track.
_EXPORTS = {
    "index_masks": "baseline",
    "predict_each_date": "baseline",
    "DATE_PATTERNS": "dates",
    "AcquisitionDate": "dates",
    "date_from_name": "dates",
    "parse_date": "dates",
    "Grid": "grid",
    "agreement": "metrics",
    "consecutive_iou": "metrics",
    "temporal_consistency": "metrics",
    "date_slider": "plots",
    "plot_areas": "plots",
    "render_frames": "plots",
    "show_dates": "plots",
    "write_gif": "plots",
    "ObjectPrompt": "prompts",
    "place_prompts": "prompts",
    "prompts_from_gdf": "prompts",
    "read_track_prompts": "prompts",
    "TrackResult": "result",
    "TimeStack": "stack",
    "find_stack_files": "stack",
    "open_stack": "stack",
    "VideoTracker": "tracker",
    "load_tracker": "tracker",
    "track": "tracker",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
