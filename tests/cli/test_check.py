"""``python -m helpers check``: the workshop checklist from a terminal, exit code 0 only when ready."""

from helpers.cli import main


def test_missing_weights_are_not_ready_without_smoke_and_ready_with_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SAMRS_CACHE_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("SAMRS_SMOKE", "0")
    assert main(["check", "--models", "fastsam_s"]) == 1
    out = capsys.readouterr().out
    assert "weights: fastsam_s" in out and "✗" in out and out.rstrip().endswith("not ready: fix the lines marked ✗")
    monkeypatch.setenv("SAMRS_SMOKE", "1")
    assert main(["check", "--models", "fastsam_s"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("ready for the workshop")


def test_unknown_model_is_one_line_and_exit_2(capsys):
    assert main(["check", "--models", "sam_vit_q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error:") and "sam_vit_q" in err
