"""Area curves, frames with masks, the GIF and the date slider."""

import numpy as np
import pytest
from PIL import Image

from helpers.render import label_colours
from helpers.timeseries import (
    TrackResult,
    date_slider,
    open_stack,
    plot_areas,
    render_frames,
    show_dates,
    write_gif,
)


def result_on(stack, smoke=False):
    masks = np.zeros((len(stack), 2, *stack.shape), bool)
    masks[:, 0, 20:44, 18:46] = True
    masks[0, 1, 50:80, 74:110] = True
    return TrackResult(masks=masks, scores=np.full((len(stack), 2), 0.5), object_ids=[1, 4], labels=stack.labels,
                       dates=[d.date for d in stack.dates], crs=stack.crs, transform=stack.transform,
                       method="test", smoke=smoke)


def test_frames_paint_each_object_in_its_own_colour_on_every_date(tmp_path, stack_writer):
    stack_writer(tmp_path)
    stack = open_stack(tmp_path)
    result = result_on(stack)
    frames = render_frames(result, stack, alpha=0.5)
    colour = label_colours(4)[1].astype(float)
    for frame, scene in zip(frames, stack, strict=True):
        inside = frame[30, 30].astype(float)  # object 1's pixel, away from its outline
        np.testing.assert_allclose(inside, 0.5 * scene.image[30, 30] + 0.5 * colour, atol=1)
    path = write_gif(result_on(stack, smoke=True), stack, tmp_path / "t.gif", max_side=64)
    with Image.open(path) as gif:
        assert gif.n_frames == 3 and max(gif.size) == 64


def test_plots_and_the_slider(tmp_path, stack_writer):
    stack_writer(tmp_path)
    stack = open_stack(tmp_path)
    result = result_on(stack, smoke=True)
    ax = plot_areas({"tracker": result, "other": result_on(stack)}, unit="ha")
    assert len(ax.get_lines()) == 4 and "meaningless" in ax.get_title()
    assert ax.get_lines()[0].get_ydata()[0] == pytest.approx(24 * 28 * 100 / 1e4)  # hectares
    figure = show_dates(result, stack, columns=2)
    assert len([a for a in figure.axes if a.images]) == 3
    widget = date_slider(result, stack)
    slider, image = widget.children
    assert [label for label, _ in slider.options] == stack.labels
    first = bytes(image.value)
    slider.value = 2
    assert bytes(image.value) != first and bytes(image.value)[:4] == b"\x89PNG"
