"""Thresholds: Otsu (scikit-image, from the histogram), Kittler-Illingworth against the Bayes optimum, manual."""

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm
from skimage.filters import threshold_otsu

from helpers.change.thresholds import (
    HIST_BIN_DB,
    Histogram,
    compute_threshold,
    kittler_illingworth,
    otsu,
    parse_threshold,
)
from helpers.errors import UserInputError

# Unchanged pixels: a narrow mode near 0 dB (95 %); changed: a wide one around 6 dB (5 %).
NO_CHANGE, CHANGE, SHARE = (0.8, 0.4), (6.0, 1.5), 0.05


def mixture(n=200_000, seed=0):
    rng = np.random.default_rng(seed)
    k = int(n * SHARE)
    values = np.concatenate([rng.normal(*NO_CHANGE, n - k), rng.normal(*CHANGE, k)])
    return np.abs(values)


def bayes_threshold():
    """Where the two weighted densities cross: the minimum-error threshold KI estimates."""
    def diff(t):
        return (1 - SHARE) * norm.pdf(t, *NO_CHANGE) - SHARE * norm.pdf(t, *CHANGE)

    return brentq(diff, NO_CHANGE[0], CHANGE[0])


def test_histogram_counts_finite_values_and_clips_the_range():
    hist = Histogram.of(np.array([0.0, 0.005, 1.0, np.nan, 100.0]))
    assert hist.total == 4
    assert hist.counts[0] == 2 and hist.counts[-1] == 1  # 100 dB lands in the last bin


def test_otsu_from_the_histogram_equals_scikit_image_on_the_pixels():
    values = mixture()
    assert otsu(Histogram.of(values)) == pytest.approx(threshold_otsu(values, nbins=4000), abs=2 * HIST_BIN_DB)


def test_kittler_illingworth_finds_the_minimum_error_threshold_where_otsu_does_not():
    hist = Histogram.of(mixture())
    optimum = bayes_threshold()
    ki, ot = kittler_illingworth(hist), otsu(hist)
    assert abs(ki - optimum) < 0.15
    assert abs(ot - optimum) > 3 * abs(ki - optimum)  # small change class: Otsu is pulled away


def test_kittler_illingworth_of_a_single_bin_does_not_fail():
    assert np.isfinite(kittler_illingworth(Histogram.of(np.full(100, 2.0))))


@pytest.mark.parametrize("spec, expected", [("otsu", "otsu"), ("KI", "ki"), ("kittler", "ki"), ("3", 3.0),
                                            ("2.5dB", 2.5), (4, 4.0)])
def test_parse_threshold(spec, expected):
    assert parse_threshold(spec) == expected


@pytest.mark.parametrize("spec", ["-1", "0", "abc", "nan", True])
def test_parse_threshold_refuses_bad_values(spec):
    with pytest.raises(UserInputError):
        parse_threshold(spec)


def test_compute_threshold_reports_value_and_method():
    hist = Histogram.of(mixture())
    manual = compute_threshold("3", hist)
    assert (manual.value, manual.method) == (3.0, "manual")
    assert manual.as_tags() == {"threshold_db": "3.0000", "threshold_method": "manual"}
    assert compute_threshold("ki", hist).method == "ki"
    with pytest.raises(UserInputError, match="histogram"):
        compute_threshold("otsu")
    with pytest.raises(UserInputError, match="no valid pixels"):
        compute_threshold("otsu", Histogram())
