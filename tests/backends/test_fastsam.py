"""FastSAM backend: smoke weights in the real ultralytics format, and results equal to ultralytics' own.

Every comparison runs the same smoke checkpoint through ``helpers.load_model("fastsam_s", ...)`` and
through a direct ``ultralytics.FastSAM(path).predict(...)`` call with the same settings.
"""

import socket
import sys
import warnings

import numpy as np
import pytest
import torch

import helpers
from helpers.backends.clip import CLIP_INSTALL_HINT, CLIP_URL, build_random_clip
from helpers.data import make_synthetic_scene
from helpers.masks import Masks
from helpers.prompts import to_map_points
from helpers.smoke import read_smoke_marker

IMGSZ = 256
SETTINGS = {"imgsz": IMGSZ, "conf": 0.4, "iou": 0.9, "retina_masks": True, "max_det": 300}


@pytest.fixture(scope="session")
def smoke_path(smoke_weights):
    return smoke_weights("fastsam_s")


@pytest.fixture(scope="session")
def scene():
    # Not square, so a swapped (row, column) shows up.
    return make_synthetic_scene("buildings", size=(200, 240), seed=3)[0]


@pytest.fixture(scope="session")
def model(smoke_path, scene):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the "untrained weights" warning is tested in test_models
        m = helpers.load_model("fastsam_s", weights=smoke_path, device="cpu", imgsz=IMGSZ)
    return m.set_image(scene)


@pytest.fixture(scope="session")
def ultra(smoke_path):
    from ultralytics import FastSAM

    return FastSAM(str(smoke_path))


@pytest.fixture(scope="session")
def direct(ultra, scene):
    """Call ultralytics directly on the scene (BGR, as ultralytics expects numpy images) -> (masks, scores)."""

    def call(**prompts):
        result = ultra.predict(
            np.ascontiguousarray(scene.image[..., ::-1]), device="cpu", verbose=False, **SETTINGS, **prompts
        )[0]
        if len(result) == 0:
            return np.zeros((0, *scene.shape), bool), np.zeros(0, np.float32)
        return result.masks.data.bool().numpy(), result.boxes.conf.numpy()

    return call


@pytest.fixture(scope="session")
def everything(model):
    return model.generate()


def _pixel_in(mask: np.ndarray, not_in: np.ndarray | None = None) -> tuple[int, int]:
    """(column, row) of a pixel inside ``mask`` (and outside ``not_in``)."""
    region = mask if not_in is None else mask & ~not_in
    rows, cols = np.nonzero(region)
    i = len(rows) // 2
    return int(cols[i]), int(rows[i])


# ---- weights -----------------------------------------------------------------------------------------
def test_smoke_checkpoint_is_an_ultralytics_checkpoint(smoke_path, ultra):
    ckpt = torch.load(smoke_path, map_location="cpu", weights_only=False)
    assert {"model", "train_args", "date", "version", "epoch"} <= set(ckpt)
    net = ckpt["model"]
    assert type(net).__name__ == "SegmentationModel" and net.yaml["nc"] == 1
    assert next(net.parameters()).dtype == torch.float16  # as ultralytics' strip_optimizer stores it
    assert read_smoke_marker(smoke_path) is not None
    assert ultra.task == "segment" and len(ultra.model.names) == 1
    assert 10e6 < sum(p.numel() for p in ultra.model.parameters()) < 13e6  # YOLOv8s-seg, like FastSAM-s


def test_model_is_marked_smoke(model, everything):
    assert model.smoke and everything.smoke
    assert isinstance(everything, Masks) and everything.model == "fastsam_s"


def test_wrong_size_is_refused(smoke_path):
    with pytest.raises(ValueError, match="load it as fastsam_s"):
        helpers.load_model("fastsam_x", weights=smoke_path, device="cpu")


