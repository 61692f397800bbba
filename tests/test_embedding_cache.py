"""The embedding cache: keys, memory LRU, disk store, and "a new kernel loads instead of re-encoding"."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.embedding_cache import (
    Embedding,
    EmbeddingCache,
    checkpoint_identity,
    default_cache,
    embedding_dir,
    embedding_key,
    image_digest,
    resolve_cache,
)
from helpers.models import load_model

ROOT = Path(__file__).resolve().parents[1]


def _embedding(value: float) -> Embedding:
    return Embedding(torch.full((1, 256, 64, 64), value), (768, 1024), (96, 128))


# ---- keys -----------------------------------------------------------------------------------------
def test_image_digest_follows_content_not_identity(sample_image):
    image = sample_image()
    assert image_digest(image) == image_digest(image.copy())
    changed = image.copy()
    changed[5, 5, 0] ^= 1
    assert image_digest(changed) != image_digest(image)
    # same bytes, different shape -> different image
    assert image_digest(image.reshape(128, 96, 3)) != image_digest(image)


def test_key_depends_on_model_checkpoint_and_variant(sample_image):
    image = sample_image()
    base = embedding_key(image, "sam_vit_b", "ckpt-a", "cpu|fp32")
    assert base == embedding_key(image.copy(), "sam_vit_b", "ckpt-a", "cpu|fp32")
    assert base != embedding_key(image, "sam_vit_l", "ckpt-a", "cpu|fp32")
    assert base != embedding_key(image, "sam_vit_b", "ckpt-b", "cpu|fp32")
    assert base != embedding_key(image, "sam_vit_b", "ckpt-a", "cuda|fp16")


def test_checkpoint_identity_is_content_based(tmp_path):
    a, b, c = tmp_path / "a.pth", tmp_path / "b.pth", tmp_path / "c.pth"
    torch.save({"w": torch.arange(10.0)}, a)
    b.write_bytes(a.read_bytes())
    torch.save({"w": torch.arange(10.0) + 1}, c)
    assert checkpoint_identity(a) == checkpoint_identity(b)
    assert checkpoint_identity(a) != checkpoint_identity(c)


# ---- storage -------------------------------------------------------------------------------------------
def test_memory_lru_and_disk_roundtrip(tmp_path):
    cache = EmbeddingCache(tmp_path, memory_items=2)
    computed = []
    for i in range(3):
        cache.get_or_compute(f"key{i}", lambda i=i: computed.append(i) or _embedding(float(i)))
    assert computed == [0, 1, 2]
    assert list(cache._memory) == ["key1", "key2"]  # key0 evicted from memory ...
    hit = cache.get("key0")  # ... but still on disk
    assert hit.source == "disk" and torch.equal(hit.features, _embedding(0.0).features)
    assert hit.input_size == (768, 1024) and hit.original_size == (96, 128)
    assert cache.get("key2").source == "memory"
    assert not list(tmp_path.rglob(".*tmp*"))  # atomic writes leave no temporary files
    assert cache.stats == {"computed": 3, "memory": 1, "disk": 1}
    assert "key0" in cache and "key2" in cache and "key9" not in cache


def test_extra_is_saved_with_the_features(tmp_path):
    cache = EmbeddingCache(tmp_path)
    embedding = _embedding(1.0)
    embedding.extra = {"layouts": ["contiguous", "channels_last"]}
    cache.get_or_compute("k", lambda: embedding)
    cache.clear_memory()
    assert cache.get("k").extra == {"layouts": ["contiguous", "channels_last"]}


@pytest.mark.parametrize("failure", [RuntimeError("PytorchStreamWriter failed writing file"), OSError(28, "No space")])
def test_a_failing_disk_warns_once_and_predictions_go_on(tmp_path, monkeypatch, failure):
    def full_disk(payload, path):
        Path(path).write_bytes(b"partial")  # a half-written temporary file ...
        raise failure

    monkeypatch.setattr(torch, "save", full_disk)
    cache = EmbeddingCache(tmp_path)
    with pytest.warns(RuntimeWarning, match="embedding cache: cannot write to .*continuing without the disk copy"):
        first = cache.get_or_compute("a", lambda: _embedding(1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ... warned about once, not on every image
        second = cache.get_or_compute("b", lambda: _embedding(2.0))
    assert first.source == second.source == "computed" and float(second.features[0, 0, 0, 0]) == 2.0
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # ... and removed
    assert cache.get("a").source == "memory"


def test_resolve_cache(tmp_path):
    own = EmbeddingCache(tmp_path)
    assert resolve_cache(None) is resolve_cache(True) is default_cache()
    assert resolve_cache(False) is None and resolve_cache(own) is own
    with pytest.raises(TypeError, match="embedding_cache must be None, True, False or an EmbeddingCache, got str"):
        resolve_cache("disk")


def test_corrupt_file_is_recomputed(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.get_or_compute("k", lambda: _embedding(1.0))
    cache.path_for("k").write_bytes(b"garbage")
    cache.clear_memory()
    again = cache.get_or_compute("k", lambda: _embedding(2.0))
    assert again.source == "computed" and float(again.features[0, 0, 0, 0]) == 2.0


def test_disk_store_can_be_disabled(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMRS_HOME", str(tmp_path))
    assert embedding_dir() == tmp_path / "embeddings"
    assert EmbeddingCache().directory == tmp_path / "embeddings"  # resolved at use
    cache = EmbeddingCache(False)
    cache.get_or_compute("k", lambda: _embedding(1.0))
    assert cache.path_for("k") is None and not any(tmp_path.rglob("*.pt"))


# ---- with SAM: a second model, and a new process, load instead of encoding --------------------------------
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
def stub_sam_model(smoke_weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model("sam_vit_b", weights=smoke_weights("sam_vit_b"), device="cpu", embedding_cache=False)
    model.sam.image_encoder = CountingEncoder()
    return model


def _model_with_cache(stub_sam_model, cache):
    from helpers.backends.sam import SamModel

    return SamModel(stub_sam_model.name, stub_sam_model.sam, checkpoint=stub_sam_model.checkpoint, cache=cache)


def test_second_model_loads_from_disk_without_encoding(stub_sam_model, sample_image, tmp_path):
    encoder = stub_sam_model.sam.image_encoder
    first = _model_with_cache(stub_sam_model, EmbeddingCache(tmp_path))
    first.set_image(sample_image())
    assert encoder.calls == 1 and first.embedding.source == "computed"

    second = _model_with_cache(stub_sam_model, EmbeddingCache(tmp_path))  # fresh memory, same disk
    second.set_image(sample_image())
    assert encoder.calls == 1, "the second model re-encoded instead of loading"
    assert second.embedding.source == "disk"
    assert torch.equal(second.features, first.features)
    assert second.embedding.input_size == first.embedding.input_size
    # predictions from the loaded embedding are those of the computed one
    a = first.predict(points=[(30, 40)])
    b = second.predict(points=[(30, 40)])
    np.testing.assert_array_equal(a.masks, b.masks)
    np.testing.assert_array_equal(a.scores, b.scores)
    # and a different image is encoded
    second.set_image(sample_image()[::-1].copy())
    assert encoder.calls == 2


NEW_KERNEL = """
import json, sys, warnings
import numpy as np
from helpers.models import load_model
warnings.simplefilter("ignore")
model = load_model("sam_vit_b", weights=sys.argv[1], device="cpu")
model.sam.image_encoder = None  # any attempt to encode now fails loudly
model.set_image(np.load(sys.argv[2]))
print(json.dumps({"source": model.embedding.source, "sum": float(model.features.double().sum())}))
"""


def test_new_process_loads_embedding_from_disk(stub_sam_model, sample_image, tmp_path):
    home = tmp_path / "home"
    first = _model_with_cache(stub_sam_model, EmbeddingCache(home / "embeddings"))
    first.set_image(sample_image())
    np.save(tmp_path / "image.npy", sample_image())
    env = dict(os.environ, SAMRS_HOME=str(home), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", NEW_KERNEL, str(stub_sam_model.checkpoint), str(tmp_path / "image.npy")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["source"] == "disk"
    assert report["sum"] == pytest.approx(float(first.features.double().sum()), rel=1e-12)


# ---- under hostile use (issue 11): a wrong file on disk is re-encoded, never used ------------------------
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
def test_a_wrong_embedding_file_is_re_encoded(stub_sam_model, sample_image, tmp_path, wrong):
    cache = EmbeddingCache(tmp_path)
    good = _model_with_cache(stub_sam_model, cache).set_image(sample_image())
    key = next(iter(cache._memory))
    path = cache.path_for(key)
    payload = torch.load(path, weights_only=True)
    payload.update(WRONG[wrong])
    torch.save(payload, path)  # what a hostile or broken cache folder holds under the right key
    encoder = stub_sam_model.sam.image_encoder
    calls = encoder.calls
    fresh = _model_with_cache(stub_sam_model, EmbeddingCache(tmp_path)).set_image(sample_image())  # new memory, same disk
    assert encoder.calls == calls + 1 and fresh.embedding.source == "computed"
    assert torch.equal(fresh.features, good.features)
    again = _model_with_cache(stub_sam_model, EmbeddingCache(tmp_path)).set_image(sample_image())
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
