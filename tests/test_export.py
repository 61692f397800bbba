"""Exact GIS export: polygons vs GDAL's polygoniser, areas in every kind of CRS, files, atomicity."""

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from rasterio.features import shapes
from rasterio.transform import from_origin
from shapely.geometry import shape

from helpers.crs import areas_m2
from helpers.export import masks_to_file, write_vector
from helpers.masks import Masks
from helpers.vectorize import vectorize_masks

UTM = "EPSG:32618"
UTM_TRANSFORM = from_origin(500000, 4000000, 0.5, 0.5)


def _blobs(n=40, size=160, seed=1, overlap=False):
    """Random irregular blobs, some with holes and diagonal-only contacts; nested pairs if ``overlap``."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size), bool)
    yy, xx = np.mgrid[:size, :size]
    for i in range(n):
        cy, cx = rng.uniform(10, size - 10, 2)
        r = rng.uniform(3, 12)
        masks[i] = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        masks[i] &= rng.random((size, size)) > 0.15  # ragged edges, pinholes, diagonal touches
        if i % 5 == 0:
            masks[i] &= (yy - cy) ** 2 + (xx - cx) ** 2 > (r / 3) ** 2  # a hole
    if not overlap:  # make them disjoint: a pixel belongs to the last mask covering it
        owner = np.zeros((size, size), int)
        for i in range(n):
            owner[masks[i]] = i + 1
        masks = np.stack([owner == i + 1 for i in range(n)])
    return masks


def _shapes_area_per_id(labels, transform):
    areas = {}
    for geom, value in shapes(labels.astype(np.int32), mask=labels > 0, transform=transform):
        areas[int(value)] = areas.get(int(value), 0.0) + shape(geom).area
    return areas


def test_polygons_match_gdal_polygonize_on_the_label_raster():
    masks = Masks(_blobs(), np.ones(40), crs=UTM, transform=UTM_TRANSFORM)
    gdf = masks.to_gdf()
    reference = _shapes_area_per_id(masks.to_label_raster(), UTM_TRANSFORM)
    assert sorted(reference) == sorted(gdf["id"])
    for row in gdf.itertuples():
        assert row.geometry.area == pytest.approx(reference[row.id], rel=1e-6)
        assert row.area_px == masks.masks[row.id - 1].sum()
    assert gdf.is_valid.all()


def test_overlapping_masks_keep_their_own_exact_polygon():
    raw = _blobs(overlap=True, seed=2)
    assert (raw.sum(axis=0) > 1).any()  # really overlapping
    geoms = vectorize_masks(raw)
    for i, m in enumerate(raw):
        if not m.any():
            assert geoms[i] is None
            continue
        reference = sum(shape(g).area for g, _ in shapes(m.astype(np.uint8), mask=m))
        assert geoms[i].area == pytest.approx(reference, rel=1e-6) == m.sum()
        rows, cols = np.nonzero(m)  # every pixel centre inside, and nothing more (areas equal)
        assert shapely.contains_xy(geoms[i], cols + 0.5, rows + 0.5).all()


def test_holes_are_kept_and_parts_become_multipolygons():
    m = np.zeros((2, 20, 20), bool)
    m[0, 2:12, 2:12] = True
    m[0, 5:8, 5:8] = False
    m[1, 0:2, 15:17] = True
    m[1, 2:4, 17:19] = True  # touches the first part only diagonally
    geoms = vectorize_masks(m)
    assert geoms[0].geom_type == "Polygon" and len(geoms[0].interiors) == 1 and geoms[0].area == 91
    assert geoms[1].geom_type == "MultiPolygon" and geoms[1].area == 8 and geoms[1].is_valid


@pytest.mark.parametrize(
    ("crs", "transform"),
    [
        ("EPSG:4326", from_origin(-112.5, 41.2, 0.0003, 0.0003)),  # geographic (Great Salt Lake)
        ("EPSG:3857", from_origin(-13630000, 4560000, 30, 30)),  # Web Mercator: planar area is 1.6x off
    ],
)
def test_area_m2_is_true_area_in_geographic_and_mercator_crs(crs, transform):
    masks = Masks(_blobs(n=6, seed=3), np.ones(6), crs=crs, transform=transform)
    gdf = masks.to_gdf()
    equal_area = gdf.to_crs("+proj=laea +lat_0=40 +lon_0=-115 +datum=WGS84")  # independent: equal-area plane
    np.testing.assert_allclose(gdf["area_m2"], equal_area.area, rtol=2e-3)


def test_area_m2_converts_projected_units_to_metres():
    transform = from_origin(6000000, 2100000, 10, 10)  # California zone 3, US survey feet
    masks = Masks(_blobs(n=5, seed=4), np.ones(5), crs="EPSG:2227", transform=transform)
    gdf = masks.to_gdf()
    foot = 1200 / 3937
    np.testing.assert_allclose(gdf["area_m2"], gdf["area_px"] * (10 * foot) ** 2, rtol=1e-9)


def test_plain_image_gives_pixel_polygons_and_nan_area(tmp_path):
    m = np.zeros((1, 30, 40), bool)
    m[0, 5:10, 20:30] = True
    gdf = Masks(m, [0.9]).to_gdf()
    assert gdf.crs is None and np.isnan(gdf["area_m2"]).all()
    assert tuple(gdf.total_bounds) == (20, 5, 30, 10)
    assert np.isnan(areas_m2(gdf.geometry.values, None)).all()


def test_simplify_preserves_topology_and_validity():
    masks = Masks(_blobs(n=10, seed=5), np.ones(10), crs=UTM, transform=UTM_TRANSFORM)
    exact, simple = masks.to_gdf(), masks.to_gdf(simplify=1.0)
    assert shapely.get_num_coordinates(simple.geometry.values).sum() < shapely.get_num_coordinates(
        exact.geometry.values).sum()
    assert simple.is_valid.all() and (~simple.is_empty).all()
    np.testing.assert_array_equal(simple["area_m2"], exact["area_m2"])  # area of the exact footprint


@pytest.mark.parametrize("ext", ["geojson", "shp", "gpkg", "parquet"])
def test_every_vector_format_round_trips(tmp_path, ext):
    masks = Masks(_blobs(n=8, seed=6), np.linspace(0.5, 1, 8), crs=UTM, transform=UTM_TRANSFORM,
                  model="sam_vit_b", prompt_type="everything", stability_scores=np.full(8, 0.9), smoke=True)
    path = masks.to_file(tmp_path / f"out.{ext}")
    back = gpd.read_parquet(path) if ext == "parquet" else gpd.read_file(path)
    exact = masks.to_gdf()
    assert back.crs.to_epsg() == 32618
    assert back["id"].tolist() == exact["id"].tolist()
    np.testing.assert_allclose(back.area, exact.area, rtol=1e-9)
    assert back["smoke"].astype(bool).all()
    assert "stability" in back.columns if ext == "shp" else "stability_score" in back.columns
    assert not list(tmp_path.glob(".*tmp*"))


def test_unknown_extension_is_one_clear_error(tmp_path):
    masks = Masks(_blobs(n=2), np.ones(2))
    with pytest.raises(ValueError, match="unsupported vector format"):
        masks_to_file(masks, tmp_path / "out.xyz")


def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    masks = Masks(_blobs(n=3), np.ones(3), crs=UTM, transform=UTM_TRANSFORM)
    target = tmp_path / "out.gpkg"
    masks.to_file(target)
    before = target.read_bytes()

    def killed(df, path, **kwargs):
        with open(path, "wb") as f:
            f.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(pyogrio, "write_dataframe", killed)
    with pytest.raises(KeyboardInterrupt):
        write_vector(masks.to_gdf(), target)
    with pytest.raises(KeyboardInterrupt):
        write_vector(masks.to_gdf(), tmp_path / "new.gpkg")
    assert target.read_bytes() == before
    assert not (tmp_path / "new.gpkg").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gpkg"]


@pytest.mark.parametrize("cog", [False, True])
def test_label_geotiff_is_uint32_georeferenced_tiled_and_compressed(tmp_path, cog):
    raw = np.zeros((3, 600, 700), bool)
    raw[0, 10:300, 10:300] = True
    raw[1, 100:120, 100:120] = True  # inside mask 0: smaller one stays visible
    raw[2, 500:600, 600:700] = True
    masks = Masks(raw, np.ones(3), crs=UTM, transform=UTM_TRANSFORM, model="m", smoke=True)
    path = masks.to_geotiff(tmp_path / "labels.tif", cog=cog)
    with rasterio.open(path) as ds:
        labels = ds.read(1)
        assert ds.dtypes[0] == "uint32" and ds.nodata == 0
        assert ds.crs.to_epsg() == 32618 and ds.transform == UTM_TRANSFORM
        assert ds.profile["tiled"] and ds.compression is not None
        assert ds.tags()["smoke"] == "true"
        if cog:
            assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            assert ds.overviews(1)
    assert labels[110, 110] == 2 and labels[50, 50] == 1 and labels[550, 650] == 3
    assert (labels > 0).sum() == raw.any(axis=0).sum()
    assert not list(tmp_path.glob(".*"))


def test_label_raster_and_vectors_tell_the_same_story(tmp_path):
    """One rule everywhere (smaller on top); an id missing from the raster is flagged hidden in the vectors."""
    raw = np.zeros((3, 40, 50), bool)
    raw[0, 10:20, 10:15] = True  # 50 px
    raw[1, 10:20, 15:20] = True  # 50 px
    raw[2, 10:20, 10:20] = True  # 100 px, last in order, yet entirely under the two smaller masks
    masks = Masks(raw, np.ones(3), crs=UTM, transform=UTM_TRANSFORM, model="m")
    with rasterio.open(masks.to_geotiff(tmp_path / "labels.tif")) as ds:
        on_disk = ds.read(1)
    assert np.array_equal(on_disk, masks.to_label_raster())
    gdf = masks.to_gdf()
    raster_ids = set(np.unique(on_disk)) - {0}
    assert raster_ids == {1, 2}
    assert gdf.set_index("id")["hidden"].to_dict() == {1: False, 2: False, 3: True}
    assert gdf.set_index("id")["visible_px"].to_dict() == {1: 50, 2: 50, 3: 0}
    assert set(gdf.loc[~gdf["hidden"], "id"]) == raster_ids  # every visible vector id is in the raster


def test_png_overlay_and_mask(tmp_path):
    from PIL import Image

    raw = np.zeros((2, 40, 50), bool)
    raw[0, 5:20, 5:20] = True
    raw[1, 25:35, 30:45] = True
    masks = Masks(raw, np.ones(2), smoke=True, model="m")
    image = np.full((40, 50, 3), 90, np.uint8)
    overlay = Image.open(masks.to_png(tmp_path / "overlay.png", image=image))
    assert overlay.size == (50, 40) and overlay.text["smoke"] == "true"
    assert np.asarray(overlay)[30, 40].tolist() != [90, 90, 90]  # painted
    binary = np.asarray(Image.open(masks.select([0]).to_png(tmp_path / "mask.png")))
    assert set(np.unique(binary)) == {0, 255} and binary[10, 10] == 255
    with pytest.raises(ValueError, match="image is"):
        masks.to_png(tmp_path / "bad.png", image=np.zeros((10, 10, 3), np.uint8))


def test_no_masks_give_empty_layers(tmp_path):
    empty = Masks(np.zeros((0, 20, 30), bool), np.zeros(0), crs=UTM, transform=UTM_TRANSFORM)
    assert len(empty.to_gdf()) == 0 and "area_m2" in empty.to_gdf().columns
    assert len(gpd.read_file(empty.to_file(tmp_path / "empty.gpkg"))) == 0
    with rasterio.open(empty.to_geotiff(tmp_path / "empty.tif")) as ds:
        assert ds.read(1).max() == 0
