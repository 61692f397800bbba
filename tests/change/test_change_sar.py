"""SAR arithmetic: units, speckle filters, the log-ratio (epsilon before the division) and the 8-bit view."""

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from helpers.change.sar import (
    boxcar,
    check_units,
    difference_image,
    estimate_looks,
    lee,
    log_ratio,
    naive_log_ratio,
    parse_filter,
    to_linear,
)
from helpers.errors import UserInputError


def speckle(shape, looks, seed=0):
    return np.random.default_rng(seed).gamma(looks, 1.0 / looks, shape)


def test_negative_linear_values_are_refused_as_probably_db():
    db = np.random.default_rng(0).uniform(-25, -5, 1000)
    with pytest.raises(UserInputError, match="negative.*looks like dB"):
        check_units(db, "linear", "x.tif")
    check_units(db, "db")  # fine


def test_positive_small_db_values_are_refused_as_probably_linear():
    power = np.random.default_rng(0).uniform(0.001, 0.3, 1000)
    with pytest.raises(UserInputError, match="looks like linear power"):
        check_units(power, "db", "x.tif")
    check_units(power, "linear")
    with pytest.raises(UserInputError, match="units must be"):
        check_units(power, "amplitude")


def test_uncalibrated_numbers_are_warned_about():
    with pytest.warns(UserWarning, match="uncalibrated digital numbers or amplitude"):
        check_units(np.random.default_rng(0).uniform(50, 3000, 1000), "linear", "dn.tif")


def test_to_linear_converts_db_and_marks_non_positive_power_invalid():
    power, ok = to_linear(np.array([[-10.0, 0.0, np.nan]]), "db")
    assert np.allclose(power[0, :2], [0.1, 1.0]) and ok.tolist() == [[True, True, False]]
    power, ok = to_linear(np.array([[0.5, 0.0, -1.0]]), "linear")
    assert ok.tolist() == [[True, False, False]] and power[0, 1:].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("spec, kind, size", [("lee:7", "lee", 7), ("BOXCAR:3", "boxcar", 3), ("lee", "lee", 5),
                                              ("none", "none", 1), (None, "none", 1)])
def test_parse_filter(spec, kind, size):
    parsed = parse_filter(spec)
    assert (parsed.kind, parsed.size) == (kind, size)
    assert parse_filter(str(parsed)) == parsed


@pytest.mark.parametrize("spec", ["median:5", "lee:4", "lee:1", "lee:x", "boxcar:33", "none:3"])
def test_parse_filter_refuses_bad_specs(spec):
    with pytest.raises(UserInputError):
        parse_filter(spec)


def test_boxcar_is_the_moving_mean_and_leaves_nodata_out():
    power = speckle((40, 40), 1)
    assert np.allclose(boxcar(power, 5)[5:-5, 5:-5], uniform_filter(power, 5)[5:-5, 5:-5])
    valid = np.ones((40, 40), bool)
    valid[:, :20] = False
    power[:, :20] = 0.0  # nodata zeros must not pull the mean down
    out = boxcar(power, 5, valid)
    assert np.allclose(out[10, 20], power[8:13, 20:23].mean())
    assert (out[:, :20] == 0).all()


def test_lee_smooths_flat_speckle_like_the_mean_but_keeps_a_step_edge():
    looks = 4
    reflectivity = np.where(np.arange(64)[None, :] < 32, 0.01, 1.0) * np.ones((64, 1))
    power = reflectivity * speckle((64, 64), looks, seed=1)
    filtered = lee(power, 7, looks)
    flat = filtered[:, 5:25] / 0.01
    assert flat.std() < 0.5 * (power[:, 5:25] / 0.01).std()  # speckle variance strongly reduced
    # at the edge the mean smears 100x brighter pixels into the dark side; Lee keeps the pixel values there
    edge = slice(30, 32)
    assert np.median(np.abs(filtered[:, edge] - power[:, edge])) < 0.2 * np.median(
        np.abs(boxcar(power, 7)[:, edge] - power[:, edge]))
    with pytest.raises(UserInputError, match="looks"):
        lee(power, 7, 0)


@pytest.mark.parametrize("looks", [1, 4])
def test_estimate_looks_recovers_the_speckle_looks(looks):
    assert estimate_looks(speckle((210, 210), looks, seed=2)) == pytest.approx(looks, rel=0.1)


def test_log_ratio_is_the_db_difference_in_the_linear_domain():
    before, after = np.array([[0.01, 0.1]]), np.array([[0.1, 0.01]])
    assert np.allclose(log_ratio(before, after, epsilon=0), [[10.0, -10.0]], atol=1e-5)
    assert np.allclose(log_ratio(before, after, epsilon=0, absolute=True), [[10.0, 10.0]], atol=1e-5)
    assert np.isnan(log_ratio(before, after, valid=np.array([[True, False]]))[0, 1])


def test_epsilon_is_added_before_dividing_so_zero_power_stays_finite():
    before, after = np.array([[0.0, 0.0, 0.01]]), np.array([[0.0, 0.01, 0.0]])
    lr = log_ratio(before, after, epsilon=1e-4)
    assert np.isfinite(lr).all()
    assert lr[0, 0] == 0.0  # nothing -> nothing is no change, not 0/0
    assert lr[0, 1] == pytest.approx(10 * np.log10(0.0101 / 1e-4), rel=1e-5)
    # the naive recipe (eps after the division, on dB images) breaks down on the same pixels
    with np.errstate(divide="ignore"):
        naive = naive_log_ratio(10 * np.log10(before), 10 * np.log10(after))
    assert np.isnan(naive[0, 0]) and np.isnan(naive[0, 2])  # 0/0 and x/0
    assert naive[0, 1] == pytest.approx(np.log(1e-6))  # -20 dB / -inf dB = 0: the epsilon, not the data, decides


def test_dividing_db_values_flips_with_the_sign_of_the_db_value():
    # the same +6 dB change gives opposite "ratios" on either side of 0 dB: why dB must not be divided
    naive = naive_log_ratio(np.array([-3.0, 3.0]), np.array([3.0, 9.0]))
    assert np.isnan(naive[0]) and naive[1] > 0
    assert log_ratio(10 ** np.array([-0.3, 0.3]), 10 ** np.array([0.3, 0.9]), epsilon=0) == pytest.approx([6, 6])


def test_difference_image_has_a_fixed_scale_and_never_wraps_negative_values():
    lr = np.array([[0.0, 5.0, 10.0, 20.0, -3.0, np.nan]], np.float32)
    image = difference_image(lr, scale_db=10.0, style="signed")
    assert image.dtype == np.uint8 and image.shape == (1, 6, 3)
    assert image[0, :, 1].tolist() == [0, 128, 255, 255, 76, 0]  # green = magnitude
    assert image[0, :, 0].tolist() == [0, 128, 255, 255, 0, 0]  # red = increase only
    assert image[0, :, 2].tolist() == [0, 0, 0, 0, 76, 0]  # blue = decrease (-3 dB -> 76, not 253)
    grey = difference_image(lr, style="grey")
    assert (grey[..., 0] == grey[..., 2]).all() and (grey[..., 0] == image[..., 1]).all()
    with pytest.raises(UserInputError):
        difference_image(lr, scale_db=0)
