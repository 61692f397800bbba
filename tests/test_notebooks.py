"""Notebook hygiene (Project Pythia cookbook style). Execution is done by the notebook runner in the
repository's conftest.py (papermill, smoke parameters injected) when the suite runs ``notebooks/``."""

import ast
import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def smoke_parameters() -> dict:
    return yaml.safe_load((ROOT / "notebooks" / "smoke_parameters.yaml").read_text()) or {}

PREREQUISITES_HEADER = "| Concepts | Importance | Notes |"
# Plumbing that belongs in the package or the runner, not in a lesson.
FORBIDDEN = {
    "weights_for(": "load_model uses smoke weights by itself when SAMRS_SMOKE=1",
    "smoke_mode(": "smoke values are injected into the parameters cell; lessons do not branch on it",
    "SAMRS_SMOKE": "smoke values are injected into the parameters cell; lessons do not branch on it",
    "SMOKE": "smoke values are injected into the parameters cell; lessons do not branch on it",
    'simplefilter("ignore")': "hiding every warning would hide real ones too",
    "SAMRS_HOME": "lessons write under helpers.output_dir(...)",
}


def test_the_numbered_lessons_exist():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(len(numbers))), "notebooks are numbered 00, 01, ... without gaps"
    assert len(NOTEBOOKS) >= 6


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_committed_without_outputs(notebook):
    path, nb = notebook
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


def test_opens_with_the_one_preamble_format(notebook):
    path, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown", f"{path.name}: the first cell is the preamble"
    title = first.source.splitlines()[0]
    assert re.fullmatch(rf"# {path.name[:2]} · \S.*", title), f"{path.name}: title must be '# {path.name[:2]} · Title'"
    headings = re.findall(r"^## (.+)$", first.source, re.M)
    assert headings == ["Overview", "Prerequisites", "Time to learn", "Hardware"], f"{path.name}: {headings}"
    assert PREREQUISITES_HEADER in first.source, f"{path.name}: prerequisites table needs {PREREQUISITES_HEADER}"


def test_imports_up_front_and_one_parameter_cell(notebook):
    path, nb = notebook
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert re.search(r"^\s*(import|from) ", code[0].source, re.M), f"{path.name}: first code cell is not imports"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters', has {len(tagged)}"
    later_imports = [c for c in code[2:] if re.search(r"^(import|from \S+ import) ", c.source, re.M)]
    assert not later_imports, f"{path.name}: imports after the first cells: {later_imports[0].source[:60]!r}"


def test_no_plumbing_in_lessons(notebook):
    path, nb = notebook
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for text, why in FORBIDDEN.items():
            assert text not in cell.source, f"{path.name}: {text!r} in a cell ({why}):\n{cell.source[:200]}"


def test_only_public_names_are_imported(notebook):
    path, nb = notebook
    imports = next(c for c in nb.cells if c.cell_type == "code").source
    modules = re.findall(r"^\s*(?:from|import) (helpers\S*)", imports, re.M)
    assert modules and set(modules) == {"helpers"}, f"{path.name}: import only `helpers` (public names): {modules}"


def test_smoke_parameters_name_variables_of_the_parameters_cell(notebook):
    path, nb = notebook
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assigned = {t.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign) for t in node.targets
                if isinstance(t, ast.Name)}
    injected = set(smoke_parameters().get(path.stem, {}))
    assert injected <= assigned, f"{path.name}: smoke_parameters.yaml sets {sorted(injected - assigned)}, not in its parameters cell"


def test_ends_with_summary_and_exercise(notebook):
    path, nb = notebook
    tail = "\n".join(c.source for c in nb.cells[-4:] if c.cell_type == "markdown")
    assert re.search(r"^#+ .*Summary", tail, re.M | re.I), f"{path.name}: no Summary near the end"
    assert re.search(r"^#+ .*Exercise", tail, re.M | re.I), f"{path.name}: no Exercise near the end"
