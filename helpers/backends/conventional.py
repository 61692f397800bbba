"""A no-weights baseline: classic scikit-image segmentation behind the same API as SAM and FastSAM.

``helpers.load_model("conventional")`` builds a :class:`ConventionalModel`; ``generate(method=...)``
segments the scene with Felzenszwalb's graph method, SLIC superpixels or a marker watershed and returns
one mask per segment as :class:`~helpers.masks.Masks`; ``predict(points=...)`` returns the segments under
the foreground points, so the interactive picker works with it too. It needs no download and gives
meaningful (if less object-like) segments everywhere, which makes it the "why SAM?" comparison.

Scores: every mask gets 1.0 (the methods have no confidence); masks are ordered by area, largest first.
"""

from __future__ import annotations

import time

import numpy as np

from ..masks import Masks
from ..prompts import box_window, pixel_indices, prepare_prompts
from ..scene import Scene
from .base import Backend, Control, SegmentationModel, check_float, check_int, split_run_options

__all__ = ["BACKEND", "ConventionalModel", "METHODS", "METHOD_PARAMS", "PARAM_DOCS", "build"]

# Parameters of each method with defaults chosen for 10-30 m satellite scenes of ~1000x1000 pixels.
METHOD_PARAMS: dict[str, dict] = {
    # scale: higher -> larger segments (unitless); sigma: Gaussian pre-smoothing (pixels);
    # min_size: smallest segment (pixels): a fixed number, so a tile and the whole scene segment alike
    "felzenszwalb": {"scale": 200.0, "sigma": 0.8, "min_size": 64},
    # n_segments: approximate superpixel count; compactness: colour vs space weight (higher = squarer);
    # sigma: pre-smoothing (pixels)
    "slic": {"n_segments": 150, "compactness": 10.0, "sigma": 1.0},
    # markers: number of seeds (count); compactness: >0 gives more regular basins; sigma: smoothing of
    # the Sobel gradient (pixels)
    "watershed": {"markers": 150, "compactness": 0.001, "sigma": 1.0},
}
METHODS = tuple(METHOD_PARAMS)
COMMON_PARAMS = {"method": "felzenszwalb", "min_area": 0, "max_masks": 300}
#: Most masks one call returns (each is a scene-sized boolean array) and most segments/seeds asked for.
MAX_MASKS = 5000
MAX_SEGMENTS = 1_000_000

_VALUE_CHECKS = {
    "scale": lambda p, n: check_float(p, n, 0.0, 1e9, low_open=True),
    "sigma": lambda p, n: check_float(p, n, 0.0, 100.0),
    "min_size": lambda p, n: check_int(p, n, 1, None, none_ok=True),
    "n_segments": lambda p, n: check_int(p, n, 1, MAX_SEGMENTS),
    "markers": lambda p, n: check_int(p, n, 1, MAX_SEGMENTS),
    "compactness": lambda p, n: check_float(p, n, 0.0, 1e6),
}

PARAM_DOCS: dict[str, str] = {
    "method": "segmentation method: felzenszwalb (graph, default), slic (superpixels) or watershed (markers)",
    "min_area": "drop segments smaller than this (pixels); 0 default",
    "max_masks": "keep the largest this many segments (count); 300 default, each mask is a full-size array",
    "scale": "felzenszwalb: higher gives larger segments (unitless); 200 default",
    "sigma": "Gaussian pre-smoothing (pixels); felzenszwalb 0.8, slic and watershed 1.0 default",
    "min_size": "felzenszwalb: smallest segment (pixels); 64 default, the same for a tile and a whole scene",
    "n_segments": "slic: approximate number of superpixels (count); 150 default",
    "compactness": "slic: colour vs space weight, higher is squarer (10 default); watershed: > 0 gives more "
    "regular basins (0.001 default)",
    "markers": "watershed: number of seeds (count); 150 default",
}

CONTROLS = {
    "method": Control("choice", list(METHOD_PARAMS)),
    "scale": Control("float", (10.0, 1000.0, 10.0)),
    "sigma": Control("float", (0.0, 3.0, 0.1)),
    "n_segments": Control("int", (10, 1000, 10)),
    "compactness": Control("float", (0.001, 50.0, 0.5)),
    "markers": Control("int", (10, 1000, 10)),
    "min_area": Control("int", (0, 1000, 10)),
}


