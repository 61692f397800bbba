"""environment.yml (conda users) must parse and list the same packages as pyproject.toml."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name where they differ.
CONDA_NAMES = {"torch": "pytorch"}
EXTRAS = sorted(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])


def requirement_name(req: str) -> str:
    return re.split(r"[\s<>=!~\[;]", req.strip(), maxsplit=1)[0].lower()


@pytest.fixture(scope="module")
def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = set(), set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip.update(requirement_name(d) for d in dep.get("pip", []))
        else:
            conda.add(requirement_name(dep))
    return env, conda, pip


def test_environment_yml_parses_and_uses_conda_forge(environment):
    env, conda, _ = environment
    assert env["name"] == "sam-rs"
    assert env["channels"] == ["conda-forge"]
    assert "python" in conda and "pip" in conda


@pytest.mark.parametrize("extra", [None, *EXTRAS])
def test_every_pyproject_dependency_is_in_environment_yml(pyproject, environment, extra):
    _, conda, pip = environment
    project = pyproject["project"]
    reqs = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    missing = [r for r in reqs if CONDA_NAMES.get(requirement_name(r), requirement_name(r)) not in conda | pip]
    assert not missing, f"in pyproject.toml but not environment.yml: {missing}"


def test_environment_yml_has_nothing_pyproject_lacks(pyproject, environment):
    _, conda, pip = environment
    project = pyproject["project"]
    declared = {requirement_name(r) for r in project["dependencies"]}
    for reqs in project["optional-dependencies"].values():
        declared |= {requirement_name(r) for r in reqs}
    declared = {CONDA_NAMES.get(n, n) for n in declared} | {"python", "pip"}
    assert (conda | pip) - declared == set()


def test_constraints_pin_every_dependency(pyproject):
    pins = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    project = pyproject["project"]
    names = [requirement_name(r) for r in project["dependencies"]]
    for reqs in project["optional-dependencies"].values():
        names += [requirement_name(r) for r in reqs]
    unpinned = [n for n in names if n.replace("_", "-") not in pins]
    assert not unpinned, f"not pinned in requirements/constraints.txt: {unpinned}"
