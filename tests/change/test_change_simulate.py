"""Simulated SAR pairs: known changes where the land cover fits, speckle of L looks, files in both units."""

import numpy as np
import pytest
import rasterio

from helpers.change.simulate import (
    BARE,
    CLASS_DB,
    FIELD,
    FOREST,
    WATER,
    classes_from_optical,
    majority_filter,
    simulate_sar_pair,
)
from helpers.errors import UserInputError


def test_the_four_known_changes_are_placed_with_their_direction(sim_pair):
    pair = sim_pair(4)
    placed = {c["name"]: c for c in pair.changes}
    assert {name: c["direction"] for name, c in placed.items()} == {
        "flooded field": "decrease", "new building block": "increase", "cleared patch": "decrease",
        "drained pond": "increase"}
    for change in placed.values():
        x0, y0, x1, y1 = change["box"]
        codes = pair.truth[y0:y1, x0:x1]
        expected = 1 if change["direction"] == "increase" else 2
        assert (codes == expected).sum() == change["pixels"]
    assert placed["flooded field"]["delta_db"] < -5 and placed["new building block"]["delta_db"] > 5
    # each change happens where its land cover was
    assert (pair.classes[pair.truth > 0] != 0).all()
    x0, y0, x1, y1 = placed["cleared patch"]["box"]
    assert set(np.unique(pair.classes[y0:y1, x0:x1][pair.truth[y0:y1, x0:x1] > 0])) == {FOREST}


@pytest.mark.parametrize("looks", [1, 4])
def test_speckle_has_unit_mean_and_variance_one_over_looks(sim_pair, looks):
    pair = sim_pair(looks)
    ratio = pair.before / np.power(10, pair.reflectivity_before_db / 10)
    assert ratio.mean() == pytest.approx(1.0, abs=0.01)
    assert ratio.var() == pytest.approx(1 / looks, rel=0.05)


def test_unchanged_fields_vary_a_little_between_dates_and_the_rest_not_at_all(sim_pair):
    pair = sim_pair(4)
    delta = pair.reflectivity_after_db - pair.reflectivity_before_db
    unchanged = pair.truth == 0
    fields = unchanged & ((pair.classes == FIELD) | (pair.classes == BARE))
    assert 0.5 < delta[fields].std() < 1.5
    assert np.abs(delta[unchanged & (pair.classes == WATER)]).max() == 0
    assert np.median(pair.reflectivity_before_db[pair.classes == WATER]) == pytest.approx(CLASS_DB[WATER], abs=1)


def test_same_seed_same_pair_and_a_nodata_wedge():
    a = simulate_sar_pair(size=(96, 96), seed=3, nodata_edge=0.2)
    b = simulate_sar_pair(size=(96, 96), seed=3, nodata_edge=0.2)
    assert np.array_equal(a.before, b.before) and np.array_equal(a.truth, b.truth)
    assert not a.valid[:, 0].any() and a.valid[:, -1].all()
    assert (a.before[~a.valid] == 0).all() and (a.truth[~a.valid] == 0).all()
    with pytest.raises(UserInputError, match="64"):
        simulate_sar_pair(size=(32, 32))


def test_written_files_are_georeferenced_in_either_unit(sim_pair, tmp_path):
    pair = simulate_sar_pair(size=(96, 96), seed=1, nodata_edge=0.2)
    linear = pair.write(tmp_path / "lin")
    db = pair.write(tmp_path / "db", units="db")
    with rasterio.open(linear["before"]) as a, rasterio.open(db["before"]) as b, rasterio.open(linear["truth"]) as t:
        assert a.crs == b.crs == t.crs and a.transform == b.transform == t.transform
        assert a.nodata == 0 and np.isnan(b.nodata) and t.nodata == 255
        power, decibels = a.read(1), b.read(1)
        valid = pair.valid
        assert np.allclose(10 * np.log10(power[valid]), decibels[valid], atol=1e-4)
        assert np.isnan(decibels[~valid]).all() and (t.read(1)[~valid] == 255).all()


def test_land_cover_from_optical_bands():
    green = np.array([[50.0, 30, 30, 30]])
    swir1 = np.array([[20.0, 60, 40, 100]])
    nir = np.array([[10.0, 200, 200, 60]])
    red = np.array([[10.0, 20, 20, 50]])
    classes = classes_from_optical(swir1, nir, red, green, smooth=1)
    # water (green > swir1), field (bright SWIR vegetation), forest (dark SWIR vegetation), bare (low NDVI)
    assert classes.tolist() == [[WATER, FIELD, FOREST, BARE]]
    pair = simulate_sar_pair(classes=np.tile(np.repeat(classes, 24, axis=1), (96, 1)), seed=0, changes=())
    assert pair.shape == (96, 96) and pair.changes == [] and pair.truth.max() == 0


def test_majority_filter_removes_salt_and_pepper_but_keeps_parcels_and_nodata():
    classes = np.full((20, 20), FIELD, np.uint8)
    classes[:, 10:] = FOREST
    classes[5, 5] = FOREST  # an isolated pixel
    classes[0, 0] = 0  # nodata
    smoothed = majority_filter(classes, 3)
    assert smoothed[5, 5] == FIELD and smoothed[0, 0] == 0
    assert (smoothed[:, 10:] == FOREST).all() and (smoothed[1:, :10] == FIELD).all()
