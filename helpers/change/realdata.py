"""Where the real optical time series are read from (one function, to switch to the data registry later).

The NAIP (2009-2020) and Landsat Pucallpa (1985-2020) series come from the opengeos/data repository (MIT;
imagery public domain, USDA NAIP and USGS Landsat). Until the project's registry of vendored real data is
merged, they are looked up in the repository's ``data/`` folder, then in the shared read-only copy.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserInputError

__all__ = ["NAIP_DATES", "LANDSAT_YEARS", "real_data_path", "naip_path", "landsat_path"]

NAIP_DATES = ("20090818", "20100629", "20120731", "20140720", "20150926", "20160816", "20170827", "20180716",
              "20190904", "20200831")
LANDSAT_YEARS = (1985, 1990, 1995, 2000, 2005, 2010, 2015, 2020)
_ROOT = Path(__file__).resolve().parents[2]
_SEARCH = (_ROOT / "data" / "opengeos", _ROOT / "data", Path("/work/shared/data/opengeos"))


def real_data_path(relative: str) -> Path:
    """The local file of an opengeos/data path such as ``"landsat/1985.tif"`` (one-line error when absent)."""
    for folder in _SEARCH:
        path = folder / relative
        if path.is_file():
            return path
    raise UserInputError(f"real data file {relative!r} not found (looked in {', '.join(str(f) for f in _SEARCH)})")


def naip_path(date: str) -> Path:
    """NAIP quarter quad m_4709963_se_14_1 (North Dakota prairie potholes) of ``date`` (``"20090818"`` ...)."""
    if str(date) not in NAIP_DATES:
        raise UserInputError(f"no NAIP date {date!r}; available: {', '.join(NAIP_DATES)}")
    return real_data_path(f"naip/m_4709963_se_14_1_{date}.tif")


def landsat_path(year: int) -> Path:
    """Landsat composite of Pucallpa, Peru, of ``year`` (bands SWIR1, NIR, red, green)."""
    if int(year) not in LANDSAT_YEARS:
        raise UserInputError(f"no Landsat year {year!r}; available: {', '.join(map(str, LANDSAT_YEARS))}")
    return real_data_path(f"landsat/{int(year)}.tif")