def _segment(image: np.ndarray, method: str, params: dict) -> np.ndarray:
    """int label image (H, W) from one of :data:`METHODS`; labels start at 1."""
    from skimage import filters, segmentation
    from skimage.color import rgb2gray

    if method == "felzenszwalb":
        min_size = params["min_size"]
        labels = segmentation.felzenszwalb(image, scale=float(params["scale"]), sigma=float(params["sigma"]), min_size=int(min_size))
        return labels + 1
    if method == "slic":
        return segmentation.slic(
            image,
            n_segments=int(params["n_segments"]),
            compactness=float(params["compactness"]),
            sigma=float(params["sigma"]),
            start_label=1,
            channel_axis=-1,
        )
    gradient = filters.sobel(filters.gaussian(rgb2gray(image), sigma=float(params["sigma"])))
    return segmentation.watershed(gradient, markers=int(params["markers"]), compactness=float(params["compactness"]))


def check_params(params: dict) -> tuple[str, dict, dict]:
    """Split ``generate`` keywords into (method, method parameters, common options).

    Parameters of another method (``n_segments`` with ``method="felzenszwalb"``) are ignored; names no
    method knows raise ``ValueError``.
    """
    method = params.get("method", COMMON_PARAMS["method"])
    if method not in METHOD_PARAMS:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    # parameters of the other methods are ignored (a tuner keeps them all), anything else is an error
    known = set(COMMON_PARAMS).union(*METHOD_PARAMS.values())
    unknown = sorted(set(params) - known)
    if unknown:
        allowed = sorted(set(METHOD_PARAMS[method]) | set(COMMON_PARAMS))
        raise ValueError(f"unknown parameter(s) {unknown} for method {method!r}; valid: {', '.join(allowed)}")
    method_params = {**METHOD_PARAMS[method], **{k: v for k, v in params.items() if k in METHOD_PARAMS[method]}}
    common = {**COMMON_PARAMS, **{k: v for k, v in params.items() if k in COMMON_PARAMS}}
    check_int(common, "max_masks", 1, MAX_MASKS)
    check_float(common, "min_area", 0.0)
    # every method's parameters that were given are checked, also those the chosen method ignores
    given = {**{k: v for m in METHOD_PARAMS.values() for k, v in m.items()}, **params, **method_params}
    for name, check in _VALUE_CHECKS.items():
        if name in params or name in method_params:
            check(given, name)
            if name in method_params:
                method_params[name] = given[name]
    return method, method_params, common


