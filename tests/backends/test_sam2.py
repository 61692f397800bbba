"""Sam2Model against sam2's own SAM2ImagePredictor / SAM2AutomaticMaskGenerator, on smoke (random) weights.

The reference is built by sam2's official loader (``build_sam2(config, ckpt_path=smoke_file)``) and
encodes the scene itself, so both the checkpoint format and the encode path are checked. Hiera-T is
the only size that runs a forward pass; the larger sizes are written and read back (their smoke files
must be the size of the official checkpoints, i.e. the same architecture).
"""

import importlib.util
import sys
import warnings

import numpy as np
import pytest
import torch

from helpers.backends.sam2 import (
    SAM2_INSTALL_HINT,
    Sam2Model,
    build_architecture,
    describe_state_dict,
    read_sam2_state_dict,
)
from helpers.data import make_synthetic_scene
from helpers.embedding_cache import EmbeddingCache
from helpers.masks import SMOKE_BANNER
from helpers.models import UntrainedWeightsWarning, load_model, write_smoke_weights
from helpers.prompts import to_map_points
from helpers.registry import get_spec
from helpers.smoke import SMOKE_KEY, read_smoke_marker

NAME = "sam2.1_hiera_t"
H, W = 96, 128
POINTS = np.array([[30.0, 40.0], [90.0, 60.0]])
LABELS = np.array([1, 0])
BOX = np.array([20.0, 10.0, 100.0, 80.0])
QUIET_AMG = {"points_per_side": 2, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}


@pytest.fixture(scope="module")
def weights(smoke_weights):
    return smoke_weights(NAME)


@pytest.fixture(scope="module")
def scene():
    return make_synthetic_scene("fields", size=(H, W), seed=3)[0]  # EPSG:32618, 10 m pixels


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    # A private cache: this module really encodes once, whatever earlier runs left on disk.
    return EmbeddingCache(tmp_path_factory.mktemp("sam2_embeddings"))


@pytest.fixture(scope="module")
def model(weights, scene, cache):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UntrainedWeightsWarning)
        sam2 = load_model(NAME, weights=weights, device="cpu", embedding_cache=cache)
    sam2.load_warnings = [str(w.message) for w in caught if w.category is UntrainedWeightsWarning]
    sam2.set_image(scene)
    assert sam2.embedding_source == "computed"
    return sam2


@pytest.fixture(scope="module")
def official_model(weights):
    from sam2.build_sam import build_sam2

    return build_sam2(get_spec(NAME).arch, ckpt_path=str(weights), device="cpu")


@pytest.fixture(scope="module")
def official(official_model, scene):
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    predictor = SAM2ImagePredictor(official_model)
    predictor.set_image(scene.image)
    return predictor


def assert_same(ours, masks, scores, logits):
    np.testing.assert_array_equal(ours.masks, masks.reshape(-1, H, W) > 0)
    np.testing.assert_array_equal(ours.scores, scores.reshape(-1))
    np.testing.assert_array_equal(ours.logits, logits.reshape(-1, 256, 256))


# ---- weights ----------------------------------------------------------------------------------------
def test_smoke_checkpoint_has_the_official_format(weights, model, official_model):
    checkpoint = torch.load(weights, map_location="cpu", weights_only=True)
    assert set(checkpoint) == {"model", SMOKE_KEY}
    assert read_smoke_marker(weights) is not None
    ours = model.sam2.state_dict()
    for key, value in official_model.state_dict().items():  # sam2's own loader read the same file
        assert torch.equal(value, ours[key]), key


def test_smoke_model_announces_itself(model):
    assert len(model.load_warnings) == 1 and SMOKE_BANNER in model.load_warnings[0]
    assert model.smoke and SMOKE_BANNER in repr(model)
    assert model.predict(points=POINTS[:1]).smoke


@pytest.mark.parametrize("name", ["sam2.1_hiera_t", "sam2.1_hiera_s", "sam2.1_hiera_b+", "sam2.1_hiera_l"])
def test_every_size_writes_a_checkpoint_of_the_official_architecture(name, weights, tmp_path):
    path = weights if name == NAME else write_smoke_weights(name, tmp_path / f"{name}.pt")
    spec = get_spec(name)
    # Same parameters as the released checkpoint: its size matches to 0.1 % (pickle overhead differs).
    assert abs(path.stat().st_size - spec.size) < 1e-3 * spec.size
    assert describe_state_dict(read_sam2_state_dict(path, spec)).startswith(name)
    if name == "sam2.1_hiera_s":  # a checkpoint of another size is named in the error
        with pytest.raises(ValueError, match=f"is not a {NAME} checkpoint: it holds sam2.1_hiera_s"):
            load_model(NAME, weights=path, device="cpu")
    if path.parent == tmp_path:
        path.unlink()  # the large ones are 0.3-0.9 GB


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a checkpoint", "torch.load failed"),
        ({"image_encoder.pos_embed": torch.zeros(1, 4)}, "plain state dict, e.g. a SAM 1 or MobileSAM"),
        ({"model": {"image_encoder.trunk.pos_embed": torch.zeros(1)}}, "missing keys"),
    ],
)
def test_files_that_are_not_sam2_checkpoints_are_refused(assert_weights_refused, content, message):
    error = assert_weights_refused(NAME, content, message, filename="weights.pt")
    assert f"not a {NAME} checkpoint" in error