def test_non_pt_weights_are_refused(tmp_path):
    path = tmp_path / "weights.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"\.pt"):
        helpers.load_model("fastsam_s", weights=path, device="cpu")


# ---- equality with ultralytics ------------------------------------------------------------------------
def test_everything_equals_ultralytics(everything, direct, scene):
    masks, scores = direct()
    assert len(masks) > 3, "smoke weights should give several masks at conf=0.4"
    assert everything.masks.shape == (len(masks), *scene.shape)
    np.testing.assert_array_equal(everything.masks, masks)
    np.testing.assert_allclose(everything.scores, scores, rtol=1e-6)
    assert everything.crs == scene.crs and everything.transform == scene.transform


def test_points_equal_ultralytics(model, everything, direct):
    fg = _pixel_in(everything.masks[0])
    bg = _pixel_in(everything.masks[1], not_in=everything.masks[0])
    masks, scores = direct(points=[list(fg), list(bg)], labels=[1, 0])
    assert 0 < len(masks) < len(everything), "the prompt should select some masks, not all"
    ours = model.predict(points=[fg, bg], labels=[1, 0], mode="all")
    np.testing.assert_array_equal(ours.masks, masks)
    np.testing.assert_allclose(ours.scores, scores, rtol=1e-6)
    merged = model.predict(points=[fg, bg], labels=[1, 0])  # FastSAM's default: one merged mask
    assert len(merged) == 1 and merged.prompt_type == "points"
    np.testing.assert_array_equal(merged.masks[0], masks.any(axis=0))
    assert not merged.masks[0][bg[1], bg[0]] and merged.masks[0][fg[1], fg[0]]


def test_background_points_only_equal_ultralytics(model, everything, direct):
    bg = _pixel_in(everything.masks[0])
    masks, _ = direct(points=[list(bg)], labels=[0])
    ours = model.predict(points=[bg], labels=[0], mode="all")
    np.testing.assert_array_equal(ours.masks, masks)
    assert not ours.masks[:, bg[1], bg[0]].any()


