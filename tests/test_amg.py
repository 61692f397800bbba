"""helpers.amg.generate_sam returns the official SamAutomaticMaskGenerator's masks, faster.

Both generators run on the same ``Sam`` module (random-init ViT-B, the real architecture) and the same
image embeddings: each crop is encoded once and the official generator's predictor is patched to reuse
that embedding, so the comparison isolates mask generation. Random weights give near-uniform, noisy
masks that all collapse into one in NMS; to exercise the filters, NMS, crop-edge logic and small-region
clean-up with many distinct masks, most cases add a deterministic "blob" term to the decoder's logits
(both generators see the same decoder).
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import pytest
import torch

from helpers.amg.decoder import decode_multimask, fast_decoder_applies
from helpers.amg.generator import generate_sam
from helpers.amg.params import AMG_DEFAULTS, AMG_PARAM_DOCS, check_amg_params
from helpers.backends.base import RUN_OPTION_DOCS, RUN_OPTIONS

IMAGE_HW = (96, 128)  # small: the 1024x1024 upscaling inside both generators dominates anyway


# ---- fixtures -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sam():
    from segment_anything import sam_model_registry

    torch.manual_seed(0)
    model = sam_model_registry["vit_b"]().eval()
    return model


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(1)
    blocks = rng.integers(0, 255, (IMAGE_HW[0] // 16 + 1, IMAGE_HW[1] // 16 + 1, 3))
    return np.kron(blocks, np.ones((16, 16, 1)))[: IMAGE_HW[0], : IMAGE_HW[1]].astype(np.uint8)


def fake_encode(crop: np.ndarray) -> torch.Tensor:
    """A deterministic smooth (1, 256, 64, 64) embedding per crop (stands in for the ViT encoder)."""
    seed = int(hashlib.sha1(crop.tobytes() + str(crop.shape).encode()).hexdigest()[:8], 16)
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, 256, 8, 8, generator=gen)
    return torch.nn.functional.interpolate(coarse, (64, 64), mode="bilinear", align_corners=False)


class Recording:
    """Wraps ``encode``: each distinct crop is encoded once (``distinct``); ``calls`` counts every call."""

    def __init__(self, encode):
        self.encode, self.cache, self.calls = encode, {}, 0

    def __call__(self, crop):
        self.calls += 1
        key = (crop.shape, hashlib.sha1(crop.tobytes()).hexdigest())
        if key not in self.cache:
            self.cache[key] = self.encode(crop)
        return self.cache[key]

    @property
    def distinct(self) -> int:
        return len(self.cache)


def install_blob_decoder(sam, image_sized: bool = False):
    """Give ``sam``'s decoder structured outputs for testing; returns an undo function.

    The upscaled embedding becomes 32 fixed smooth blobs and the hypernetworks / IoU head turn the
    (real, random-weight) transformer's output tokens into strongly prompt-dependent weights, so each
    prompt yields a different smooth shape: NMS, stability, IoU and crop-edge filters all matter.
    ``image_sized``: the blobs become holes in a positive plateau, so every mask covers most of the crop (what
    untrained weights give on real scenes): the case where restricting upscaling to a mask's region saves nothing.
    """
    decoder = sam.mask_decoder
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32)
    centres, radii = rng.uniform(20, 236, (32, 2)), rng.uniform(8, 60, 32)
    blobs = np.stack([np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)) for (cx, cy), r in zip(centres, radii)])
    basis = torch.as_tensor(12.0 * (0.5 - blobs) if image_sized else 12.0 * (blobs - 0.15), dtype=torch.float32)[None]
    mixing = torch.as_tensor(rng.normal(size=(len(decoder.output_hypernetworks_mlps), 256, 32)), dtype=torch.float32)
    iou_mixing = torch.as_tensor(rng.normal(size=(256, len(decoder.output_hypernetworks_mlps))), dtype=torch.float32)
    patched = [decoder, decoder.output_upscaling, decoder.iou_prediction_head, *decoder.output_hypernetworks_mlps]
    # the prompt-dependent weights amplify float rounding ~100x, so run the official decoder code in both
    # generators here (the reassociated decoder is compared with it in test_fast_decoder_*)
    decoder.forward = functools.partial(type(decoder).forward, decoder)
    decoder.output_upscaling.forward = lambda src: basis.expand(src.shape[0], -1, -1, -1)
    decoder.iou_prediction_head.forward = lambda q: torch.sigmoid(3 * torch.sin(200 * q @ iou_mixing))
    for i, mlp in enumerate(decoder.output_hypernetworks_mlps):
        power = 2 if image_sized else 1  # non-negative weights keep the plateau positive: image-sized masks
        mlp.forward = lambda q, i=i, power=power: torch.sin(200 * q @ mixing[i]) ** power

    def undo():
        for module in patched:
            del module.forward

    return undo


# ---- official runner ------------------------------------------------------------------------------------
def official(sam, image, encode, **params):
    """segment-anything's generator, its predictor patched to take embeddings from ``encode``."""
    from segment_anything import SamAutomaticMaskGenerator

    generator = SamAutomaticMaskGenerator(sam, **params)
    predictor = generator.predictor

    def set_image(crop, image_format="RGB"):
        predictor.reset_image()
        predictor.original_size = crop.shape[:2]
        predictor.input_size = predictor.transform.get_preprocess_shape(*crop.shape[:2], sam.image_encoder.img_size)
        predictor.features = encode(crop)
        predictor.is_image_set = True

    predictor.set_image = set_image
    return generator.generate(image)


