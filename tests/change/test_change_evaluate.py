"""Scoring configurations on simulated pairs, and the accuracy benchmark script end to end (tiny inputs)."""

import importlib.util
from pathlib import Path

import pytest

from helpers.change.evaluate import evaluate_simulated

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "change_accuracy.py"


def test_one_row_per_configuration_plus_the_naive_recipe():
    rows = evaluate_simulated(looks=(4,), filters=("none", "lee:5"), thresholds=("ki", 3.0), size=(96, 96))
    assert [(r["filter"], r["threshold"]) for r in rows[:4]] == [
        ("none", "ki"), ("none", "manual"), ("lee:5", "ki"), ("lee:5", "manual")]
    assert rows[-1]["method"].startswith("naive")
    for row in rows:
        assert 0 <= row["f1"] <= 1 and row["tp"] + row["fp"] + row["fn"] + row["tn"] == 96 * 96
    assert rows[1]["threshold_db"] == 3.0


def test_the_accuracy_benchmark_prints_its_table(capsys):
    spec = importlib.util.spec_from_file_location("change_accuracy", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--size", "96", "--looks", "4", "--filters", "lee:5", "--thresholds", "ki"]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED SAR pairs" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("4.0")]
    baseline, naive = rows
    assert baseline[4] == "threshold" and "naive" in naive
    assert float(baseline[5]) == pytest.approx(0.89, abs=0.05) and float(naive[-7]) < float(baseline[5])
