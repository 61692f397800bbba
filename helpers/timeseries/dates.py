"""Acquisition dates of a time series: parsed from file names, or given.

Recognised in a file name (the first match wins, patterns tried in this order):

==========================  ===========================  ===========================================
pattern                     example                      date
==========================  ===========================  ===========================================
``YYYY-MM-DD`` / ``_`` /    ``S2_2020-07-16.tif``        2020-07-16 (separators ``-``, ``_`` or ``.``)
``YYYYMMDD``                ``m_..._14_1_20090818.tif``  2009-08-18 (exactly 8 digits, a valid date;
                            ``LC08_..._20200716_...``    the first one: Landsat/Sentinel names put the
                                                         acquisition before the processing date)
``YYYY-MM`` / ``YYYYMM``    ``mosaic_2019-06.tif``       2019-06-01 (precision ``"month"``)
``YYYY``                    ``1985.tif``                 1985-01-01 (precision ``"year"``)
==========================  ===========================  ===========================================

A number counts only when no digit touches it (``4709963`` in a NAIP name is not a year) and the year
lies in 1900-2100. Dates are ``datetime.date``; :class:`AcquisitionDate` keeps the precision so that
labels read ``1985`` rather than ``1985-01-01``.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserInputError

__all__ = ["DATE_PATTERNS", "AcquisitionDate", "date_from_name", "parse_date"]

_SEP = r"[-_.]"
_YEAR = r"(19\d{2}|20\d{2}|2100)"
_MONTH = r"(0[1-9]|1[0-2])"
_DAY = r"(0[1-9]|[12]\d|3[01])"

DATE_PATTERNS: tuple[tuple[str, str, str], ...] = (
    # (name, regular expression, precision); no digit may touch a match
    ("YYYY-MM-DD", rf"(?<!\d){_YEAR}{_SEP}{_MONTH}{_SEP}{_DAY}(?!\d)", "day"),
    ("YYYYMMDD", rf"(?<!\d){_YEAR}{_MONTH}{_DAY}(?!\d)", "day"),
    ("YYYY-MM", rf"(?<!\d){_YEAR}{_SEP}{_MONTH}(?!\d)", "month"),
    ("YYYYMM", rf"(?<!\d){_YEAR}{_MONTH}(?!\d)", "month"),
    ("YYYY", rf"(?<!\d){_YEAR}(?!\d)", "year"),
)
"""The file-name patterns, tried in order: ``(name, regex, precision)``."""


@dataclass(frozen=True, order=True)
class AcquisitionDate:
    """A date with the precision it was known to (``"day"``, ``"month"`` or ``"year"``).

    Attributes:
        date: the ``datetime.date`` (first day of the month/year for coarser precisions).
        precision: ``"day"``, ``"month"`` or ``"year"``.
    """

    date: _dt.date
    precision: str = "day"

    @property
    def label(self) -> str:
        """``2009-08-18``, ``2019-06`` or ``1985``: the date as precisely as it is known."""
        if self.precision == "year":
            return f"{self.date.year:04d}"
        if self.precision == "month":
            return f"{self.date.year:04d}-{self.date.month:02d}"
        return self.date.isoformat()

    def __str__(self) -> str:
        return self.label


def _match(text: str, whole: bool = False) -> AcquisitionDate | None:
    """The first date in ``text`` (``whole``: only when one pattern matches all of it)."""
    for _name, pattern, precision in DATE_PATTERNS:
        matches = [m for m in [re.fullmatch(pattern, text)] if m] if whole else re.finditer(pattern, text)
        for found in matches:
            numbers = [int(g) for g in found.groups()]
            year, month, day = (numbers + [1, 1])[:3]
            try:
                return AcquisitionDate(_dt.date(year, month, day), precision)
            except ValueError:  # e.g. 20090231: not a date, try the next match
                continue
    return None


def date_from_name(path) -> AcquisitionDate:
    """The acquisition date in a file name (see :data:`DATE_PATTERNS`).

    Raises:
        UserInputError: no pattern matches (one line naming the patterns and the ``dates=`` way out).
    """
    name = Path(path).stem
    found = _match(name)
    if found is None:
        patterns = ", ".join(name for name, _, _ in DATE_PATTERNS)
        raise UserInputError(
            f"no date in the file name {Path(path).name!r} (looked for {patterns}); give the dates explicitly"
        )
    return found


def parse_date(value) -> AcquisitionDate:
    """A date given by a user: ``datetime.date``/``datetime``, ``numpy.datetime64``, ``pandas.Timestamp``,
    an int year, or a string in one of :data:`DATE_PATTERNS` (``"2009-08-18"``, ``"20090818"``,
    ``"1985"``).

    Raises:
        UserInputError: anything else (one line).
    """
    if isinstance(value, AcquisitionDate):
        return value
    if hasattr(value, "to_pydatetime"):  # pandas.Timestamp
        value = value.to_pydatetime()
    if type(value).__name__ == "datetime64":
        value = value.astype("datetime64[D]").item()
    if isinstance(value, _dt.datetime):
        return AcquisitionDate(value.date())
    if isinstance(value, _dt.date):
        return AcquisitionDate(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1900 <= value <= 2100:
        return AcquisitionDate(_dt.date(value, 1, 1), "year")
    if isinstance(value, str):
        found = _match(value.strip(), whole=True)
        if found is not None:
            return found
    raise UserInputError(
        f"not a date: {value!r}; give a datetime.date or a string such as 2009-08-18, 20090818 or 1985"
    )