def assert_same(ours: dict, theirs: list[dict]):
    """Same count; each official mask matched by one of ours with IoU >= 0.99 and scores to 1e-4."""
    assert len(ours["masks"]) == len(theirs)
    unused = set(range(len(theirs)))
    for i, mask in enumerate(ours["masks"]):
        best, best_iou = None, -1.0
        for j in unused:
            other = theirs[j]["segmentation"]
            union = np.logical_or(mask, other).sum()
            iou = 1.0 if union == 0 else np.logical_and(mask, other).sum() / union
            if iou > best_iou:
                best, best_iou = j, iou
        assert best_iou >= 0.99, f"mask {i} best IoU {best_iou:.4f}"
        ann = theirs[best]
        unused.discard(best)
        assert abs(ours["predicted_iou"][i] - ann["predicted_iou"]) <= 1e-4
        assert abs(ours["stability_score"][i] - ann["stability_score"]) <= 1e-4 or (
            np.isnan(ours["stability_score"][i]) and np.isnan(ann["stability_score"])
        )
        assert ours["areas"][i] == ann["area"]
        np.testing.assert_allclose(ours["bbox_xywh"][i], ann["bbox"], atol=1e-4)
        np.testing.assert_allclose(ours["point_coords"][i], ann["point_coords"][0], atol=1e-3)
        x, y, w, h = ann["crop_box"]
        np.testing.assert_allclose(ours["crop_boxes"][i], [x, y, x + w, y + h])
    # boxes in the Masks convention (exclusive right/bottom) enclose each mask exactly
    for mask, box in zip(ours["masks"], ours["boxes"]):
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        if rows.size:
            assert tuple(box) == (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)


LOW = {"pred_iou_thresh": 0.3, "stability_score_thresh": 0.6}

# Blob-decoder cases, each run once per module by both generators (see ``blob_run``); together they cover
# a batch size that does not divide the grid, no thresholds, crop layers (with a 2x2 grid per crop, to keep
# them cheap), explicit point grids with small-region removal and a non-default stability offset, and the
# official default thresholds.
BLOB_CASES = {
    "batch7-nothresh": {"points_per_side": 4, "points_per_batch": 7, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0},
    "crops": {"points_per_side": 4, "crop_n_layers": 1, "crop_n_points_downscale_factor": 2, **LOW},
    "point-grids-small-regions": {
        "points_per_side": None,
        "point_grids": [np.random.default_rng(3).uniform(0, 1, (16, 2))],
        "stability_score_offset": 2.0,
        "min_mask_region_area": 150,
        "box_nms_thresh": 0.9,
        **LOW,
    },
    "defaults": {"points_per_side": 4},
}


@pytest.fixture(scope="module")
def blob_run(sam, image):
    """``run(case) -> (ours, theirs, ours_encode)`` for a :data:`BLOB_CASES` key, computed once per module.

    The blob decoder is installed only while a case runs, so the other tests see the plain model.
    """
    results = {}

    def run(case):
        if case not in results:
            undo = install_blob_decoder(sam)
            try:
                theirs = official(sam, image, Recording(fake_encode), **BLOB_CASES[case])
                ours_encode = Recording(fake_encode)
                ours = generate_sam(sam, image, ours_encode, progress=False, **BLOB_CASES[case])
            finally:
                undo()
            results[case] = ours, theirs, ours_encode
        return results[case]

    return run


