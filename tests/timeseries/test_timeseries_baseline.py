"""Per-date baselines: the same prompts on each date with an image model, and spectral-index masks."""

import numpy as np
import pytest
import rasterio
from affine import Affine

from helpers.models import load_model
from helpers.timeseries import ObjectPrompt, index_masks, open_stack, predict_each_date
from helpers.timeseries.baseline import prompt_for_each_date
from helpers.timeseries.prompts import PlacedPrompt

POND = (slice(10, 20), slice(8, 24))  # rows, cols of a pond
LAKE = (slice(30, 44), slice(30, 50))


def write_ndwi_stack(folder, dry_dates=(1,)):
    """4-band uint16 (red, green, blue, nir) dates: water has green > nir; the pond dries on ``dry_dates``."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for t, year in enumerate((2018, 2019, 2020)):
        data = np.empty((4, 48, 64), np.uint16)
        data[:] = rng.integers(900, 1100, (4, 48, 64))
        data[3] += 2000  # land: bright NIR
        for rows, cols in ([POND] if t not in dry_dates else []) + [LAKE]:
            data[1, rows, cols] = 1500  # water: green above NIR
            data[3, rows, cols] = 300
        data[:, 0:3, :] = 0  # a strip of nodata
        with rasterio.open(folder / f"d_{year}.tif", "w", driver="GTiff", width=64, height=48, count=4,
                           dtype="uint16", nodata=0, crs="EPSG:32614",
                           transform=Affine(10, 0, 480000, 0, -10, 5200000)) as dst:
            dst.write(data)
    return folder


def test_index_masks_follow_the_water_under_each_prompt(tmp_path):
    stack = open_stack(write_ndwi_stack(tmp_path / "s"), bands=[1, 2, 3])
    result = index_masks(stack, [ObjectPrompt(1, points=[(12, 14)]), ObjectPrompt(2, box=(25, 25, 60, 46))],
                         bands=(2, 4), name="NDWI")
    pond, lake = np.zeros((48, 64), bool), np.zeros((48, 64), bool)
    pond[POND], lake[LAKE] = True, True
    np.testing.assert_array_equal(result.masks[:, 0], [pond, np.zeros_like(pond), pond])  # dried out in 2019
    np.testing.assert_array_equal(result.masks[:, 1], [lake] * 3)
    assert result.method == "NDWI > 0 (pseudo-reference)" and np.isnan(result.scores).all()
    assert result.valid_fraction == pytest.approx([45 / 48] * 3)


def test_the_nearest_prompted_date_gives_each_dates_prompt():
    early, late = PlacedPrompt(1, 0, box=np.array([0, 0, 5, 5.0])), PlacedPrompt(1, 3, box=np.array([1, 1, 6, 6.0]))
    assert prompt_for_each_date([early, late], 5)[1] == [early, early, late, late, late]
    tie = PlacedPrompt(1, 2, box=np.array([2, 2, 7, 7.0]))
    assert prompt_for_each_date([early, tie], 2)[1] == [early, early]  # date 1 ties: the earlier prompt


def test_each_date_is_encoded_once_and_prompted_alike(tmp_path):
    stack = open_stack(write_ndwi_stack(tmp_path / "s", dry_dates=()), bands=[4, 2, 1])
    model = load_model("conventional")
    encoded = []
    original = model.set_image

    def counting(image, **options):
        encoded.append(image.name)
        return original(image, **options)

    model.set_image = counting
    result = predict_each_date(stack, model, [ObjectPrompt(1, points=[(12, 14)], date="2020"),
                                              ObjectPrompt(2, box=(28, 28, 52, 46))], progress=False)
    assert encoded == stack.labels and result.method == "per-date image prediction"
    assert result.object_ids == [1, 2] and result.model == "conventional" and len(result.timings["encode_s"]) == 3
    for t in range(3):
        assert result.masks[t, 0, 14, 12]  # the segment under the click
        assert not result.masks[t][:, 0:3].any()  # never on nodata


def test_dark_nir_below_each_dates_otsu_threshold(tmp_path):
    stack = open_stack(write_ndwi_stack(tmp_path / "s"), bands=[1, 2, 3])
    result = index_masks(stack, [ObjectPrompt(1, points=[(12, 14)])], bands=4, threshold="otsu", below=True,
                         name="NIR")
    pond = np.zeros((48, 64), bool)
    pond[POND] = True
    np.testing.assert_array_equal(result.masks[:, 0], [pond, np.zeros_like(pond), pond])
    assert result.method == "NIR < Otsu (pseudo-reference)"
    assert all(300 < level < 2900 for level in result.extra["thresholds"])  # between water and land NIR
