"""Plain-text tables and CSV files for benchmark and evaluation results (no dependencies)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path

from .atomic import atomic_output

__all__ = ["Table", "format_table", "markdown_table", "print_table", "write_csv"]


def _columns(columns: Sequence) -> list[tuple[str, str]]:
    """Columns as (key, header): a plain string is both."""
    out = []
    for column in columns:
        if isinstance(column, str):
            out.append((column, column))
        else:
            key, header = column
            out.append((str(key), str(header)))
    return out


def _cell(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if value == 0 or abs(value) >= 100:
            return f"{value:.0f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"
    return str(value)


def format_table(rows: Sequence[dict], columns: Sequence) -> str:
    """A plain-text table: ``columns`` are keys of ``rows`` or ``(key, header)`` pairs.

    Missing values and NaN print as ``n/a``; floats get 3 significant digits (or none above 100).
    """
    cols = _columns(columns)
    cells = [[header for _, header in cols]]
    cells += [[_cell(row.get(key)) for key, _ in cols] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cols))]
    lines = []
    for n, r in enumerate(cells):
        left, *rest = r
        line = left.ljust(widths[0]) + "  " + "  ".join(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))
        lines.append(line.rstrip())
        if n == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_<>|[]"})


def _plain_cell(value) -> str:
    text = value if isinstance(value, str) else repr(value)
    if isinstance(value, float) and value == value and not value.is_integer():
        text = f"{value:g}"  # 0.341333, not 0.3413333333333333; 1.0 stays 1.0
    return text.replace("\n", " ")


def _markdown_cell(value) -> str:
    """Text as text (Markdown's special characters escaped, so ``this**layer`` is not bold), any other
    value as code: ``32``, ``0.88``, ``None``."""
    text = _plain_cell(value)
    return text.translate(_MARKDOWN_SPECIAL) if isinstance(value, str) else f"`{text}`"


def markdown_table(rows: Sequence[dict], columns: Sequence) -> str:
    """A Markdown table with every cell in full: strings as text, other values as code written as in
    Python (``32`` stays ``32``, ``0.88`` stays ``0.88``, ``None`` stays ``None``)."""
    cols = _columns(columns)
    lines = ["| " + " | ".join(header for _, header in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_markdown_cell(row.get(key)) for key, _ in cols) + " |" for row in rows]
    return "\n".join(lines)


class Table:
    """Rows of a small table that Jupyter shows in full (a Markdown table: no column is cut short, and
    integers are not turned into floats as in a DataFrame column with gaps); plain text elsewhere.

    Args:
        rows: one dict per row.
        columns: keys of ``rows``, or ``(key, header)`` pairs.
    """

    def __init__(self, rows: Sequence[dict], columns: Sequence):
        self.rows = [dict(row) for row in rows]
        self.columns = list(columns)

    def __len__(self) -> int:
        return len(self.rows)

    def to_markdown(self) -> str:
        return markdown_table(self.rows, self.columns)

    def to_dataframe(self):
        """The rows as a pandas DataFrame (values of one column in ``object`` dtype keep their types)."""
        import pandas as pd

        keys = [key for key, _ in _columns(self.columns)]
        return pd.DataFrame([{k: row.get(k) for k in keys} for row in self.rows], columns=keys, dtype=object)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        cols = _columns(self.columns)
        cells = [[header for _, header in cols]]
        cells += [[_plain_cell(row.get(key)) for key, _ in cols] for row in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(cols))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
        return "\n".join([lines[0], "-" * max(len(line) for line in lines), *lines[1:]])


def print_table(rows: Sequence[dict], columns: Sequence, title: str | None = None, file=None) -> str:
    """Print :func:`format_table` (with an optional title line) and return the text."""
    text = format_table(rows, columns)
    if title:
        text = f"{title}\n{text}"
    print(text, file=file or sys.stdout)
    return text


def write_csv(rows: Sequence[dict], path, columns: Sequence[str] | None = None) -> Path:
    """Write ``rows`` (dicts) to a CSV file with ``columns`` (default: keys of the first row)."""
    path = Path(path)
    keys = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    with atomic_output(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in keys})
    return path
