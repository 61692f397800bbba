"""Timing/memory utilities and a tiny run of the SAM vs FastSAM latency benchmark (no timing assertions)."""

import csv
import time

import numpy as np
import pytest

from helpers import bench
from helpers.bench import latency
from helpers.cli import main as cli_main


def test_measure_counts_warmup_and_repeats():
    calls = []
    stats = bench.measure(lambda: calls.append(1) or len(calls), repeats=4, warmup=2)
    assert len(calls) == 6
    assert stats["repeats"] == 4 and len(stats["all"]) == 4 and stats["warmup"] == 2
    assert stats["min_s"] <= stats["median_s"] <= stats["max_s"]
    assert stats["median_s"] == pytest.approx(float(np.median(stats["all"])))
    assert stats["result"] == 6


def test_measure_times_what_it_runs():
    stats = bench.measure(lambda: time.sleep(0.02), repeats=2, warmup=0)
    assert stats["min_s"] >= 0.02


def test_measure_budget_stops_early_but_runs_once():
    calls = []
    stats = bench.measure(lambda: calls.append(time.sleep(0.01)), repeats=50, warmup=0, budget_s=0.0)
    assert stats["repeats"] == 1 and len(calls) == 1


@pytest.mark.parametrize(("kwargs", "error"), [({"repeats": 0}, ValueError), ({"warmup": -1}, ValueError)])
def test_measure_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        bench.measure(lambda: None, **kwargs)
    with pytest.raises(TypeError):
        bench.measure(42)


def test_timer_and_median():
    with bench.timer() as t:
        time.sleep(0.01)
    assert t.seconds >= 0.01
    assert bench.median([3, 1, 2]) == 2
    with pytest.raises(ValueError):
        bench.median([])
    bench.cuda_sync()  # no-op without CUDA, must not fail


def test_memory_readings_see_an_allocation():
    assert bench.peak_rss_mb() >= bench.current_rss_mb() * 0.5 > 0
    import mmap

    with bench.track_peak_memory(interval_s=0.001) as peak:
        # fresh pages from the kernel: a malloc'd block could reuse memory the process already holds
        block = mmap.mmap(-1, 200 * 2**20)
        np.frombuffer(block, dtype=np.uint8)[:] = 1  # 200 MiB, touched
        time.sleep(0.05)
        block.close()
    assert peak.rss_mb - peak.rss_start_mb > 100
    assert peak.gpu_mb is None or peak.gpu_mb >= 0


def test_print_table_layout(capsys):
    rows = [{"model": "sam_vit_b", "ms": 1234.5, "n": 3}, {"model": "fastsam_s", "ms": 0.0123, "n": None}]
    text = bench.print_table(rows, ["model", ("ms", "median (ms)"), "n"], title="latency")
    printed = capsys.readouterr().out
    assert printed.strip() == text.strip()
    lines = text.splitlines()
    assert lines[0] == "latency" and "median (ms)" in lines[1] and set(lines[2]) == {"-"}
    assert "1234" in lines[3] and "0.0123" in lines[4] and lines[4].endswith("n/a")
    assert len({len(line) for line in lines[1:3]}) == 1  # header and rule align


def test_write_csv_roundtrip(tmp_path):
    path = bench.write_csv([{"a": 1, "b": None}, {"a": 2, "b": "x"}], tmp_path / "sub" / "t.csv", ["a", "b"])
    with path.open() as handle:
        assert list(csv.DictReader(handle)) == [{"a": "1", "b": ""}, {"a": "2", "b": "x"}]


def test_hardware_summary_names_cpu_and_gpu():
    info = bench.hardware_summary()
    assert info["cpu"] and info["cores_logical"] >= 1 and info["ram_gb"] > 0
    assert "gpu" in info
    line = bench.hardware_line(info)
    assert info["cpu"] in line and ("no GPU" in line or str(info["gpu"]) in line)


def test_published_table_is_the_papers():
    sam_h, sam_b, fast = (v["ms"] for v in latency.PUBLISHED_RTX3090_MS.values())
    assert sam_h == (446, 464, 627, 852, 2099, 6972)
    assert sam_b == (110, 125, 230, 432, 1383, 5417)
    assert fast == (40,) * 6


