"""``python -m helpers <command>``: one entry point; each concept module registers its own commands.

Every module listed in ``COMMAND_MODULES`` defines ``register_cli(subparsers)``, which adds its
sub-commands with ``set_defaults(func=...)``; ``func(args)`` returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "helpers.weights",  # models, prefetch, smoke-weights
    "helpers.raster",  # preprocess
    "helpers.batch",  # segment
    "helpers.bench",  # bench
)


class UserError(Exception):
    """Bad input from the command line: printed as one line, exit code 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers", description="sam-rs: SAM, SAM 2 and FastSAM for remote sensing"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register_cli(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
