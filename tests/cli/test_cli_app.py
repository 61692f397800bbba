"""``python -m helpers app``: arguments reach the app; bad ones fail in one line before Gradio starts.

Only the ``app`` command is built here (importing every command would import ``helpers.preprocess`` as a
module, which shadows the lazy ``helpers.preprocess`` function other tests check).
"""

import argparse

import pytest

from helpers.cli.app import register
from helpers.errors import UserInputError


@pytest.fixture
def launched(monkeypatch):
    calls = []
    monkeypatch.setattr("helpers.cli.app.launch_app", lambda **options: calls.append(options))
    return calls


def run(*argv) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["app", *argv])
    return args.func(args)


def test_the_defaults_serve_this_machine_only(launched):
    assert run() == 0
    [options] = launched
    assert options["host"] == "127.0.0.1" and options["port"] == 7860 and options["share"] is False
    assert options["block"] is True and options["inline"] is False and options["model"] == "mobile_sam"


def test_options_reach_the_app(launched, capsys):
    assert run("--host", "0.0.0.0", "--port", "8123", "--share", "--model", "fastsam_s", "--device", "cpu",
               "--max-upload-mb", "50") == 0
    [options] = launched
    assert (options["host"], options["port"], options["share"], options["model"], options["device"],
            options["max_upload_mb"]) == ("0.0.0.0", 8123, True, "fastsam_s", "cpu", 50.0)
    assert "public *.gradio.live link" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "sam_vit_z"], "unknown model 'sam_vit_z'; choose one of"),
    (["--max-upload-mb", "0"], "--max-upload-mb must be positive"),
])
def test_bad_arguments_fail_in_one_line_before_the_app_starts(launched, args, message):
    # helpers.cli.main prints ValueErrors as "error: <line>" and exits 2
    with pytest.raises(ValueError, match=message) as info:
        run(*args)
    assert "\n" not in str(info.value) and launched == []
    assert isinstance(info.value, UserInputError) or args[0] == "--max-upload-mb"
