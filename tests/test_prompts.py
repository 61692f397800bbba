"""Prompt validation and map -> pixel conversion (no model needed)."""

import numpy as np
import pytest
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.transform import from_origin

from helpers.prompts import (
    box_window,
    normalise_boxes,
    normalise_labels,
    normalise_mask_input,
    normalise_points,
    pixel_indices,
    prepare_prompts,
    to_map_points,
    to_pixel_boxes,
    to_pixel_points,
)
from helpers.scene import Scene

H, W = 96, 128

# One scene per kind of CRS: geographic degrees, a UTM zone (metres), web mercator (metres).
GEO_SCENES = {
    "EPSG:4326": from_origin(-112.60, 41.30, 0.0005, 0.0004),  # Great Salt Lake, lon/lat
    "EPSG:32618": from_origin(300000.0, 2700000.0, 30.0, 30.0),  # UTM 18N, the Bahamas
    "EPSG:3857": from_origin(-13630000.0, 4560000.0, 12.5, 12.5),  # San Francisco Bay
}
PIXELS = np.array([(0, 0), (5, 7), (64, 48), (127, 95), (100.25, 3.75)])


def _scene(crs=None, transform=None):
    image = np.zeros((H, W, 3), np.uint8)
    return Scene(image=image, crs=None if crs is None else CRS.from_string(crs), transform=transform)


def _affine(transform, cols, rows):
    """Map coordinates of (fractional) pixel positions, point by point with the Affine object."""
    xy = np.array([transform @ (float(c), float(r)) for c, r in zip(cols, rows, strict=True)])
    return xy[:, 0], xy[:, 1]


def _pixel_centres_in(crs_name, transform, target):
    """Map coordinates of the pixel centres of PIXELS, expressed in ``target`` CRS."""
    x, y = _affine(transform, PIXELS[:, 0] + 0.5, PIXELS[:, 1] + 0.5)
    if target != crs_name:
        x, y = Transformer.from_crs(crs_name, target, always_xy=True).transform(x, y)
    return np.column_stack([x, y])


@pytest.mark.parametrize("scene_crs", sorted(GEO_SCENES))
@pytest.mark.parametrize("prompt_crs", ["EPSG:4326", "EPSG:3857", "scene"])
def test_map_points_land_on_the_same_pixel(scene_crs, prompt_crs):
    transform = GEO_SCENES[scene_crs]
    scene = _scene(scene_crs, transform)
    target = scene_crs if prompt_crs == "scene" else prompt_crs
    map_points = _pixel_centres_in(scene_crs, transform, target)
    pixels = to_pixel_points(map_points, target, scene)
    np.testing.assert_allclose(pixels, PIXELS, atol=1e-6)
    # and back: pixel -> map in the prompt CRS
    np.testing.assert_allclose(to_pixel_points(to_map_points(PIXELS, scene, crs=target), target, scene), PIXELS, atol=1e-6)


@pytest.mark.parametrize("scene_crs", sorted(GEO_SCENES))
@pytest.mark.parametrize("pixel_box", [(10, 20, 60, 70), (11, 12, 12, 13), (0, 0, W, H)])
def test_map_box_of_a_pixel_footprint_is_that_footprint(scene_crs, pixel_box):
    """Box corners are pixel edges: the map footprint of pixels 10..59 x 20..69 is the box (10, 20, 60, 70)."""
    transform = GEO_SCENES[scene_crs]
    scene = _scene(scene_crs, transform)
    x, y = _affine(transform, [pixel_box[0], pixel_box[2]], [pixel_box[1], pixel_box[3]])
    map_box = [[min(x), min(y), max(x), max(y)]]
    pixels = to_pixel_boxes(map_box, scene_crs, scene)
    np.testing.assert_allclose(pixels, [pixel_box], atol=1e-6)
    rows, cols = box_window(pixels[0], (H, W))
    assert (cols.start, rows.start, cols.stop, rows.stop) == pixel_box  # exactly those pixels


def test_box_window_rounds_edges_to_the_nearest_pixel_edge():
    assert box_window([10, 20, 12, 21], (H, W)) == (slice(20, 21), slice(10, 12))
    assert box_window([9.9999999, 19.9999999, 12.0000001, 21.0000001], (H, W)) == (slice(20, 21), slice(10, 12))
    assert box_window([-3, -3, W + 3, H + 3], (H, W)) == (slice(0, H), slice(0, W))


