"""Web app latency in a real browser: click -> mask overlay on screen, for a scene already encoded.

    .venv/bin/python benchmarks/app_latency.py [--models mobile_sam fastsam_s] [--clicks 10]

For each model: the app starts on 127.0.0.1 (in this process), headless Chromium opens it (Playwright,
Debian's /usr/bin/chromium), the scene is opened and encoded once, one warm-up click, then ``--clicks``
single clicks at different places (the prompts are cleared before each). Each latency is measured in the
page, from the browser's click event to the new picture decoded on screen (``performance.now()``), so it
includes the round trip, the model's prompt step, drawing the picture, PNG encoding and its download.
The server-side share (prompt step, drawing) comes from the session's own timings.

Goal: median under 1 s with mobile_sam or fastsam_s on a 2-core CPU. Uses smoke (untrained) weights
unless ``--real`` (the timings are real either way; the masks are meaningless with smoke weights).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL_S = 1.0
# Click positions (fractions of the picture): spread over the scene, away from the caption strip.
POSITIONS = [(0.2 + 0.6 * ((i * 0.37) % 1.0), 0.2 + 0.6 * ((i * 0.61) % 1.0)) for i in range(100)]


def measure_model(name: str, scene: str, clicks: int, device: str | None) -> dict:
    """Start the app with ``name``, open ``scene``, click ``clicks`` times; returns the timings (seconds)."""
    from helpers.app.browser import choose, chromium, click_latency, serve_app, wait_for_message
    from helpers.app.pool import ModelPool

    pool = ModelPool(device=device)
    with tempfile.TemporaryDirectory(prefix="app-latency-") as workdir, \
            serve_app(workdir=workdir, pool=pool, model=name) as (url, demo), chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(300_000)
        page.goto(url)
        choose(page, "scene", scene)
        wait_for_message(page, "Ready", timeout_ms=600_000)
        [session] = [entry[0] for entry in demo.sam_rs_sessions._sessions.values()]
        encode = session.encodings[name]
        click_latency(page, 0.5, 0.5)  # warm-up: first PNG, first decode of this page
        browser_s, prompt_s, render_s = [], [], []
        for fx, fy in POSITIONS[:clicks]:
            before = page.locator("#view-a img").get_attribute("src")
            page.locator("#clear").click()
            page.wait_for_function("b => document.querySelector('#view-a img').src !== b", arg=before)
            browser_s.append(click_latency(page, fx, fy))
            times = session.results[name].times
            prompt_s.append(times["prompt"])
            render_s.append(times["render"])
    return {"model": name, "encode_s": encode.seconds, "encode_source": encode.source, "browser": browser_s,
            "prompt": prompt_s, "render": render_s}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mobile_sam", "fastsam_s"])
    parser.add_argument("--scene", default="synthetic: buildings", help="a scene of the app's list")
    parser.add_argument("--clicks", type=int, default=10, help="timed clicks per model (after one warm-up)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--real", action="store_true", help="official weights (downloaded once) instead of smoke weights")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own choice; 1 can be faster on a CPU shared with other jobs)")
    args = parser.parse_args(argv)
    if not args.real:
        os.environ["SAMRS_SMOKE"] = "1"
    from helpers.bench import hardware_line, print_table
    from helpers.smoke import SMOKE_BANNER

    if not 1 <= args.clicks <= len(POSITIONS):
        parser.error(f"--clicks must be 1..{len(POSITIONS)}")
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{hardware_line()} · torch threads {torch.get_num_threads()} · load average {load:.1f} at start")
    rows = []
    for name in args.models:
        result = measure_model(name, args.scene, args.clicks, args.device)
        browser = sorted(result["browser"])
        rows.append({
            "model": name,
            "clicks": len(browser),
            "median_s": statistics.median(browser),
            "p90_s": browser[min(len(browser) - 1, int(0.9 * len(browser)))],
            "min_s": browser[0],
            "prompt_s": statistics.median(result["prompt"]),
            "render_s": statistics.median(result["render"]),
            "encode_s": f"{result['encode_s']:.2f} ({result['encode_source']})",
            "goal": "met" if statistics.median(browser) < GOAL_S else "NOT met",
        })
    print_table(rows, ["model", "clicks", ("median_s", "click->overlay median s"), ("p90_s", "p90 s"),
                       ("min_s", "min s"), ("prompt_s", "server prompt s"), ("render_s", "server draw s"),
                       ("encode_s", "encode s (once)"), ("goal", f"< {GOAL_S:g} s")],
                title=f"app click -> overlay in headless Chromium, scene {args.scene!r}")
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load_end:.1f} at the end (other processes share this CPU)")
    if not args.real:
        print(f"smoke weights: {SMOKE_BANNER} (the timings are real)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
