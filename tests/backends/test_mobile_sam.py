"""MobileSAM (TinyViT + SAM decoder) against the official inference path, on smoke (random) weights.

MobileSAM's own package is segment-anything plus TinyViT, and its README predicts with
``segment_anything.SamPredictor`` on a ``Sam`` loaded with ``load_state_dict(torch.load("mobile_sam.pt"))``.
That is the reference here (it encodes the scene itself). Ultralytics ships the same model
(``SAM("mobile_sam.pt")``); its loader must read our smoke file, and its ported prompt encoder and mask
decoder must agree with segment-anything's on the same embedding.
"""

import warnings

import numpy as np
import pytest
import torch
from segment_anything import SamAutomaticMaskGenerator, SamPredictor
from segment_anything.modeling import Sam

from helpers.backends.mobile_sam import build_architecture
from helpers.backends.sam import SamModel
from helpers.data import make_synthetic_scene
from helpers.embedding_cache import EmbeddingCache
from helpers.masks import SMOKE_BANNER
from helpers.models import UntrainedWeightsWarning, load_model
from helpers.prompts import to_map_points
from helpers.registry import get_spec

NAME = "mobile_sam"
H, W = 96, 128
POINTS = np.array([[30.0, 40.0], [90.0, 60.0]])
LABELS = np.array([1, 0])
BOX = np.array([20.0, 10.0, 100.0, 80.0])


@pytest.fixture(scope="module")
def weights(smoke_weights):
    return smoke_weights(NAME)


@pytest.fixture(scope="module")
def scene():
    return make_synthetic_scene("water", size=(H, W), seed=5)[0]  # EPSG:32618


@pytest.fixture(scope="module")
def model(weights, scene, tmp_path_factory):
    cache = EmbeddingCache(tmp_path_factory.mktemp("mobile_sam_embeddings"))  # a real encode, not a disk hit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UntrainedWeightsWarning)
        mobile = load_model(NAME, weights=weights, device="cpu", embedding_cache=cache)
    mobile.load_warnings = [str(w.message) for w in caught if w.category is UntrainedWeightsWarning]
    mobile.set_image(scene)
    assert mobile.embedding.source == "computed"
    return mobile


@pytest.fixture(scope="module")
def official_sam(weights):
    """MobileSAM as its README loads it: the architecture, then load_state_dict(torch.load(file))."""
    sam = build_architecture()
    sam.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return sam.eval()


@pytest.fixture(scope="module")
def official(official_sam, scene):
    predictor = SamPredictor(official_sam)
    predictor.set_image(scene.image)
    return predictor


@pytest.fixture(scope="module")
def ultralytics_sam(weights):
    from ultralytics.models.sam.build import build_mobile_sam

    return build_mobile_sam(checkpoint=str(weights))  # ultralytics' own loader, a local file: no download


def assert_same(ours, masks, scores, logits):
    np.testing.assert_array_equal(ours.masks, masks)
    np.testing.assert_array_equal(ours.scores, scores)
    np.testing.assert_array_equal(ours.logits, logits)


# ---- weights ----------------------------------------------------------------------------------------
def test_smoke_checkpoint_has_the_official_format(weights, model, ultralytics_sam):
    state = torch.load(weights, map_location="cpu", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())  # a plain state dict, like mobile_sam.pt
    assert {key.split(".")[0] for key in state} == {"image_encoder", "prompt_encoder", "mask_decoder"}
    spec = get_spec(NAME)
    assert abs(weights.stat().st_size - spec.size) < 1e-3 * spec.size  # same parameters as the release
    ours = model.sam.state_dict()
    theirs = ultralytics_sam.state_dict()
    assert theirs.keys() == ours.keys()
    for key, value in theirs.items():
        assert torch.equal(value, ours[key]), key


def test_smoke_model_announces_itself(model):
    assert isinstance(model, SamModel) and model.smoke
    assert len(model.load_warnings) == 1 and SMOKE_BANNER in model.load_warnings[0]
    assert SMOKE_BANNER in repr(model) and model.predict(points=POINTS[:1]).smoke