def test_pixel_indices_round_to_the_nearest_pixel_centre():
    points = [(10.9999, 3.0), (11.49, 2.51), (-0.5, -0.4), (W - 0.5, H - 0.5), (0.4999, 7.5)]
    rows, cols = pixel_indices(points, (H, W, 3))
    assert cols.tolist() == [11, 11, 0, W - 1, 0] and rows.tolist() == [3, 3, 0, H - 1, 8]
    assert rows.dtype == cols.dtype == np.int64


def test_map_click_on_a_pixel_centre_hits_that_pixel():
    """A lon/lat click on a pixel centre reprojects to a few ULPs off the index, on either side."""
    scene = _scene("EPSG:32618", GEO_SCENES["EPSG:32618"])
    wanted = np.array([(c, r) for c in range(0, W, 3) for r in range(0, H, 7)], float)
    pixels = to_pixel_points(to_map_points(wanted, scene, crs="EPSG:4326"), "EPSG:4326", scene)
    assert (pixels < wanted).any()  # truncation (astype(int)) would land one pixel too far left/up
    rows, cols = pixel_indices(pixels, scene.shape)
    np.testing.assert_array_equal(np.column_stack([cols, rows]), wanted)


@pytest.mark.parametrize("shape", [(256, 256), (1, 256, 256), (3, 256, 256)])
def test_normalise_mask_input_shapes(shape):
    array = normalise_mask_input(np.ones(shape, np.float64), n_boxes=3)
    assert array.dtype == np.float32 and array.shape == (shape[0] if len(shape) == 3 else 1, 256, 256)
    assert normalise_mask_input(None, 3) is None


@pytest.mark.parametrize(
    "value, n_boxes, message",
    [
        (np.zeros((96, 128)), 1, r"mask_input must be low-res logits \(1, 256, 256\)"),
        (np.zeros((2, 256, 256)), 3, r"or one per box, \(3, 256, 256\)\), got shape \(2, 256, 256\)"),
        (np.full((1, 256, 256), np.nan), 1, "NaN or infinite"),
    ],
)
def test_normalise_mask_input_errors(value, n_boxes, message):
    with pytest.raises(ValueError, match=message) as info:
        normalise_mask_input(value, n_boxes)
    assert "\n" not in str(info.value)


def test_lonlat_box_over_utm_scene_covers_its_reprojected_extent():
    scene = _scene("EPSG:32618", GEO_SCENES["EPSG:32618"])
    lonlat = to_map_points([(20, 20), (100, 80)], scene, crs="EPSG:4326")
    box = [lonlat[:, 0].min(), lonlat[:, 1].min(), lonlat[:, 0].max(), lonlat[:, 1].max()]
    pixels = to_pixel_boxes(box, "EPSG:4326", scene)[0]
    # a lon/lat rectangle is slightly rotated in UTM: its envelope (pixel edges) contains both corner
    # pixel centres, which are at edge coordinates (20.5, 20.5) and (100.5, 80.5)
    assert pixels[0] <= 20.5 + 1e-6 and pixels[1] <= 20.5 + 1e-6
    assert pixels[2] >= 100.5 - 1e-6 and pixels[3] >= 80.5 - 1e-6


def test_pixel_prompts_pass_through_unchanged():
    scene = _scene()
    prompts = prepare_prompts(scene, points=[(3, 4), (10.5, 20)], labels=[1, 0], boxes=(1, 2, 30, 40))
    np.testing.assert_array_equal(prompts.points, [[3, 4], [10.5, 20]])
    np.testing.assert_array_equal(prompts.labels, [1, 0])
    np.testing.assert_array_equal(prompts.boxes, [[1, 2, 30, 40]])
    assert prompts.prompt_type == "points+boxes"
    assert set(prompts.as_dict()) == {"points", "labels", "boxes"}


def test_single_point_and_default_labels():
    assert normalise_points((5, 6)).shape == (1, 2)
    np.testing.assert_array_equal(prepare_prompts(_scene(), points=[(1, 1), (2, 2)]).labels, [1, 1])
    np.testing.assert_array_equal(normalise_labels([True, False], 2), [1, 0])


