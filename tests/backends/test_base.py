"""SegmentationModel: the shape every backend shares."""

import numpy as np
import pytest

from helpers.backends.base import SegmentationModel
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


# ---- build options shared by the backends ---------------------------------------------------------------
def test_pop_backend_options_resolves_and_leaves_the_backend_its_own(tmp_path):
    from helpers.backends.base import pop_backend_options
    from helpers.embedding_cache import EmbeddingCache, default_cache

    options = {"embedding_cache": True, "mask_threshold": 0.5}
    resolved = pop_backend_options(options, None, "m", passthrough=("mask_threshold",))
    assert resolved == {"half": False, "compile": False, "embedding_cache": default_cache()}
    assert options == {"mask_threshold": 0.5}  # the backend's own option is left for it
    own = EmbeddingCache(tmp_path)
    assert pop_backend_options({"embedding_cache": own}, "cpu", "m")["embedding_cache"] is own
    assert pop_backend_options({"embedding_cache": False}, "cpu", "m")["embedding_cache"] is None
    assert pop_backend_options({"half": True}, "cuda:0", "m", gpu_only=("half",), embedding_cache=False) == {
        "half": True
    }


@pytest.mark.parametrize(
    "options, kwargs, error, message",
    [
        ({"half": True}, {}, ValueError, "half=True needs a CUDA device; this model is on cpu"),
        ({"compile": 1}, {}, ValueError, "compile=True needs a CUDA device"),
        ({"halve": True}, {}, ValueError, "unknown option\\(s\\) for m: halve; valid: half, compile, embedding_cache"),
        ({"embedding_cache": 1}, {"gpu_only": ("half",), "embedding_cache": False}, ValueError,
         "unknown option.*valid: half$"),
        ({"embedding_cache": "yes"}, {}, TypeError, "embedding_cache must be None, True, False or an EmbeddingCache"),
    ],
)
def test_pop_backend_options_refuses_in_one_line(options, kwargs, error, message):
    from helpers.backends.base import pop_backend_options

    with pytest.raises(error, match=message) as info:
        pop_backend_options(dict(options), None, "m", **kwargs)
    assert "\n" not in str(info.value)
