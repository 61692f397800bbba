"""One SAR pair in, change layers out: :func:`change_pair` (a plain function of a pair and its options).

    result = detect_change("s1_2020-06-01.tif", "s1_2020-06-13.tif", "out/", method="threshold")
    result.gdf            # change polygons: id, area_m2, mean_db, max_abs_db, direction, method, threshold_db...
    result.threshold      # Threshold(value=3.1, method='ki'), also in every output's metadata

The steps (each in its module): put the second date on the first's grid if needed
(:mod:`~helpers.change.align`), speckle-filter both in linear power and take the log-ratio window by window
(:mod:`~helpers.change.difference`), pick the threshold from the whole scene's histogram
(:mod:`~helpers.change.thresholds`), make change objects by the chosen method
(:mod:`~helpers.change.segment`), and write them (:mod:`~helpers.change.vectors`):

=================  =================================================================================
format             file (``<stem>`` = the pair's output stem)
=================  =================================================================================
``gpkg``           ``<stem>.gpkg``: change polygons with attributes (also ``geojson``, ``shp``, ``parquet``)
``tif``            ``<stem>_change.tif``: uint8, 0 no change, 1 increase, 2 decrease, 255 nodata
``logratio``       ``<stem>_log_ratio.tif``: float32 signed log-ratio, dB, NaN nodata
``difference``     ``<stem>_difference.tif``: the 8-bit RGB difference image the models see
``labels``         ``<stem>_labels.tif``: uint32 object ids (all objects, change or not)
``png``            ``<stem>_change.png``: preview, difference image with the change objects outlined
=================  =================================================================================

Every GeoTIFF is on the FIRST date's grid and carries the threshold (``threshold_db``,
``threshold_method``), the method, the model and ``smoke`` in its metadata; every polygon carries them as
attributes. :func:`change_pair` takes only picklable arguments (a :class:`ChangePair` and
:class:`ChangeOptions`), so a batch can later run pairs on other processes or machines.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_output
from ..errors import UserInputError
from ..export import write_png, write_vector
from ..registry import get_spec
from ..render import draw_banner, overlay_labels
from ..smoke import SMOKE_BANNER
from ..tiling import DEFAULT_OVERLAP, DEFAULT_TILE_SIZE, tile_grid
from .difference import WINDOW_SIZE, DifferenceImageSource, compute_log_ratio
from .sar import DEFAULT_EPSILON, DEFAULT_SCALE_DB, DIFFERENCE_STYLES, UNITS, difference_image, parse_filter
from .segment import DEFAULT_MODELS, METHODS, PROMPT_KINDS, segment_change
from .thresholds import Threshold, compute_threshold, parse_threshold
from .vectors import INCREASE, NO_CHANGE, change_gdf, object_polygons, write_change_raster

__all__ = ["FORMATS", "DEFAULT_FORMATS", "VECTOR_FORMATS", "ChangeOptions", "ChangePair", "ChangeResult",
           "output_paths", "change_pair", "detect_change", "pair_stem"]

FORMATS = {
    "gpkg": ".gpkg",
    "geojson": ".geojson",
    "shp": ".shp",
    "parquet": ".parquet",
    "tif": "_change.tif",
    "logratio": "_log_ratio.tif",
    "difference": "_difference.tif",
    "labels": "_labels.tif",
    "png": "_change.png",
}
DEFAULT_FORMATS = ("gpkg", "tif", "logratio", "png")
VECTOR_FORMATS = ("gpkg", "geojson", "shp", "parquet")
PREVIEW_SIZE = 1024
_SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg")
SHAPEFILE_COLUMNS = {"change_fraction": "chg_frac", "threshold_db": "thresh_db", "threshold_method": "thresh_by"}
"""Shapefile (dBASE) field names have at most 10 characters: these columns are renamed in ``.shp`` output."""


@dataclass(frozen=True)
class ChangeOptions:
    """Every choice of the change pipeline (checked when created: one-line ``UserInputError``).

    Attributes:
        method: ``"threshold"`` (classical baseline, no weights), ``"fastsam"``, ``"sam"``, ``"sam-prompted"``.
        model: registry name for the model methods (default: :data:`~helpers.change.segment.DEFAULT_MODELS`).
        weights: a local weights file for ``model`` (default: the cached official / smoke checkpoint).
        units: input values, ``"linear"`` power or ``"db"``.
        band: 1-based band of both files holding the intensity (e.g. VV).
        speckle_filter: ``"none"``, ``"boxcar:N"`` or ``"lee:N"`` (N odd, pixels).
        looks: equivalent number of looks for Lee (``None``: estimated from the first date).
        threshold: ``"ki"`` (Kittler-Illingworth), ``"otsu"`` or a value in dB.
        epsilon: added to both powers before the ratio (linear units).
        signed: keep increase and decrease apart (change raster codes 1/2, threshold objects of one
            direction); ``False``: change of either sign is one class (code 1).
        min_area: smallest change object, in pixels.
        connectivity: 8 or 4, for threshold components.
        prompt: ``"boxes"`` or ``"points"`` (``sam-prompted``).
        min_change_fraction: share of a segment's pixels over the threshold that makes it change
            (``fastsam`` / ``sam``).
        scale_db, style: the 8-bit difference image (``|log-ratio|`` shown as 255; ``"signed"`` / ``"grey"``).
        tile_size, overlap: tiling of the model methods.
        params: ``generate`` parameters for the everything methods (e.g. ``{"conf": 0.25}``).
        formats: outputs to write (:data:`FORMATS`).
        window_size: processing window of the raster passes (pixels).
        progress: tqdm bars.
    """

    method: str = "threshold"
    model: str | None = None
    weights: str | None = None
    units: str = "linear"
    band: int = 1
    speckle_filter: str = "lee:5"
    looks: float | None = None
    threshold: str | float = "ki"
    epsilon: float = DEFAULT_EPSILON
    signed: bool = True
    min_area: int = 10
    connectivity: int = 8
    prompt: str = "boxes"
    min_change_fraction: float = 0.5
    scale_db: float = DEFAULT_SCALE_DB
    style: str = "signed"
    tile_size: int = DEFAULT_TILE_SIZE
    overlap: int = DEFAULT_OVERLAP
    params: dict = field(default_factory=dict)
    formats: tuple = DEFAULT_FORMATS
    window_size: int = WINDOW_SIZE
    progress: bool = False

    def __post_init__(self):
        if self.method not in METHODS:
            raise UserInputError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.units not in UNITS:
            raise UserInputError(f"units must be one of {', '.join(UNITS)}; got {self.units!r}")
        object.__setattr__(self, "speckle_filter", str(parse_filter(self.speckle_filter)))
        threshold = parse_threshold(self.threshold)
        object.__setattr__(self, "threshold", threshold)
        if self.looks is not None and not float(self.looks) > 0:
            raise UserInputError(f"looks must be > 0, got {self.looks}")
        if not float(self.epsilon) >= 0:
            raise UserInputError(f"epsilon must be >= 0, got {self.epsilon}")
        if int(self.band) < 1:
            raise UserInputError(f"band is 1-based, got {self.band}")
        if int(self.min_area) < 1:
            raise UserInputError(f"min_area must be at least 1 pixel, got {self.min_area}")
        if self.connectivity not in (4, 8):
            raise UserInputError(f"connectivity must be 4 or 8, got {self.connectivity}")
        if self.prompt not in PROMPT_KINDS:
            raise UserInputError(f"prompt must be one of {', '.join(PROMPT_KINDS)}; got {self.prompt!r}")
        if not 0 < float(self.min_change_fraction) <= 1:
            raise UserInputError(f"min_change_fraction must be in (0, 1], got {self.min_change_fraction}")
        if not float(self.scale_db) > 0:
            raise UserInputError(f"scale_db must be > 0 dB, got {self.scale_db}")
        if self.style not in DIFFERENCE_STYLES:
            raise UserInputError(f"style must be one of {', '.join(DIFFERENCE_STYLES)}; got {self.style!r}")
        try:
            tile_grid(self.tile_size, self.tile_size, self.tile_size, self.overlap)
        except ValueError as exc:
            raise UserInputError(f"tile_size {self.tile_size} / overlap {self.overlap}: {exc}") from None
        formats = tuple(dict.fromkeys(str(f).lower() for f in ((self.formats,) if isinstance(self.formats, str)
                                                                else self.formats)))
        unknown = [f for f in formats if f not in FORMATS]
        if unknown or not formats:
            raise UserInputError(f"unknown format(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}")
        object.__setattr__(self, "formats", formats)
        if self.method == "threshold" and (self.model or self.weights or self.params):
            raise UserInputError("method 'threshold' uses no model: drop model / weights / params")
        if self.model_name is not None:
            get_spec(self.model_name)  # unknown names: one line listing the valid ones
        if self.weights is not None and not Path(self.weights).expanduser().is_file():
            raise UserInputError(f"weights file not found: {self.weights}")

    @property
    def model_name(self) -> str | None:
        """The registry model the method uses (``None`` for ``threshold``)."""
        return None if self.method == "threshold" else (self.model or DEFAULT_MODELS[self.method])

    def replace(self, **changes) -> ChangeOptions:
        """A copy with ``changes`` (unknown names are a one-line error)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise UserInputError(f"unknown change option(s) {', '.join(unknown)}; valid: "
                                 f"{', '.join(f.name for f in dataclasses.fields(self))}")
        return dataclasses.replace(self, **changes)

    def settings(self) -> dict:
        """What the outputs depend on (recorded in, and compared with, a batch's ``.done.json``)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "progress"}
        values["model"] = self.model_name
        values["formats"] = sorted(self.formats)
        return values


@dataclass(frozen=True)
class ChangePair:
    """Two dates of one place and where their outputs go.

    Attributes:
        before, after: the first and second date's rasters (the outputs are on ``before``'s grid).
        stem: output stem (``<stem>.gpkg``, ``<stem>_change.tif`` ...).
    """

    before: Path
    after: Path
    stem: Path

    @property
    def name(self) -> str:
        return self.stem.name


@dataclass
class ChangeResult:
    """What :func:`change_pair` did for one pair.

    Attributes:
        pair: the :class:`ChangePair`.
        gdf: change polygons (GeoDataFrame, ``gdf.attrs`` holds threshold, method, smoke).
        threshold: the :class:`~helpers.change.thresholds.Threshold` used.
        outputs: format -> written path.
        count: number of objects the method made; ``changed``: how many are change.
        looks: ENL used by Lee (given or estimated), ``None`` otherwise.
        aligned: ``None``, or how the second date's grid differed (it was resampled).
        method, model, smoke: provenance (``smoke``: untrained weights, objects meaningless).
        prompts: prompts given to a prompted model.
        seconds: wall time.
    """

    pair: ChangePair
    gdf: object
    threshold: Threshold
    outputs: dict
    count: int
    changed: int
    looks: float | None
    aligned: str | None
    method: str
    model: str = ""
    smoke: bool = False
    prompts: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: threshold, objects by direction, looks, alignment."""
        directions = self.gdf["direction"].value_counts().to_dict() if len(self.gdf) else {}
        parts = ", ".join(f"{n} {d}" for d, n in sorted(directions.items())) or "none"
        looks = f", looks {self.looks:.2f}" if self.looks else ""
        smoke = " [SMOKE: untrained weights, objects meaningless]" if self.smoke else ""
        aligned = " (second date resampled onto the first's grid)" if self.aligned else ""
        return (f"{self.pair.name}: threshold {self.threshold}, {self.changed} change object(s) ({parts}) "
                f"by {self.method}{looks}{aligned}{smoke}")