def test_missing_sam2_package_says_how_to_install(weights, monkeypatch):
    for module in [m for m in sys.modules if m == "sam2" or m.startswith("sam2.")]:
        monkeypatch.setitem(sys.modules, module, None)  # "import sam2" now fails as if not installed
    with pytest.raises(ModuleNotFoundError) as info:
        load_model(NAME, weights=weights, device="cpu")
    assert str(info.value) == SAM2_INSTALL_HINT and 'pip install -e ".[sam2]"' in str(info.value)


def test_hydra_configs_survive_repeated_builds_and_other_hydra_users(tmp_path):
    from hydra import initialize_config_dir, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    spec = get_spec(NAME)  # the fixtures have built this config several times already
    (tmp_path / "app.yaml").write_text("x: 1\n")
    try:
        GlobalHydra.instance().clear()  # e.g. a notebook that reset hydra
        build_architecture(spec)
        assert not GlobalHydra.instance().is_initialized()  # left as found
        initialize_config_dir(str(tmp_path), version_base="1.2")  # another hydra app owns the state
        build_architecture(spec)
        sources = [s.path for s in GlobalHydra.instance().config_loader().get_sources()]
        assert str(tmp_path) in sources and "sam2" not in sources  # and gets it back untouched
    finally:
        GlobalHydra.instance().clear()
        initialize_config_module("sam2", version_base="1.2")  # what "import sam2" set up


# ---- prompting --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind, multimask",
    [("points", True), ("points", False), ("box", True), ("points+box", True), ("box", False)],
)
def test_predict_equals_official_predictor(model, official, kind, multimask):
    points = POINTS if "points" in kind else None
    labels = LABELS if "points" in kind else None
    box = BOX if "box" in kind else None
    ours = model.predict(points=points, labels=labels, boxes=box, multimask=multimask)
    reference = official.predict(
        point_coords=points, point_labels=labels, box=box, multimask_output=multimask
    )
    assert_same(ours, *reference)
    assert len(ours) == (3 if multimask else 1)
    assert ours.prompt_type == {"box": "boxes", "points+box": "points+boxes"}.get(kind, kind)


@pytest.mark.parametrize("multimask", [True, False])
def test_several_boxes_with_points_and_mask_input_equal_official_batch(model, official, multimask):
    boxes = np.stack([BOX, BOX / 2])
    previous = model.predict(boxes=boxes, multimask=False).logits  # one (256, 256) per box
    ours = model.predict(points=POINTS, labels=LABELS, boxes=boxes, multimask=multimask, mask_input=previous)
    masks, scores, logits = official.predict(
        point_coords=np.stack([POINTS, POINTS]),  # the official batch form: one row per box
        point_labels=np.stack([LABELS, LABELS]),
        box=boxes,
        mask_input=previous[:, None],
        multimask_output=multimask,
    )
    if multimask:  # one mask per box: its best candidate
        best = scores.argmax(axis=1)
        masks, scores, logits = (a[np.arange(2), best] for a in (masks, scores, logits))
    assert len(ours) == 2 and ours.prompt_type == "points+boxes+mask"
    assert_same(ours, masks, scores, logits)


def test_refinement_with_previous_logits_equals_official(model, official):
    first = model.predict(points=POINTS[:1], labels=LABELS[:1])
    best = int(np.argmax(first.scores))
    ours = model.predict(points=POINTS, labels=LABELS, mask_input=first.logits[best], multimask=False)
    reference = official.predict(POINTS, LABELS, mask_input=first.logits[best][None], multimask_output=False)
    assert_same(ours, *reference)
    assert ours.prompt_type == "points+mask"


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:3857", "EPSG:32618"])
def test_map_coordinate_prompts_land_on_the_same_pixels(model, scene, crs):
    pixel = model.predict(points=POINTS, labels=LABELS)
    mapped = model.predict(points=to_map_points(POINTS, scene, crs), labels=LABELS, crs=crs)
    np.testing.assert_allclose(mapped.prompts["points"], POINTS, atol=1e-6)
    np.testing.assert_array_equal(mapped.masks, pixel.masks)
    np.testing.assert_array_equal(mapped.scores, pixel.scores)
    assert mapped.crs == scene.crs and mapped.transform == scene.transform


def test_map_coordinate_box_in_the_scene_crs(model, scene):
    corners = np.array([scene.transform @ (x, y) for x, y in BOX.reshape(2, 2)])  # pixel edges -> UTM
    mapped = model.predict(boxes=np.r_[corners.min(axis=0), corners.max(axis=0)], crs=scene.crs)
    np.testing.assert_allclose(mapped.prompts["boxes"][0], BOX, atol=1e-6)
    np.testing.assert_array_equal(mapped.masks, model.predict(boxes=BOX).masks)