# ---- identity with the official generator -----------------------------------------------------------------
def test_real_encoder_random_weights_match_official(sam, image):
    """Smoke weights end to end: the real ViT-B embedding, raw decoder, no thresholds."""
    from segment_anything import SamPredictor

    predictor = SamPredictor(sam)

    def encode(crop):
        predictor.set_image(crop)
        return predictor.features

    encode = Recording(encode)
    assert fast_decoder_applies(sam)
    params = {"points_per_side": 3, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
    theirs = official(sam, image, encode, **params)
    ours = generate_sam(sam, image, encode, **params)
    assert encode.distinct == 1
    assert len(ours["masks"]) >= 1
    assert_same(ours, theirs)


@pytest.mark.parametrize("upscaling", ["standard", "own modules"])
def test_fast_decoder_matches_official_decoder(sam, upscaling):
    """The reassociated decoder equals MaskDecoder(multimask_output=True) to float rounding, with the
    channels-last upscaling or, when an upscaling module is replaced, through the decoder's own modules."""
    from helpers.amg.decoder import _standard_upscaling

    gelu = sam.mask_decoder.output_upscaling[4]
    if upscaling == "own modules":
        gelu.forward = functools.partial(type(gelu).forward, gelu)
    try:
        assert _standard_upscaling(sam.mask_decoder) == (upscaling == "standard")
        torch.manual_seed(3)
        features = torch.randn(1, 256, 64, 64)
        coords = torch.rand(5, 1, 2, dtype=torch.float64) * 1024
        with torch.no_grad():
            sparse, dense = sam.prompt_encoder(points=(coords, torch.ones(5, 1, dtype=torch.int)), boxes=None, masks=None)
            pe = sam.prompt_encoder.get_dense_pe()
            expected, expected_iou = sam.mask_decoder(features, pe, sparse, dense, multimask_output=True)
            logits, iou, has_masks = decode_multimask(sam.mask_decoder, features, pe, sparse, dense[:1])
    finally:
        vars(gelu).pop("forward", None)
    assert has_masks.all()
    assert logits.shape == expected.shape == (5, 3, 256, 256)
    scale = expected.abs().max()
    assert (logits - expected).abs().max() <= 1e-5 * scale
    assert (iou - expected_iou).abs().max() <= 1e-5


def test_iou_threshold_skips_masks_of_rejected_prompts(sam, image):
    """Prompts whose three candidates all fail pred_iou_thresh get no masks; the others get the official ones,
    and generate_sam with that threshold still equals the official generator."""
    from helpers.amg.generator import _decode_points

    features = fake_encode(image)
    coords = torch.as_tensor(np.random.default_rng(5).uniform(0, 1024, (12, 1, 2)))
    with torch.no_grad():
        sparse, dense = sam.prompt_encoder(points=(coords, torch.ones(12, 1, dtype=torch.int)), boxes=None, masks=None)
        pe = sam.prompt_encoder.get_dense_pe()
        expected, expected_iou = sam.mask_decoder(features, pe, sparse, dense, multimask_output=True)
        thresh = float(expected_iou.max(dim=1).values.median())
        logits, iou, has_masks = decode_multimask(sam.mask_decoder, features, pe, sparse, dense[:1], thresh)
    assert torch.equal(has_masks, (iou > thresh).any(dim=1))
    assert 0 < int(has_masks.sum()) < 12
    assert logits.shape == (int(has_masks.sum()), 3, 256, 256)
    assert (logits - expected[has_masks]).abs().max() <= 1e-5 * expected.abs().max()
    assert (iou - expected_iou).abs().max() <= 1e-5
    # the generator's view: each candidate of a decoded prompt finds its own logits, the others none
    with torch.no_grad():
        flat_logits, flat_iou, rows = _decode_points(sam, features, coords[:, 0].numpy(), thresh)
    assert torch.equal(rows >= 0, has_masks.repeat_interleave(3))
    decoded = torch.nonzero(rows >= 0)[:, 0]
    assert (flat_logits[rows[decoded]] - expected.flatten(0, 1)[decoded]).abs().max() <= 1e-5 * expected.abs().max()

    params = {"points_per_side": 4, "pred_iou_thresh": thresh, "stability_score_thresh": 0.0}
    theirs = official(sam, image, fake_encode, **params)
    assert_same(generate_sam(sam, image, fake_encode, progress=False, **params), theirs)


def blob_logits(rng, hw=(256, 256)) -> torch.Tensor:
    """Low-res logit maps: small, large, edge-touching, empty, full and speckled shapes."""
    yy, xx = np.mgrid[0 : hw[0], 0 : hw[1]].astype(np.float32)

    def blob(cx, cy, r):
        return 8.0 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)) - 4.0

    maps = [blob(128, 128, 3), blob(60, 200, 40), blob(0, 255, 25), blob(250, 5, 2), np.full(hw, -9.0), np.full(hw, 3.0)]
    maps += [np.maximum(blob(*rng.uniform(0, 256, 2), rng.uniform(1, 30)), blob(*rng.uniform(0, 256, 2), 5)) for _ in range(4)]
    maps.append(rng.normal(0, 2, hw))
    return torch.as_tensor(np.stack(maps), dtype=torch.float32)


