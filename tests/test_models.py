"""load_model / list_models / write_smoke_weights through the real loading path (smoke weights, offline)."""

import socket
import warnings

import pytest
import torch

import helpers
from helpers import weights
from helpers.models import UntrainedWeightsWarning, list_models, load_model, write_smoke_weights
from helpers.smoke import read_smoke_marker


@pytest.fixture(scope="module")
def smoke_vit_b(smoke_weights):
    """Random ViT-B SAM weights in the official state-dict format (the shared copy: 375 MB written once)."""
    return smoke_weights("sam_vit_b")


def test_write_smoke_weights_writes_the_file_it_is_given(tmp_path):
    path = tmp_path / "deeper" / "mobile_sam_seed1.pt"
    assert write_smoke_weights("mobile_sam", path, seed=1) == path and read_smoke_marker(path) == "mobile_sam"
    again = write_smoke_weights("mobile_sam", tmp_path / "again.pt", seed=1)
    other = write_smoke_weights("mobile_sam", tmp_path / "other.pt", seed=2)
    first = torch.load(path, weights_only=True)
    assert all(torch.equal(first[k], v) for k, v in torch.load(again, weights_only=True).items())  # same seed
    assert not all(torch.equal(first[k], v) for k, v in torch.load(other, weights_only=True).items())


@pytest.fixture(scope="module")
def smoke_model(smoke_vit_b):
    with pytest.warns(UntrainedWeightsWarning, match="meaningless"):
        return load_model("sam_vit_b", weights=smoke_vit_b, device="cpu")


def _refused_base() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_list_models_is_the_registry_and_exported():
    assert list_models() == list(weights.REGISTRY)
    assert helpers.list_models is list_models and helpers.load_model is load_model


def test_unknown_name_raises_value_error_listing_names():
    with pytest.raises(ValueError) as info:
        load_model("sam_vit_xl")
    message = str(info.value)
    assert "sam_vit_xl" in message and all(name in message for name in list_models())


def test_missing_weights_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere" / "sam_vit_b.pth"
    with pytest.raises(ValueError, match="weights file not found.*sam_vit_b.pth"):
        load_model("sam_vit_b", weights=missing, device="cpu")


def test_no_weights_offline_fails_with_one_line_and_empty_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SAMRS_CACHE_DIR", str(cache))
    monkeypatch.setenv("SAMRS_WEIGHTS_MIRROR", _refused_base())  # never the real internet in tests
    monkeypatch.delenv("SAMRS_SMOKE")  # a user without smoke mode
    with pytest.raises(weights.WeightsUnavailableError) as info:
        load_model("sam_vit_b", device="cpu")
    message = str(info.value)
    assert "\n" not in message and str(cache / "sam_vit_b_01ec64.pth") in message
    # the three ways forward: by hand, a prefetched folder or mirror, smoke weights
    assert "download that file by hand" in message and "SAMRS_CACHE_DIR" in message and "SAMRS_SMOKE=1" in message
    assert not cache.exists() or list(cache.iterdir()) == []


def test_smoke_file_is_a_real_format_sam_state_dict(smoke_vit_b):
    from segment_anything import sam_model_registry

    state = torch.load(smoke_vit_b, map_location="cpu", weights_only=True)  # plain tensors, no pickled code
    reference = sam_model_registry["vit_b"](checkpoint=None).state_dict()
    assert set(state) == set(reference)
    assert all(state[k].shape == reference[k].shape for k in reference)
    assert read_smoke_marker(smoke_vit_b) == "sam_vit_b"


def test_smoke_weights_load_through_helpers(smoke_vit_b, smoke_model):
    assert smoke_model.smoke is True
    assert smoke_model.checkpoint == smoke_vit_b
    state = torch.load(smoke_vit_b, map_location="cpu", weights_only=True)
    loaded = smoke_model.sam.state_dict()
    for key in ("image_encoder.pos_embed", "mask_decoder.iou_prediction_head.layers.0.weight"):
        assert torch.equal(loaded[key].cpu(), state[key])


def test_smoke_weights_load_through_official_segment_anything(smoke_vit_b, smoke_model):
    from segment_anything import sam_model_registry

    official = sam_model_registry["vit_b"](checkpoint=str(smoke_vit_b))
    ours = smoke_model.sam.state_dict()
    for key, tensor in official.state_dict().items():
        assert torch.equal(tensor, ours[key].cpu()), key


def test_smoke_warning_names_the_model_once_per_weights_file(smoke_vit_b, monkeypatch):
    import helpers.models

    monkeypatch.setattr(helpers.models, "_warned", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = load_model("sam_vit_b", weights=smoke_vit_b, device="cpu")
        load_model("sam_vit_b", weights=smoke_vit_b, device="cpu")  # a second cell of the same notebook
    smoke = [w for w in caught if issubclass(w.category, UntrainedWeightsWarning)]
    assert len(smoke) == 1 and "sam_vit_b" in str(smoke[0].message)
    assert first.smoke  # every result still carries the banner, warned or not


def test_write_smoke_weights_refuses_conventional(tmp_path):
    with pytest.raises(ValueError, match="no weights"):
        write_smoke_weights("conventional", tmp_path / "x.pth")


def test_weights_for_is_none_outside_smoke_mode(monkeypatch):
    from helpers.models import weights_for

    monkeypatch.setenv("SAMRS_SMOKE", "0")
    assert weights_for("sam_vit_b") is None
    monkeypatch.setenv("SAMRS_SMOKE", "1")
    assert weights_for("conventional") is None


def test_smoke_weights_are_shared_written_once_and_atomic(monkeypatch, tmp_path):
    from helpers.models import ensure_smoke_weights, smoke_weights_path, weights_for

    monkeypatch.setenv("SAMRS_HOME", str(tmp_path))
    monkeypatch.setenv("SAMRS_SMOKE", "1")
    path = weights_for("mobile_sam")
    assert path == smoke_weights_path("mobile_sam") == tmp_path / "smoke" / "mobile_sam_smoke.pt"
    assert read_smoke_marker(path) == "mobile_sam"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    stamp = path.stat().st_mtime_ns
    assert ensure_smoke_weights("mobile_sam") == path and path.stat().st_mtime_ns == stamp  # reused
    assert smoke_weights_path("fastsam_s").suffix == ".pt"  # ultralytics requires .pt


def test_smoke_mode_loads_the_shared_smoke_weights_without_being_told(monkeypatch, tmp_path):
    """SAMRS_SMOKE=1 is the newcomer's path: load_model needs no weights= and downloads nothing."""
    monkeypatch.setenv("SAMRS_SMOKE", "1")
    monkeypatch.setenv("SAMRS_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("SAMRS_WEIGHTS_MIRROR", _refused_base())
    model = load_model("mobile_sam", device="cpu")
    assert model.smoke and model.checkpoint == helpers.smoke_weights_path("mobile_sam")
    assert not (tmp_path / "empty-cache").exists()