# ---- one clear error per bad input -------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "no prompt given"),
        ({"points": []}, "points is empty"),
        ({"boxes": []}, "boxes is empty"),
        ({"labels": [1]}, "labels given without points"),
        ({"points": [(1, 2)], "labels": [2]}, "labels must be 1 (foreground) or 0 (background)"),
        ({"points": [(1, 2)], "labels": [0.5]}, "labels must be 1"),
        ({"points": [(1, 2)], "labels": ["a"]}, "labels must be 1"),
        ({"points": [(1, 2), (3, 4)], "labels": [1]}, "2 point(s) but 1 label(s)"),
        ({"points": [(1, np.nan)]}, "NaN"),
        ({"boxes": [(1, 2, np.inf, 4)]}, "NaN"),
        ({"points": [(1, 2, 3)]}, "shape (N, 2)"),
        ({"boxes": [(1, 2, 3)]}, "shape (B, 4)"),
        ({"boxes": [(10, 2, 3, 4)]}, "not XYXY"),
        ({"points": [("a", "b")]}, "points must be numbers"),
        ({"points": [(W + 5, 10)]}, "outside the scene: columns 0..127, rows 0..95"),
        ({"points": [(-3, 10)]}, "outside the scene"),
        ({"boxes": [(0, 0, 10, H + 1)]}, "box 0 (0, 0, 10, 97) [pixels] is outside"),
        ({"points": [(1, 2)], "crs": "EPSG:4326"}, "scene has no CRS/transform"),
    ],
)
def test_bad_prompts_raise_one_clear_error(kwargs, message):
    with pytest.raises((ValueError, TypeError)) as info:
        prepare_prompts(_scene(), **kwargs)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_outside_error_names_bounds_in_pixels_and_prompt_crs():
    scene = _scene("EPSG:32618", GEO_SCENES["EPSG:32618"])
    lonlat_far_away = [(2.35, 48.85)]  # Paris
    with pytest.raises(ValueError) as info:
        to_pixel_points(lonlat_far_away, "EPSG:4326", scene)
    text = str(info.value)
    assert "columns 0..127, rows 0..95 (pixels)" in text
    assert "(EPSG:4326)" in text and "[EPSG:4326]" in text
    # the lon/lat bounds quoted are those of the scene (west of Greenwich, north of the equator)
    lon_part = text.split("; x ")[1]
    assert float(lon_part.split("..")[0]) < 0


@pytest.mark.parametrize("scene_crs", sorted(GEO_SCENES))
def test_outside_error_quotes_scene_bounds_in_lonlat(scene_crs):
    scene = _scene(scene_crs, GEO_SCENES[scene_crs])
    with pytest.raises(ValueError) as info:
        to_pixel_points([(150.0, -30.0)], "EPSG:4326", scene)  # Australia: outside every test scene
    lon_text, lat_text = str(info.value).split("; x ")[1].split(", y ")
    west, east = (float(v) for v in lon_text.split(".."))
    south, north = (float(v) for v in lat_text.split(" (")[0].split(".."))
    corners = to_map_points([(-0.5, -0.5), (W - 0.5, H - 0.5)], scene, crs="EPSG:4326")  # quoted to 6 digits
    assert west == pytest.approx(corners[:, 0].min(), abs=2e-3) and east == pytest.approx(corners[:, 0].max(), abs=2e-3)
    assert south == pytest.approx(corners[:, 1].min(), abs=2e-3) and north == pytest.approx(corners[:, 1].max(), abs=2e-3)


def test_unknown_crs_is_one_line():
    scene = _scene("EPSG:4326", GEO_SCENES["EPSG:4326"])
    with pytest.raises(ValueError, match="unknown crs"):
        to_pixel_points([(0, 0)], "EPSG:999999", scene)


def test_normalise_boxes_accepts_one_box():
    np.testing.assert_array_equal(normalise_boxes((1, 2, 3, 4)), [[1, 2, 3, 4]])


def test_box_may_end_on_the_scene_edge_like_masks_boxes():
    import numpy as np

    from helpers.masks import Masks
    from helpers.prompts import to_pixel_boxes
    from helpers.scene import Scene

    scene = Scene(np.zeros((10, 20, 3), np.uint8))
    mask = np.zeros((10, 20), bool)
    mask[4:, 15:] = True  # touches the right and bottom edges
    box = Masks(mask, [1.0]).boxes
    assert to_pixel_boxes(box, None, scene).tolist() == [[15.0, 4.0, 20.0, 10.0]]
    assert to_pixel_boxes([[-1e-9, 0, 20 + 1e-9, 10]], None, scene).tolist() == [[0, 0, 20, 10]]  # float noise
    for outside in ([0, 0, 20.5, 10], [-0.25, 0, 5, 5], [0, -0.25, 5, 5]):
        with pytest.raises(ValueError, match="outside the scene.*box edges run x 0..20, y 0..10"):
            to_pixel_boxes([outside], None, scene)
