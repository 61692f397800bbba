"""The point picker in a real browser: JupyterLab on 127.0.0.1, headless Chromium driven by Playwright.

The test writes a one-cell notebook that shows a PointPicker over SAM (smoke weights; the embedding is
put in a private disk cache first, so the kernel loads it instead of running the 10 s encoder), runs
it, clicks on the picture, and checks from the kernel's side (a JSON log the picker's update hook
writes) that the click arrived at the right scene pixel and that the overlay picture changed.
"""

import json
import math
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DISPLAY_WIDTH = 384  # the 128x96 scene drawn 3x larger (and CSS may scale it again)

pytestmark = pytest.mark.browser

NOTEBOOK_CELL = """
import hashlib, json
import numpy as np
from pathlib import Path
from helpers.models import load_model
from helpers.picker import PointPicker

model = load_model("sam_vit_b", weights={weights!r}, device="cpu")
picker = PointPicker(model, image=np.load({image!r}), display_width={width})

def log(p):
    state = {{"last_click": p.last_click, "render_count": p.render_count, "n_points": len(p.points),
             "png": hashlib.sha256(p.image_widget.value).hexdigest(), "source": model.embedding.source}}
    Path({log!r}).write_text(json.dumps(state))

picker.on_update(log)
log(picker)
picker
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ZeroEncoder(torch.nn.Module):
    img_size = 1024

    def forward(self, x):
        return torch.linspace(-1, 1, 256 * 64 * 64).reshape(1, 256, 64, 64)


def _prefill_embedding(home: Path, weights: Path, image: np.ndarray) -> None:
    """Put the image's embedding in the kernel's disk cache (computed by a cheap stand-in encoder)."""
    from helpers.embedding_cache import EmbeddingCache
    from helpers.models import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model("sam_vit_b", weights=weights, device="cpu", embedding_cache=EmbeddingCache(home / "embeddings"))
    model.sam.image_encoder = ZeroEncoder()
    model.set_image(image)


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def _read_log(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on 127.0.0.1 (random free port, random token) with a private config."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run the browser test")
    pytest.importorskip("playwright.sync_api", reason="python playwright is not installed")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env.update({
        "SAMRS_HOME": str(tmp_path / "home"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    })
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=", "--ServerApp.open_browser=False",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI containers run as root
    log = open(tmp_path / "jupyterlab.log", "wb")
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def ready():
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited: {(tmp_path / 'jupyterlab.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        _wait_for(ready, 120, "JupyterLab to start")
        yield {"base": base, "token": token, "root": tmp_path, "home": tmp_path / "home"}
    finally:
        server.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_click_on_picker_reaches_kernel_at_the_right_pixel(jupyterlab, smoke_weights, sample_image):
    from playwright.sync_api import sync_playwright

    root, home = jupyterlab["root"], jupyterlab["home"]
    image = sample_image()
    weights = smoke_weights("sam_vit_b")
    _prefill_embedding(home, weights, image)
    np.save(root / "scene.npy", image)
    log_path = root / "picker_log.json"
    source = NOTEBOOK_CELL.format(weights=str(weights), image=str(root / "scene.npy"), width=DISPLAY_WIDTH,
                                  log=str(log_path))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source.strip())])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "picker.ipynb")

    url = f"{jupyterlab['base']}/lab/tree/picker.ipynb?token={jupyterlab['token']}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(root / "chromium-profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900},
        )
        page = browser.new_page()
        try:
            page.goto(url, timeout=120_000)
            cell = page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").first
            cell.wait_for(timeout=120_000)
            # wait until the kernel is connected, then run the cell (Shift+Enter in the editor)
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=120_000)
            prompt = page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first

            def started():  # "[ ]:" until the kernel takes the cell, then "[*]:" / "[1]:"
                cell.click()
                page.keyboard.press("Shift+Enter")
                try:
                    return _wait_for(lambda: any(c in prompt.inner_text() for c in "*0123456789"), 15, "run")
                except TimeoutError:
                    return False

            _wait_for(started, 90, "the cell to start running")

            picture = page.locator(".jp-OutputArea-output img").first
            picture.wait_for(state="visible", timeout=60_000)
            first = _wait_for(lambda: _read_log(log_path), 60, "the kernel's first picker log")
            assert first["source"] == "disk", "the kernel re-encoded instead of loading the cached embedding"
            src_before = picture.get_attribute("src")

            box = picture.bounding_box()
            fx, fy = 0.30, 0.60
            expected = (math.floor(fx * image.shape[1]), math.floor(fy * image.shape[0]))

            def clicked():
                page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
                try:
                    return _wait_for(lambda: (_read_log(log_path) or {}).get("last_click"), 5, "the click")
                except TimeoutError:
                    return None  # widget comms may still be connecting: click again

            last_click = _wait_for(clicked, 90, "the kernel to receive a click")
            after = _read_log(log_path)
            # the browser shows the new overlay (the widget's PNG, hence its blob URL, changed)
            _wait_for(lambda: picture.get_attribute("src") != src_before, 30, "the overlay to change in the browser")
        except Exception:
            page.screenshot(path=str(root / "failure.png"))  # kept by pytest under its tmp folders
            print(f"browser screenshot: {root / 'failure.png'}")
            raise
        finally:
            browser.close()

        assert abs(last_click["pixel"][0] - expected[0]) <= 2 and abs(last_click["pixel"][1] - expected[1]) <= 2, (
            f"kernel got pixel {last_click['pixel']}, expected {expected} (display {box['width']}x{box['height']})"
        )
        assert last_click["label"] == 1
        assert after["png"] != first["png"] and after["render_count"] > first["render_count"]
