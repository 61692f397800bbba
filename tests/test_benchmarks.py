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
