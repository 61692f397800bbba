"""helpers.vectorize: exact pixel-footprint polygons from masks and label rasters; ``python -m helpers vectorize``."""

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from helpers.cli import main
from helpers.export import write_label_geotiff
from helpers.vectorize import vectorize_raster

UTM_TRANSFORM = from_origin(500_000.0, 4_500_000.0, 2.0, 2.0)


def _labels(dtype="uint32") -> np.ndarray:
    labels = np.zeros((300, 280), dtype=dtype)
    labels[10:60, 10:50] = 7
    labels[100:250, 30:260] = 4_000_000_000 if dtype == "uint32" else 9  # beyond int32: shapes() refuses uint32
    labels[150:160, 100:120] = 0  # a hole
    labels[280:300, 0:5] = 3
    labels[280:300, 10:15] = 3  # a second part of id 3
    return labels


@pytest.mark.parametrize("dtype", ["uint32", "uint8", "int16"])
def test_label_raster_polygons_are_exact_for_every_integer_type(tmp_path, dtype):
    labels = _labels(dtype)
    path = tmp_path / "labels.tif"
    with rasterio.open(path, "w", driver="GTiff", width=280, height=300, count=1, dtype=dtype, crs="EPSG:32618",
                       transform=UTM_TRANSFORM, nodata=0) as dst:
        dst.write(labels, 1)
    # blocks of 64 px: every object crosses block edges, the join must be exact
    gdf = vectorize_raster(path, block_size=64, progress=False)
    ids = sorted(int(v) for v in np.unique(labels) if v)
    assert gdf["id"].tolist() == ids and gdf.crs.to_epsg() == 32618
    for ident, count in zip(*np.unique(labels[labels > 0], return_counts=True), strict=True):
        row = gdf.set_index("id").loc[int(ident)]
        assert row["area_px"] == count and row["area_m2"] == pytest.approx(count * 4.0)  # 2 m pixels
        assert row.geometry.is_valid
    three = gdf.set_index("id").geometry[3]
    assert isinstance(three, shapely.MultiPolygon) and len(three.geoms) == 2
    big = gdf.set_index("id").geometry[ids[-1]]
    assert len(big.interiors) == 1  # the hole is kept


def test_vectorize_command_round_trips_our_own_label_geotiff(tmp_path, capsys):
    labels = _labels()
    tif = write_label_geotiff(labels, tmp_path / "ours.tif", crs="EPSG:32618", transform=UTM_TRANSFORM)
    assert main(["vectorize", str(tif), str(tmp_path / "ours.gpkg"), "--quiet"]) == 0
    back = gpd.read_file(tmp_path / "ours.gpkg")
    assert len(back) == 3 and "3 labels" in capsys.readouterr().out
    assert main(["vectorize", str(tif), str(tmp_path / "x.txt")]) == 2  # unknown format, before any reading
    assert "unsupported vector format" in capsys.readouterr().err
    rgb = tmp_path / "rgb.tif"
    with rasterio.open(rgb, "w", driver="GTiff", width=4, height=4, count=3, dtype="uint8") as dst:
        dst.write(np.zeros((3, 4, 4), np.uint8))
    assert main(["vectorize", str(rgb), str(tmp_path / "y.gpkg")]) == 2
    assert "not a label raster" in capsys.readouterr().err and not (tmp_path / "y.gpkg").exists()
