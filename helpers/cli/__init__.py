"""``python -m helpers <command>``: the command line, kept apart from the library (like rasterio's ``rio``).

Each module listed in :data:`COMMAND_MODULES` defines ``register(subparsers)``, which adds its
sub-commands with ``set_defaults(func=...)``; ``func(args)`` returns the exit code. Domain modules never
import this package.

Exit codes (:mod:`helpers.errors`): 0 done; 1 a batch finished but some inputs failed (one line each);
2 bad arguments or input (one line, before anything is loaded or written); 3 weights unavailable (one
line naming the ways forward); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from ..errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_NO_WEIGHTS,
    CommandFailed,
    UserInputError,
    WeightsUnavailableError,
    one_line,
    user_facing_errors,
)

COMMAND_MODULES = (
    "helpers.cli.weights",  # models, prefetch, smoke-weights
    "helpers.cli.preprocess",  # preprocess
    "helpers.cli.segment",  # segment
    "helpers.cli.bench",  # bench
    "helpers.cli.vectorize",  # vectorize
    "helpers.cli.change",  # change
    "helpers.cli.evaluate",  # evaluate
    "helpers.cli.finetune",  # finetune
    "helpers.cli.app",  # app
    "helpers.cli.track",  # track
    "helpers.cli.export_onnx",  # export-onnx
    "helpers.cli.check",  # check (the workshop checklist)
)

# Kept for callers of the first release: bad command-line input is a UserInputError.
UserError = UserInputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers", description="sam-rs: SAM, SAM 2 and FastSAM for remote sensing"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> str:
    return f"warning: {message}\n"


def main(argv=None) -> int:
    """Run ``python -m helpers``; returns the exit code (see the module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    saved_format = warnings.formatwarning
    warnings.formatwarning = _one_line_warning  # a terminal user wants the message, not our source line
    try:
        return int(args.func(args) or 0)
    except WeightsUnavailableError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return EXIT_NO_WEIGHTS
    except user_facing_errors() as exc:
        print(f"error: {one_line(exc, with_type=False)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        warnings.formatwarning = saved_format


def run_command(*args) -> int:
    """Run ``python -m helpers ARGS...`` in this process, the way a notebook cell should run a command.

    The command's output appears in the cell as it is printed, and a failure stops the notebook
    (:class:`CommandFailed` names the command and its exit code) instead of scrolling past.

    Example::

        helpers.run_command("segment", "scenes/", "--model", "fastsam_s", "--out", "results/")
    """
    argv = [str(arg) for arg in args]
    code = main(argv)
    if code != 0:
        raise CommandFailed(f"python -m helpers {' '.join(argv)} exited with code {code}")
    return code