@pytest.mark.parametrize("crop_hw, offset", [((96, 128), 1.0), ((700, 1500), -0.5), ((512, 512), 2.0), ((1024, 37), 1.0)])
def test_upscale_equals_postprocess_masks(sam, crop_hw, offset):
    """The matrix-form, region-restricted upscaling gives the masks, boxes and stability scores of
    ``Sam.postprocess_masks`` on shapes of every size, including empty and full masks."""
    from segment_anything.utils.transforms import ResizeLongestSide

    from helpers.amg.generator import _upscale_with_model, official_postprocess
    from helpers.amg.upscale import UpscaleGeometry

    assert official_postprocess(sam)
    low_res = blob_logits(np.random.default_rng(8))
    input_hw = ResizeLongestSide.get_preprocess_shape(*crop_hw, sam.image_encoder.img_size)
    geometry = UpscaleGeometry(256, sam.image_encoder.img_size, input_hw, crop_hw)
    with torch.no_grad():
        pieces, boxes, stability = geometry.upscale(low_res, sam.mask_threshold, offset)
        expected_pieces, expected_boxes, expected_stability = _upscale_with_model(sam, low_res, input_hw, crop_hw, sam.mask_threshold, offset)
    assert torch.equal(boxes, expected_boxes)
    np.testing.assert_allclose(stability.numpy(), expected_stability.numpy(), atol=1e-4)
    assert torch.isnan(stability[4]) and torch.isnan(expected_stability[4])  # nothing above any cut
    for piece, expected in zip(pieces, expected_pieces):
        assert piece.shape == expected.shape
        assert (piece != expected).sum() <= 1e-4 * piece.size


