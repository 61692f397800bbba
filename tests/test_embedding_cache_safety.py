"""Embedding cache under hostile use (issue 11): a wrong file on disk is re-encoded, never used."""

import warnings

import pytest
import torch

from helpers.embedding_cache import Embedding, EmbeddingCache
from helpers.models import load_model


class CountingEncoder(torch.nn.Module):
    """Cheap stand-in for the ViT encoder: counts calls, output depends on the input."""

    img_size = 1024

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return torch.full((1, 256, 64, 64), float(x.mean())) + torch.linspace(0, 1, 64)


@pytest.fixture(scope="module")
def stub_model(smoke_weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model("sam_vit_b", weights=smoke_weights("sam_vit_b"), device="cpu", embedding_cache=False)
    model.sam.image_encoder = CountingEncoder()
    return model


def _model(stub_model, cache):
    from helpers.backends.sam import SamModel

    return SamModel(stub_model.name, stub_model.sam, checkpoint=stub_model.checkpoint, cache=cache)


WRONG = {
    "shape": dict(features=torch.zeros(1, 256, 8, 8)),
    "channels": dict(features=torch.zeros(1, 3, 64, 64)),
    "not finite": dict(features=torch.full((1, 256, 64, 64), float("nan"))),
    "integer": dict(features=torch.zeros((1, 256, 64, 64), dtype=torch.int64)),
    "input size": dict(input_size=[5, 7]),
    "original size": dict(original_size=[1, 1]),
    "not a tensor": dict(features=[1.0, 2.0]),
}


@pytest.mark.parametrize("wrong", list(WRONG))
def test_a_wrong_embedding_file_is_re_encoded(stub_model, sample_image, tmp_path, wrong):
    cache = EmbeddingCache(tmp_path)
    good = _model(stub_model, cache).set_image(sample_image())
    key = next(iter(cache._memory))
    path = cache.path_for(key)
    payload = torch.load(path, weights_only=True)
    payload.update(WRONG[wrong])
    torch.save(payload, path)  # what a hostile or broken cache folder holds under the right key
    encoder = stub_model.sam.image_encoder
    calls = encoder.calls
    fresh = _model(stub_model, EmbeddingCache(tmp_path)).set_image(sample_image())  # new memory, same disk
    assert encoder.calls == calls + 1 and fresh.embedding.source == "computed"
    assert torch.equal(fresh.features, good.features)
    again = _model(stub_model, EmbeddingCache(tmp_path)).set_image(sample_image())
    assert again.embedding.source == "disk" and encoder.calls == calls + 1  # the bad file was replaced


def test_the_cache_checks_what_the_caller_expects(tmp_path):
    cache = EmbeddingCache(tmp_path)
    made = Embedding(torch.ones(1, 4, 2, 2), (2, 2), (5, 5))
    cache.get_or_compute("k" * 40, lambda: made)
    cache.clear_memory()
    expected = {"features_shape": (1, 4, 2, 2), "input_size": (2, 2), "original_size": (5, 5)}
    assert cache.get("k" * 40, expected=expected) is not None
    cache.clear_memory()
    assert cache.get("k" * 40, expected={**expected, "original_size": (6, 6)}) is None
