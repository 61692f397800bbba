"""The web app in a real browser: the app on 127.0.0.1 (a server thread of this process), driven by Playwright
in Debian's headless Chromium, as a workshop participant would use it.

Steps (a screenshot of each goes to the test's temporary folder): open a scene, click on it (a mask overlay
appears, the table gets a row), draw a box, compare two models side by side, run everything mode, download
the GeoPackage (opened with geopandas: the scene's CRS), upload a corrupt file (an error message, and the app
keeps working), close the page (the session's folder is removed). The page never reaches the internet.
"""

import contextlib
import importlib.util
import io
import re
import time
from pathlib import Path
from urllib.parse import urlparse

import geopandas as gpd
import numpy as np
import pytest
from PIL import Image

from helpers.app.browser import choose, chromium, chromium_path, click_view, serve_app, wait_for_message
from helpers.app.display import CAPTION_PX

pytestmark = pytest.mark.browser

SCENE = "synthetic: buildings"  # 256x256 px, EPSG:32618, drawn 2x larger


@pytest.fixture(scope="module")
def app(tmp_path_factory, app_pool, catalog):
    if not chromium_path().is_file():
        pytest.skip(f"{chromium_path()} not found: install Debian's chromium (apt-get install chromium) to run the browser test")
    pytest.importorskip("playwright.sync_api", reason="python playwright is not installed")
    workdir = tmp_path_factory.mktemp("app")
    with serve_app(workdir=workdir, pool=app_pool, catalog=catalog, model="mobile_sam") as (url, demo):
        yield url, demo, workdir


def table_rows(page) -> list[list[str]]:
    """The cells of the mask table's rows on screen (the table is virtual: long ones show their top rows)."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('#masks [role=row].virtual-row'))
        .map(row => Array.from(row.querySelectorAll('[role=gridcell]')).map(cell => cell.innerText.trim()))""")


def table_length(page) -> int:
    """The number of rows of the mask table (its grid's aria-rowcount, less the header)."""
    return int(page.locator("#masks [role=grid]").get_attribute("aria-rowcount")) - 1