def test_patched_postprocess_is_used(sam, image):
    """A model whose postprocess_masks is not segment-anything's own is upscaled by that method."""
    from helpers.amg.generator import official_postprocess

    calls = []
    original = sam.postprocess_masks

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    params = {"points_per_side": 2, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
    theirs = official(sam, image, fake_encode, **params)
    sam.postprocess_masks = spy
    try:
        assert not official_postprocess(sam)
        ours = generate_sam(sam, image, fake_encode, progress=False, **params)
    finally:
        del sam.postprocess_masks
    assert official_postprocess(sam)
    assert calls
    assert_same(ours, theirs)


def test_image_sized_masks_are_upscaled_only_when_they_survive_nms(sam, image, monkeypatch):
    """Thresholds 0 and image-sized masks: exact boxes first, NMS, then only the survivors are upscaled."""
    from helpers.amg.upscale import UpscaleGeometry

    upscaled = []
    real_upscale = UpscaleGeometry.upscale

    def counting(self, low_res, threshold, offset):
        upscaled.append(len(low_res))
        return real_upscale(self, low_res, threshold, offset)

    params = {"points_per_side": 6, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "points_per_batch": 16}
    undo = install_blob_decoder(sam, image_sized=True)
    try:
        theirs = official(sam, image, fake_encode, **params)
        monkeypatch.setattr(UpscaleGeometry, "upscale", counting)
        ours = generate_sam(sam, image, fake_encode, progress=False, **params)
    finally:
        undo()
    assert_same(ours, theirs)
    areas = ours["masks"].reshape(len(ours["masks"]), -1).mean(axis=1)
    assert len(ours["masks"]) and areas.min() > 0.3  # image-sized indeed
    assert sum(upscaled) == len(ours["masks"]) < 36 * 3  # survivors only, not all 108 candidates


def test_patched_decoder_runs_its_own_forward(sam):
    undo = install_blob_decoder(sam)
    try:
        assert not fast_decoder_applies(sam)
    finally:
        undo()
    assert fast_decoder_applies(sam)


@pytest.mark.parametrize("case", ["batch7-nothresh", "crops", "point-grids-small-regions"])
def test_matches_official_with_many_masks(blob_run, case):
    ours, theirs, _ = blob_run(case)
    assert len(theirs) >= 3  # the case must exercise NMS with several distinct masks
    assert_same(ours, theirs)


def test_default_thresholds_match_official(blob_run):
    ours, theirs, _ = blob_run("defaults")
    assert len(theirs) >= 1  # the default thresholds must keep something to compare
    assert_same(ours, theirs)


def test_each_crop_encoded_once(blob_run):
    _, _, encode = blob_run("crops")
    assert encode.calls == encode.distinct == 5  # full image + 2x2 crops, each encoded once


def test_progress_option_controls_the_bar(sam, image, monkeypatch):
    """``progress=False`` (as passed through ``SamModel.generate(**params)``) disables the tqdm bar."""
    import helpers.amg.generator as amg

    disable = []

    def spy(*args, **kwargs):
        disable.append(kwargs["disable"])
        return real_tqdm(*args, **kwargs)

    real_tqdm = amg.tqdm
    monkeypatch.setattr(amg, "tqdm", spy)
    one_point = {"point_grids": [np.array([[0.5, 0.5]])]}
    for progress in (False, True):
        out = generate_sam(sam, image, fake_encode, **one_point, **{"progress": progress})
        assert out["masks"].shape[1:] == IMAGE_HW
    assert disable == [True, None]  # None: tqdm's own choice (shown on a terminal only)


# ---- parameters ------------------------------------------------------------------------------------------
def test_every_official_parameter_is_documented():
    import inspect

    from segment_anything import SamAutomaticMaskGenerator

    signature = inspect.signature(SamAutomaticMaskGenerator.__init__).parameters
    official_defaults = {k: v.default for k, v in signature.items() if k not in ("self", "model", "output_mode")}
    assert official_defaults == AMG_DEFAULTS
    assert set(AMG_PARAM_DOCS) == set(AMG_DEFAULTS)
    # our own options are documented too, but kept out of the official table
    assert set(RUN_OPTION_DOCS) == set(RUN_OPTIONS) and not set(RUN_OPTIONS) & set(AMG_DEFAULTS)
    assert inspect.signature(generate_sam).parameters["progress"].default is RUN_OPTIONS["progress"]
    docs = {**AMG_PARAM_DOCS, **RUN_OPTION_DOCS}.values()
    assert all("\n" not in doc and len(doc) > 40 for doc in docs)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"points_per_sid": 8}, "unknown SAM generate parameter"),
        ({"points_per_side": None}, "exactly one of"),
        ({"points_per_side": 8, "point_grids": [np.zeros((4, 2))]}, "exactly one of"),
        ({"box_nms_thresh": 1.5}, "box_nms_thresh"),
        ({"points_per_batch": 0}, "points_per_batch"),
        ({"point_grids": [np.zeros((4, 2))], "crop_n_layers": 1}, "one (N, 2) array per crop layer"),
        ({"progress": "yes"}, "progress must be True or False"),
    ],
)
def test_bad_parameters_raise_one_line(params, message, sam, image):
    with pytest.raises(ValueError) as error:
        generate_sam(sam, image, fake_encode, **params)  # checked before anything is encoded
    assert message in str(error.value) and "\n" not in str(error.value)


def test_point_grids_alone_replace_default_grid():
    p = check_amg_params({"point_grids": [np.full((5, 2), 0.5)]})
    assert p["points_per_side"] is None and p["point_grids"][0].shape == (5, 2)


def test_bad_image_raises(sam):
    with pytest.raises(ValueError, match="HxWx3"):
        generate_sam(sam, np.zeros((10, 10), np.uint8), fake_encode)