@pytest.mark.parametrize(
    "content, message",
    [
        ({"image_encoder.pos_embed": torch.zeros(1, 2, 2, 768)}, "holds SAM vit_b weights, not vit_t"),
        ({"model": {"image_encoder.trunk.pos_embed": torch.zeros(1)}}, "is not a SAM state dict"),
        ({"mask_decoder.foo": torch.zeros(1)}, "is not a SAM vit_t state dict"),
        (b"not a checkpoint", "is not a readable SAM checkpoint"),
    ],
)
def test_files_that_are_not_mobile_sam_checkpoints_are_refused(assert_weights_refused, content, message):
    assert_weights_refused(NAME, content, message, filename="mobile_sam.pt")


# ---- prompting --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind, multimask", [("points", True), ("points", False), ("box", True), ("points+box", False)]
)
def test_predict_equals_official_sam_predictor(model, official, kind, multimask):
    points = POINTS if "points" in kind else None
    labels = LABELS if "points" in kind else None
    box = BOX if "box" in kind else None
    ours = model.predict(points=points, labels=labels, boxes=box, multimask=multimask)
    assert_same(ours, *official.predict(points, labels, box, multimask_output=multimask))
    assert len(ours) == (3 if multimask else 1)


def test_refinement_with_previous_logits_equals_official(model, official):
    first = model.predict(points=POINTS[:1], labels=LABELS[:1])
    best = first.logits[[int(np.argmax(first.scores))]]
    ours = model.predict(points=POINTS, labels=LABELS, mask_input=best, multimask=False)
    assert_same(ours, *official.predict(POINTS, LABELS, mask_input=best, multimask_output=False))


def test_ultralytics_decoder_agrees_on_the_same_embedding(model, ultralytics_sam):
    """Ultralytics' SAMModel ports SAM's prompt encoder/decoder; on our embedding they give our masks.

    Its ``SAM(...).predict`` wraps them in its own pre/post-processing, which is why it is not the
    reference for exact equality; the modules themselves must agree (logits to float rounding).
    """
    wrapped = Sam(ultralytics_sam.image_encoder, ultralytics_sam.prompt_encoder, ultralytics_sam.mask_decoder)
    predictor = SamPredictor(wrapped.eval())
    predictor.features = model.features
    predictor.original_size, predictor.input_size = (H, W), model.embedding.input_size
    predictor.is_image_set = True
    masks, scores, logits = predictor.predict(POINTS, LABELS, BOX)
    ours = model.predict(points=POINTS, labels=LABELS, boxes=BOX)
    np.testing.assert_array_equal(ours.masks, masks)
    np.testing.assert_allclose(ours.scores, scores, rtol=0, atol=1e-5)
    np.testing.assert_allclose(ours.logits, logits, rtol=0, atol=1e-4)


def test_lon_lat_prompts_land_on_the_same_pixels(model, scene):
    pixel = model.predict(points=POINTS, labels=LABELS)
    mapped = model.predict(points=to_map_points(POINTS, scene, "EPSG:4326"), labels=LABELS, crs="EPSG:4326")
    np.testing.assert_allclose(mapped.prompts["points"], POINTS, atol=1e-6)
    np.testing.assert_array_equal(mapped.masks, pixel.masks)


# ---- automatic generation -----------------------------------------------------------------------------
def test_generate_matches_official_generator(model, official_sam, scene):
    params = {"points_per_side": 2, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
    theirs = SamAutomaticMaskGenerator(official_sam, **params).generate(scene.image)
    ours = model.generate(**params)
    assert len(ours) == len(theirs) > 0 and ours.prompt_type == "everything" and ours.smoke
    order = np.argsort([-t["predicted_iou"] for t in theirs], kind="stable")
    ours_sorted = ours.sorted("score")
    for i, j in enumerate(order):
        np.testing.assert_array_equal(ours_sorted.masks[i], theirs[j]["segmentation"])
        assert abs(ours_sorted.scores[i] - theirs[j]["predicted_iou"]) <= 1e-5
