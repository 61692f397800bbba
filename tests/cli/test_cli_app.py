"""``python -m helpers app``: arguments reach the app; bad ones fail in one line before Gradio starts."""

import pytest

from helpers.cli import main


@pytest.fixture
def launched(monkeypatch):
    calls = []
    monkeypatch.setattr("helpers.cli.app.launch_app", lambda **options: calls.append(options))
    return calls


def test_the_defaults_serve_this_machine_only(launched):
    assert main(["app"]) == 0
    [options] = launched
    assert options["host"] == "127.0.0.1" and options["port"] == 7860 and options["share"] is False
    assert options["block"] is True and options["inline"] is False and options["model"] == "mobile_sam"


def test_options_reach_the_app(launched, capsys):
    assert main(["app", "--host", "0.0.0.0", "--port", "8123", "--share", "--model", "fastsam_s",
                 "--device", "cpu", "--max-upload-mb", "50"]) == 0
    [options] = launched
    assert (options["host"], options["port"], options["share"], options["model"], options["device"],
            options["max_upload_mb"]) == ("0.0.0.0", 8123, True, "fastsam_s", "cpu", 50.0)
    assert "public *.gradio.live link" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "sam_vit_z"], "error: unknown model 'sam_vit_z'; choose one of"),
    (["--max-upload-mb", "0"], "error: --max-upload-mb must be positive"),
])
def test_bad_arguments_fail_in_one_line(launched, capsys, args, message):
    assert main(["app", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1 and launched == []