def test_bad_prompts_give_one_clear_error(model, scene):
    far_away = to_map_points([(W + 50, 10)], scene, "EPSG:4326")
    cases = [
        (dict(points=far_away, crs="EPSG:4326"), "outside the scene"),
        (dict(points=POINTS, mask_input=np.zeros((64, 64))), "mask_input must be low-res logits"),
        (dict(boxes=np.stack([BOX, BOX]), mask_input=np.zeros((3, 256, 256))), "or one per box"),
        (dict(points=POINTS, labels=[1, 2]), "labels must be 1"),
        (dict(), "no prompt given"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            model.predict(**kwargs)
        assert "\n" not in str(info.value)


def test_predict_before_set_image_is_an_error(model):
    fresh = Sam2Model(NAME, model.sam2, cache=False)
    with pytest.raises(RuntimeError, match="set_image"):
        fresh.predict(points=POINTS)


# ---- embedding cache ----------------------------------------------------------------------------------
def test_cached_embeddings_are_reused_not_recomputed(model, weights, scene, cache, monkeypatch):
    expected = model.predict(points=POINTS, labels=LABELS)

    def no_encoding(*args, **kwargs):
        raise AssertionError("the image was encoded again")

    monkeypatch.setattr(Sam2Model, "_encode", no_encoding)
    same_kernel = Sam2Model(NAME, model.sam2, checkpoint=weights, cache=cache).set_image(scene)
    assert same_kernel.embedding_source == "memory"
    again = same_kernel.predict(points=POINTS, labels=LABELS)
    np.testing.assert_array_equal(again.scores, expected.scores)  # bit-identical
    np.testing.assert_array_equal(again.masks, expected.masks)

    cache.clear_memory()  # as in a new kernel: only the disk copy is left
    new_kernel = Sam2Model(NAME, model.sam2, checkpoint=weights, cache=cache).set_image(scene)
    assert new_kernel.embedding_source == "disk"
    from_disk = new_kernel.predict(points=POINTS, labels=LABELS)
    # All three feature levels come back exactly, and so does their memory layout (saved in Embedding.extra,
    # since the decoder rounds differently on channels-last tensors): bit-identical results.
    np.testing.assert_array_equal(from_disk.masks, expected.masks)
    np.testing.assert_array_equal(from_disk.scores, expected.scores)
    np.testing.assert_array_equal(from_disk.logits, expected.logits)


def test_embedding_cache_option_values(model, cache):
    from helpers.embedding_cache import default_cache

    assert Sam2Model(NAME, model.sam2, cache=True).cache is default_cache()
    assert Sam2Model(NAME, model.sam2, cache=None).cache is default_cache()
    assert Sam2Model(NAME, model.sam2, cache=False).cache is None
    assert Sam2Model(NAME, model.sam2, cache=cache).cache is cache


def test_hole_filling_without_the_cuda_extension_warns_and_still_predicts(model, weights, cache):
    has_extension = importlib.util.find_spec("sam2._C") is not None
    filling = Sam2Model(NAME, model.sam2, checkpoint=weights, cache=cache, max_hole_area=8.0)
    filling.set_image(model.scene)
    if has_extension:
        masks = filling.predict(points=POINTS, labels=LABELS)
    else:
        with pytest.warns(UserWarning, match="Skipping the post-processing step"):
            masks = filling.predict(points=POINTS, labels=LABELS)
        np.testing.assert_array_equal(masks.masks, model.predict(points=POINTS, labels=LABELS).masks)
    assert masks.masks.shape == (3, H, W)


# ---- automatic generation -----------------------------------------------------------------------------
def test_generate_equals_official_generator_without_reencoding(model, official_model, scene, monkeypatch):
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

    reference = SAM2AutomaticMaskGenerator(official_model, **QUIET_AMG).generate(scene.image)

    def no_encoding(*args, **kwargs):
        raise AssertionError("generate() encoded the scene again")

    monkeypatch.setattr(model.sam2, "forward_image", no_encoding)
    ours = model.generate(**QUIET_AMG)
    assert len(ours) == len(reference) > 0 and ours.prompt_type == "everything" and ours.smoke
    np.testing.assert_array_equal(ours.masks, np.stack([r["segmentation"] for r in reference]))
    np.testing.assert_array_equal(ours.scores, [r["predicted_iou"] for r in reference])
    np.testing.assert_array_equal(
        ours.stability_scores, np.float32([r["stability_score"] for r in reference])
    )
    np.testing.assert_array_equal(ours.point_coords, np.float32([r["point_coords"][0] for r in reference]))
    x, y, w, h = reference[0]["crop_box"]
    np.testing.assert_array_equal(ours.crop_boxes[0], [x, y, x + w, y + h])


@pytest.mark.parametrize(
    "params, message",
    [
        ({"points_per_sid": 4}, "unknown generate\\(\\) parameter"),
        ({"output_mode": "coco_rle"}, "unknown generate\\(\\) parameter"),
        ({"points_per_side": 4, "point_grids": [np.zeros((1, 2))]}, "not both"),
        ({"points_per_side": None}, "needs point_grids"),
    ],
)
def test_generate_refuses_bad_parameters(model, params, message):
    with pytest.raises(ValueError, match=message):
        model.generate(**params)
