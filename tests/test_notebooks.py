"""Notebook hygiene (Project Pythia cookbook style). Execution itself is done by nbmake in `make test`."""

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
EXPECTED = [
    "00_setup_and_data",
    "01_sam_interactive_points",
    "02_fastsam_prompts",
    "03_sam_vs_fastsam",
    "04_amg_parameter_tuning",
    "05_large_scenes_and_export",
]


def test_the_numbered_lessons_exist():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_committed_without_outputs(notebook):
    path, nb = notebook
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


def test_opens_with_pythia_preamble(notebook):
    path, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.lstrip().startswith("# "), f"{path.name}: no title"
    for section in ("Overview", "Prerequisites", "Time to learn", "Hardware"):
        # A heading ("## Time to learn") or a bold label ("- **Time to learn**: ...") as Pythia uses.
        pattern = rf"^(#+ .*{section}|\s*[-*]?\s*\*\*{section})"
        assert re.search(pattern, first.source, re.M | re.I), f"{path.name}: no '{section}' section"


def test_imports_up_front_and_one_parameter_cell(notebook):
    path, nb = notebook
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert re.search(r"^\s*(import|from) ", code[0].source, re.M), f"{path.name}: first code cell is not imports"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters', has {len(tagged)}"
    later_imports = [c for c in code[2:] if re.search(r"^(import|from \S+ import) ", c.source, re.M)]
    assert not later_imports, f"{path.name}: imports after the first cells: {later_imports[0].source[:60]!r}"


def test_ends_with_summary_and_exercise(notebook):
    path, nb = notebook
    tail = "\n".join(c.source for c in nb.cells[-4:] if c.cell_type == "markdown")
    assert re.search(r"^#+ .*Summary", tail, re.M | re.I), f"{path.name}: no Summary near the end"
    assert re.search(r"^#+ .*Exercise", tail, re.M | re.I), f"{path.name}: no Exercise near the end"
