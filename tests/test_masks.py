"""Masks: the result type shared by every backend."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from helpers.masks import SMOKE_BANNER, Masks, boxes_from_masks


def two_masks():
    masks = np.zeros((2, 6, 8), bool)
    masks[0, 1:3, 2:5] = True  # 6 px
    masks[1, 2:6, 4:8] = True  # 16 px, touches the right and bottom edges
    return Masks(masks, [0.9, 0.5], model="m", prompt_type="points", stability_scores=[0.8, 0.7])


def test_boxes_are_xyxy_with_exclusive_end_and_empty_masks_get_zeros():
    masks = two_masks().masks
    empty = np.zeros((1, 6, 8), bool)
    assert boxes_from_masks(masks).tolist() == [[2, 1, 5, 3], [4, 2, 8, 6]]
    assert boxes_from_masks(empty).tolist() == [[0, 0, 0, 0]]


def test_validation_of_shapes():
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        Masks(np.zeros((1, 1, 2, 2), bool), [1.0])
    with pytest.raises(ValueError, match="2 masks but 1 scores"):
        Masks(np.zeros((2, 3, 3), bool), [1.0])
    single = Masks(np.ones((3, 4), bool), 0.5)  # one HxW mask is promoted to (1, H, W)
    assert single.masks.shape == (1, 3, 4) and single.shape == (3, 4)


def test_select_best_sorted_keep_every_per_mask_field():
    m = two_masks()
    assert m.areas.tolist() == [6, 16]
    best = m.best()
    assert len(best) == 1 and best.scores.tolist() == pytest.approx([0.9])
    by_area = m.sorted("area")
    assert by_area.areas.tolist() == [16, 6]
    assert by_area.stability_scores.tolist() == pytest.approx([0.7, 0.8])
    assert m.select(np.array([False, True])).boxes.tolist() == [[4, 2, 8, 6]]


def test_concat_and_label_raster_and_union():
    m = two_masks()
    both = Masks.concat([m.select(0), m.select(1)])
    assert len(both) == 2 and both.stability_scores.tolist() == pytest.approx([0.8, 0.7])
    labels = both.to_label_raster()
    assert labels.dtype == np.uint32
    assert (labels == 1).sum() == 6 and (labels == 2).sum() == 15  # the smaller mask is on top of the overlap
    reversed_labels = Masks.concat([m.select(1), m.select(0)]).to_label_raster()
    assert np.array_equal(reversed_labels == 1, labels == 2)  # the rule, not the order, decides
    assert both.union().sum() == 21
    with pytest.raises(ValueError):
        Masks.concat([])


def test_empty_result_is_usable():
    empty = Masks(np.zeros((0, 5, 6), bool), [])
    assert len(empty) == 0 and empty.areas.tolist() == []
    assert empty.union().shape == (5, 6) and not empty.union().any()
    assert empty.overlay(np.zeros((5, 6, 3), np.uint8)).shape == (5, 6, 3)
    with pytest.raises(ValueError, match="no masks"):
        empty.best()


def test_overlay_paints_only_masked_pixels():
    m = two_masks()
    image = np.full((6, 8, 3), 100, np.uint8)
    out = m.overlay(image)
    assert (out[~m.union()] == 100).all()
    assert (out[m.union()] != 100).any(axis=-1).all()


def test_show_labels_smoke_results():
    m = two_masks()
    m.smoke = True
    m.prompts = {"points": [(3, 2)], "labels": [1], "boxes": [(2, 1, 5, 3)]}
    ax = m.show(np.zeros((6, 8, 3), np.uint8))
    assert SMOKE_BANNER in ax.get_title()
    assert "scores 0.900, 0.500" in ax.get_title()
    assert "scores" not in m.show(title="custom").get_title()
