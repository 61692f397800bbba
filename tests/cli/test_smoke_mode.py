"""A newcomer without weights (issue 12): ``SAMRS_SMOKE=1`` works in every command.

The suite runs with ``SAMRS_SMOKE=1`` (conftest.py) and no weights in the cache, so a command that loads a
model succeeds here only through smoke weights, and must say its masks are meaningless. Every command is in
exactly one of three tables: run here, run in smoke mode by its own test file (named, and checked to
invoke it), or loading no model at all. A new command that is in none fails the first test.
"""

from pathlib import Path

import geopandas as gpd
import pytest

import helpers.cli
import helpers.models
from helpers.bench.latency import SMOKE_NOTE
from helpers.change.simulate import simulate_sar_pair
from helpers.smoke import SMOKE_BANNER

TESTS = Path(__file__).resolve().parents[1]

# command -> argv builder(files, out): run here, tiny inputs; each must print SAYS[command]
RUN_HERE = {
    "segment": lambda f, out: ["segment", f["buildings"], "--model", "fastsam_s", "--out", out, "--formats", "gpkg",
                               "--tile", "256", "--quiet"],
    "change": lambda f, out: ["change", f["before"], f["after"], "--method", "fastsam", "--model", "fastsam_s",
                              "--out", out, "--formats", "gpkg", "--quiet"],
    "bench": lambda f, out: ["bench", "--models", "fastsam_s", "--quick", "--repeats", "1", "--warmup", "0",
                             "--out", out],
}
SAYS = {"segment": SMOKE_BANNER, "change": SMOKE_BANNER, "bench": SMOKE_NOTE}  # bench: latencies stay real
# command -> the test file that runs it in smoke mode (slower commands: a server, a video model, exports)
RUN_ELSEWHERE = {
    "app": "cli/test_cli_app.py",
    "track": "cli/test_track.py",
    "export-onnx": "cli/test_export_onnx_cli.py",
    "finetune": "cli/test_finetune.py",
}
# commands that load no model: nothing to be untrained
NO_MODEL = {"models", "prefetch", "smoke-weights", "preprocess", "vectorize", "evaluate", "check"}


def registered_commands() -> set[str]:
    parser = helpers.cli.build_parser()
    [sub] = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return set(sub.choices)


def test_every_command_is_accounted_for():
    commands = registered_commands()
    tables = set(RUN_HERE) | set(RUN_ELSEWHERE) | NO_MODEL
    assert commands - tables == set(), "new command(s): run them in smoke mode here or name the test that does"
    assert not set(RUN_HERE) & set(RUN_ELSEWHERE) and not (set(RUN_HERE) | set(RUN_ELSEWHERE)) & NO_MODEL
    for command, test_file in RUN_ELSEWHERE.items():
        if command in commands:
            assert f'"{command}"' in (TESTS / test_file).read_text(), f"{test_file} does not run {command}"


@pytest.fixture(scope="module")
def files(tmp_path_factory, fake_dataset):
    root = tmp_path_factory.mktemp("smoke_cli")
    files = dict(fake_dataset(root, size=(128, 128)))
    pair = simulate_sar_pair(size=(96, 96), looks=4, seed=0).write(root / "sar_pair")
    return {**files, "before": pair["before"], "after": pair["after"]}


@pytest.mark.parametrize("command", sorted(RUN_HERE))
def test_model_commands_run_on_smoke_weights_and_say_so(command, files, tmp_path, capsys, recwarn, monkeypatch):
    monkeypatch.setenv("SAMRS_SMOKE", "1")
    monkeypatch.setattr(helpers.models, "_warned", set())  # each command warns as in its own process
    out = tmp_path / "out"
    assert helpers.cli.main([str(a) for a in RUN_HERE[command](files, out)]) == 0
    said = capsys.readouterr()
    told = said.out + said.err + " ".join(str(w.message) for w in recwarn)
    assert SAYS[command] in told
    for layer in out.rglob("*.gpkg"):  # the GIS layers carry it too
        frame = gpd.read_file(layer)
        assert len(frame) == 0 or frame["smoke"].all(), layer
