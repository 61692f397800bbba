"""Prompts under hostile use (issue 11): map prompts that reproject to NaN/inf, unknown local CRSs, huge counts."""

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from helpers.models import load_model
from helpers.prompts import MAX_PROMPTS, to_pixel_boxes, to_pixel_points
from helpers.scene import Scene

UTM = Scene(np.random.default_rng(0).integers(0, 255, (64, 80, 3)).astype(np.uint8), crs=CRS.from_epsg(32610),
            transform=Affine(10.0, 0, 500000.0, 0, -10.0, 4100000.0))
LOCAL_WKT = 'LOCAL_CS["mine site grid",UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'

# lat/lon swapped; latitude over 90; UTM numbers labelled EPSG:4326
NON_FINITE = [[(37.04, -123.0)], [(-123.0, 95.0)], [(500100.0, 4099900.0)]]


@pytest.mark.parametrize("points", NON_FINITE)
def test_map_points_that_reproject_to_nan_get_the_bounds_message(points):
    with pytest.raises(ValueError, match="outside the scene") as info:
        to_pixel_points(points, "EPSG:4326", UTM)
    assert "columns 0..79" in str(info.value) and "\n" not in str(info.value)


def test_map_boxes_that_reproject_to_nan_get_the_bounds_message():
    with pytest.raises(ValueError, match="outside the scene"):
        to_pixel_boxes([(500000.0, 4099000.0, 500500.0, 4099500.0)], "EPSG:4326", UTM)


@pytest.mark.parametrize("points", NON_FINITE)
def test_backends_reject_them_instead_of_index_errors(points):
    model = load_model("conventional").set_image(UTM)
    with pytest.raises(ValueError, match="outside the scene"):
        model.predict(points=points, crs="EPSG:4326")


def test_an_unknown_local_crs_is_one_line():
    local = Scene(UTM.image, crs=CRS.from_wkt(LOCAL_WKT), transform=Affine(1.0, 0, 0, 0, -1.0, 64.0))
    model = load_model("conventional").set_image(local)
    with pytest.raises(ValueError, match="mine site grid") as info:
        model.predict(points=[(-122.9, 37.0)], crs="EPSG:4326")
    assert "\n" not in str(info.value)
    assert len(model.predict(points=[(10.5, 10.5)], crs=LOCAL_WKT)) == 1  # the same local CRS: no reprojection


def test_prompt_counts_are_bounded():
    points = np.zeros((MAX_PROMPTS + 1, 2))
    with pytest.raises(ValueError, match=f"at most {MAX_PROMPTS:,}") as info:
        to_pixel_points(points, None, UTM)
    assert "segment_tiled" in str(info.value)
