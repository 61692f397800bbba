"""Tune automatic mask generation on one scene: statistics, parameter sweeps, plots and a tuner widget.

Works with any model that has ``generate(**params) -> Masks`` (SAM, SAM 2, FastSAM, conventional)::

    tuner = Tuner(model, scene)                 # bound to this model AND this scene
    tuner.set(points_per_side=16).run()         # programmatic twin of the widget
    tuner.history                               # one row per run, with the scene it ran on
    tuner.compare(0, 1)                         # two runs of the same scene side by side
    tuner.widget()                              # sliders + "run" in Jupyter

    df = sweep(model, {"points_per_side": [8, 16, 32]}, ground_truth=labels)
    plot_sweep(df, x="points_per_side", y=["count", "time_s"])
"""

from __future__ import annotations

import hashlib
import html
import itertools
import textwrap
import time
from typing import NamedTuple

import numpy as np

from .crs import pixel_area_m2
from .masks import Masks
from .smoke import SMOKE_BANNER

__all__ = [
    "controls_for",
    "RS_PRESET",
    "RS_PRESET_WHY",
    "mask_stats",
    "match_iou",
    "sweep",
    "plot_sweep",
    "Tuner",
    "TunerRun",
    "backend_defaults",
    "parameter_table",
    "scene_label",
]

# Recommended SAM "everything" preset for 10-30 m satellite scenes (Landsat/Sentinel-2 class).
RS_PRESET: dict = {
    "points_per_side": 48,
    "pred_iou_thresh": 0.80,
    "stability_score_thresh": 0.90,
    "box_nms_thresh": 0.6,
    "crop_n_layers": 1,
    "crop_n_points_downscale_factor": 2,
    "min_mask_region_area": 25,
}
RS_PRESET_WHY: dict = {
    "points_per_side": "ponds, fields and blocks are a few dozen pixels wide: a denser grid puts a prompt on them",
    "pred_iou_thresh": "the model is less sure on satellite textures than on photos: 0.88 drops real fields",
    "stability_score_thresh": "soft water/vegetation edges lower stability: 0.95 drops real objects",
    "box_nms_thresh": "nested parcels of one field share boxes: remove more duplicates",
    "crop_n_layers": "a second pass on 4 crops sees small objects at 2x resolution",
    "crop_n_points_downscale_factor": "halves the grid on crops so the extra pass costs about as much as the first",
    "min_mask_region_area": "removes speckle islands and pinholes below 25 pixels (2.25 ha at 30 m)",
}

# ---- statistics ------------------------------------------------------------------------------------------
def match_iou(masks: Masks | np.ndarray, ground_truth: np.ndarray) -> dict:
    """How well predicted masks recover ground-truth objects.

    Args:
        masks: predicted masks (N, H, W) bool or :class:`Masks`.
        ground_truth: (H, W) integer instance labels, 0 = background.

    Returns:
        ``mean_best_iou``: for every ground-truth object, the IoU of the predicted mask that overlaps
        it best, averaged over objects (0 for an object no mask touches); ``recall_50``: the fraction of
        objects whose best IoU is at least 0.5.
    """
    pred = masks.masks if isinstance(masks, Masks) else np.asarray(masks, dtype=bool)
    gt = np.asarray(ground_truth)
    ids = np.unique(gt[gt > 0])
    if len(ids) == 0:
        return {"mean_best_iou": float("nan"), "recall_50": float("nan")}
    flat = pred.reshape(len(pred), gt.size)
    areas = flat.sum(axis=1)
    best = []
    for obj in ids:
        region = (gt == obj).ravel()
        inter = flat[:, region].sum(axis=1) if len(flat) else np.zeros(0)
        union = areas + region.sum() - inter
        best.append(float((inter / np.maximum(union, 1)).max()) if len(flat) else 0.0)
    best = np.array(best)
    return {"mean_best_iou": float(best.mean()), "recall_50": float((best >= 0.5).mean())}


