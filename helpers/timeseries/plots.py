"""Looking at a tracked time series: area curves, a grid of dates, an animated GIF, a date slider.

Each object keeps one colour on every date and in every plot (the colour of its id in
:func:`helpers.render.label_colours`), so a track is easy to follow; results from smoke weights carry
the banner "untrained weights — masks are meaningless".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_output
from ..render import draw_banner, label_colours, overlay_labels
from ..smoke import SMOKE_BANNER

__all__ = ["date_slider", "plot_areas", "render_frames", "show_dates", "write_gif"]

_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D")
_UNITS = {"m2": (1.0, "m²"), "ha": (1e-4, "ha"), "km2": (1e-6, "km²")}


def _as_results(results) -> list:
    if isinstance(results, dict):
        return list(results.values())
    if isinstance(results, (list, tuple)):
        return list(results)
    return [results]


def object_colour(object_id: int, max_id: int) -> np.ndarray:
    """RGB floats 0-1 of an object's colour (the same in overlays, GIFs and curves)."""
    return label_colours(max(int(max_id), int(object_id)))[int(object_id)] / 255.0


def plot_areas(results, ax=None, unit: str = "ha", title: str | None = None):
    """Area of each object over time, one line style per method (tracker, per-date, index...).

    Args:
        results: a :class:`~helpers.timeseries.result.TrackResult`, or a list / dict of them (for a dict,
            the keys are the legend names).
        ax: matplotlib axes (default: a new figure).
        unit: ``"m2"``, ``"ha"`` (default) or ``"km2"``.
        title: the axes title (default: "Area over time"; smoke results add the banner).

    Returns:
        the axes. Areas are the exact polygon areas of :meth:`TrackResult.areas` (geodesic in geographic CRSs).
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {', '.join(_UNITS)}, got {unit!r}")
    factor, unit_label = _UNITS[unit]
    names = list(results) if isinstance(results, dict) else None
    items = _as_results(results)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    max_id = max(max(r.object_ids) for r in items)
    for k, result in enumerate(items):
        table = result.areas()
        name = names[k] if names else result.method
        for object_id in result.object_ids:
            rows = table[table["object_id"] == object_id]
            dates = pd.to_datetime([result.dates[result.labels.index(label)] for label in rows["date"]])
            ax.plot(dates, rows["area_m2"].to_numpy() * factor, linestyle=_LINESTYLES[k % len(_LINESTYLES)],
                    marker=_MARKERS[k % len(_MARKERS)], color=object_colour(object_id, max_id),
                    label=f"object {object_id} · {name}")
    ax.set_ylabel(f"area ({unit_label})")
    ax.set_xlabel("date")
    text = title or "Area over time"
    if any(r.smoke for r in items):
        text += f"\n⚠ {SMOKE_BANNER}"
    ax.set_title(text, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=max(1, len(items)))
    return ax


def render_frames(result, stack, alpha: float = 0.45, banner: bool = True, max_side: int | None = None) -> list:
    """One HxWx3 uint8 image per date: the stack's frame with each object's mask in its colour, the date
    written in the corner and, for smoke results, the banner.

    Args:
        result: a :class:`~helpers.timeseries.result.TrackResult` on ``stack``'s grid and dates.
        stack: the :class:`~helpers.timeseries.stack.TimeStack`.
        alpha: mask opacity.
        banner: print the smoke banner on results from untrained weights.
        max_side: downscale so the longer side is at most this many pixels (``None``: full size).
    """
    from PIL import Image, ImageDraw

    if list(result.labels) != list(stack.labels) or tuple(result.shape) != tuple(stack.shape):
        raise ValueError("the result and the stack must share dates and grid")
    images = []
    for t in range(len(stack)):
        labels = result.label_raster(t)
        image = overlay_labels(stack[t].image, labels, alpha=alpha)
        if max_side and max(image.shape[:2]) > max_side:
            scale = max_side / max(image.shape[:2])
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.NEAREST))
        if result.smoke and banner:
            image = draw_banner(image, SMOKE_BANNER.replace("\u2014", "-"))
        pil = Image.fromarray(np.ascontiguousarray(image))
        draw = ImageDraw.Draw(pil)
        top = max(12, min(24, image.shape[0] // 12)) + 2 if result.smoke and banner else 2
        draw.rectangle([0, top, 8 + 7 * len(stack.labels[t]), top + 13], fill=(0, 0, 0))
        draw.text((4, top + 1), stack.labels[t], fill=(255, 255, 255))
        images.append(np.asarray(pil))
    return images


def write_gif(result, stack, path, seconds_per_date: float = 0.8, max_side: int | None = 512,
              alpha: float = 0.45) -> Path:
    """An animated GIF stepping through the dates with the masks over the imagery (atomic write).

    Args:
        result, stack: as :func:`render_frames`.
        path: the ``.gif`` to write.
        seconds_per_date: how long each date is shown.
        max_side: longer side of the animation in pixels (``None``: full size).
        alpha: mask opacity.
    """
    from PIL import Image

    frames = [Image.fromarray(f) for f in render_frames(result, stack, alpha=alpha, max_side=max_side)]
    path = Path(path)
    with atomic_output(path, suffix=".gif") as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                       duration=int(seconds_per_date * 1000), loop=0)
    return path


def show_dates(result, stack, columns: int = 5, size: float = 3.0, alpha: float = 0.45):
    """A grid of every date with the masks over the imagery (matplotlib figure); titles give the date and
    each object's score."""
    import matplotlib.pyplot as plt

    images = render_frames(result, stack, alpha=alpha, banner=False)
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    aspect = images[0].shape[0] / images[0].shape[1]
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * aspect * rows + 0.6), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for t, (ax, image) in enumerate(zip(axes.ravel(), images, strict=False)):
        ax.imshow(image)
        scores = " ".join(f"{oid}:{s:.2f}" for oid, s in zip(result.object_ids, result.scores[t], strict=True)
                          if np.isfinite(s))
        ax.set_title(f"{result.labels[t]}" + (f"\n{scores}" if scores else ""), fontsize=8)
    heading = result.method + (f" · {result.model}" if result.model else "")
    if result.smoke:
        heading += f" · ⚠ {SMOKE_BANNER}"
    fig.suptitle(heading, fontsize=10)
    fig.tight_layout()
    return fig


def date_slider(result, stack, alpha: float = 0.45, width: int = 600):
    """An ipywidgets slider stepping through the dates with the masks over the imagery (for notebooks).

    Returns:
        an ``ipywidgets.VBox`` (slider + image); frames are rendered once, when the widget is made.
    """
    import io

    import ipywidgets as widgets
    from PIL import Image

    def png(image: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        return buffer.getvalue()

    images = [png(f) for f in render_frames(result, stack, alpha=alpha)]
    view = widgets.Image(value=images[0], format="png", width=width)
    slider = widgets.SelectionSlider(options=[(label, t) for t, label in enumerate(result.labels)],
                                     description="date", continuous_update=True)

    def show(change):
        view.value = images[change["new"]]

    slider.observe(show, names="value")
    return widgets.VBox([slider, view])