def test_boxes_equal_ultralytics(model, everything, direct, scene):
    picks = [len(everything) // 2, len(everything) - 1]
    # Masks.boxes are pixel edges (x1/y1 one past the last pixel), the convention of the box prompts and
    # of ultralytics' own box selection (it slices masks[y0:y1, x0:x1]).
    boxes = everything.boxes[picks].astype(int)
    masks, scores = direct(bboxes=boxes.tolist())
    per_box = model.predict(boxes=boxes)  # default for boxes: one mask per box, in box order
    assert len(per_box) == len(boxes) and per_box.prompt_type == "boxes"
    selected = sorted({i for used in per_box.extra["everything_index"] for i in used})
    np.testing.assert_array_equal(everything.masks[selected], masks)
    np.testing.assert_allclose(everything.scores[selected], scores, rtol=1e-6)
    every = model.predict(boxes=boxes, mode="all")
    np.testing.assert_array_equal(every.masks, masks)


def test_xywh_boxes_need_their_own_argument(model, everything, scene):
    box = np.minimum(everything.boxes[2], [scene.width - 1, scene.height - 1] * 2)
    x0, y0, x1, y1 = box.astype(int).tolist()
    xyxy = model.predict(boxes=[(x0, y0, x1, y1)])
    xywh = model.predict(boxes_xywh=[(x0, y0, x1 - x0, y1 - y0)])
    np.testing.assert_array_equal(xyxy.masks, xywh.masks)
    np.testing.assert_array_equal(xywh.prompts["boxes"], [[x0, y0, x1, y1]])
    with pytest.raises(ValueError, match="not both"):
        model.predict(boxes=[(x0, y0, x1, y1)], boxes_xywh=[(x0, y0, 5, 5)])
    with pytest.raises(ValueError, match="negative width"):
        model.predict(boxes_xywh=[(50, 50, -10, 5)])


def test_one_mask_per_point(model, everything):
    a = _pixel_in(everything.masks[0])
    b = _pixel_in(everything.masks[3], not_in=everything.masks[0])
    result = model.predict(points=[a, b], labels=[1, 1], mode="per_prompt")
    assert len(result) == 2
    for mask, (col, row) in zip(result.masks, (a, b), strict=True):
        holding = everything.masks[:, row, col]
        np.testing.assert_array_equal(mask, everything.masks[holding].any(axis=0))
    assert result.scores[0] == everything.scores[everything.masks[:, a[1], a[0]]].max()


def test_map_coordinate_prompts_match_pixels(model, scene, everything):
    point = _pixel_in(everything.masks[0])
    lonlat = to_map_points([point], scene, crs="EPSG:4326")
    by_map = model.predict(points=lonlat, labels=[1], crs="EPSG:4326")
    by_pixel = model.predict(points=[point], labels=[1])
    np.testing.assert_array_equal(by_map.masks, by_pixel.masks)
    np.testing.assert_allclose(by_map.prompts["points"], [point], atol=1e-6)


# ---- everything-pass settings and caching ---------------------------------------------------------------
def test_prompts_reuse_the_cached_everything_pass(model, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("predict must not run the network")

    monkeypatch.setattr(model, "_run_everything", fail)
    assert model.predict(points=[(10, 10)]).timings["predict"] >= 0
    assert model.generate().timings["cached"] is True


def test_everything_pass_leaves_torch_threads_as_they_were(smoke_path, scene):
    """ultralytics' first predict sets torch's process-wide CPU threads to cpu_count - 1 (1 on 2 cores),
    which slowed every SAM model in the same kernel afterwards."""
    import torch
    from ultralytics.utils import NUM_THREADS

    before = torch.get_num_threads()
    wanted = NUM_THREADS + 1  # anything ultralytics would not set
    torch.set_num_threads(wanted)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the "untrained weights" warning is tested in test_models
            fresh = helpers.load_model("fastsam_s", weights=smoke_path, device="cpu", imgsz=IMGSZ)
        fresh.set_image(scene)  # a new ultralytics predictor: the one that sets the threads
        assert torch.get_num_threads() == wanted
    finally:
        torch.set_num_threads(before)


def test_generate_settings_change_the_result(smoke_path, scene, everything):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = helpers.load_model("fastsam_s", weights=smoke_path, device="cpu", imgsz=IMGSZ).set_image(scene)
    strict = m.generate(conf=0.9)
    assert strict.timings["cached"] is False
    assert 0 < len(strict) < len(everything) and (strict.scores >= 0.9).all()
    few = m.generate(max_det=3)
    assert len(few) == 3
    coarse = m.generate(retina_masks=False)
    assert coarse.masks.shape[1:] == scene.shape  # upsampled back to the scene
    assert m.predict(points=[(5, 5)], mode="all").extra["everything_index"] is not None
    for bad in ({"imgsz": 250}, {"conf": 1.5}, {"iou": -0.1}, {"max_det": 0}, {"retina_masks": "yes"}, {"size": 1}):
        with pytest.raises(ValueError):
            m.generate(**bad)


# ---- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "no prompt"),
        ({"points": [(1000, 10)]}, "outside the scene"),
        ({"points": [(10, 10), (20, 20)], "labels": [1]}, "label"),
        ({"points": [(10, 10)], "mode": "best"}, "mode must be"),
        ({"points": [(10, 10)], "mask_input": np.zeros((1, 256, 256))}, "no mask input"),
        ({"points": [(10, 10)], "labels": [0], "mode": "per_prompt"}, "foreground"),
        ({"text": ""}, "text must be"),
        ({"boxes": [(50, 50, 10, 10)]}, "XYXY"),
    ],
)
def test_bad_prompts_raise_one_clear_error(model, kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        model.predict(**kwargs)
    assert "\n" not in str(info.value)


def test_predict_before_set_image(smoke_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = helpers.load_model("fastsam_s", weights=smoke_path, device="cpu")
    with pytest.raises(RuntimeError, match="set_image"):
        m.predict(points=[(1, 1)])


def test_no_network_access(smoke_path, scene, monkeypatch):
    """Loading and running FastSAM must not touch the network (no hub, font, pip or online checks)."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = helpers.load_model("fastsam_s", weights=smoke_path, device="cpu", imgsz=IMGSZ)
    m.set_image(scene).predict(points=[(20, 30)])
    assert calls == []


# ---- text prompts -----------------------------------------------------------------------------------
def test_text_without_clip_says_what_to_install(model, monkeypatch):
    monkeypatch.setitem(sys.modules, "clip", None)  # makes `import clip` fail
    monkeypatch.setattr(model, "clip", None)
    with pytest.raises(ImportError) as info:
        model.predict(text="a roof")
    assert str(info.value) == CLIP_INSTALL_HINT


def test_text_without_clip_weights_says_what_to_download(model, monkeypatch, tmp_path):
    clip = pytest.importorskip("clip", reason="OpenAI CLIP (clip-anytorch) not installed")
    assert hasattr(clip, "load")
    monkeypatch.setenv("SAMRS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("helpers.backends.clip.default_clip_paths", lambda: [tmp_path / "clip" / "ViT-B-32.pt"])
    monkeypatch.setattr(model, "clip", None)
    monkeypatch.setattr(model, "smoke", False)  # real FastSAM weights need the real CLIP weights
    with pytest.raises(FileNotFoundError, match="download") as info:
        model.predict(text="a roof")
    assert CLIP_URL in str(info.value) and "\n" not in str(info.value)


@pytest.fixture(scope="module")
def random_clip():
    pytest.importorskip("clip", reason="OpenAI CLIP (clip-anytorch) not installed")
    return build_random_clip()


def test_smoke_fastsam_scores_text_with_an_untrained_clip_offline(model, monkeypatch, tmp_path):
    """Smoke weights (SAMRS_SMOKE=1, notebooks in CI): text prompts run without CLIP weights, through an
    untrained CLIP of the real architecture (stood in for here by a scorer that prefers the first crop)."""
    import torch

    class FirstCrop:
        def similarity(self, crops, texts):
            return torch.arange(len(crops), 0, -1, dtype=torch.float)[None].repeat(len(texts), 1)

    built = []
    monkeypatch.setattr("helpers.backends.clip.default_clip_paths", lambda: [tmp_path / "clip" / "ViT-B-32.pt"])
    monkeypatch.setattr("helpers.backends.fastsam.build_random_clip", lambda device=None: built.append(device) or FirstCrop())
    monkeypatch.setattr(model, "clip", None)
    assert model.smoke
    result = model.predict(text="a roof")
    assert built and isinstance(model.clip, FirstCrop)
    assert len(result) == 1 and result.smoke and result.prompt_type == "text"


def test_text_prompts_equal_ultralytics_with_a_random_clip(model, ultra, scene, everything, monkeypatch, random_clip):
    scorer = random_clip
    monkeypatch.setattr(model, "clip", scorer)
    texts = ["a red roof", "grass"]
    ours = model.predict(text=texts)
    assert len(ours) == 2 and ours.prompt_type == "text" and ours.prompts["text"] == texts
    bgr = np.ascontiguousarray(scene.image[..., ::-1])
    ultra.predict(bgr, device="cpu", verbose=False, **SETTINGS)  # creates ultra.predictor
    ultra.predictor.clip = scorer  # ultralytics would otherwise download CLIP ViT-B/32
    result = ultra.predict(bgr, device="cpu", verbose=False, texts=texts, **SETTINGS)[0]
    selected = sorted({i for used in ours.extra["everything_index"] for i in used})
    np.testing.assert_array_equal(everything.masks[selected], result.masks.data.bool().numpy())
