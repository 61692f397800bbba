"""Real imagery with reference data for the case studies, by name, verified against sha256.

    helpers.list_real_data()                          # names
    path = helpers.real_data_path("alexandria_hag")   # Path of the verified file

The files come from the public GitHub repository ``opengeos/data`` (MIT licence, Copyright (c) 2020
Qiusheng Wu; the imagery is public domain: USDA NAIP, USGS Landsat and 3DEP LiDAR). They are small and
vendored in the repository under ``data/opengeos/<path>`` (the upstream layout), so a fresh clone runs
every lesson and test offline. Each is registered with its upstream path, its official URL
(``https://raw.githubusercontent.com/opengeos/data/main/<path>``) and its sha256; the first use of a
file in a process hashes it and refuses a copy that differs (one line saying how to restore it).

Where a file is looked for, first match wins: ``$SAMRS_DATA_DIR/opengeos/<path>`` (a prefetched
workshop folder), the repository's ``data/opengeos/<path>``, then ``cache_dir()/opengeos/<path>`` (where
a user of an installed wheel puts downloaded copies).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..config import DATA_ENV, cache_dir, data_dir
from ..errors import UserInputError

__all__ = ["REAL_DATA", "REAL_DATA_URL", "RealFile", "list_real_data", "real_data_path", "real_data_url",
           "NAIP_DATES", "LANDSAT_YEARS"]

REAL_DATA_URL = "https://raw.githubusercontent.com/opengeos/data/main/{path}"
"""Official download URL of a registered file (``path`` is its upstream path)."""

REPO_DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "opengeos"
"""The vendored copies in a clone of the repository (absent from an installed wheel)."""

SUBDIR = "opengeos"


@dataclass(frozen=True)
class RealFile:
    """One registered file: its upstream ``path`` (also its place under ``data/opengeos``), ``sha256`` of
    the bytes and a one-line ``description`` (what, CRS, pixel size, size, bands)."""

    path: str
    sha256: str
    description: str


NAIP_DATES = {
    2009: "20090818", 2010: "20100629", 2012: "20120731", 2014: "20140720", 2015: "20150926",
    2016: "20160816", 2017: "20170827", 2018: "20180716", 2019: "20190904", 2020: "20200831",
}
"""Acquisition date (YYYYMMDD) of each NAIP year registered as ``naip_<year>``."""

LANDSAT_YEARS = (1985, 1990, 1995, 2000, 2005, 2010, 2015, 2020)
"""Years of the Landsat composites of Pucallpa registered as ``landsat_pucallpa_<year>``."""

_NAIP_SHA256 = {
    2009: "568f0d3dc3118d6df63510361db6c627b81541ad4c65122caf54e18030fc7100",
    2010: "9d9033eb670025c10c0ce3deff5112aa08aad64b56c5a28f99649cefccf9899b",
    2012: "695ff3bef666f84b9d8bee8292c21be1edf5fbd52b0db839a40a949403799dc4",
    2014: "cbb65d34c3f8ad566800677d1f0ba15b221305e46b9873ddb20b5fc922ab6104",
    2015: "e2f4898eaada52f53a0cf7920836a4ff42e41a05357c0f082cfbfcb048b21b9d",
    2016: "6e60094af5a5b605178277831a0bb5e28650ef4729cb5eb91ac94ec5643462b4",
    2017: "d1138bef2d496ed4ff731f48def08e0695e326aeb55dc291ebb9b415e7bda2f8",
    2018: "599bb9bb7f78e9a1f3e0e712290e6423e2f513c69afc00a18ff586a6fcd4aba7",
    2019: "bfa915b54ad6e4e4fe60ad6afdd9115ff5d00c363d4d1ccfaaa33ebb3cad2df2",
    2020: "e8eb18475678d16a98a44f28b1c777fd0b2c56e9c8afed302a5e071e2e237f90",
}
_LANDSAT_SHA256 = {
    1985: "32676315c2a365776fac49e549377ea3f36345b645dacfab074ca51c4bdce13a",
    1990: "7d09817f9124affc7ab3d6ba0bb2d28761f324dd8308e660f89608a5e2b184c0",
    1995: "f7f4cdf6148f721eefc8075b8061974833c309292b20cc23700a61adf90e827d",
    2000: "63a35f6f01c37b01831b9cf01c919ce03b1410bdce7526aabdfbfd26be960a8d",
    2005: "8f001015fa89aa3da952e293234e9f6cd6042799425ddb8980a69489b86ead16",
    2010: "987f401ab4708cb3ed2c70d6e39ec0a859df112a35f9df04663a80106f74cebc",
    2015: "974f1865cc07b9012bc9dfbde3ba9282aa4f9611ee8c683269e2c5066f655c2a",
    2020: "47d49b578bf64701f4b23fbe48096ae148e3b5f9e2e6e1e7e55354b0348faeab",
}

REAL_DATA: dict[str, RealFile] = {
    "alexandria_hag": RealFile(
        "elevation/hag.tif", "5c88443db577891cb3d7d904cf1e2bab51920d155ed85c7db42d5432643c9396",
        "LiDAR height above ground (3DEP) of a few blocks of Alexandria, Virginia: buildings and trees; "
        "EPSG:26918 (UTM 18N), 2 m, 283x259, 1 band float32 metres, nodata -9999",
    ),
    "alexandria_buildings": RealFile(
        "elevation/buildings.geojson", "6a9786540c9f93f7399031a00e7514442c4ad9b679624fb7477743dced1358d6",
        "84 building footprints of the same blocks (reference data), attributes HEIGHT and SQMETERS; "
        "EPSG:4326 polygons",
    ),
    "berkeley": RealFile(
        "images/berkeley.jpg", "e5b4009a0114b12cc56e91830e82be0c72f4d7b6b0393765af0f01fef120bbb2",
        "aerial photo of the UC Berkeley campus (buildings, roofs, courts, trees); plain JPEG, no "
        "georeferencing, 1311x771 RGB",
    ),
    **{
        f"naip_{year}": RealFile(
            f"naip/m_4709963_se_14_1_{date}.tif", _NAIP_SHA256[year],
            f"NAIP aerial image of {date[:4]}-{date[4:6]}-{date[6:]}, one quarter quad in North Dakota (prairie "
            "potholes: ponds and wetlands, fields, farm roads); EPSG:26914 (UTM 14N), 5 m, 934x723 or 934x724 "
            "(dates are not on one grid), 4 bands uint8 R,G,B,NIR, nodata 0",
        )
        for year, date in NAIP_DATES.items()
    },
    **{
        f"landsat_pucallpa_{year}": RealFile(
            f"landsat/{year}.tif", _LANDSAT_SHA256[year],
            f"Landsat composite of {year}, Pucallpa, Peru (Ucayali river meanders, oxbow lakes, city and "
            "clearings); EPSG:4326, ~0.00081 deg (~90 m), 697x377, 4 bands uint8 SWIR1,NIR,Red,Green (not "
            "RGB), nodata 0, all years on one grid",
        )
        for year in LANDSAT_YEARS
    },
}
"""Registered real files by name (see ``data/README.md`` for credits and licences)."""


def list_real_data() -> list[str]:
    """Names of the registered real files (keys of :data:`REAL_DATA`)."""
    return list(REAL_DATA)


def _entry(name: str) -> RealFile:
    if name not in REAL_DATA:
        raise UserInputError(f"unknown real data {name!r}; choose one of: {', '.join(REAL_DATA)}")
    return REAL_DATA[name]


def real_data_url(name: str) -> str:
    """The official URL of a registered file."""
    return REAL_DATA_URL.format(path=_entry(name).path)


def _candidates(entry: RealFile) -> list[Path]:
    folders = []
    prefetched = data_dir()
    if prefetched is not None:
        folders.append(prefetched / SUBDIR)
    folders += [REPO_DATA_DIR, cache_dir() / SUBDIR]
    return [folder / entry.path for folder in folders]


@cache
def _verified(path: str, size: int, mtime_ns: int, sha256: str) -> bool:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() == sha256


def real_data_path(name: str) -> Path:
    """Path of a registered real file, checked against its sha256 (once per process and file version).

    Raises:
        UserInputError: one line, for an unknown name, a missing file (naming the URL and where to put
            it) or a copy whose sha256 differs (corrupt or edited: restore it).
    """
    entry = _entry(name)
    candidates = _candidates(entry)
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise UserInputError(
            f"real data {name!r} is missing: download {real_data_url(name)} (sha256 {entry.sha256[:12]}...) "
            f"to {candidates[-1]}, or set {DATA_ENV} to a folder holding opengeos/{entry.path}"
        )
    stat = path.stat()
    if not _verified(str(path), stat.st_size, stat.st_mtime_ns, entry.sha256):
        raise UserInputError(
            f"{path} does not match the sha256 of real data {name!r} (corrupt or edited copy); "
            f"restore it from {real_data_url(name)} (git checkout, or download)"
        )
    return path
