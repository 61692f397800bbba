"""SamModel against segment-anything's own SamPredictor, on smoke (random) ViT-B weights.

The ViT-B encoder is the slow part (~10 s per image on CPU), so one session-scoped model encodes one
small image once; the official predictor is handed the same embedding, and the encoder's *input*
pipeline is compared separately with a recording stub in place of the ViT.
"""

import sys
import types
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from rasterio.crs import CRS
from rasterio.transform import from_origin
from segment_anything import SamPredictor, sam_model_registry

from helpers.backends.sam import SamModel
from helpers.embedding_cache import EmbeddingCache, default_cache
from helpers.models import load_model
from helpers.scene import Scene
from helpers.smoke import read_smoke_marker

H, W = 96, 128
POINTS = np.array([[30, 40], [90, 60]])
LABELS = np.array([1, 0])
BOX = np.array([20, 10, 100, 80])


@pytest.fixture(scope="session")
def weights(smoke_weights):
    return smoke_weights("sam_vit_b")


@pytest.fixture(scope="session")
def model(weights, sample_image, tmp_path_factory):
    # A private cache folder: this session really encodes once, whatever earlier runs left on disk.
    cache = EmbeddingCache(tmp_path_factory.mktemp("embeddings"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sam = load_model("sam_vit_b", weights=weights, device="cpu", embedding_cache=cache)
    sam.set_image(sample_image())
    assert sam.embedding.source == "computed"
    return sam


@pytest.fixture(scope="session")
def official(model):
    """segment-anything's SamPredictor on the same Sam module, given our embedding (no second encode)."""
    predictor = SamPredictor(model.sam)
    predictor.original_size = (H, W)
    predictor.input_size = model.embedding.input_size
    predictor.features = model.features
    predictor.is_image_set = True
    return predictor


def assert_same(ours, masks, scores, logits):
    assert ours.masks.shape == masks.shape
    np.testing.assert_array_equal(ours.masks, masks)
    np.testing.assert_array_equal(ours.scores, scores)
    np.testing.assert_array_equal(ours.logits, logits)


# ---- weights --------------------------------------------------------------------------------------
def test_smoke_checkpoint_is_a_real_sam_state_dict(weights, model):
    assert read_smoke_marker(weights) is not None
    assert model.smoke and isinstance(model, SamModel)
    official_sam = sam_model_registry["vit_b"](checkpoint=str(weights))  # the official loader accepts it
    ours = model.sam.state_dict()
    for key, value in official_sam.state_dict().items():
        assert torch.equal(value, ours[key]), key


@pytest.mark.parametrize(
    "content, message",
    [
        ({"image_encoder.pos_embed": torch.zeros(1, 2, 2, 1024)}, "holds SAM vit_l weights, not vit_b; load it as sam_vit_l"),
        ({"model": {"a": 1}}, "is not a SAM state dict"),
        ({"mask_decoder.foo": torch.zeros(1)}, "is not a SAM vit_b state dict"),
        (b"not a checkpoint", "is not a readable SAM checkpoint"),
    ],
)
def test_non_sam_files_are_refused(assert_weights_refused, content, message):
    assert_weights_refused("sam_vit_b", content, message)


def test_embedding_cache_option_values(model, tmp_path):
    own = EmbeddingCache(tmp_path)
    assert SamModel("sam_vit_b", model.sam, cache=True).cache is default_cache()
    assert SamModel("sam_vit_b", model.sam).cache is default_cache()
    assert SamModel("sam_vit_b", model.sam, cache=False).cache is None
    assert SamModel("sam_vit_b", model.sam, cache=own).cache is own
    with pytest.raises(TypeError, match="embedding_cache must be None, True, False or an EmbeddingCache"):
        SamModel("sam_vit_b", model.sam, cache=str(tmp_path))


# ---- encoding ---------------------------------------------------------------------------------------
class RecordingEncoder(torch.nn.Module):
    """Stands in for the ViT: records what it is fed, returns zeros of the right shape."""

    img_size = 1024

    def __init__(self):
        super().__init__()
        self.inputs = []

    def forward(self, x):
        self.inputs.append(x.clone())
        return torch.zeros(1, 256, 64, 64)


@contextmanager
def swapped_encoder(sam, encoder):
    """Temporarily replace sam.image_encoder (monkeypatch cannot restore nn.Module children)."""
    original = sam.image_encoder
    sam.image_encoder = encoder
    try:
        yield encoder
    finally:
        sam.image_encoder = original


@pytest.mark.parametrize("shape", [(H, W), (130, 70)])
def test_encoder_input_matches_official_set_image(model, shape):
    image = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    with swapped_encoder(model.sam, RecordingEncoder()) as recorder:
        ours = SamModel("sam_vit_b", model.sam, cache=False).embed(image)
        predictor = SamPredictor(model.sam)
        predictor.set_image(image)
    assert len(recorder.inputs) == 2
    assert torch.equal(recorder.inputs[0], recorder.inputs[1])
    assert ours.input_size == predictor.input_size and ours.original_size == predictor.original_size


def test_encode_returns_the_cached_embedding(model, sample_image):
    features = model.encode(sample_image())
    assert features.shape == (1, 256, 64, 64)
    assert torch.equal(features, model.features)


def test_predict_never_reencodes(model, sample_image, monkeypatch):
    calls = []
    real_forward = model.sam.image_encoder.forward
    monkeypatch.setattr(model.sam.image_encoder, "forward", lambda x: calls.append(1) or real_forward(x))
    model.set_image(sample_image())  # same content: from the memory cache
    model.predict(points=POINTS, labels=LABELS)
    model.predict(boxes=BOX, multimask=False)
    assert calls == []
    assert model.embedding.source == "memory" and model.timings["encode"] == 0.0


# ---- exact agreement with SamPredictor ----------------------------------------------------------------
@pytest.mark.parametrize("multimask", [True, False])
def test_points_match_official(model, official, multimask):
    ours = model.predict(points=POINTS, labels=LABELS, multimask=multimask)
    assert_same(ours, *official.predict(POINTS, LABELS, multimask_output=multimask))
    n = 3 if multimask else 1
    # what a Masks result carries besides the masks
    assert ours.masks.dtype == bool and ours.masks.shape == (n, H, W) and ours.logits.shape == (n, 256, 256)
    np.testing.assert_array_equal(ours.prompts["points"], POINTS)
    np.testing.assert_array_equal(ours.prompts["labels"], LABELS)
    assert {"set_image", "encode", "predict"} <= set(ours.timings)
    assert ours.smoke and ours.model == "sam_vit_b" and ours.prompt_type == "points"
    assert 0 < ours.masks.sum() < ours.masks.size  # not trivially empty or full


def test_box_matches_official(model, official):
    assert_same(model.predict(boxes=BOX), *official.predict(box=BOX))


def test_points_and_box_match_official(model, official):
    ours = model.predict(points=POINTS, labels=LABELS, boxes=BOX)
    assert_same(ours, *official.predict(POINTS, LABELS, box=BOX))
    assert ours.prompt_type == "points+boxes"


def test_mask_input_refinement_matches_official(model, official):
    first = model.predict(points=POINTS[:1], labels=LABELS[:1])
    previous = first.logits[[int(np.argmax(first.scores))]]
    ours = model.predict(points=POINTS, labels=LABELS, mask_input=previous, multimask=False)
    theirs = official.predict(POINTS, LABELS, mask_input=previous, multimask_output=False)
    assert_same(ours, *theirs)
    # the previous logits really changed the answer (the mask input is not ignored)
    without = model.predict(points=POINTS, labels=LABELS, multimask=False)
    assert not np.array_equal(without.logits, ours.logits)


@pytest.mark.parametrize("multimask", [False, True])
def test_several_boxes_match_official_batch(model, official, multimask):
    boxes = np.array([[5, 5, 60, 50], [40, 30, 120, 90], [0, 0, 127, 95]])
    ours = model.predict(boxes=boxes, multimask=multimask)
    box_t = torch.as_tensor(official.transform.apply_boxes(boxes, (H, W)), dtype=torch.float)
    masks, scores, low = official.predict_torch(None, None, boxes=box_t, multimask_output=multimask)
    best = scores.argmax(dim=1) if multimask else torch.zeros(len(boxes), dtype=torch.long)
    rows = torch.arange(len(boxes))
    assert len(ours) == len(boxes)
    assert_same(ours, masks[rows, best].numpy(), scores[rows, best].numpy(), low[rows, best].numpy())


# ---- map coordinates --------------------------------------------------------------------------------
GEO = {
    "EPSG:4326": from_origin(-112.60, 41.30, 0.0005, 0.0004),
    "EPSG:32612": from_origin(370000.0, 4570000.0, 30.0, 30.0),
    "EPSG:3857": from_origin(-13630000.0, 4560000.0, 12.5, 12.5),
}


@pytest.fixture(scope="module")
def pixel_results(model, sample_image):
    model.set_image(sample_image())
    return model.predict(points=POINTS, labels=LABELS), model.predict(boxes=BOX)


@pytest.mark.parametrize("scene_crs", sorted(GEO))
def test_map_prompts_give_the_pixel_prompt_masks(model, sample_image, pixel_results, scene_crs):
    from helpers.prompts import to_map_points

    scene = Scene(image=sample_image(), crs=CRS.from_string(scene_crs), transform=GEO[scene_crs])
    model.set_image(scene)  # same pixels -> same embedding, from memory
    assert model.embedding.source == "memory"
    by_points, by_box = pixel_results
    # points as lon/lat, whatever the scene CRS
    lonlat = to_map_points(POINTS, scene, crs="EPSG:4326")
    by_lonlat = model.predict(points=lonlat, labels=LABELS, crs="EPSG:4326")
    np.testing.assert_allclose(by_lonlat.prompts["points"], POINTS, atol=1e-6)
    np.testing.assert_array_equal(by_lonlat.masks, by_points.masks)
    assert by_lonlat.crs == scene.crs and by_lonlat.transform == scene.transform
    # a box in the scene's own CRS (a lon/lat rectangle is not a pixel rectangle on a projected grid);
    # box corners are pixel edges, which the affine transform maps directly
    corners = np.array([scene.transform @ (x, y) for x, y in BOX.reshape(2, 2)])
    map_box = [*corners.min(axis=0), *corners.max(axis=0)]
    by_map_box = model.predict(boxes=map_box, crs=scene_crs)
    np.testing.assert_allclose(by_map_box.prompts["boxes"], [BOX], atol=1e-6)
    np.testing.assert_array_equal(by_map_box.masks, by_box.masks)


# ---- bad input --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((H, W, 3), np.float32), "image must be uint8"),
        (np.zeros((H, W), np.uint8), "image must be HxWx3"),
        (np.zeros((H, W, 4), np.uint8), "image must be HxWx3"),
        ([[1, 2, 3]], "image must be a numpy array"),
    ],
)
def test_bad_images_raise(model, image, message):
    with pytest.raises((TypeError, ValueError), match=message):
        model.set_image(image)


