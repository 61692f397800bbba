"""Fixtures of the time-series tests: small synthetic stacks with shifted grids, real files, one tracker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers.data import write_synthetic_geotiff

TEST_IMAGE_SIZE = 128
"""SAM 2's input side in these tests: the smallest it accepts (frames are resized to it whatever their
size, so it, not the frame size, sets the cost: ~0.3 s per frame and object on one CPU core, against
~1 s at 256 and ~20 s at 1024)."""

# Two ponds (pixel XYXY edges) on a 96 x 128 px scene.
PONDS = [(18, 20, 46, 44), (74, 50, 110, 80)]

_SHARED = Path("/work/shared/data/opengeos")
_SHARED_FILES = {
    **{f"naip_{d[:4]}": f"naip/m_4709963_se_14_1_{d}.tif" for d in (
        "20090818", "20100629", "20120731", "20140720", "20150926", "20160816", "20170827", "20180716",
        "20190904", "20200831")},
    **{f"landsat_pucallpa_{y}": f"landsat/{y}.tif" for y in range(1985, 2021, 5)},
}


def real_file(name: str) -> Path:
    """A real case-study file by registry name (``naip_2009``, ``landsat_pucallpa_1985``...).

    Uses ``helpers.real_data_path`` (the vendored, sha256-checked copies) once it exists; until then the
    shared read-only copy of the same files. Skips the test when neither is there.
    """
    try:
        from helpers.data.real import real_data_path
    except ImportError:
        path = _SHARED / _SHARED_FILES[name]
        if not path.is_file():
            pytest.skip(f"real data {name} is not available here")
        return path
    return real_data_path(name)


@pytest.fixture(scope="session")
def real_data():
    """``real_data(name) -> Path`` (see :func:`real_file`)."""
    return real_file


def write_stack(folder: Path, dates=("20190704", "20200711", "20210702"), shifts=None, size=(96, 128),
                objects=PONDS, variant="rgb8", seed=0, crs="EPSG:32614", resolution=10.0,
                origin=(480000.0, 5200000.0), names=None) -> list[Path]:
    """Write one synthetic water scene per date, ``scene_<date>.tif``, and return the paths.

    Args:
        shifts: per date, the (x, y) shift of the origin in metres (default none): a sub-pixel shift puts
            that date on another grid (the alignment path).
        objects: pixel XYXY boxes of the ponds, the same on every date (the scenes differ by seed).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shifts = shifts or [(0.0, 0.0)] * len(dates)
    paths = []
    for k, (date, (dx, dy)) in enumerate(zip(dates, shifts, strict=True)):
        name = names[k] if names else f"scene_{date}.tif"
        paths.append(write_synthetic_geotiff(
            folder / name, kind="water", size=size, seed=seed + k, objects=objects, crs=crs,
            resolution=resolution, origin=(origin[0] + dx, origin[1] + dy), variant=variant))
    return paths


@pytest.fixture(scope="session")
def stack_writer():
    """``stack_writer(folder, ...) -> [paths]`` (see :func:`write_stack`)."""
    return write_stack


@pytest.fixture(scope="session")
def smoke_tracker():
    """One SAM 2.1 Hiera-T video tracker from the shared smoke weights at ``TEST_IMAGE_SIZE``, for the session."""
    from helpers.timeseries import load_tracker

    tracker = load_tracker("sam2.1_hiera_t", device="cpu", image_size=TEST_IMAGE_SIZE)
    assert tracker.smoke and tracker.image_size == TEST_IMAGE_SIZE
    return tracker


@pytest.fixture(scope="session")
def frame_painter():
    """``frame_painter(n, size=(96, 128), seed=0) -> [HxWx3 uint8]`` (see :func:`painted_frames`)."""
    return painted_frames


def painted_frames(n: int, size=(96, 128), seed: int = 0) -> list[np.ndarray]:
    """``n`` HxWx3 uint8 frames: two dark ponds on a green field that change a little date by date."""
    rng = np.random.default_rng(seed)
    frames = []
    for t in range(n):
        image = np.empty((*size, 3), np.uint8)
        image[:] = (90, 120, 60)
        image += rng.integers(0, 20, image.shape, dtype=np.uint8)
        for k, (x0, y0, x1, y1) in enumerate(PONDS):
            grow = (t if k == 0 else -t) * 2
            image[max(0, y0 - grow):y1 + grow, max(0, x0 - grow):x1 + grow] = (25, 50, 80)
        frames.append(image)
    return frames
