"""Fixtures shared by the backend tests: smoke weights written once per machine, one small sample image.

(The repository-root ``conftest.py`` sets the offline / smoke-mode environment before this runs.)
"""

import numpy as np
import pytest

from helpers.models import ensure_smoke_weights

SAMPLE_SHAPE = (96, 128)  # (H, W) of sample_image()


def make_sample_image() -> np.ndarray:
    """A 96x128 RGB uint8 image with a few flat shapes (content matters little with random weights)."""
    height, width = SAMPLE_SHAPE
    image = np.full((height, width, 3), (70, 90, 60), np.uint8)
    image[10:50, 15:60] = (200, 180, 150)
    rows, cols = np.ogrid[:height, :width]
    image[(rows - 65) ** 2 + (cols - 95) ** 2 < 18**2] = (30, 60, 160)
    return image


@pytest.fixture(scope="session")
def smoke_weights():
    """``smoke_weights(name) -> Path``: the shared untrained weights of ``name`` (real architecture and
    checkpoint format) under ``$SAMRS_HOME/smoke``, written once and reused by tests, notebooks and
    benchmarks (:func:`helpers.models.ensure_smoke_weights`)."""
    return ensure_smoke_weights


@pytest.fixture(scope="session")
def sample_image():
    """``sample_image() -> ndarray``: a fresh (96, 128, 3) uint8 copy of the sample image on each call."""
    return make_sample_image


@pytest.fixture
def assert_weights_refused(tmp_path):
    """``assert_weights_refused(name, content, message, filename)``: write ``content`` (bytes, or an object
    for ``torch.save``) to ``tmp_path / filename`` and check that ``load_model(name, weights=...)``
    refuses it with a one-line ValueError matching ``message``; returns the error text."""
    import torch

    from helpers.models import load_model

    def check(name: str, content, message: str, filename: str = "weights.pth") -> str:
        path = tmp_path / filename
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            torch.save(content, path)
        with pytest.raises(ValueError, match=message) as info:
            load_model(name, weights=path, device="cpu")
        assert "\n" not in str(info.value)
        return str(info.value)

    return check


def _garble_first_block(path):
    """Overwrite the compressed data of the first tile: the header still opens, the pixels do not decode."""
    import rasterio

    with rasterio.open(path) as ds:
        offset = int(ds.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1))
        size = int(ds.get_tag_item("BLOCK_SIZE_0_0", "TIFF", bidx=1))
    data = bytearray(path.read_bytes())
    data[offset : offset + size] = b"\xff" * size
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="session")
def garble_first_block():
    """``garble_first_block(path) -> path``: make a tiled GeoTIFF whose header opens but pixels don't decode."""
    return _garble_first_block


def _load_fake_data_script():
    """``data/make_fake_data.py`` as a module: the one generator of the fake data set (torchgeo style)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data" / "make_fake_data.py"
    spec = importlib.util.spec_from_file_location("make_fake_data", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def fake_dataset():
    """``fake_dataset(root, size=(256, 256), seed=0) -> {name: path}``: the fake data set of
    ``data/make_fake_data.py`` (synthetic GeoTIFFs with a real CRS, labels, a PNG, a broken file)."""
    return _load_fake_data_script().write_fake_dataset


@pytest.fixture(autouse=True, scope="module")
def fresh_smoke_warnings():
    """Every test module sees the untrained-weights warning of its own first load (the package warns once per
    file and process, which would make modules depend on their order)."""
    import helpers.models

    helpers.models._warned.clear()
