"""``python -m helpers track`` run as a user would (subprocesses, smoke weights): layers per date, one-line errors."""

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine

ROOT = Path(__file__).resolve().parents[2]


def _run(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "helpers", "track", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _write_dates(folder: Path) -> list[Path]:
    """Three uint8 dates of a pond; the 2nd starts 4 m east and 3 m south of the others (not on their grid)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    paths = []
    for t, (date, dx, dy) in enumerate([("20190704", 0, 0), ("20200711", 4.0, -3.0), ("20210702", 0, 0)]):
        image = rng.integers(80, 140, (3, 48, 64)).astype(np.uint8)
        image[:, 12 - t:26 + t, 20 - t:40 + t] = 30
        path = folder / f"pond_{date}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=64, height=48, count=3, dtype="uint8", nodata=0,
                           crs="EPSG:32614", transform=Affine(10, 0, 480000 + dx, 0, -10, 5200000 + dy)) as dst:
            dst.write(image)
        paths.append(path)
    return paths


def _prompts(path: Path) -> Path:
    """Object 1 clicked on the first date, object 2 boxed on the last; in lon/lat."""
    rows = gpd.GeoDataFrame(
        {"object_id": [1, 2], "date": ["", "2021-07-02"]},
        geometry=[shapely.Point(480300, 5199815), shapely.box(480050, 5199600, 480150, 5199700)], crs="EPSG:32614",
    )
    rows.to_crs("EPSG:4326").to_file(path)
    return path


def test_track_writes_one_label_raster_per_date_and_one_layer(tmp_path):
    paths = _write_dates(tmp_path / "dates")
    out = tmp_path / "out"
    result = _run(tmp_path / "dates", "--model", "sam2.1_hiera_t", "--prompts", _prompts(tmp_path / "p.geojson"),
                  "--out", out, "--image-size", 128, "--gif", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "1 of 3 dates reprojected" in result.stdout and "meaningless" in result.stdout
    labels = sorted(out.glob("labels_*.tif"))
    assert [p.name for p in labels] == ["labels_2019-07-04.tif", "labels_2020-07-11.tif", "labels_2021-07-02.tif"]
    with rasterio.open(paths[0]) as first:
        grid = (first.crs, first.transform, first.shape)
    for path in labels:
        with rasterio.open(path) as ds:
            assert (ds.crs, ds.transform, ds.shape) == grid and ds.dtypes[0] == "uint32" and ds.nodata == 0
    layer = gpd.read_file(out / "tracks.gpkg")
    assert {"date", "object_id", "area_m2", "score"} <= set(layer.columns) and set(layer["object_id"]) <= {1, 2}
    assert (out / "areas.csv").is_file() and (out / "tracks.gif").is_file()


def test_track_errors_are_one_line_before_anything_is_loaded(tmp_path, capsys):
    from helpers.cli import main  # in-process: the same code as the command, without a second start-up

    _write_dates(tmp_path / "dates")
    prompts = _prompts(tmp_path / "p.geojson")
    cases = [
        (["--model", "sam_vit_b", "--prompts", prompts], "sam_vit_b cannot track"),
        (["--model", "sam2.1_hiera_t", "--prompts", tmp_path / "none.gpkg"], "prompts file not found"),
        (["--model", "sam2.1_hiera_t", "--prompts", prompts, "--dates", "2019"], "1 dates given for 3 files"),
        (["--model", "sam2.1_hiera_t", "--prompts", prompts, "--image-size", "100"], "image_size must be a multiple"),
    ]
    for extra, message in cases:
        code = main(["track", str(tmp_path / "dates"), *map(str, extra), "--out", str(tmp_path / "out"), "--quiet"])
        err = capsys.readouterr().err
        assert code == 2, (extra, err)
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()
