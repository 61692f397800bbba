"""benchmarks/timeseries.py runs end to end on tiny inputs and prints its tables (numbers are not asserted)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "timeseries.py"


def test_the_benchmark_prints_time_and_memory_tables(capsys, smoke_weights):
    smoke_weights("sam2.1_hiera_t")
    spec = importlib.util.spec_from_file_location("benchmark_timeseries", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--dates", "2", "--size", "64", "--objects", "1", "--image-size", "128",
                        "--baseline-model", "conventional", "--memory", "bounded"]) == 0
    out = capsys.readouterr().out
    assert "each date alone (conventional)" in out and "tracker (sam2.1_hiera_t, image size 128)" in out
    memory_rows = [line.split() for line in out.splitlines() if line.startswith("2 ")]
    assert len(memory_rows) == 1 and memory_rows[0][1] == "bounded"  # one fresh process per stack length
    assert "official_frames_mb" in out and "meaningless" in out
