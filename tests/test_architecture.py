"""The package's shape: no import cycles (function-level and string imports included), a light
``import helpers``, one backend contract kept by every registry family, leaf modules that stay leaves."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "helpers"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, *([target] if target else [])])


def import_edges(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its body (top level, functions, strings).

    ``from X import name`` counts as importing ``X.name`` when that is a module, else ``X``; a string
    constant equal to a module name (``importlib.import_module("helpers.x")``, lazy export tables)
    counts as importing it. Importing a submodule does not count as importing its parent package.
    """
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve_relative(name, is_package, node.level, node.module) if node.level else node.module
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in modules:
                targets = [node.value]
            for target in targets:
                while target and target not in modules and "." in target:  # import a.b.c -> a.b.c or a.b
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != name:
                    edges[name].add(target)
    return edges


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a list of names."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    sys.setrecursionlimit(max(1000, 10 * len(edges)))

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return cycles


def test_the_package_has_no_import_cycle():
    cycles = find_cycles(import_edges(package_modules()))
    assert not cycles, "import cycles (function-level and string imports count): " + "; ".join(
        " <-> ".join(cycle) for cycle in cycles
    )


def test_the_cycle_finder_sees_function_level_and_string_imports(tmp_path):
    # The checker itself must catch what the package must not do (a lazy import closing a cycle).
    edges = {"helpers.a": {"helpers.b"}, "helpers.b": {"helpers.c"}, "helpers.c": {"helpers.a"}, "helpers.d": set()}
    assert find_cycles(edges) == [["helpers.a", "helpers.b", "helpers.c"]]
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("")
    (tmp_path / "helpers" / "one.py").write_text("def f():\n    from .two import g\n")
    (tmp_path / "helpers" / "two.py").write_text("import importlib\nM = importlib.import_module('helpers.one')\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "helpers"
    try:
        found = find_cycles(import_edges(package_modules()))
    finally:
        PACKAGE = saved
    assert found == [["helpers.one", "helpers.two"]]


LEAVES = {
    # module: the package modules it may import
    "helpers.config": set(),
    "helpers.errors": set(),
    "helpers.atomic": set(),
    "helpers.scene": set(),
    "helpers.maskops": set(),
    "helpers.render": set(),
    "helpers.registry": {"helpers.errors"},
    "helpers.smoke": {"helpers.config", "helpers.registry"},
}


@pytest.mark.parametrize("module", sorted(LEAVES))
def test_leaf_modules_stay_leaves(module):
    edges = import_edges(package_modules())
    assert edges[module] <= LEAVES[module], f"{module} imports {sorted(edges[module] - LEAVES[module])}"


def test_domain_modules_never_import_the_command_line():
    edges = import_edges(package_modules())
    # the lazy public surface (helpers/__init__) and ``python -m helpers`` may name the CLI; nothing else
    offenders = sorted(m for m, targets in edges.items()
                       if not m.startswith("helpers.cli") and m not in ("helpers", "helpers.__main__")
                       and any(t.startswith("helpers.cli") for t in targets))
    assert not offenders, f"CLI code is imported by domain modules: {offenders}"


def test_import_helpers_stays_light():
    code = ("import sys, helpers, helpers.config, helpers.registry, helpers.errors; "
            "print(sorted(m for m in ('torch', 'ultralytics', 'segment_anything', 'rasterio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_command_line_starts_without_the_models():
    """``python -m helpers --help`` (and building the parser of every command) must not load torch,
    ultralytics or segment-anything: a terminal user waits for them only when a command runs a model."""
    code = ("import sys, contextlib, io, helpers.cli\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    helpers.cli.main(['--help'])\n"
            "print(sorted(m for m in ('torch', 'ultralytics', 'segment_anything', 'sam2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
