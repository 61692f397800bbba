"""The benchmark scripts run end to end on tiny inputs and print their tables (timings are not asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table_rows(text: str, first_column: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.startswith(first_column)]


def test_amg_benchmark_prints_official_vs_ours(capsys, smoke_weights):
    smoke_weights("sam_vit_b")
    assert load_script("amg").main(["--sides", "2", "--size", "64", "--repeats", "1", "--scenes", "landsat"]) == 0
    out = capsys.readouterr().out
    assert "embedding excluded" in out and "masks are meaningless" in out
    # final table: scene, points, thresholds, area, official (s), ours (s), official/ours, decoded, masks "a / b"
    rows = [row for row in table_rows(out, "landsat") if row[1] == "2x2"]
    settings = [" ".join(row[2:-8]) for row in rows[-3:]]
    assert settings == ["defaults", "iou median", "keep all"]
    for row in rows[-3:]:
        assert all(float(value) > 0 for value in row[-7:-4])
        assert row[-3] == row[-1]  # same number of masks from both generators
    assert rows[-1][-4] == "100%"  # keep all: every point's masks are computed


def test_lesson_hardware_prints_time_memory_and_the_load(capsys, smoke_weights):
    smoke_weights("fastsam_s")  # the cheapest model with weights: the script's rows, not its numbers, are tested
    assert load_script("lesson_hardware").main(["--models", "fastsam_s", "--size", "64", "--repeats", "1",
                                                "--warmup", "0"]) == 0
    out = capsys.readouterr().out
    assert "load average" in out and "masks meaningless" in out
    rows = {line.split(":")[1].split("  ")[0].strip(): line.split() for line in out.splitlines()
            if line.startswith("fastsam_s:")}
    assert {"load", "one click, masks at 64x64", "peak memory (process RSS)"} <= set(rows)
    assert any(key.startswith("set_image 64x64") for key in rows)
    assert float(rows["peak memory (process RSS)"][-3]) > 0.1  # GB (wall column; no CPU time for memory)
    assert rows["one click, masks at 64x64"][-1] == "ms" and float(rows["one click, masks at 64x64"][-3]) > 0
