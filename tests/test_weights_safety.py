"""Weights under hostile use (issue 11): no code from unverified files, bounded downloads."""

import hashlib
import http.server
import pickle
import socket
import threading

import pytest

from helpers import weights
from helpers.errors import WeightsUnavailableError
from helpers.models import load_model
from helpers.registry import REGISTRY, ModelSpec


class _RunsCode:
    """A pickle payload: loading it writes a file (what a hostile checkpoint would do, harmlessly)."""

    def __init__(self, witness):
        self.witness = str(witness)

    def __reduce__(self):
        return exec, (f"open({self.witness!r}, 'w').write('the payload ran')",)


def _hostile_pickle(path, witness, size=None):
    data = pickle.dumps(_RunsCode(witness), protocol=2)
    if size is not None:
        data += b"\0" * (size - len(data))
    path.write_bytes(data)
    return path


def _refused_mirror() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def real_mode(tmp_path, monkeypatch):
    """Registry weights from a cache folder (not smoke mode), with no network."""
    cache = tmp_path / "shared_cache"
    cache.mkdir()
    monkeypatch.setenv("SAMRS_CACHE_DIR", str(cache))
    monkeypatch.setenv("SAMRS_SMOKE", "0")
    monkeypatch.setenv("SAMRS_WEIGHTS_MIRROR", _refused_mirror())
    return cache


def test_a_forged_verified_stamp_does_not_get_a_pickle_loaded(real_mode, tmp_path):
    spec = REGISTRY["fastsam_s"]
    witness = tmp_path / "witness.txt"
    target = _hostile_pickle(real_mode / spec.filename, witness, size=spec.size)
    # the stamp records only public facts (registry hash, size, mtime): anyone can write it
    stat = target.stat()
    (real_mode / f"{spec.filename}.verified").write_text(f"{spec.sha256} {stat.st_size} {stat.st_mtime_ns}\n")
    with pytest.raises(WeightsUnavailableError):  # hashed at load: not the registry file
        load_model("fastsam_s", device="cpu")
    assert not witness.exists()
    assert weights.cache_status("fastsam_s") != "verified"


def test_the_stamp_still_spares_rehashing_weights_only_formats(real_mode, monkeypatch):
    spec = REGISTRY["mobile_sam"]
    target = real_mode / spec.filename
    with open(target, "wb") as out:
        out.truncate(spec.size)
    stat = target.stat()
    (real_mode / f"{spec.filename}.verified").write_text(f"{spec.sha256} {stat.st_size} {stat.st_mtime_ns}\n")
    monkeypatch.setattr(weights, "_hash_file", lambda *a, **k: pytest.fail("re-hashed a weights_only file"))
    assert weights.is_verified("mobile_sam", target)


def test_a_user_supplied_fastsam_file_is_loaded_safely(tmp_path):
    witness = tmp_path / "witness.txt"
    hostile = _hostile_pickle(tmp_path / "finetuned.pt", witness)
    with pytest.raises(ValueError) as info:
        load_model("fastsam_s", weights=hostile, device="cpu")
    assert not witness.exists()
    assert "\n" not in str(info.value) and "safe" in str(info.value)


def test_smoke_fastsam_weights_still_load_with_safe_loading(smoke_weights):
    model = load_model("fastsam_s", weights=smoke_weights("fastsam_s"), device="cpu")
    assert model.smoke


# ---- a mirror that streams without Content-Length ---------------------------------------------------
class _Endless(http.server.BaseHTTPRequestHandler):
    sent = 0

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.end_headers()  # no Content-Length: the body ends when the server closes the connection
        chunk = b"\0" * 65536
        try:
            while type(self).sent < 64 * 2**20:
                self.wfile.write(chunk)
                type(self).sent += len(chunk)
        except OSError:  # the client hung up
            pass


def test_a_mirror_without_content_length_is_cut_at_the_registry_size(tmp_path, monkeypatch):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        payload = b"\0" * 100_000
        spec = ModelSpec("endless", "sam", "vit_b", url="http://unused/", filename="endless.pth", size=len(payload),
                         sha256=hashlib.sha256(payload).hexdigest())
        monkeypatch.setitem(weights.REGISTRY, "endless", spec)
        monkeypatch.setenv("SAMRS_WEIGHTS_MIRROR", f"http://127.0.0.1:{httpd.server_address[1]}")
        monkeypatch.setattr(weights, "CHUNK_BYTES", 65536)
        with pytest.raises(WeightsUnavailableError, match="more than the registry size"):
            weights.ensure_weights("endless", dest=tmp_path / "cache", progress=False)
        assert _Endless.sent < 32 * 2**20  # stopped long before the server gave up
        assert not list((tmp_path / "cache").iterdir())
    finally:
        httpd.shutdown()
        httpd.server_close()
