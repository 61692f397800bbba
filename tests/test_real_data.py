"""helpers.data.real: the vendored opengeos files, by name, verified against their sha256."""

from __future__ import annotations

import hashlib
import shutil

import geopandas as gpd
import pytest
import rasterio

from helpers.data import real
from helpers.data.real import REAL_DATA, list_real_data, real_data_path, real_data_url
from helpers.errors import UserInputError


def test_every_registered_file_is_vendored_and_hashes_to_its_registry_entry():
    for name, entry in REAL_DATA.items():
        path = real.REPO_DATA_DIR / entry.path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256, name
        assert real_data_path(name) == path
        assert real_data_url(name) == f"https://raw.githubusercontent.com/opengeos/data/main/{entry.path}"
    total = sum((real.REPO_DATA_DIR / e.path).stat().st_size for e in REAL_DATA.values())
    assert total < 35e6  # the repository stays small
    vendored = {p.relative_to(real.REPO_DATA_DIR).as_posix() for p in real.REPO_DATA_DIR.rglob("*") if p.is_file()}
    assert vendored == {e.path for e in REAL_DATA.values()}  # nothing unregistered is committed


@pytest.mark.parametrize("name, crs, size, count, dtype", [
    ("alexandria_hag", "EPSG:26918", (283, 259), 1, "float32"),
    ("naip_2009", "EPSG:26914", (934, 724), 4, "uint8"),
    ("naip_2020", "EPSG:26914", (934, 723), 4, "uint8"),
    ("landsat_pucallpa_2020", "EPSG:4326", (697, 377), 4, "uint8"),
])
def test_descriptions_match_the_files(name, crs, size, count, dtype):
    with rasterio.open(real_data_path(name)) as ds:
        assert (ds.crs.to_string(), (ds.width, ds.height), ds.count, ds.dtypes[0]) == (crs, size, count, dtype)
    description = REAL_DATA[name].description
    assert crs in description and str(count) in description


def test_the_footprints_are_84_polygons_in_degrees():
    footprints = gpd.read_file(real_data_path("alexandria_buildings"))
    assert len(footprints) == 84 and footprints.crs.to_epsg() == 4326
    assert {"HEIGHT", "SQMETERS"} <= set(footprints.columns)
    assert list_real_data()[:3] == ["alexandria_hag", "alexandria_buildings", "berkeley"]


def test_a_prefetched_folder_wins_and_a_corrupt_copy_is_refused(tmp_path, monkeypatch):
    entry = REAL_DATA["berkeley"]
    copy = tmp_path / "opengeos" / entry.path
    copy.parent.mkdir(parents=True)
    shutil.copyfile(real.REPO_DATA_DIR / entry.path, copy)
    monkeypatch.setenv("SAMRS_DATA_DIR", str(tmp_path))
    assert real_data_path("berkeley") == copy
    copy.write_bytes(copy.read_bytes()[:-1] + b"\0")  # one byte changed
    with pytest.raises(UserInputError, match="does not match the sha256") as info:
        real_data_path("berkeley")
    assert real_data_url("berkeley") in str(info.value) and "\n" not in str(info.value)


def test_missing_and_unknown_names_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(real, "REPO_DATA_DIR", tmp_path / "no-clone")  # an installed wheel: no data/
    monkeypatch.setenv("SAMRS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SAMRS_DATA_DIR", raising=False)
    with pytest.raises(UserInputError, match="is missing: download https://raw.githubusercontent.com") as info:
        real_data_path("naip_2020")
    assert str(tmp_path / "cache" / "opengeos" / "naip") in str(info.value)
    with pytest.raises(UserInputError, match="unknown real data 'naip_1999'; choose one of: alexandria_hag"):
        real_data_path("naip_1999")