def output_paths(stem, formats) -> dict[str, Path]:
    """format -> output path for ``stem`` (see :data:`FORMATS`)."""
    stem = Path(stem)
    return {fmt: stem.with_name(stem.name + FORMATS[fmt]) for fmt in formats}


def pair_stem(before, after) -> str:
    """The default output name of a pair: the shared stem, else ``<before stem>_<after stem>``."""
    before, after = Path(before), Path(after)
    return before.stem if before.stem == after.stem else f"{before.stem}_{after.stem}"


def _tags(options: ChangeOptions, threshold: Threshold, lr, model: str, smoke: bool) -> dict:
    return {"method": options.method, **threshold.as_tags(), "model": model, "smoke": str(smoke).lower(),
            "units": options.units, "speckle_filter": options.speckle_filter,
            "looks": "" if lr.looks is None else f"{lr.looks:.3f}", "epsilon": repr(options.epsilon),
            "signed": str(options.signed).lower(), "software": "sam-rs"}


def _write_difference(lr, path, options: ChangeOptions, tags: dict) -> Path:
    import rasterio
    from rasterio.windows import Window

    profile = dict(driver="GTiff", width=lr.width, height=lr.height, count=3, dtype="uint8", nodata=0,
                   crs=lr.crs, transform=lr.transform, tiled=True, blockxsize=256, blockysize=256,
                   compress="deflate", photometric="RGB")
    with DifferenceImageSource(lr, options.scale_db, options.style) as source, atomic_output(path) as tmp, \
            rasterio.open(tmp, "w", **profile) as dst:
        dst.update_tags(**tags, scale_db=str(options.scale_db), style=options.style)
        for row in range(0, lr.height, options.window_size):
            for col in range(0, lr.width, options.window_size):
                window = Window(col, row, min(options.window_size, lr.width - col),
                                min(options.window_size, lr.height - row))
                dst.write(np.moveaxis(source.read_window(window).image, -1, 0), window=window)
    return Path(path)


