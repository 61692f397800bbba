"""Prompts for tracking: ids, dates, pixels or any CRS, prompt files (helpers.timeseries.prompts)."""

import geopandas as gpd
import numpy as np
import pytest
import shapely

from helpers.errors import UserInputError
from helpers.prompts import to_map_points
from helpers.timeseries import ObjectPrompt, open_stack, place_prompts, prompts_from_gdf, read_track_prompts


@pytest.fixture(scope="module")
def stack(tmp_path_factory, stack_writer):
    folder = tmp_path_factory.mktemp("stack")
    stack_writer(folder)
    return open_stack(folder)


def test_map_prompts_in_any_crs_land_on_the_same_pixels(stack):
    pixels = np.array([(30.0, 25.0), (90.0, 60.0)])
    lonlat = to_map_points(pixels, stack.grid.scene(), crs="EPSG:4326")
    placed = place_prompts([
        ObjectPrompt(1, points=pixels, labels=[1, 0]),
        ObjectPrompt(2, points=lonlat, labels=[1, 0], crs="EPSG:4326", date="2020"),
        ObjectPrompt(3, box=(10, 12, 40, 30), date="2021-07-02"),
    ], stack)
    assert [(p.object_id, p.frame) for p in placed] == [(1, 0), (2, 1), (3, 2)]
    np.testing.assert_allclose(placed[1].points, pixels, atol=1e-6)
    np.testing.assert_array_equal(placed[0].labels, [1, 0])
    np.testing.assert_array_equal(placed[2].box, [10, 12, 40, 30])


@pytest.mark.parametrize(("prompt", "message"), [
    (ObjectPrompt(0, points=[(5, 5)]), "object_id must be an integer >= 1"),
    (ObjectPrompt(1), "give points and/or a box"),
    (ObjectPrompt(1, points=[(5, 5)], date="2012"), "no date 2012 in the stack"),
    (ObjectPrompt(1, points=[(500, 5)]), r"object 1 on 2019-07-04: point 0 \(500, 5\) \[pixels\] is outside the scene"),
    (ObjectPrompt(1, points=[(5, 5)], labels=[0]), "every point is background"),
    (ObjectPrompt(1, box=[(0, 0, 5, 5), (5, 5, 9, 9)]), "one box per object and date"),
])
def test_bad_prompts_are_one_line(stack, prompt, message):
    with pytest.raises(UserInputError, match=message) as info:
        place_prompts([prompt], stack)
    assert "\n" not in str(info.value)


def test_two_prompts_for_one_object_and_date_are_refused(stack):
    with pytest.raises(UserInputError, match="two prompts for object 1 on 2019-07-04"):
        place_prompts([ObjectPrompt(1, points=[(5, 5)]), ObjectPrompt(1, box=(0, 0, 9, 9))], stack)


def test_a_prompt_file_groups_rows_by_object_and_date(tmp_path, stack):
    scene = stack.grid.scene()
    xy = to_map_points([(30, 25), (34, 25), (90, 60)], scene)
    box = shapely.box(*to_map_points([(70, 50)], scene)[0], *to_map_points([(100, 80)], scene)[0])
    gdf = gpd.GeoDataFrame(
        {"object_id": [1, 1, 2, 3], "label": [1, 0, 1, None], "date": [None, None, "2020-07-11", "2021"]},
        geometry=[shapely.Point(xy[0]), shapely.Point(xy[1]), shapely.Point(xy[2]), box], crs=stack.crs,
    )  # (a box reprojected to another CRS would grow to the envelope of its curved outline)
    gdf.to_file(tmp_path / "prompts.gpkg")
    prompts = read_track_prompts(tmp_path / "prompts.gpkg")
    assert len(prompts) == 3 and prompts[0].labels == [1, 0] and prompts[2].box is not None
    placed = place_prompts(tmp_path / "prompts.gpkg", stack)
    assert [(p.object_id, p.frame) for p in placed] == [(1, 0), (2, 1), (3, 2)]
    np.testing.assert_allclose(placed[0].points, [(30, 25), (34, 25)], atol=1e-6)
    np.testing.assert_allclose(placed[2].box, [70.5, 50.5, 100.5, 80.5], atol=1e-6)  # box corners were centres


def test_a_prompt_file_needs_object_ids(tmp_path):
    gdf = gpd.GeoDataFrame({"label": [1]}, geometry=[shapely.Point(1, 1)], crs="EPSG:4326")
    with pytest.raises(UserInputError, match="need an 'object_id' column"):
        prompts_from_gdf(gdf)
    with pytest.raises(UserInputError, match="prompts file not found"):
        read_track_prompts(tmp_path / "missing.gpkg")
