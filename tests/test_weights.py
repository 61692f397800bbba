"""Registry completeness and the real download path, served from a local HTTP server (never the internet)."""

import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers import weights
from helpers.errors import WeightsUnavailableError
from helpers.registry import ModelSpec

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = os.urandom(300_000) + b"sam-rs test payload"  # several chunks at the chunk size set below
SHA = hashlib.sha256(PAYLOAD).hexdigest()
MD5 = hashlib.md5(PAYLOAD).hexdigest()


# ---- a tiny local server: /good (payload), /short (announces more than it sends), /slow (stalls) -------
class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        if self.path.endswith("/missing.bin"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        if "/short/" in self.path:  # connection dropped half-way
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            return
        if "/slow/" in self.path:  # trickles for a long time: killed or timed out by the tests
            try:
                for start in range(0, len(PAYLOAD), 4096):
                    self.wfile.write(PAYLOAD[start : start + 4096])
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:  # the client gave up (that is the point of these tests)
                pass
            return
        self.wfile.write(PAYLOAD)


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("SAMRS_CACHE_DIR", str(folder))
    monkeypatch.delenv("SAMRS_WEIGHTS_MIRROR", raising=False)
    monkeypatch.setattr(weights, "CHUNK_BYTES", 65536)
    return folder


def _fake(monkeypatch, url, name="fake", **integrity):
    fields = {"size": len(PAYLOAD), "sha256": SHA, "md5": MD5} | integrity
    spec = ModelSpec(name, "sam", "vit_b", url=url, filename="fake_weights.pth", **fields)
    monkeypatch.setitem(weights.REGISTRY, name, spec)
    return spec


def _refused_url() -> str:
    """An URL on 127.0.0.1 whose port nobody listens on (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/fake_weights.pth"


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---- registry ------------------------------------------------------------------------------------------
def test_conventional_has_nothing_to_download(cache):
    with pytest.raises(ValueError, match="no weights"):
        weights.ensure_weights("conventional")


# ---- downloads -----------------------------------------------------------------------------------------
def test_download_is_verified_stamped_and_reused(server, cache, monkeypatch):
    _fake(monkeypatch, f"{server}/good/fake_weights.pth")
    path = weights.ensure_weights("fake", progress=False)
    assert path == cache / "fake_weights.pth"
    assert path.read_bytes() == PAYLOAD
    assert weights.is_verified("fake", path) and weights.cache_status("fake") == "verified"
    assert _files(cache) == ["fake_weights.pth", "fake_weights.pth.verified"]  # no temp file left
    # second call: no network needed (the server URL now points nowhere)
    _fake(monkeypatch, _refused_url())
    assert weights.ensure_weights("fake", progress=False) == path


def test_sha256_prefix_only_entry_is_checked(server, cache, monkeypatch):
    _fake(monkeypatch, f"{server}/good/fake_weights.pth", sha256=None, md5=None, sha256_prefix=SHA[:8])
    assert weights.ensure_weights("fake", progress=False).read_bytes() == PAYLOAD
    (cache / "fake_weights.pth").unlink()
    _fake(monkeypatch, f"{server}/good/fake_weights.pth", sha256=None, md5=None, sha256_prefix="deadbeef")
    with pytest.raises(WeightsUnavailableError, match="sha256 mismatch"):
        weights.ensure_weights("fake", progress=False)
    assert not (cache / "fake_weights.pth").exists()


@pytest.mark.parametrize(
    "integrity, message",
    [({"sha256": "0" * 64}, "sha256 mismatch"), ({"md5": "0" * 32}, "md5 mismatch"),
     ({"size": len(PAYLOAD) + 1}, "registry expects")],
)
def test_corrupt_download_leaves_no_file(server, cache, monkeypatch, integrity, message):
    _fake(monkeypatch, f"{server}/good/fake_weights.pth", **integrity)
    with pytest.raises(WeightsUnavailableError, match=message) as info:
        weights.ensure_weights("fake", progress=False)
    assert "\n" not in str(info.value) and str(cache / "fake_weights.pth") in str(info.value)
    assert _files(cache) == []


def test_connection_dropped_half_way_leaves_no_file(server, cache, monkeypatch):
    _fake(monkeypatch, f"{server}/short/fake_weights.pth")
    with pytest.raises(WeightsUnavailableError, match="cannot download fake"):
        weights.ensure_weights("fake", progress=False)
    assert _files(cache) == []


def test_stalled_server_times_out_and_leaves_no_file(server, cache, monkeypatch):
    monkeypatch.setattr(weights, "DOWNLOAD_TIMEOUT_S", 0.2)
    _fake(monkeypatch, f"{server}/slow/fake_weights.pth")
    with pytest.raises(WeightsUnavailableError, match="no answer within 0.2 s"):
        weights.ensure_weights("fake", progress=False)
    assert _files(cache) == []


def test_ctrl_c_during_download_leaves_no_file(server, cache, monkeypatch):
    class Interrupting:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            raise KeyboardInterrupt

    monkeypatch.setattr(weights, "_progress_bar", lambda *a, **k: Interrupting())
    _fake(monkeypatch, f"{server}/good/fake_weights.pth")
    with pytest.raises(KeyboardInterrupt):
        weights.ensure_weights("fake", progress=False)
    assert _files(cache) == []


def test_killed_download_never_leaves_the_final_name(server, cache, monkeypatch):
    url = f"{server}/slow/fake_weights.pth"
    code = (
        "import sys; from helpers import weights as w; "
        f"w.REGISTRY['fake'] = w.ModelSpec('fake', 'sam', 'vit_b', url={url!r}, "
        f"filename='fake_weights.pth', size={len(PAYLOAD)}, sha256={SHA!r}); "
        "w.CHUNK_BYTES = 4096; w.ensure_weights('fake', progress=False)"
    )
    env = dict(os.environ, SAMRS_CACHE_DIR=str(cache))
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while not any(n.endswith(".part") for n in _files(cache)):
            assert proc.poll() is None and time.monotonic() < deadline, "download did not start"
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        proc.kill()  # like a closed laptop lid or `kill -9`: no cleanup code runs
        proc.wait()
    assert not (cache / "fake_weights.pth").exists()
    _fake(monkeypatch, url)
    assert weights.cache_status("fake") == "no"
    # the next run downloads afresh, and clears the dead leftover once it is old
    monkeypatch.setattr(weights, "STALE_PART_AGE_S", 0.0)
    _fake(monkeypatch, f"{server}/good/fake_weights.pth")
    assert weights.ensure_weights("fake", progress=False).read_bytes() == PAYLOAD
    assert _files(cache) == ["fake_weights.pth", "fake_weights.pth.verified"]


def test_offline_error_is_one_line_with_url_and_path(cache, monkeypatch):
    url = _refused_url()
    _fake(monkeypatch, url)
    with pytest.raises(WeightsUnavailableError) as info:
        weights.ensure_weights("fake", progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert url in message and f"place it at {cache / 'fake_weights.pth'}" in message
    assert _files(cache) == []


def test_http_error_is_reported(server, cache, monkeypatch):
    _fake(monkeypatch, f"{server}/missing.bin")
    with pytest.raises(WeightsUnavailableError, match="HTTP 404"):
        weights.ensure_weights("fake", progress=False)
    assert _files(cache) == []


def test_mirror_replaces_the_official_host(server, cache, monkeypatch):
    _fake(monkeypatch, _refused_url())
    monkeypatch.setenv("SAMRS_WEIGHTS_MIRROR", f"{server}/good/")
    assert weights.ensure_weights("fake", progress=False).read_bytes() == PAYLOAD


def test_cached_file_of_wrong_size_is_replaced(server, cache, monkeypatch):
    _fake(monkeypatch, f"{server}/good/fake_weights.pth")
    cache.mkdir(parents=True)
    (cache / "fake_weights.pth").write_bytes(PAYLOAD[:1000])  # e.g. an old truncated copy
    assert weights.cache_status("fake") == "bad size"
    assert not weights.is_verified("fake", cache / "fake_weights.pth")
    assert weights.ensure_weights("fake", progress=False).read_bytes() == PAYLOAD


def test_cached_file_of_wrong_size_is_removed_when_offline(cache, monkeypatch):
    _fake(monkeypatch, _refused_url())
    cache.mkdir(parents=True)
    (cache / "fake_weights.pth").write_bytes(PAYLOAD[:1000])
    with pytest.raises(WeightsUnavailableError):
        weights.ensure_weights("fake", progress=False)
    assert _files(cache) == []


def test_hand_placed_file_is_hashed_once_and_tampering_is_caught(cache, monkeypatch):
    _fake(monkeypatch, _refused_url())
    cache.mkdir(parents=True)
    placed = cache / "fake_weights.pth"
    placed.write_bytes(PAYLOAD)
    assert weights.cache_status("fake") == "cached"  # right size, not hashed yet
    assert weights.ensure_weights("fake", progress=False) == placed  # offline: verified in place
    assert weights.cache_status("fake") == "verified"
    tampered = bytearray(PAYLOAD)
    tampered[10] ^= 0xFF
    placed.write_bytes(bytes(tampered))  # same size, new mtime: the stamp no longer applies
    assert not weights.is_verified("fake", placed)
    with pytest.raises(WeightsUnavailableError):
        weights.ensure_weights("fake", progress=False)
    assert not placed.exists()


def test_copy_weights_verifies_like_a_download(cache, tmp_path, monkeypatch):
    _fake(monkeypatch, _refused_url())
    good, bad = tmp_path / "good.pth", tmp_path / "bad.pth"
    good.write_bytes(PAYLOAD)
    bad.write_bytes(PAYLOAD[::-1])
    with pytest.raises(WeightsUnavailableError):
        weights.copy_weights("fake", bad, tmp_path / "usb")
    assert _files(tmp_path / "usb") == []
    assert weights.copy_weights("fake", good, tmp_path / "usb").read_bytes() == PAYLOAD


