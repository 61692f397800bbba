"""Per-date results: label rasters with object ids, areas, one vector layer with dates, files (TrackResult)."""

import datetime as dt

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Geod
from rasterio.crs import CRS

from helpers.timeseries import TrackResult

UTM = CRS.from_epsg(32614)
TEN_METRES = Affine(10, 0, 480000, 0, -10, 5200000)


def make_result(crs=UTM, transform=TEN_METRES):
    masks = np.zeros((3, 2, 20, 30), bool)
    masks[:, 0, 2:12, 3:15] = True  # object 5: a 10 x 12 px field, every date
    masks[0, 1, 5:8, 5:9] = True  # object 2: 3 x 4 px inside it on the first date ...
    masks[2, 1, 15:19, 20:28] = True  # ... gone on the second, elsewhere on the third
    return TrackResult(masks=masks, scores=[[0.9, 0.8], [0.9, 0.2], [0.7, 0.6]], object_ids=[5, 2],
                       labels=["2019-07-04", "2020-07-11", "2021"],
                       dates=[dt.date(2019, 7, 4), dt.date(2020, 7, 11), dt.date(2021, 1, 1)],
                       crs=crs, transform=transform, method="test", model="m", smoke=True)


def test_label_rasters_hold_object_ids_with_the_smaller_object_on_top():
    result = make_result()
    labels = result.label_raster(0)
    assert labels.dtype == np.uint32
    assert (labels[5:8, 5:9] == 2).all() and (labels[2:5, 3:15] == 5).all() and labels[15, 20] == 0
    assert result.label_raster(1).max() == 5
    masks = result.masks_on(2)
    assert len(masks) == 2 and masks.extra["object_ids"] == [5, 2] and masks.extra["date"] == "2021" and masks.smoke


def test_areas_are_exact_polygon_areas_per_date_and_object():
    table = make_result().areas()
    assert list(table["date"]) == ["2019-07-04", "2019-07-04", "2020-07-11", "2020-07-11", "2021", "2021"]
    assert list(table["area_px"]) == [120, 12, 120, 0, 120, 32]
    np.testing.assert_allclose(table["area_m2"], table["area_px"] * 100.0)  # 10 m UTM pixels
    assert table.attrs["smoke"] is True


def test_geographic_areas_are_geodesic():
    size = 0.0008  # ~90 m in degrees, like the Landsat composites
    result = make_result(crs=CRS.from_epsg(4326), transform=Affine(size, 0, -74.7, 0, -size, -8.28))
    area = result.areas().iloc[0]["area_m2"]
    lon0, lat0 = -74.7 + 3 * size, -8.28 - 2 * size  # object 5: columns 3..14, rows 2..11
    lon1, lat1 = -74.7 + 15 * size, -8.28 - 12 * size
    expected, _ = Geod(ellps="WGS84").polygon_area_perimeter([lon0, lon1, lon1, lon0], [lat0, lat0, lat1, lat1])
    assert area == pytest.approx(abs(expected), rel=1e-6)


def test_one_vector_layer_with_a_date_column():
    gdf = make_result().to_gdf()
    assert len(gdf) == 5  # object 2 is empty on the second date
    assert gdf["date"].dtype.kind == "M" and list(gdf["date_label"])[:2] == ["2019-07-04", "2019-07-04"]
    assert set(gdf.columns) >= {"date", "object_id", "area_m2", "score", "smoke", "geometry"}
    assert gdf.crs == UTM and gdf.attrs["smoke"]
    assert gdf.geometry.area.tolist() == pytest.approx(gdf["area_m2"].tolist())


def test_written_files_are_on_the_grid(tmp_path):
    result = make_result()
    written = result.write(tmp_path / "out", vector="tracks.geojson")
    assert [p.name for p in written["labels"]] == ["labels_2019-07-04.tif", "labels_2020-07-11.tif", "labels_2021.tif"]
    with rasterio.open(written["labels"][2]) as ds:
        assert (ds.crs, ds.transform, ds.shape, ds.dtypes[0], ds.nodata) == (UTM, result.transform, (20, 30), "uint32", 0)
        assert ds.tags()["object_ids"] == "5,2" and ds.tags()["smoke"] == "true"
        np.testing.assert_array_equal(ds.read(1), result.label_raster(2))
    layer = gpd.read_file(written["vector"])
    assert len(layer) == 5 and "date" in layer.columns
    assert written["table"].read_text().splitlines()[0] == "date,object_id,area_px,area_m2,score,method"


def test_inconsistent_shapes_are_refused():
    with pytest.raises(ValueError, match="2 labels"):
        TrackResult(masks=np.zeros((3, 1, 4, 4), bool), scores=np.zeros((3, 1)), object_ids=[1],
                    labels=["a", "b"], dates=[1, 2, 3])
