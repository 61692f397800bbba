"""Export under hostile use (issue 11): pixel coordinates never pass for lon/lat; bad arguments in one line."""

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine

from helpers.export import PIXEL_CRS_NAME, safe_layer_name, write_vector
from helpers.masks import Masks

UTM_TRANSFORM = Affine(10.0, 0, 500000.0, 0, -10.0, 4100000.0)


def _masks(crs="EPSG:32610"):
    m = np.zeros((2, 30, 40), bool)
    m[0, 5:10, 20:30] = True
    m[1, 15:25, 3:9] = True
    return Masks(m, [0.9, 0.8], crs=crs, transform=None if crs is None else UTM_TRANSFORM)


def _one_line_value_error(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)
    return str(info.value)


def test_geojson_in_pixel_coordinates_is_refused(tmp_path):
    message = _one_line_value_error(lambda: _masks(crs=None).to_file(tmp_path / "plain.geojson"), "GeoJSON")
    assert "longitude/latitude" in message and ".gpkg" in message
    assert not (tmp_path / "plain.geojson").exists()


@pytest.mark.parametrize("ext", ["gpkg", "parquet", "shp"])
def test_pixel_coordinate_vectors_carry_a_pixel_grid_crs(tmp_path, ext):
    path = _masks(crs=None).to_file(tmp_path / f"plain.{ext}")
    back = gpd.read_parquet(path) if ext == "parquet" else gpd.read_file(path)
    assert back.crs is not None and not back.crs.is_geographic and back.crs.to_epsg() is None
    assert PIXEL_CRS_NAME in back.crs.name or "pixel" in back.crs.to_wkt().lower()
    assert tuple(back.total_bounds) == (3, 5, 30, 25)  # the pixel coordinates themselves


def test_georeferenced_geojson_is_still_written(tmp_path):
    back = gpd.read_file(_masks().to_file(tmp_path / "ok.geojson", to_crs="EPSG:4326"))
    assert back.crs.to_epsg() == 4326 and len(back) == 2


def test_bad_export_arguments_are_one_line_errors(tmp_path):
    masks = _masks()
    _one_line_value_error(lambda: masks.to_file(tmp_path / "a.gpkg", to_crs="garbage"), "garbage")
    _one_line_value_error(lambda: masks.to_file(tmp_path / "a.gpkg", simplify=-1), "simplify")
    _one_line_value_error(lambda: masks.to_gdf(simplify="x"), "simplify")
    _one_line_value_error(lambda: masks.to_file(tmp_path / "a.gpkg", layer="-x"), "layer name '-x'")
    _one_line_value_error(lambda: masks.select([10**6]), "out of range")
    _one_line_value_error(lambda: masks.select(-3), "out of range")
    assert not list(tmp_path.iterdir())
    assert len(masks.select([-1])) == 1  # negative indexes inside the range keep numpy's meaning


def test_safe_layer_names(tmp_path):
    for stem in ("-x", "#1", "(a", "$a", "+a", "~a", "!a", "gpkg_a", "GPKG_b", "sqlite_a", "new\nline", ""):
        name = safe_layer_name(stem)
        write_vector(_masks().to_gdf(), tmp_path / "layers.gpkg", layer=name)
        assert gpd.read_file(tmp_path / "layers.gpkg", layer=name).shape[0] == 2
    assert safe_layer_name("fields_2024") == "fields_2024"
