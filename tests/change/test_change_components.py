"""Connected change objects found window by window equal those of the whole image."""

import numpy as np
import pytest
import rasterio
from scipy import ndimage as ndi
from scipy.ndimage import gaussian_filter

from helpers.change.components import label_change, threshold_classes
from helpers.errors import UserInputError

HEIGHT, WIDTH, THRESHOLD, MIN_AREA = 150, 205, 1.0, 5


@pytest.fixture(scope="module")
def field():
    noise = np.random.default_rng(0).standard_normal((HEIGHT, WIDTH))
    lr = (gaussian_filter(noise, 2.5) * 12).astype(np.float32)
    lr[5:9, 5:9] = np.nan
    return lr


def reader(lr):
    return lambda w: lr[int(w.row_off):int(w.row_off + w.height), int(w.col_off):int(w.col_off + w.width)]


def reference_areas(lr, signed, connectivity):
    classes = threshold_classes(lr, THRESHOLD, signed)
    structure = np.ones((3, 3)) if connectivity == 8 else None
    areas = []
    for kind in (1, 2) if signed else (1,):
        labels, _ = ndi.label(classes == kind, structure=structure)
        counts = np.bincount(labels.ravel())[1:]
        areas += counts[counts >= MIN_AREA].tolist()
    return sorted(areas)


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("window", [32, 70])
def test_windowed_objects_equal_whole_image_objects(field, tmp_path, signed, connectivity, window):
    out = tmp_path / "labels.tif"
    comps = label_change(reader(field), WIDTH, HEIGHT, THRESHOLD, out_path=out, min_area=MIN_AREA,
                         connectivity=connectivity, signed=signed, window=window)
    assert sorted(comps.areas.tolist()) == reference_areas(field, signed, connectivity)
    with rasterio.open(out) as ds:
        labels = ds.read(1)
    assert np.array_equal(np.bincount(labels.ravel(), minlength=comps.count + 1)[1:], comps.areas)
    boxes = [[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in ndi.find_objects(labels)]
    assert np.array_equal(comps.boxes, boxes)
    magnitude = np.abs(np.nan_to_num(field))
    for i, (col, row) in enumerate(comps.peaks.astype(int)):
        assert labels[row, col] == i + 1
        assert magnitude[row, col] == magnitude[labels == i + 1].max()
    if signed:  # one direction per object
        classes = threshold_classes(field, THRESHOLD, True)
        for i, kind in enumerate(comps.directions):
            assert set(np.unique(classes[labels == i + 1])) == {kind}


def test_increase_touching_decrease_is_two_objects_signed_and_one_absolute():
    lr = np.zeros((20, 20), np.float32)
    lr[5:10, 5:10], lr[5:10, 10:15] = 5.0, -5.0
    signed = label_change(reader(lr), 20, 20, 1.0)
    absolute = label_change(reader(lr), 20, 20, 1.0, signed=False)
    assert signed.count == 2 and sorted(signed.directions.tolist()) == [1, 2]
    assert absolute.count == 1 and absolute.areas.tolist() == [50]
    with pytest.raises(UserInputError):
        label_change(reader(lr), 20, 20, 1.0, connectivity=6)
