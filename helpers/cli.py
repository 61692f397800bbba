"""``python -m helpers <command>``: one entry point; each concept module registers its own commands.

Every module listed in ``COMMAND_MODULES`` defines ``register_cli(subparsers)``, which adds its
sub-commands with ``set_defaults(func=...)``; ``func(args)`` returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

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


def user_facing_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input or an unusable file/folder, not a bug: shown as one line.

    Anything else keeps its traceback, because then the bug is ours.
    """
    errors: list[type[BaseException]] = [UserError, ValueError, OSError]
    try:
        from rasterio.errors import RasterioError

        errors.append(RasterioError)
    except ImportError:  # pragma: no cover - rasterio is a hard dependency
        pass
    try:
        from pyogrio.errors import DataSourceError

        errors.append(DataSourceError)
    except ImportError:  # pragma: no cover - pyogrio is a hard dependency
        pass
    return tuple(errors)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> str:
    return f"warning: {message}\n"


def main(argv=None) -> int:
    """Run ``python -m helpers``; returns the exit code (0 ok, 1 some inputs failed, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.formatwarning = _one_line_warning  # a terminal user wants the message, not our source line
    try:
        return int(args.func(args) or 0)
    except user_facing_errors() as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