class ConventionalModel(SegmentationModel):
    """scikit-image segmentation with the ``SegmentationModel`` API (no weights, CPU only)."""

    def __init__(self, name: str = "conventional", **defaults):
        super().__init__(name, device=None, checkpoint=None, smoke=False)
        check_params(defaults)
        self.defaults = defaults
        self._labels_cache: dict = {}

    def _set_scene(self, scene: Scene) -> None:
        self._labels_cache = {}
        self.timings = {"set_image": 0.0}

    def labels(self, **params) -> np.ndarray:
        """int32 segment labels (H, W) of the current scene (0 = nodata), cached per parameter set."""
        scene = self.require_scene()
        method, method_params, _ = check_params({**self.defaults, **params})
        key = (method, tuple(sorted(method_params.items())))
        if key not in self._labels_cache:
            labels = _segment(scene.image, method, method_params).astype(np.int32)
            if scene.valid is not None:
                labels[~scene.valid] = 0
            self._labels_cache = {key: labels}  # keep one: label images are scene-sized
        return self._labels_cache[key]

    def generate(self, **params) -> Masks:
        """One mask per segment.

        Args:
            method: ``"felzenszwalb"`` (default), ``"slic"`` or ``"watershed"``.
            min_area: drop segments smaller than this (pixels; default 0).
            max_masks: keep the largest this many segments (count; default 300), since every mask is a
                full-size boolean array.
            **params: the method's parameters, see :data:`METHOD_PARAMS` (unknown names raise ValueError).

        Returns:
            :class:`Masks` ordered by area (largest first), scores 1.0, ``extra["labels"]`` the full label
            image (every segment, also those dropped by ``min_area``/``max_masks``).
        """
        start = time.perf_counter()
        _, params = split_run_options(params)  # one pass, nothing to show progress of
        method, method_params, common = check_params({**self.defaults, **params})
        labels = self.labels(**{"method": method, **method_params})
        ids, areas = np.unique(labels[labels > 0], return_counts=True)
        order = np.argsort(-areas, kind="stable")
        ids, areas = ids[order], areas[order]
        keep = areas >= float(common["min_area"])
        ids = ids[keep][: int(common["max_masks"])]
        masks = self._masks_for(labels, ids)
        result = self._result(
            masks,
            np.ones(len(ids), dtype=np.float32),
            prompt_type="everything",
            prompts={"params": {"method": method, **method_params, **common}},
        )
        result.timings = {"generate": time.perf_counter() - start}
        result.extra.update({"labels": labels, "segment_ids": ids, "method": method})
        return result

    @staticmethod
    def _masks_for(labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
        masks = np.zeros((len(ids), *labels.shape), dtype=bool)
        lookup = np.full(int(labels.max()) + 1, -1, dtype=np.int64)
        lookup[ids] = np.arange(len(ids))
        index = lookup[labels]
        rows, cols = np.nonzero(index >= 0)
        masks[index[rows, cols], rows, cols] = True
        return masks

    def predict(self, points=None, labels=None, boxes=None, crs=None, multimask=True, mask_input=None, **params) -> Masks:
        """The segments under the prompts, as one mask per box (or one mask for points only).

        Args:
            points: float (N, 2) pixel-centre (column, row), or map coordinates in ``crs``; a point
                hits the pixel it rounds to (:func:`helpers.prompts.pixel_indices`). The mask is the
                union of the segments containing a foreground point minus those containing a
                background point.
            labels: int (N,), 1 = foreground, 0 = background (``None``: all foreground).
            boxes: float (B, 4) XYXY pixel edges with x1/y1 exclusive (as :attr:`Masks.boxes`), or map
                (xmin, ymin, xmax, ymax) in ``crs``; each box selects the segments lying at least half
                inside it (intersected with the point selection when points are given too).
            crs: ``None`` (pixels) or the CRS of ``points``/``boxes``.
            multimask, mask_input: accepted for API compatibility and ignored (one mask per prompt set).
            **params: segmentation parameters, as for :meth:`generate` (``method=...``).
        """
        scene = self.require_scene()
        start = time.perf_counter()
        prompts = prepare_prompts(scene, points=points, labels=labels, boxes=boxes, crs=crs)
        segments = self.labels(**{k: v for k, v in params.items() if k not in ("min_area", "max_masks", "progress")})
        selected = self._point_selection(segments, prompts)
        if prompts.boxes is None:
            masks = (np.isin(segments, selected) & (segments > 0))[None]
        else:
            masks = np.stack([self._box_mask(segments, box, selected) for box in prompts.boxes])
        result = self._result(masks, np.ones(len(masks), dtype=np.float32), prompt_type=prompts.prompt_type, prompts=prompts.as_dict())
        result.timings = {"predict": time.perf_counter() - start}
        return result

    @staticmethod
    def _point_selection(segments: np.ndarray, prompts) -> np.ndarray | None:
        if prompts.points is None:
            return None
        hit = segments[pixel_indices(prompts.points, segments.shape)]
        return np.setdiff1d(hit[prompts.labels == 1], hit[prompts.labels == 0])

    @staticmethod
    def _box_mask(segments: np.ndarray, box, selected) -> np.ndarray:
        """Segments at least half inside ``box`` (XYXY pixel edges; exactly the pixels it covers count)."""
        inside = np.bincount(segments[box_window(box, segments.shape)].ravel(), minlength=segments.max() + 1)
        total = np.bincount(segments.ravel(), minlength=segments.max() + 1)
        ids = np.flatnonzero((inside * 2 >= total) & (total > 0))
        ids = ids[ids > 0]
        if selected is not None:
            ids = np.intersect1d(ids, selected)
        return np.isin(segments, ids)


def build(spec, checkpoint=None, device=None, **options) -> ConventionalModel:
    """Registry hook: ``load_model("conventional", method="slic", n_segments=300)`` sets defaults."""
    if device is not None and str(device) != "cpu":
        raise ValueError("the conventional baseline runs on the CPU only")
    return ConventionalModel(getattr(spec, "name", "conventional"), **options)


def generate_defaults() -> dict:
    """Every ``generate`` parameter: the common ones, then each method's (the default method's values win)."""
    defaults = dict(COMMON_PARAMS)
    for method in sorted(METHOD_PARAMS, key=lambda m: m != COMMON_PARAMS["method"]):
        for name, value in METHOD_PARAMS[method].items():
            defaults.setdefault(name, value)
    return defaults


def check_generate_params(params: dict) -> dict:
    """``params`` merged with the defaults of their method; ``ValueError`` for unknown names or bad values."""
    method, method_params, common = check_params(params)
    return {**common, **method_params, "method": method}


BACKEND = Backend(
    family="conventional",
    build=build,
    write_smoke_checkpoint=None,
    generate_defaults=generate_defaults,
    check_generate_params=check_generate_params,
    param_docs=lambda: dict(PARAM_DOCS),
    tuner_controls=CONTROLS,
    options={name: PARAM_DOCS[name] for name in generate_defaults()},  # load_model options set defaults
    prompts=("points", "boxes"),
    predict_params=True,
    partitions=True,
)
ConventionalModel.backend = BACKEND