def test_predict_errors(model, sample_image):
    model.set_image(sample_image())
    with pytest.raises(ValueError, match="no prompt given"):
        model.predict()
    with pytest.raises(ValueError, match="outside the scene: columns 0..127, rows 0..95"):
        model.predict(points=[(500, 10)])
    with pytest.raises(ValueError, match=r"mask_input must be low-res logits \(1, 256, 256\)"):
        model.predict(points=POINTS, labels=LABELS, mask_input=np.zeros((H, W)))
    with pytest.raises(ValueError, match="crs='EPSG:4326' given but the scene has no CRS"):
        model.predict(points=POINTS, labels=LABELS, crs="EPSG:4326")


def test_predict_before_set_image(model):
    fresh = SamModel("sam_vit_b", model.sam, cache=False)
    with pytest.raises(RuntimeError, match="call set_image"):
        fresh.predict(points=POINTS)


# ---- automatic generation ----------------------------------------------------------------------------
def test_generate_wraps_amg_output(model, sample_image, monkeypatch):
    seen = {}

    def fake_generate_sam(sam, image, encode, **params):
        seen.update(sam=sam, shape=image.shape, params=params, features=encode(image))
        masks = np.zeros((2, H, W), bool)
        masks[0, :10, :10] = masks[1, 20:30, 20:40] = True
        return {
            "masks": masks,
            "predicted_iou": np.array([0.9, 0.8]),
            "stability_scores": np.array([0.95, 0.85]),
            "point_coords": np.array([[5.0, 5.0], [30.0, 25.0]]),
            "crop_boxes": np.array([[0, 0, W, H]] * 2, float),
        }

    monkeypatch.setitem(sys.modules, "helpers.amg", types.SimpleNamespace(generate_sam=fake_generate_sam))
    model.set_image(sample_image())
    result = model.generate(points_per_side=4)
    assert seen["sam"] is model.sam and seen["params"] == {"points_per_side": 4}
    assert torch.equal(seen["features"], model.features)
    assert len(result) == 2 and result.prompt_type == "everything" and result.smoke
    np.testing.assert_allclose(result.stability_scores, [0.95, 0.85])
    np.testing.assert_array_equal(result.boxes[1], [20, 20, 40, 30])