def picture(page, view="view-a") -> np.ndarray:
    src = page.locator(f"#{view} img").get_attribute("src")
    return np.asarray(Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB"))


def wait_for_new_picture(page, before: str, view="view-a", timeout_ms=120_000) -> None:
    page.wait_for_function(
        "([view, before]) => { const img = document.querySelector('#' + view + ' img');"
        " return img && img.src !== before && img.complete; }", arg=[view, before], timeout=timeout_ms)


def src(page, view="view-a") -> str:
    return page.locator(f"#{view} img").get_attribute("src")


def test_the_whole_workflow_in_a_real_browser(app, catalog, tmp_path):
    url, demo, workdir = app
    scene = catalog.load(SCENE)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    requested = []
    with chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(120_000)  # a CPU shared with other jobs can be slow
        page.on("request", lambda request: requested.append(request.url))

        def shot(name):
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

        try:
            page.goto(url, timeout=120_000)
            page.wait_for_function("() => document.title.startsWith('sam-rs')", timeout=60_000)
            page.locator("#message").wait_for(state="attached", timeout=120_000)  # Gradio renders after the title

            # every text the message line shows, transient ones included (the status while encoding)
            page.evaluate("""() => { window.__messages = [];
                new MutationObserver(() => window.__messages.push(document.querySelector('#message').innerText))
                    .observe(document.querySelector('#message'), {subtree: true, childList: true, characterData: true}); }""")

            # 1. open a scene: encoded (or found in the embedding cache), then ready
            choose(page, "scene", SCENE)
            wait_for_message(page, "Ready")
            assert "EPSG:32618" in page.locator("#status").inner_text()
            shot("01_scene")
            plain = picture(page)
            assert plain.shape == (CAPTION_PX + 512, 512, 3)

            # 2. a click: a mask overlay appears and the table has its row
            before = src(page)
            click_view(page, 0.4, 0.3)
            wait_for_new_picture(page, before)
            page.wait_for_function("() => document.querySelectorAll('#masks [role=row].virtual-row').length > 0")
            assert table_length(page) == 1
            [row] = table_rows(page)
            assert row[:2] == ["mobile_sam", "1"]
            area_px = int(row[3])
            changed = np.count_nonzero((picture(page) != plain).any(axis=2))
            assert 0.9 * 4 * area_px <= changed <= 4 * area_px + 400  # the mask, drawn 2x2 per pixel, plus the point
            coords = page.locator("#coords").inner_text()
            col, row = (int(v) for v in re.search(r"pixel column (\d+), row (\d+)", coords).groups())
            picture_h = CAPTION_PX + 512  # the click was at 40 % across, 30 % down the picture
            assert abs(col - 0.4 * 512 / 2) <= 1 and abs(row - (0.3 * picture_h - CAPTION_PX) / 2) <= 1
            assert "EPSG:32618: x 5000" in coords and "lon -74.99" in coords
            shot("02_click")

            # 3. a box: two corner clicks
            page.locator("#mode").get_by_text("box corner").click()
            for corner in ((0.1, 0.55), (0.45, 0.9)):
                before = src(page)
                click_view(page, *corner)
                wait_for_new_picture(page, before)
                if corner == (0.1, 0.55):  # the first corner is answered before the second click
                    page.wait_for_function("() => document.querySelector('#status').innerText.includes('first corner set')")
            page.wait_for_function("() => !document.querySelector('#status').innerText.includes('first corner set')")
            boxed = picture(page)
            assert np.count_nonzero((boxed == (250, 220, 30)).all(axis=2)) > 200  # the yellow box outline
            assert table_length(page) == 1
            shot("03_box")

            # 4. side by side: the same prompts through FastSAM, with times and the IoU
            choose(page, "compare", "fastsam_s")
            wait_for_message(page, "Ready", timeout_ms=300_000)
            seen = page.evaluate("() => window.__messages")
            assert any("preparing the scene for mobile_sam, fastsam_s" in text for text in seen), seen
            page.locator("#view-b img").wait_for(state="visible")
            status = page.locator("#status").inner_text()
            assert "fastsam_s" in status and "IoU between the two models' masks" in status
            assert [r[0] for r in table_rows(page)] == ["mobile_sam", "fastsam_s"]
            shot("04_compare")
            choose(page, "compare", "none")
            wait_for_message(page, "Ready")

            # 5. everything mode with the parameter controls (a coarse grid, every mask kept)
            page.get_by_text("Everything mode", exact=True).click()
            choose(page, "param-mobile_sam-points_per_side", "4")
            for name in ("pred_iou_thresh", "stability_score_thresh"):
                number = page.locator(f"#param-mobile_sam-{name} input[type=number]")
                number.fill("0")
                number.press("Enter")
            page.locator("#everything").click()
            message = wait_for_message(page, "Everything mode:")
            count = int(message.split(":")[1].split()[0])
            assert count > 0 and table_length(page) == count
            shot("05_everything")

            # 6. download the GeoPackage and open it with geopandas
            page.locator("#export").click()
            link = page.locator("#files a[download$='.gpkg']")
            link.wait_for(timeout=120_000)
            assert page.locator("#files a[download]").count() == 4
            with page.expect_download() as download:
                link.click()
            gpkg = tmp_path / download.value.suggested_filename
            download.value.save_as(gpkg)
            layer = gpd.read_file(gpkg)
            assert layer.crs == scene.crs and len(layer) == count
            assert layer["smoke"].all()
            shot("06_export")

            # 7. a corrupt upload: one line in the page, and the app keeps working
            corrupt = tmp_path / "corrupt.tif"
            corrupt.write_bytes(b"II*\x00" + bytes(range(256)) * 8)
            page.get_by_text("Upload a GeoTIFF / PNG / JPEG").click()
            page.locator("#upload input[type=file]").set_input_files(str(corrupt))
            error = wait_for_message(page, "error:", timeout_ms=60_000)
            assert "cannot read corrupt.tif" in error and "Traceback" not in page.content()
            shot("07_error")
            page.locator("#mode").get_by_text("foreground point").click()
            before = src(page)
            click_view(page, 0.6, 0.6)
            wait_for_new_picture(page, before)
            assert [r[0] for r in table_rows(page)] == ["mobile_sam"]
            [session] = demo.sam_rs_sessions._sessions.values()
            folder = session[0].workdir
            assert folder.parent == workdir and (folder / "uploads" / "corrupt.tif").is_file()
            # the page gets copies from Gradio's cache; the sessions' own folders are not served
            assert page.request.get(f"{url}gradio_api/file={folder / 'uploads' / 'corrupt.tif'}").status in (403, 404)
        except Exception:
            shot("failure")
            print(f"browser screenshots: {shots}")
            for element in ("#message", "#status"):  # what the page said when it stopped, for CI logs
                with contextlib.suppress(Exception):
                    print(f"{element}: {page.locator(element).inner_text(timeout=5_000)!r}")
            with contextlib.suppress(Exception):
                print("messages seen:", page.evaluate("() => window.__messages"))
            raise
        page.close()

    # the page is closed: its session and its folder go
    deadline = time.monotonic() + 60
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not folder.exists() and len(demo.sam_rs_sessions) == 0
    hosts = {urlparse(u).netloc for u in requested if urlparse(u).scheme in ("http", "https", "ws", "wss")}
    assert hosts == {urlparse(url).netloc}, f"the page reached other hosts: {hosts}"


def test_the_latency_benchmark_runs(capsys):
    if not chromium_path().is_file():
        pytest.skip(f"{chromium_path()} not found: install Debian's chromium to run the browser benchmark")
    pytest.importorskip("playwright.sync_api", reason="python playwright is not installed")
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "app_latency.py"
    spec = importlib.util.spec_from_file_location("benchmark_app_latency", script)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    assert benchmark.main(["--models", "conventional", "--clicks", "1"]) == 0
    out = capsys.readouterr().out
    [row] = [line.split() for line in out.splitlines() if line.startswith("conventional ")]
    median, p90, fastest = (float(v) for v in row[2:5])
    assert row[1] == "1" and 0 < fastest <= median <= p90 < 60  # seconds, measured in the page
    assert "click->overlay median s" in out and "load average" in out