@pytest.mark.parametrize(
    ("name", "cache_off"), [("sam_vit_b", True), ("mobile_sam", True), ("sam2.1_hiera_t", True), ("fastsam_s", False)]
)
def test_bench_loads_promptable_models_without_embedding_cache(monkeypatch, name, cache_off):
    """A cached embedding would make the timed set_image a cache hit (SAM, MobileSAM and SAM 2 alike)."""
    import helpers.models

    monkeypatch.setattr(helpers.models, "ensure_smoke_weights", lambda n: f"/smoke/{n}")
    monkeypatch.setattr(helpers.models, "load_model", lambda n, **kwargs: kwargs)
    options, weights = latency._load_for_bench(name, True, "cpu")
    assert weights == "smoke" and options["weights"] == f"/smoke/{name}"
    assert (options.get("embedding_cache") is False) == cache_off


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One tiny end-to-end run: MobileSAM (the SAM code path with the smallest encoder) and FastSAM-s."""
    out = tmp_path_factory.mktemp("bench")
    image = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    loaded = {}
    load = latency._load_for_bench

    def recording_load(name, smoke, device):
        loaded[name] = load(name, smoke, device)[0]
        return loaded[name], "smoke" if smoke else "real"

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(latency, "_load_for_bench", recording_load)
        result = latency.run_latency_benchmark(
            models=("mobile_sam", "fastsam_s"), repeats=1, warmup=0, out_dir=out, smoke=True, device="cpu",
            points=(1, 3), grids=(2,), image=image, quick=True, verbose=False,
        )  # fmt: skip
    return out, result, loaded


def test_quick_benchmark_writes_csv_png_and_table(quick_run):
    out, result, loaded = quick_run
    assert result["csv"] == out / "latency.csv" and result["png"] == out / "latency.png"
    with result["csv"].open() as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert tuple(reader.fieldnames) == latency.CSV_COLUMNS
    workloads = [(r["model"], r["workload"]) for r in rows]
    for model in ("mobile_sam", "fastsam_s"):
        for workload in ("encode", "1 pt", "3 pt", "E(2x2)"):
            assert (model, workload) in workloads
    assert {r["weights"] for r in rows} == {"smoke"}
    assert all(r["peak_rss_mb"] for r in rows)
    assert result["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = result["table"]
    assert latency.SMOKE_NOTE in table and "Hardware:" in table
    assert "published RTX 3090: FastSAM" in table
    assert loaded["mobile_sam"].cache is None  # every timed set_image really encoded


def test_quick_benchmark_numbers_are_consistent(quick_run):
    _, result, _ = quick_run
    rows = result["rows"]
    sam_points = [r for r in rows if r["model"] == "mobile_sam" and r["kind"] == "points"]
    assert [r["n_masks"] for r in sam_points] == [1, 3]  # one mask per click
    for r in sam_points:
        assert r["total_ms"] == pytest.approx(r["prompt_ms"] + r["encode_ms"])
    sam_every = [r for r in rows if r["model"] == "mobile_sam" and r["kind"] == "everything"]
    assert len(sam_every) == 1 and sam_every[0]["prompt_ms"] > 0 and sam_every[0]["note"] == "includes encoder"
    fast_every = [r for r in rows if r["model"] == "fastsam_s" and r["kind"] == "everything"]
    assert fast_every and all(r["prompt_ms"] > 0 for r in fast_every)


def test_summary_puts_published_sam_b_beside_ours(quick_run):
    """The published-layout summary: our line, then the paper's line for the same model."""
    rows = [{**r, "model": "sam_vit_b"} if r["model"] == "mobile_sam" else r for r in quick_run[1]["rows"]]
    summary, columns = latency._summary_rows(rows, (1, 3), (2,))
    names = [line["name"] for line in summary]
    assert names[0].startswith("sam_vit_b (smoke") and names[1] == "  published RTX 3090: SAM-B (ViT-B, 136M params)"
    ours = {r["workload"]: r["total_ms"] for r in rows if r["model"] == "sam_vit_b"}
    assert summary[0]["1 pt"] == ours["1 pt"] and summary[0]["E(2x2)"] == ours["E(2x2)"]
    assert summary[1]["E(16x16)"] == 432  # the paper's SAM-B everything-mode latency, 16x16 grid
    assert [c[0] for c in columns] == ["name", "params_m", "encode", "1 pt", "3 pt", "E(2x2)", "memory"]


def test_bench_cli_rejects_unknown_model(capsys):
    assert cli_main(["bench", "--models", "sam_vit_q", "--smoke"]) == 2
    assert "unknown model" in capsys.readouterr().err
