"""Argument values shared by several commands: ``--param KEY=VALUE`` and ``--formats a,b|all``."""

from __future__ import annotations

import json

from ..errors import UserInputError

__all__ = ["parse_param", "parse_formats"]


def parse_param(text: str) -> tuple[str, object]:
    """``"points_per_side=32"`` -> ``("points_per_side", 32)``: the value as JSON when it parses, else text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UserInputError(f"--param wants KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def parse_formats(text: str, formats) -> tuple[str, ...]:
    """``"gpkg,tif"`` (or ``"all"``) -> the chosen names of ``formats``, in the order given.

    Raises:
        UserInputError: an unknown name, or nothing named.
    """
    chosen = [f.strip().lower() for f in text.split(",") if f.strip()]
    if chosen == ["all"]:
        return tuple(formats)
    unknown = [f for f in chosen if f not in formats]
    if unknown or not chosen:
        raise UserInputError(f"unknown --formats {', '.join(unknown) or repr(text)}; choose from "
                             f"{', '.join(formats)} or all")
    return tuple(chosen)
