"""The deployment benchmarks run end to end on tiny inputs: ONNX latency, and the GPU check's CPU dry run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_onnx_latency_prints_ratios_and_agreement(capsys, smoke_weights):
    smoke_weights("mobile_sam")
    args = ["--models", "mobile_sam", "fastsam_s", "--size", "64", "--repeats", "2", "--encoder-repeats", "1",
            "--warmup", "0", "--imgsz", "256"]
    assert load_script("onnx_latency").main(args) == 0
    out = capsys.readouterr().out
    assert "masks meaningless" in out and "torch/onnx" in out and "IoU int8~float" in out
    first_table = out.split("encoder torch ms", 1)[1].split("\n\n", 1)[0]
    rows = {line.split()[0]: line.split() for line in first_table.splitlines() if line.startswith(("mobile_sam", "fastsam_s"))}
    assert set(rows) == {"mobile_sam", "fastsam_s"}
    for row in rows.values():
        assert all(float(v) > 0 for v in row[1:7]) and float(row[7]) >= 0.99  # times, ratios, IoU onnx~torch
    assert "click under 50 ms through ONNX Runtime" in out


def test_gpu_check_dry_run_exercises_every_cpu_path(capsys, tmp_path):
    assert load_script("gpu_check").main(["--dry-run", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    table = (tmp_path / "gpu_check.txt").read_text()
    assert "dry run: CPU, tiny inputs" in table and (tmp_path / "gpu_check.csv").is_file()
    lines = [line for line in table.splitlines() if line.startswith(("cpu reference", "onnx cpu", "latency",
                                                                      "gpu options", "cuda vs cpu", "half", "compile",
                                                                      "tensorrt"))]
    failed = [line for line in lines if "failed:" in line or "unexpected" in line]
    assert not failed, failed
    # every model's CUDA rows are listed and skipped, not silently left out
    for section in ("cuda vs cpu", "half"):
        for model in ("sam_vit_b", "sam2.1_hiera_t", "mobile_sam", "fastsam_s"):
            assert any(line.startswith(section) and model in line and "skipped: no CUDA" in line for line in lines)
    assert any(line.startswith("tensorrt") and "skipped: no CUDA" in line for line in lines)
    # what runs without CUDA ran: CPU references, ONNX Runtime on the CPU (agreeing), the latency runner
    onnx_rows = [line.split() for line in lines if line.startswith("onnx cpu")]
    assert len(onnx_rows) == 2 and all(float(row[4]) >= 0.99 and float(row[5]) < 1e-3 for row in onnx_rows)
    assert sum(line.startswith("cpu reference") for line in lines) == 2
    assert any(line.startswith("latency") and "fastsam_s" in line and "1 pt" in line for line in lines)
    # the GPU options refuse the CPU in one line, for every family that has them
    refusals = [line for line in lines if line.startswith("gpu options") and "refused" in line]
    assert len(refusals) == 7 and all("needs a CUDA device" in line for line in refusals)  # FastSAM: no compile
    assert "skipped: no CUDA" in out
