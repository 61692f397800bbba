"""``check``: is this laptop ready for the workshop? (the checklist that ends notebook 00)."""

from __future__ import annotations

from ..readiness import LESSON_MODELS, readiness_checklist
from ..registry import get_spec


def _cmd_check(args) -> int:
    models = args.models or list(LESSON_MODELS)
    for name in models:
        get_spec(name)  # unknown names -> one-line error, exit 2
    checklist = readiness_checklist(models)
    print(repr(checklist))
    return 0 if checklist.ready else 1


def register(subparsers) -> None:
    """Add ``python -m helpers check``."""
    parser = subparsers.add_parser(
        "check",
        help="ready / not-ready checklist for the workshop: Python, packages, device, weights, data, disk",
        description="Check this machine for the lessons, line by line; a line marked ✗ says what to do. "
                    "Exit code 0 when ready, 1 when a line is not ready. With SAMRS_SMOKE=1, missing weights "
                    "are fine (the lessons then use untrained weights: masks are meaningless).",
    )
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help=f"registry names whose weights the lessons need (default: {' '.join(LESSON_MODELS)})")
    parser.set_defaults(func=_cmd_check)