def _write_preview(lr, labels_path, keep, path, options: ChangeOptions, tags: dict, smoke: bool) -> Path:
    """Decimated difference image with the change objects painted on it."""
    import rasterio

    step = max(1, int(np.ceil(max(lr.width, lr.height) / PREVIEW_SIZE)))
    shape = (-(-lr.height // step), -(-lr.width // step))
    with rasterio.open(lr.path) as ds:
        values = ds.read(1, out_shape=shape)
    with rasterio.open(labels_path) as ds:
        labels = ds.read(1, out_shape=shape).astype(np.int64)
    lut = np.zeros(len(keep) + 1, np.int64)
    lut[1:][keep] = np.arange(1, int(np.sum(keep)) + 1)
    labels[labels >= len(lut)] = 0
    image = overlay_labels(difference_image(values, options.scale_db, options.style), lut[labels], alpha=0.35)
    if smoke:
        image = draw_banner(image, SMOKE_BANNER.replace("\u2014", "-"))
    return write_png(image, path, text=tags)


def _load_model(options: ChangeOptions):
    from ..models import load_model

    return load_model(options.model_name, weights=options.weights)


def _run(pair: ChangePair, options: ChangeOptions, model, outputs: dict):
    import os

    import rasterio

    # Scratch beside the outputs (same file system): the log-ratio and label rasters are moved into place
    # only once everything succeeded, with the decision in their metadata.
    pair.stem.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".samrs-change-", dir=pair.stem.parent) as scratch:
        scratch = Path(scratch)
        lr_path, labels_path = scratch / "log_ratio.tif", scratch / "labels.tif"
        lr = compute_log_ratio(pair.before, pair.after, lr_path, units=options.units,
                               speckle_filter=options.speckle_filter, looks=options.looks, epsilon=options.epsilon,
                               band=options.band, window_size=options.window_size, workdir=scratch,
                               progress=options.progress)
        threshold = compute_threshold(options.threshold, lr.histogram)
        if options.method != "threshold":
            model = _load_model(options) if model is None else model
            model = model.load() if hasattr(model, "load") and not hasattr(model, "set_image") else model
        seg = segment_change(options.method, lr, threshold, labels_path, model, min_area=options.min_area,
                             connectivity=options.connectivity, signed=options.signed, prompt=options.prompt,
                             min_change_fraction=options.min_change_fraction, scale_db=options.scale_db,
                             style=options.style, tile_size=options.tile_size, overlap=options.overlap,
                             params=options.params, progress=options.progress)
        tags = _tags(options, threshold, lr, seg.model, seg.smoke)
        codes = np.zeros(seg.count + 1, np.uint8)
        codes[1:] = np.where(seg.keep, seg.directions if options.signed else INCREASE, NO_CHANGE)
        if "tif" in outputs:
            write_change_raster(labels_path, lr_path, codes, outputs["tif"], tags)
        gdf = change_gdf(object_polygons(labels_path), seg.stats, seg.keep, seg.directions, options.method,
                         threshold, model=seg.model, smoke=seg.smoke, extra=seg.extra)
        for fmt in VECTOR_FORMATS:
            if fmt in outputs:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # empty layers: GDAL notes the missing geometry type
                    layer = gdf.rename(columns=SHAPEFILE_COLUMNS) if fmt == "shp" else gdf
                    write_vector(layer, outputs[fmt], layer=pair.name)
        if "difference" in outputs:
            _write_difference(lr, outputs["difference"], options, tags)
        if "png" in outputs:
            _write_preview(lr, labels_path, seg.keep, outputs["png"], options, tags, seg.smoke)
        for fmt, path in (("logratio", lr_path), ("labels", labels_path)):
            if fmt in outputs:
                with rasterio.open(path, "r+") as ds:
                    ds.update_tags(**tags)
                os.replace(path, outputs[fmt])
    return gdf, threshold, lr, seg


def change_pair(pair: ChangePair, options: ChangeOptions, model=None) -> ChangeResult:
    """Detect change between ``pair.before`` and ``pair.after`` and write ``options.formats`` at ``pair.stem``.

    Args:
        pair: the two dates and the output stem.
        options: :class:`ChangeOptions`.
        model: a loaded model for the model methods (``None``: loaded from ``options.model_name``), or an
            object with ``load()`` returning one (loaded only when needed).

    Returns:
        :class:`ChangeResult`. Every file is written atomically (a failure leaves no partial output).
    """
    start = time.perf_counter()
    outputs = output_paths(pair.stem, options.formats)
    existed = {fmt for fmt, path in outputs.items() if path.exists()}
    try:
        gdf, threshold, lr, seg = _run(pair, options, model, outputs)
    except BaseException:
        for fmt, path in outputs.items():  # a failed pair leaves none of this run's files behind
            if fmt not in existed:
                for part in [path, *(path.with_suffix(s) for s in _SHAPEFILE_PARTS if fmt == "shp")]:
                    part.unlink(missing_ok=True)
        raise
    return ChangeResult(pair, gdf, threshold, outputs, seg.count, int(np.sum(seg.keep)), lr.looks, lr.aligned,
                        options.method, seg.model, seg.smoke, seg.prompts, time.perf_counter() - start)


def detect_change(before, after, out_dir=None, options: ChangeOptions | None = None, model=None, name=None,
                  **option_values) -> ChangeResult:
    """Change between two SAR dates, for one pair (see :func:`change_pair`; a folder tree: ``change_batch``).

    Args:
        before, after: the two rasters (``after`` is resampled onto ``before``'s grid when they differ).
        out_dir: output folder (``None``: a temporary folder, with the default formats minus files: only
            the returned layer survives).
        options: :class:`ChangeOptions`; ``**option_values`` override its fields (``method="sam"``...).
        model: a loaded model for the model methods, or a registry name (same as ``options.model``);
            default: loaded from the options.
        name: output stem (default :func:`pair_stem`).
    """
    if isinstance(model, str):
        option_values["model"], model = model, None
    options = (options or ChangeOptions()).replace(**option_values) if option_values else (options or ChangeOptions())
    for path in (before, after):
        if not Path(path).is_file():
            raise UserInputError(f"raster not found: {path}")
    stem_name = name or pair_stem(before, after)
    if out_dir is None:
        with tempfile.TemporaryDirectory(prefix="samrs-change-out-") as tmp:
            result = change_pair(ChangePair(Path(before), Path(after), Path(tmp) / stem_name),
                                 options.replace(formats=("tif",)), model)
            result.outputs = {}
            return result
    return change_pair(ChangePair(Path(before), Path(after), Path(out_dir) / stem_name), options, model)
