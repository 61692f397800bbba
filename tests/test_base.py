"""SegmentationModel: the shape every backend shares."""

import numpy as np
import pytest

from helpers.base import SegmentationModel
from helpers.scene import Scene


class Everything(SegmentationModel):
    """A backend whose masks cover the whole scene, to see what _result does with them."""

    def _set_scene(self, scene):
        self.encoded = scene.shape

    def generate(self):
        h, w = self.require_scene().shape
        return self._result(np.ones((1, h, w), bool), [1.0], boxes=[[0, 0, w, h]], prompt_type="everything")


def test_predict_before_set_image_is_a_clear_error():
    with pytest.raises(RuntimeError, match="call set_image"):
        Everything("x").generate()


def test_results_carry_name_georeferencing_and_smoke_flag():
    scene = Scene(np.zeros((4, 6, 3), np.uint8), crs="EPSG:32618", transform=(1, 0, 0, 0, -1, 0))
    model = Everything("x", smoke=True)
    assert model.set_image(scene) is model and model.encoded == (4, 6)
    result = model.generate()
    assert (result.model, result.crs, result.smoke) == ("x", "EPSG:32618", True)
    assert result.boxes.tolist() == [[0, 0, 6, 4]]


def test_masks_never_cover_nodata():
    valid = np.ones((4, 6), bool)
    valid[:, 4:] = False  # the right two columns are nodata
    model = Everything("x").set_image(Scene(np.zeros((4, 6, 3), np.uint8), valid=valid))
    result = model.generate()
    assert not result.masks[0][:, 4:].any() and result.masks[0][:, :4].all()
    assert result.boxes.tolist() == [[0, 0, 4, 4]]  # recomputed from the clipped mask


def test_unsupported_modes_say_so():
    model = Everything("x").set_image(np.zeros((4, 6, 3), np.uint8))
    with pytest.raises(NotImplementedError, match="prompted prediction"):
        model.predict(points=[(1, 1)])
