"""Drive the app in a real browser: headless Chromium with Playwright (the browser test and the latency
benchmark use this).

    with serve_app(model="mobile_sam") as (url, demo), chromium() as browser:
        page = browser.new_page()
        page.goto(url)
        choose(page, "scene", "synthetic: buildings")
        wait_for_message(page, "Ready")
        seconds = click_latency(page, 0.4, 0.3)      # click -> picture updated, measured in the page

Needs the ``playwright`` Python package and a Chromium (Debian's ``/usr/bin/chromium`` by default; set
``$SAMRS_CHROMIUM`` to another). Nothing here downloads a browser.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from pathlib import Path

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "chromium_path", "free_port", "serve_app", "chromium", "choose",
           "wait_for_message", "view_box", "click_view", "click_latency"]

CHROMIUM = Path("/usr/bin/chromium")
#: Headless, and nothing that reaches the network on its own (updates, sync, QUIC probes).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> Path:
    """The Chromium executable: ``$SAMRS_CHROMIUM`` or Debian's ``/usr/bin/chromium``."""
    return Path(os.environ.get("SAMRS_CHROMIUM") or CHROMIUM)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_app(workdir=None, port: int | None = None, **build_options):
    """Start the app on 127.0.0.1 in this process (a server thread); yields ``(url, demo)``, stops it after.

    ``demo`` is the running ``gradio.Blocks``; ``demo.sam_rs_sessions`` holds the sessions.

    Args:
        workdir: folder for the sessions' files and Gradio's cache (default: a temporary one).
        port: TCP port (default: a free one).
        **build_options: :func:`helpers.app.ui.build_app` options (``pool``, ``catalog``, ``model``...).
    """
    from .ui import launch_app

    port = port or free_port()
    demo = launch_app(host="127.0.0.1", port=port, inline=False, block=False, workdir=workdir, **build_options)
    try:
        yield f"http://127.0.0.1:{port}/", demo
    finally:
        demo.close()


@contextmanager
def chromium(viewport=(1400, 1000), executable=None):
    """A headless Chromium (Playwright) with a 1400x1000 window; yields a ``BrowserContext``.

    Raises:
        FileNotFoundError: no Chromium at ``executable`` / :func:`chromium_path`.
    """
    from playwright.sync_api import sync_playwright

    executable = Path(executable or chromium_path())
    if not executable.is_file():
        raise FileNotFoundError(f"{executable} not found: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True)
        try:
            yield context
        finally:
            context.close()
            browser.close()


def choose(page, elem_id: str, option: str, timeout_ms: float = 30_000) -> None:
    """Pick ``option`` in the Gradio dropdown with ``elem_id``."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click(timeout=timeout_ms)


def wait_for_message(page, text: str, timeout_ms: float = 300_000) -> str:
    """Wait until the app's message line contains ``text``; returns the message."""
    page.wait_for_function(
        "text => (document.querySelector('#message') || {innerText: ''}).innerText.includes(text)",
        arg=text, timeout=timeout_ms,
    )
    return page.locator("#message").inner_text()


def view_box(page, view: str = "view-a") -> dict:
    """The on-screen box (x, y, width, height in CSS pixels) of a picture of the app."""
    picture = page.locator(f"#{view} img")
    picture.wait_for(state="visible")
    return picture.bounding_box()


def click_view(page, fx: float, fy: float, view: str = "view-a") -> None:
    """Click a picture at fractions (``fx``, ``fy``) of its width and height."""
    box = view_box(page, view)
    page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])


_PROBE = """view => {
  const root = document.getElementById(view);
  const probe = {clicked: null, shown: null, before: root.querySelector('img').src};
  window.__samrsProbe = probe;
  root.addEventListener('click', () => { probe.clicked = performance.now(); }, {capture: true, once: true});
  const observer = new MutationObserver(() => {
    const picture = root.querySelector('img');
    if (picture && picture.src !== probe.before) {
      observer.disconnect();
      picture.decode().then(() => { probe.shown = performance.now(); },
                            () => { probe.shown = performance.now(); });
    }
  });
  observer.observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""


def click_latency(page, fx: float, fy: float, view: str = "view-a", timeout_ms: float = 120_000) -> float:
    """Click a picture and return the seconds from the browser's click event until the new picture is
    decoded on screen, both measured in the page (``performance.now()``)."""
    page.evaluate(_PROBE, view)
    click_view(page, fx, fy, view)
    page.wait_for_function("() => window.__samrsProbe.shown !== null", timeout=timeout_ms)
    probe = page.evaluate("() => window.__samrsProbe")
    return (probe["shown"] - probe["clicked"]) / 1000.0
