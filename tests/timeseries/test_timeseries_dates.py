"""Dates from file names and from users (helpers.timeseries.dates)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from helpers.errors import UserInputError
from helpers.timeseries.dates import AcquisitionDate, date_from_name, parse_date


@pytest.mark.parametrize(("name", "date", "label"), [
    ("m_4709963_se_14_1_20090818.tif", dt.date(2009, 8, 18), "2009-08-18"),  # 4709963 is no year
    ("1985.tif", dt.date(1985, 1, 1), "1985"),
    ("S2_2020-07-16_B04.tif", dt.date(2020, 7, 16), "2020-07-16"),
    ("scene_2020_07_16.tif", dt.date(2020, 7, 16), "2020-07-16"),
    ("LC08_L2SP_044034_20200716_20200721_02_T1.tif", dt.date(2020, 7, 16), "2020-07-16"),  # acquisition first
    ("mosaic_2019-06.tif", dt.date(2019, 6, 1), "2019-06"),
    ("mosaic_201906.tif", dt.date(2019, 6, 1), "2019-06"),
    ("bad_20090231_then_2011.tif", dt.date(2011, 1, 1), "2011"),  # Feb 31st is not a date
])
def test_dates_come_from_the_documented_patterns(name, date, label):
    found = date_from_name(name)
    assert found.date == date and found.label == label


def test_a_name_without_a_date_is_one_line():
    with pytest.raises(UserInputError, match="no date in the file name 'tile_7.tif'.*give the dates") as info:
        date_from_name("tile_7.tif")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("value", "date", "precision"), [
    (dt.date(2012, 7, 31), dt.date(2012, 7, 31), "day"),
    (dt.datetime(2012, 7, 31, 10, 5), dt.date(2012, 7, 31), "day"),
    (np.datetime64("2012-07-31"), dt.date(2012, 7, 31), "day"),
    (pd.Timestamp("2012-07-31"), dt.date(2012, 7, 31), "day"),
    ("2012-07-31", dt.date(2012, 7, 31), "day"),
    ("20120731", dt.date(2012, 7, 31), "day"),
    ("2012", dt.date(2012, 1, 1), "year"),
    (2012, dt.date(2012, 1, 1), "year"),
])
def test_user_dates_in_every_usual_form(value, date, precision):
    assert parse_date(value) == AcquisitionDate(date, precision)


@pytest.mark.parametrize("value", ["July 2012", "12", 5, None, "2012-13-01"])
def test_what_is_not_a_date_is_refused(value):
    with pytest.raises(UserInputError, match="not a date"):
        parse_date(value)


def test_dates_sort_by_time():
    dates = [parse_date(v) for v in ("2015", "2009-08-18", "2012-07-31")]
    assert [d.label for d in sorted(dates)] == ["2009-08-18", "2012-07-31", "2015"]