def mask_stats(masks: Masks, scene=None, seconds: float | None = None) -> dict:
    """count, coverage %, median/min area (pixels and m² when georeferenced) and time of one result."""
    areas = masks.areas
    crs = masks.crs if masks.crs is not None else getattr(scene, "crs", None)
    transform = masks.transform if masks.transform is not None else getattr(scene, "transform", None)
    per_pixel = pixel_area_m2(transform, crs, masks.shape)  # geodesic in geographic/Mercator CRSs
    stats = {
        "count": len(masks),
        "coverage_pct": 100.0 * float(masks.union().mean()) if len(masks) else 0.0,
        "median_area_px": float(np.median(areas)) if len(areas) else np.nan,
        "min_area_px": float(areas.min()) if len(areas) else np.nan,
    }
    scale = np.nan if per_pixel is None else per_pixel
    stats["median_area_m2"] = stats["median_area_px"] * scale
    stats["min_area_m2"] = stats["min_area_px"] * scale
    if seconds is None:
        seconds = masks.timings.get("generate", np.nan)
    stats["time_s"] = float(seconds)
    return stats


# ---- sweeps --------------------------------------------------------------------------------------------
def _combinations(grid: dict) -> list[dict]:
    if not isinstance(grid, dict) or not grid:
        raise ValueError("grid must be a non-empty dict: parameter name -> list of values")
    names = list(grid)
    values = [list(v) if isinstance(v, (list, tuple, np.ndarray, range)) else [v] for v in grid.values()]
    if any(len(v) == 0 for v in values):
        raise ValueError("every parameter in grid needs at least one value")
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


