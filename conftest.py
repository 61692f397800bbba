"""Test-session settings shared by tests/ and the notebooks, and the notebook runner.

Everything runs offline and in smoke mode: no weight download, no ultralytics hub check or font
download, and models are built from untrained weights of the real architectures instead of downloading
(``load_model`` does that itself when ``SAMRS_SMOKE=1``). Set before any test module imports
ultralytics; notebook kernels inherit this environment.

Notebooks (``notebooks/NN_*.ipynb``) are collected as one test each and executed top to bottom with
papermill. Their ``parameters`` cell holds the values a learner uses; the small values CI uses are
injected after it (papermill's convention), from ``notebooks/smoke_parameters.yaml``.
"""

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
TEST_CACHE = ROOT / ".cache" / "test"
NOTEBOOKS = ROOT / "notebooks"
SMOKE_PARAMETERS = NOTEBOOKS / "smoke_parameters.yaml"
NOTEBOOK_TIMEOUT_S = 900

os.environ["YOLO_AUTOINSTALL"] = "False"
os.environ["YOLO_OFFLINE"] = "1"
os.environ.setdefault("SAMRS_SMOKE", "1")
os.environ.setdefault("SAMRS_HOME", str(TEST_CACHE))
os.environ.setdefault("SAMRS_CACHE_DIR", str(TEST_CACHE / "weights"))
os.environ.setdefault("SAMRS_OUTPUT_DIR", str(TEST_CACHE / "outputs"))
os.environ.setdefault("MPLBACKEND", "Agg")

# Ultralytics looks for Arial*.ttf in its config dir and downloads it when missing; give it
# matplotlib's bundled DejaVuSans under those names so plotting never touches the network.
_yolo_dir = TEST_CACHE / "ultralytics"
_yolo_dir.mkdir(parents=True, exist_ok=True)
os.environ["YOLO_CONFIG_DIR"] = str(_yolo_dir)
_font_src = None
try:
    import matplotlib

    _font_src = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
except ImportError:  # pragma: no cover - matplotlib is a hard dependency
    pass
if _font_src is not None and _font_src.is_file():
    for _name in ("Arial.ttf", "Arial.Unicode.ttf"):
        if not (_yolo_dir / _name).exists():
            shutil.copyfile(_font_src, _yolo_dir / _name)


def smoke_parameters() -> dict:
    """``{notebook stem: {name: value}}``: what CI injects into each notebook's ``parameters`` cell."""
    import yaml

    return yaml.safe_load(SMOKE_PARAMETERS.read_text()) or {}


def pytest_collect_file(parent, file_path):
    if file_path.suffix == ".ipynb" and file_path.parent == NOTEBOOKS and file_path.stem[:2].isdigit():
        return NotebookFile.from_parent(parent, path=file_path)
    return None


class NotebookFile(pytest.File):
    def collect(self):
        yield NotebookItem.from_parent(self, name=self.path.name)


class NotebookError(Exception):
    """A cell failed: which one, its source, and the error it raised."""


class NotebookItem(pytest.Item):
    """Runs one notebook top to bottom with papermill, smoke parameters injected when ``SAMRS_SMOKE=1``."""

    def runtest(self):
        import papermill
        from papermill.exceptions import PapermillExecutionError

        parameters = smoke_parameters().get(self.path.stem, {}) if os.environ.get("SAMRS_SMOKE") == "1" else {}
        executed = TEST_CACHE / "executed" / self.path.name  # kept for a look after a failure
        executed.parent.mkdir(parents=True, exist_ok=True)
        try:
            papermill.execute_notebook(
                str(self.path), str(executed), parameters=parameters, kernel_name="python3", cwd=str(NOTEBOOKS),
                progress_bar=False, execution_timeout=NOTEBOOK_TIMEOUT_S,
            )
        except PapermillExecutionError as error:
            source = error.source if len(error.source) < 2000 else error.source[:2000] + " ..."
            raise NotebookError(f"cell {error.exec_count}:\n{source}\n\n{error.ename}: {error.evalue}\n"
                                f"(executed copy: {executed})") from None

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, NotebookError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"notebook {self.path.name}"
