"""Scene: the image a model sees and its georeferencing."""

import numpy as np
import pytest
from rasterio.transform import from_origin

from helpers.raster import as_scene
from helpers.scene import Scene, check_rgb_uint8


def geo_scene():
    image = np.arange(10 * 20 * 3, dtype=np.uint8).reshape(10, 20, 3)
    valid = np.ones((10, 20), bool)
    valid[0, 0] = False
    return Scene(image, crs="EPSG:4326", transform=from_origin(-112.6, 41.3, 0.001, 0.002), valid=valid)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((4, 4), np.uint8), "HxWx3"),
        (np.zeros((4, 4, 4), np.uint8), "HxWx3"),
        (np.zeros((4, 4, 3), np.uint16), "must be uint8"),
        (np.zeros((1, 4, 3), np.uint8), "too small"),
    ],
)
def test_bad_images_give_one_clear_error(image, message):
    with pytest.raises(ValueError, match=message):
        check_rgb_uint8(image)


def test_as_scene_accepts_arrays_scenes_and_rejects_other_types():
    array = np.zeros((4, 5, 3), np.uint8)
    scene = as_scene(array)
    assert scene.shape == (4, 5) and not scene.is_georeferenced and scene.bounds is None
    assert as_scene(scene) is scene
    with pytest.raises(TypeError, match="numpy array or a file path"):
        as_scene([[1, 2, 3]])


def test_bounds_are_left_bottom_right_top():
    assert geo_scene().bounds == pytest.approx((-112.6, 41.28, -112.58, 41.3))


def test_crop_shifts_georeferencing_and_clips():
    scene = geo_scene()
    part = scene.crop(5, 2, 4, 3)
    assert part.shape == (3, 4)
    assert (part.image == scene.image[2:5, 5:9]).all()
    assert part.transform @ (0, 0) == pytest.approx(scene.transform @ (5, 2))
    edge = scene.crop(-3, 8, 6, 10)  # clipped to the scene
    assert edge.shape == (2, 3)
    assert scene.crop(0, 0, 2, 2).valid[0, 0] == np.False_
    with pytest.raises(ValueError, match="outside"):
        scene.crop(30, 0, 5, 5)
    with pytest.raises(ValueError, match="positive"):
        scene.crop(0, 0, 0, 5)