def sweep(model, grid: dict, ground_truth: np.ndarray | None = None, base: dict | None = None, image=None):
    """Run ``model.generate`` for every combination of ``grid`` on the current scene.

    Args:
        model: any model with ``generate(**params)`` and a scene set (or pass ``image``).
        grid: parameter name -> list of values, e.g. ``{"points_per_side": [8, 16], "pred_iou_thresh": [0.8, 0.9]}``.
        ground_truth: optional (H, W) instance labels (0 = background) to score each run with
            :func:`match_iou` (columns ``mean_best_iou``, ``recall_50``).
        base: parameters applied to every run (the grid overrides them).
        image: optional scene / array / path to ``set_image`` first.

    Returns:
        pandas DataFrame, one row per combination: the parameters, ``count``, ``coverage_pct``,
        ``median_area_px``, ``min_area_px``, ``median_area_m2``, ``min_area_m2`` (NaN without
        georeferencing), ``time_s`` (wall clock of ``generate``), and the IoU columns when
        ``ground_truth`` is given.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    if image is not None:
        model.set_image(image)
    combos = _combinations(grid)
    rows = []
    for combo in tqdm(combos, desc="sweep", disable=None, leave=False):
        params = {**(base or {}), **combo}
        start = time.perf_counter()
        masks = model.generate(**params)
        seconds = time.perf_counter() - start
        row = {**combo, **mask_stats(masks, model.scene, seconds)}
        if ground_truth is not None:
            row.update(match_iou(masks, ground_truth))
        rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs["smoke"] = bool(getattr(model, "smoke", False))
    df.attrs["model"] = getattr(model, "name", "")
    return df


def plot_sweep(df, x: str, y="count", hue: str | None = None, ax=None):
    """Line plot(s) of sweep results: ``y`` (a column or list of columns) against ``x``, one line per ``hue``.

    Several ``y`` columns get one panel each. Returns the axes (array when several).
    """
    import matplotlib.pyplot as plt

    ys = [y] if isinstance(y, str) else list(y)
    missing = [c for c in [x, *ys, *([hue] if hue else [])] if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} not in the sweep; available: {', '.join(df.columns)}")
    if ax is None:
        _, axes = plt.subplots(1, len(ys), figsize=(4.5 * len(ys), 3.5), squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(ax)
    groups = [(None, df)] if hue is None else list(df.groupby(hue))
    for axis, column in zip(axes, ys):
        for key, part in groups:
            part = part.groupby(x, as_index=False)[column].mean().sort_values(x)
            axis.plot(part[x], part[column], marker="o", label=None if key is None else f"{hue}={key}")
        axis.set_xlabel(x)
        axis.set_ylabel(column)
        if hue is not None:
            axis.legend(fontsize=8)
        title = f"{column} vs {x}"
        if df.attrs.get("smoke"):
            title += f"\n⚠ {SMOKE_BANNER}"
        axis.set_title(title, fontsize=9)
    return axes if len(axes) > 1 else axes[0]


# ---- tables of parameters ---------------------------------------------------------------------------
def parameter_table(model, values: dict | None = None, notes: dict | None = None):
    """A table of ``model``'s ``generate`` parameters, shown in full in Jupyter (nothing truncated).

    Args:
        model: a model, registry name or :class:`~helpers.backends.base.Backend` (its contract gives
            the defaults and the one-line documentation of each parameter).
        values: show these values instead of the defaults (e.g. :data:`RS_PRESET`); only their names.
        notes: one line per name, shown instead of the backend's documentation (e.g. :data:`RS_PRESET_WHY`).

    Returns:
        :class:`helpers.tables.Table`: rows ``parameter``, ``value`` (integers stay integers),
        ``what it does``; rendered as a Markdown table in Jupyter and as plain text elsewhere.
    """
    from .backends import backend_for
    from .tables import Table

    backend = model if hasattr(model, "generate_defaults") else backend_for(model)
    docs = backend.param_docs()
    shown = dict(values) if values is not None else backend.generate_defaults()
    header = "default" if values is None else "value"
    rows = [{"parameter": name, header: value, "what it does": (notes or docs).get(name, docs.get(name, ""))}
            for name, value in shown.items()]
    return Table(rows, ["parameter", header, "what it does"])


def scene_label(scene) -> str:
    """``"name · digest"`` of a scene: its name and the first 8 hex digits of a hash of its pixels.

    Two crops of one file share a name but not a digest, so the label tells runs of different scenes apart.
    """
    image = np.ascontiguousarray(scene.image)
    digest = hashlib.blake2b(f"{image.shape}|{image.dtype.str}|".encode(), digest_size=16)
    digest.update(memoryview(image).cast("B"))
    return f"{scene.name} · {digest.hexdigest()[:8]}"


# ---- tuner ---------------------------------------------------------------------------------------------
def controls_for(model) -> dict:
    """The widget controls of ``model``'s ``generate`` parameters (its backend's contract)."""
    return dict(_backend(model).tuner_controls)


def backend_defaults(model) -> dict:
    """The values ``model.generate`` uses for parameters it is not given (where the widget starts).

    From the backend's contract (``model.backend.generate_defaults()``); values set on the model
    (``model.defaults``) win.
    """
    return {**_backend(model).generate_defaults(), **(getattr(model, "defaults", None) or {})}


def _backend(model):
    backend = getattr(model, "backend", None)
    if backend is None:
        raise TypeError(f"{type(model).__name__} declares no backend contract (model.backend); "
                        "build models with helpers.load_model")
    return backend


class TunerRun(NamedTuple):
    """One :meth:`Tuner.run`: the parameters passed, the masks, their statistics and the scene they are of."""

    params: dict
    masks: Masks
    stats: dict
    scene: object
    scene_label: str


class Tuner:
    """Run ``generate`` with different parameters on ONE scene and keep every run.

    The tuner is bound to the model and to the scene it was made with: if other code sets another
    image on the model afterwards (a later notebook cell, another tuner), :meth:`run` sets the
    tuner's scene again first (cheap for SAM: the embedding is cached), so the widget never segments
    a scene it was not made for.

    Args:
        model: a model with ``generate`` (built with :func:`helpers.load_model`).
        image: scene / array / path for ``set_image`` (``None``: the model's current scene).
        params: starting parameters (default: the backend's defaults).
        controls: override the widget controls (default: the backend's ``tuner_controls``).

    Attributes:
        scene: the :class:`~helpers.scene.Scene` every run segments.
        params: the parameters the next :meth:`run` uses (only those set; the rest keep ``defaults``).
        defaults: :func:`backend_defaults` of the model (where untouched widget controls start).
        runs: list of :class:`TunerRun` (params, masks, stats, scene, scene_label), one per run.
    """

    def __init__(self, model, image=None, params: dict | None = None, controls: dict | None = None):
        self.model = model
        if image is not None:
            model.set_image(image)
        self.scene = model.require_scene()
        self._scene_label = scene_label(self.scene)
        self.params = dict(params or {})
        self.controls = dict(controls or controls_for(model))
        self.defaults = backend_defaults(model)
        self.runs: list[TunerRun] = []

    # -- programmatic twin ------------------------------------------------------------------------------
    def set(self, **params) -> Tuner:
        """Change parameters for the next run (merged into :attr:`params`)."""
        self.params.update(params)
        return self

    def set_scene(self, image) -> Tuner:
        """Bind the tuner to another scene (scene / array / path); the history is kept, and each run
        names its scene, so :meth:`compare` only puts runs of one scene side by side."""
        self.model.set_image(image)
        self.scene = self.model.require_scene()
        self._scene_label = scene_label(self.scene)
        return self

    def run(self) -> Masks:
        """Generate with :attr:`params` on :attr:`scene`, append the run to the history, return the masks."""
        if self.model.scene is not self.scene:
            self.model.set_image(self.scene)  # someone set another image on the model since
        start = time.perf_counter()
        masks = self.model.generate(**self.params)
        seconds = time.perf_counter() - start
        stats = mask_stats(masks, self.scene, seconds)
        self.runs.append(TunerRun(dict(self.params), masks, stats, self.scene, self._scene_label))
        return masks

    @property
    def history(self):
        """pandas DataFrame: one row per run (run number, scene, parameters, statistics).

        A parameter column shows the value each run used: the one set, else the backend default (so a
        column of integers stays integers instead of turning into floats with gaps).
        """
        import pandas as pd

        names = list(dict.fromkeys(name for run in self.runs for name in run.params))
        rows = []
        for i, run in enumerate(self.runs):
            used = {name: run.params.get(name, self.defaults.get(name)) for name in names}
            rows.append({"run": i, "scene": run.scene_label, **used, **run.stats})
        return pd.DataFrame(rows)

    def _run(self, i: int) -> tuple[int, TunerRun]:
        if not -len(self.runs) <= i < len(self.runs):
            raise IndexError(f"no run {i}: the tuner has {len(self.runs)} run(s) (0 to {len(self.runs) - 1})")
        return i % len(self.runs), self.runs[i]

    def show(self, i: int = -1, ax=None):
        """Overlay of every mask of run ``i`` on its scene in random colours, titled with its statistics."""
        import matplotlib.pyplot as plt

        index, run = self._run(i)
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 6))
        ax.imshow(run.masks.overlay(run.scene.image))
        ax.set_title(self._title(index, run), fontsize=8)
        ax.set_axis_off()
        return ax

    def compare(self, i: int, j: int):
        """Two runs of the same scene side by side (overlays and their statistics); returns the figure.

        Raises:
            ValueError: the runs are of different scenes (comparing them would say nothing about the
                parameters).
        """
        import matplotlib.pyplot as plt

        (a, first), (b, second) = self._run(i), self._run(j)
        if first.scene_label != second.scene_label:
            raise ValueError(f"runs {a} and {b} are of different scenes ({first.scene_label} vs "
                             f"{second.scene_label}); compare runs of one scene")
        fig, axes = plt.subplots(1, 2, figsize=(12, 6))
        self.show(a, axes[0])
        self.show(b, axes[1])
        fig.tight_layout()
        return fig

    @staticmethod
    def _title(index: int, run: TunerRun) -> str:
        stats = run.stats
        changed = textwrap.fill(", ".join(f"{k}={v}" for k, v in run.params.items()) or "defaults", 80)
        if stats["count"]:
            area = f"median {stats['median_area_px']:.0f} px"
            if not np.isnan(stats["median_area_m2"]):
                area += (f" / {stats['median_area_m2']:.3g} m²; min {stats['min_area_px']:.0f} px / "
                         f"{stats['min_area_m2']:.3g} m²")
        else:
            area = "no masks: lower the thresholds"
        text = (
            f"run {index} on {run.scene_label}: {changed}\n{stats['count']} masks · "
            f"{stats['coverage_pct']:.1f}% covered · {area} · {stats['time_s']:.2f} s"
        )
        return text + (f"\n⚠ {SMOKE_BANNER}" if run.masks.smoke else "")

    # -- widget ----------------------------------------------------------------------------------------
    def _control(self, name: str, kind: str, options):
        import ipywidgets as w

        value = self.params.get(name, self.defaults.get(name))  # untouched: what generate will use
        style = {"description_width": "200px"}
        layout = w.Layout(width="420px")
        if kind == "choice":
            return w.Dropdown(options=options, value=value if value in options else options[0], description=name, style=style, layout=layout)
        if kind == "bool":
            return w.Checkbox(value=bool(value) if value is not None else False, description=name)
        low, high, step = options
        cls = w.IntSlider if kind == "int" else w.FloatSlider
        start = low if value is None else min(max(value, low), high)
        return cls(value=start, min=low, max=high, step=step, description=name, style=style, layout=layout, continuous_update=False)

    def widget(self, names=None):
        """ipywidgets panel: a control per parameter, "run", the overlay + stats, the history and compare.

        Controls start at :attr:`params`, else at :attr:`defaults`; a parameter is only passed to
        ``generate`` once its control has been touched (or was in :attr:`params`), so untouched controls
        keep the backend defaults.
        """
        import ipywidgets as w
        import matplotlib.pyplot as plt
        from IPython.display import display

        names = list(names or self.controls)
        controls = {name: self._control(name, *self.controls[name]) for name in names}
        touched = set(self.params)
        run_button = w.Button(description="run", button_style="primary")
        first, second = w.BoundedIntText(value=0, min=0, description="compare"), w.BoundedIntText(value=0, min=0)
        compare_button = w.Button(description="compare")
        figure_out, history_out = w.Output(), w.Output()
        scene_line = w.HTML()

        def describe_scene():
            scene_line.value = (f"scene: <b>{html.escape(self._scene_label)}</b> "
                                f"({self.scene.width}x{self.scene.height} px); every run segments it")

        def on_change(change, name):
            touched.add(name)

        for name, control in controls.items():
            control.observe(lambda change, name=name: on_change(change, name), names="value")

        def refresh(show_index=-1):
            describe_scene()
            with figure_out:
                figure_out.clear_output(wait=True)
                self.show(show_index)
                plt.show()
            with history_out:
                history_out.clear_output(wait=True)
                display(self.history)
            for box in (first, second):
                box.max = max(len(self.runs) - 1, 0)

        def on_run(_):
            self.set(**{name: controls[name].value for name in touched if name in controls})
            run_button.description = "running…"
            try:
                self.run()
            finally:
                run_button.description = "run"
            refresh()

        def on_compare(_):
            with figure_out:
                figure_out.clear_output(wait=True)
                try:
                    self.compare(first.value, second.value)
                except (ValueError, IndexError) as error:  # a callback's exception would reach no one
                    print(error)
                    return
                plt.show()

        run_button.on_click(on_run)
        compare_button.on_click(on_compare)
        panel = w.VBox([*controls.values(), w.HBox([run_button, first, second, compare_button])])
        describe_scene()
        return w.HBox([panel, w.VBox([scene_line, figure_out, history_out])])
