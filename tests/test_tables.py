"""Plain-text, Markdown and CSV tables."""

import csv

from helpers.tables import Table, format_table, markdown_table, write_csv


def test_format_table_aligns_and_writes_missing_as_na():
    text = format_table([{"model": "sam", "ms": 12.345}, {"model": "fastsam", "ms": float("nan")}], ["model", "ms"])
    lines = text.splitlines()
    assert lines[0].split() == ["model", "ms"] and set(lines[1]) == {"-"}
    assert lines[2].split() == ["sam", "12.3"] and lines[3].split() == ["fastsam", "n/a"]


def test_markdown_table_keeps_values_as_written():
    rows = [{"name": "points_per_side", "value": 32}, {"name": "offset", "value": 1.0},
            {"name": "ratio", "value": 512 / 1500}, {"name": "grids", "value": None},
            {"name": "doc", "value": "this**layer | b " + "x" * 80}]
    lines = markdown_table(rows, ["name", ("value", "default")]).splitlines()
    assert lines[0] == "| name | default |"
    assert lines[2] == "| points\\_per\\_side | `32` |" and lines[3] == "| offset | `1.0` |"
    assert lines[4] == "| ratio | `0.341333` |" and lines[5] == "| grids | `None` |"
    assert lines[6] == "| doc | this\\*\\*layer \\| b " + "x" * 80 + " |"  # escaped, never cut short


def test_table_shows_in_full_in_jupyter_and_as_text():
    table = Table([{"a": 1, "b": "y" * 120}], ["a", "b"])
    assert table._repr_markdown_() == markdown_table(table.rows, table.columns)
    assert "y" * 120 in repr(table) and len(table) == 1
    assert repr(table).splitlines()[2].split() == ["1", "y" * 120]  # plain text: no Markdown escapes
    frame = table.to_dataframe()
    assert frame.loc[0, "a"] == 1 and isinstance(frame.loc[0, "a"], int)


def test_write_csv(tmp_path):
    path = write_csv([{"a": 1, "b": None}], tmp_path / "t.csv")
    assert list(csv.DictReader(path.open())) == [{"a": "1", "b": ""}]
