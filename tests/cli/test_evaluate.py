"""``python -m helpers evaluate PRED REF``: table on screen, per-object CSV, one-line errors."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine

from helpers.cli import main
from helpers.export import write_label_geotiff
from helpers.metrics import Grid, reference_labels
from helpers.smoke import SMOKE_BANNER


def utm_grid() -> Grid:
    return Grid((60, 80), Affine(2.0, 0, 320000.0, 0, -2.0, 4300000.0), "EPSG:26918")


def utm_polygons(grid: Grid):
    """Three footprints (10x8, 6x6, 12x20 pixels) with corners on pixel edges, in UTM 18N."""
    def cells(col, row, w, h):
        (x0, y0), (x1, y1) = grid.transform @ (col, row), grid.transform @ (col + w, row + h)
        return shapely.box(x0, y1, x1, y0)

    return gpd.GeoDataFrame(geometry=[cells(5, 5, 10, 8), cells(30, 10, 6, 6), cells(50, 30, 12, 20)],
                            crs=grid.crs)


@pytest.fixture
def files(tmp_path):
    grid = utm_grid()
    footprints = utm_polygons(grid)
    truth = reference_labels(footprints, grid)
    pred = np.where(truth == 3, 0, truth).astype(np.uint32)  # the third footprint is missed
    pred_path = write_label_geotiff(pred, tmp_path / "pred.tif", crs=grid.crs, transform=grid.transform,
                                    tags={"model": "fastsam_s", "smoke": "true"})
    ref_path = tmp_path / "footprints.geojson"
    footprints.to_crs("EPSG:4326").to_file(ref_path)
    return pred_path, ref_path, tmp_path


def test_evaluate_prints_a_table_and_writes_per_object_rows(files, capsys):
    pred, ref, tmp_path = files
    out_csv = tmp_path / "objects.csv"
    assert main(["evaluate", str(pred), str(ref), "--tolerance-m", "2", "--iou", "0.5", "--csv", str(out_csv)]) == 0
    text = capsys.readouterr().out
    header = next(line for line in text.splitlines() if line.startswith("method"))
    assert header.split()[:4] == ["method", "pred", "ref", "obj"]
    row = next(line for line in text.splitlines() if line.startswith("fastsam_s (smoke)"))
    assert row.split()[2:5] == ["2", "3", "0.8"]  # 2 predicted, 3 reference, object F1 0.8
    assert SMOKE_BANNER in text and "within 2 m" in text and "missed" in text
    lines = out_csv.read_text().splitlines()
    assert len(lines) == 4 and lines[3].split(",")[-1] == "0.0"  # pred_area_m2 of the missed footprint


def test_evaluate_region_limits_the_scored_objects(files, capsys):
    pred, ref, tmp_path = files
    grid = utm_grid()
    region = utm_polygons(grid).iloc[:2].union_all().convex_hull  # around the two predicted footprints
    gpd.GeoSeries([region], crs=grid.crs).to_crs("EPSG:3857").to_file(tmp_path / "region.gpkg")
    assert main(["evaluate", str(pred), str(ref), "--region", str(tmp_path / "region.gpkg")]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("fastsam_s"))
    assert row.split()[2:5] == ["2", "2", "1.0"]  # the missed footprint lies outside the region


def test_evaluate_refuses_bad_input_in_one_line(files, capsys):
    pred, ref, tmp_path = files
    assert main(["evaluate", str(ref), str(pred)]) == 2
    assert "PRED must be a label raster" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nope.tif"), str(ref)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["evaluate", str(pred), str(ref), "--iou", "1.5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: iou_threshold") and err.count("\n") == 1
