"""Test-session settings shared by tests/ and the notebooks nbmake executes.

Everything runs offline and in smoke mode: no weight download, no ultralytics hub check or font
download, and notebooks build untrained weights of the real architectures instead of downloading.
Set before any test module imports ultralytics; notebook kernels inherit this environment.
"""

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TEST_CACHE = ROOT / ".cache" / "test"

os.environ["YOLO_AUTOINSTALL"] = "False"
os.environ["YOLO_OFFLINE"] = "1"
os.environ.setdefault("SAMRS_SMOKE", "1")
os.environ.setdefault("SAMRS_HOME", str(TEST_CACHE))
os.environ.setdefault("SAMRS_CACHE_DIR", str(TEST_CACHE / "weights"))

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
