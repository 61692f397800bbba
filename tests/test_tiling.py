"""Tiled inference: seam rule, stitching, nodata tiles, prompts, window-by-window label raster."""

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from scipy import ndimage

import helpers
from helpers.backends.base import SegmentationModel
from helpers.tiling import segment_tiled, tile_grid

SIZE, TILE, OVERLAP = 480, 200, 60  # tiles start at 0, 140, 280: seams at 140, 200, 280, 340
BRIGHT, DARK = 220, 30


class ThresholdModel(SegmentationModel):
    """A deterministic stand-in backend: bright connected components are the objects."""

    def __init__(self):
        super().__init__("threshold")
        self.calls = 0

    def _set_scene(self, scene):
        self.calls += 1
        self._labels, self._n = ndimage.label(scene.image[..., 0] > 128)

    def generate(self, **params):
        masks = np.stack([self._labels == i for i in range(1, self._n + 1)]) if self._n else np.zeros(
            (0, *self._labels.shape), bool)
        return self._result(masks, np.ones(len(masks)), prompt_type="everything")

    def predict(self, points=None, labels=None, boxes=None, crs=None, multimask=True, mask_input=None):
        if points is not None:
            x, y = np.rint(np.asarray(points, float)[0]).astype(int)
            ident = self._labels[y, x]
        else:
            x0, y0, x1, y1 = np.asarray(boxes, float)[0]
            ident = self._labels[int((y0 + y1) / 2), int((x0 + x1) / 2)]
        return self._result((self._labels == ident)[None], np.ones(1), prompt_type="points")


def _disc(gt, cy, cx, r, ident):
    yy, xx = np.ogrid[: gt.shape[0], : gt.shape[1]]
    gt[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = ident


def _ground_truth() -> np.ndarray:
    gt = np.zeros((SIZE, SIZE), np.uint32)
    _disc(gt, 60, 200, 15, 1)  # across the seam x=200 (right edge of tile column 0)
    _disc(gt, 400, 140, 14, 2)  # across the seam x=140 (left edge of tile column 1)
    _disc(gt, 200, 200, 18, 3)  # across a corner: x=200 and y=200
    _disc(gt, 340, 340, 20, 4)  # across the corner x=340, y=340
    gt[420:450, 100:380] = 5  # longer than the overlap: clipped in 3 tiles, must be stitched
    _disc(gt, 100, 170, 10, 6)  # inside an overlap strip: seen whole twice (duplicate)
    _disc(gt, 300, 60, 10, 7)  # inside one tile
    _disc(gt, 250, 4, 12, 8)  # cut by the scene border (not a seam): kept
    gt[150:330, 250:262] = 9  # tall bar across the seams y=200 and y=280, and x=... inside column 1
    return gt


def _write_scene(path, gt, nodata_box=None):
    image = np.where(gt > 0, BRIGHT, DARK).astype(np.uint8)
    image = np.repeat(image[None], 3, axis=0)
    if nodata_box is not None:
        r0, r1, c0, c1 = nodata_box
        image[:, r0:r1, c0:c1] = 0
    profile = dict(driver="GTiff", width=SIZE, height=SIZE, count=3, dtype="uint8", crs="EPSG:32618",
                   transform=from_origin(500000, 4000000, 2.0, 2.0), nodata=0, tiled=True,
                   blockxsize=128, blockysize=128)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(image)
    return path


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    gt = _ground_truth()
    return _write_scene(tmp_path_factory.mktemp("tiling") / "scene.tif", gt), gt


@pytest.fixture(scope="module")
def tiled(scene, tmp_path_factory):
    path, _ = scene
    out = tmp_path_factory.mktemp("tiled") / "labels.tif"
    result = segment_tiled(ThresholdModel(), path, tile_size=TILE, overlap=OVERLAP, out_path=out,
                           keep_tile_polygons=True, progress=False)
    return result


def test_tile_grid_covers_scene_with_overlap():
    tiles = tile_grid(SIZE, SIZE, TILE, OVERLAP)
    assert [t.col_off for t in tiles[:3]] == [0, 140, 280]
    cover = np.zeros((SIZE, SIZE), int)
    for t in tiles:
        cover[t.row_off : t.row_off + t.height, t.col_off : t.col_off + t.width] += 1
    assert cover.min() >= 1
    assert tiles[0].interior == (False, False, True, True)
    assert tile_grid(100, 50, 1024, 128)[0].width == 100  # small scene: one tile, no padding
    with pytest.raises(ValueError, match="overlap"):
        tile_grid(100, 100, 64, 40)


def test_each_object_across_seams_and_corners_gets_one_id_with_exact_footprint(scene, tiled):
    _, gt = scene
    labels = tiled.read_labels()
    for ident in range(1, gt.max() + 1):
        found = np.unique(labels[gt == ident])
        assert found.size == 1 and found[0] > 0, f"object {ident} got ids {found}"
        assert np.array_equal(labels == found[0], gt == ident), f"object {ident} footprint differs"
    assert np.array_equal(labels > 0, gt > 0)
    assert len(tiled.gdf) == gt.max()
    assert tiled.counts["dropped_edge"] > 0 and tiled.counts["duplicate"] > 0 and tiled.counts["stitched"] > 0


def test_merged_polygons_match_ground_truth_pixels(scene, tiled):
    _, gt = scene
    labels = tiled.read_labels()
    inverse = ~tiled.transform
    for row in tiled.gdf.itertuples():
        truth = labels == row.id
        assert row.area_px == truth.sum()
        assert row.area_m2 == pytest.approx(truth.sum() * 4.0, rel=1e-9)  # 2 m pixels
        # rasterise the polygon back (pixel centres inside) and compare with the footprint
        pixel_geom = shapely.transform(row.geometry, lambda xy: np.column_stack(inverse * (xy[:, 0], xy[:, 1])))
        rr, cc = np.nonzero(truth)
        assert shapely.contains_xy(pixel_geom, cc + 0.5, rr + 0.5).all()
        assert pixel_geom.area == pytest.approx(truth.sum())
    assert tiled.gdf.is_valid.all()
    assert set(tiled.gdf["n_tiles"]) >= {1, 3}  # the long bar is stitched from 3 tiles


def test_tile_polygons_record_the_seam_rule(tiled):
    statuses = set(tiled.tile_gdf["status"])
    assert {"kept", "dropped_edge", "duplicate"} <= statuses
    # every candidate points at the one instance representing its object, found by another tile
    # when the candidate was dropped
    tiles = tiled.tile_gdf
    assert (tiles["final_id"] > 0).all()
    dropped = tiles[tiles.status.isin(["dropped_edge", "duplicate"])]
    for row in dropped.itertuples():
        winner = tiled.gdf.loc[tiled.gdf.id == row.final_id].iloc[0]
        assert winner.tile_id != row.tile_id
        assert winner.geometry.buffer(1e-6).contains(row.geometry)


def test_nodata_tiles_are_skipped(tmp_path):
    gt = _ground_truth()
    gt[280:, 280:] = 0
    path = _write_scene(tmp_path / "holes.tif", gt, nodata_box=(140, SIZE, 140, SIZE))
    model = ThresholdModel()
    result = segment_tiled(model, path, tile_size=TILE, overlap=OVERLAP, progress=False)
    last = tile_grid(SIZE, SIZE, TILE, OVERLAP)[-1]
    assert last.id in result.skipped  # its window is all nodata
    assert model.calls == len(result.tiles) - len(result.skipped)
    assert result.labels_path is None and len(result.gdf) > 0


def test_points_mode_one_instance_per_prompt_in_map_coordinates(scene):
    path, gt = scene
    transform = from_origin(500000, 4000000, 2.0, 2.0)
    centres = [(200, 60), (60, 300)]  # (col, row) of objects 1 and 7 (pixel centres)
    xy = [transform * (c + 0.5, r + 0.5) for c, r in centres]
    result = segment_tiled(ThresholdModel(), path, tile_size=TILE, overlap=OVERLAP, mode="points",
                           prompts={"points": xy, "crs": "EPSG:32618"}, progress=False)
    assert len(result.gdf) == 2
    assert sorted(result.gdf["prompt_index"]) == [0, 1]
    assert result.gdf.sort_values("prompt_index")["area_px"].tolist() == [(gt == 1).sum(), (gt == 7).sum()]



def test_boxes_mode_one_instance_per_box(scene):
    # Box prompts have no background points: the mode must not try to place any (it used to fail).
    path, gt = scene
    boxes = [(185, 45, 216, 76), (50, 290, 71, 311)]  # XYXY pixel edges around objects 1 and 7
    result = segment_tiled(ThresholdModel(), path, tile_size=TILE, overlap=OVERLAP, mode="boxes",
                           prompts={"boxes": boxes}, progress=False)
    assert sorted(result.gdf["prompt_index"]) == [0, 1]
    assert result.gdf.sort_values("prompt_index")["area_px"].tolist() == [(gt == 1).sum(), (gt == 7).sum()]

def test_in_memory_scene_and_bad_mode(scene):
    from helpers.raster import read_scene

    path, gt = scene
    result = segment_tiled(ThresholdModel(), read_scene(path), tile_size=TILE, overlap=OVERLAP, progress=False)
    assert len(result.gdf) == gt.max()
    assert result.preview.shape == (SIZE, SIZE, 3) and np.array_equal(result.preview_labels > 0, gt > 0)
    with pytest.raises(ValueError, match="mode"):
        segment_tiled(ThresholdModel(), path, mode="nope")
    with pytest.raises(ValueError, match="prompts"):
        segment_tiled(ThresholdModel(), path, mode="points")


def test_without_matching_across_tiles_seam_objects_would_be_split(scene):
    path, gt = scene  # control: the same run with matching switched off splits objects at seams
    result = segment_tiled(ThresholdModel(), path, tile_size=TILE, overlap=OVERLAP, stitch_iou=1.01, progress=False)
    assert len(result.gdf) > gt.max()


class FailingModel(ThresholdModel):
    def generate(self, **params):
        if self.calls == 2:
            raise RuntimeError("tile failed")
        return super().generate(**params)


def test_a_failing_tile_closes_and_removes_the_work_raster(scene, tmp_path, monkeypatch):
    from helpers import tiling

    writers = []

    class RecordingWriter(tiling.LabelRasterWriter):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            writers.append(self)

    monkeypatch.setattr(tiling, "LabelRasterWriter", RecordingWriter)
    with pytest.raises(RuntimeError, match="tile failed"):
        segment_tiled(FailingModel(), scene[0], tile_size=TILE, overlap=OVERLAP, out_path=tmp_path / "x.tif",
                      progress=False)
    (work,) = writers  # the final raster is never started
    assert work.dataset.closed and not work.temp_path.exists()
    assert list(tmp_path.iterdir()) == []


def test_tiles_generate_without_a_progress_bar_of_their_own(scene):
    """Every backend's ``generate`` takes ``progress=`` (the contract): the tile bar is the only bar."""

    class Recording(ThresholdModel):
        def __init__(self):
            super().__init__()
            self.seen = []

        def generate(self, **params):
            self.seen.append(params)
            return super().generate()

    small = dict(tile_size=TILE, overlap=OVERLAP, progress=False, vectors=False)
    model = Recording()
    segment_tiled(model, scene[0], params={"points_per_side": 4}, **small)
    assert model.seen and all(p == {"points_per_side": 4, "progress": False} for p in model.seen)
    model = Recording()
    segment_tiled(model, scene[0], params={"progress": True}, **small)  # asked for: passed on as given
    assert model.seen and all(p == {"progress": True} for p in model.seen)


def _separated_squares() -> np.ndarray:
    """A piecewise-constant scene: squares of 7-28 px on a plain background, each smaller than the overlap."""
    rng = np.random.default_rng(7)
    image = np.full((320, 320, 3), (90, 120, 60), np.uint8)
    for row in range(8, 300, 40):
        for col in range(8, 300, 40):
            side = int(rng.choice([7, 12, 20, 28]))  # 7 px squares (49 px) are below the default min_size
            image[row : row + side, col : col + side] = rng.integers(150, 255, 3)
    return image


def test_a_partitioning_backend_gives_the_same_partition_tiled_and_whole():
    """Defaults come from the scene, not the tile: tiling does not change a local segmentation, and the tiled
    result stays a partition (no overlapping polygons, label raster and vectors agree)."""
    image = _separated_squares()
    model = helpers.load_model("conventional")
    params = {"sigma": 0.0, "max_masks": 5000}  # no pre-smoothing: Felzenszwalb is then local on this scene
    whole = model.set_image(image).generate(**params).extra["labels"]
    tiled = segment_tiled(model, image, tile_size=160, overlap=48, progress=False, params=params)
    labels = tiled.preview_labels  # the whole label raster: the scene is smaller than the preview size
    pairs = set(zip(whole.ravel().tolist(), labels.ravel().tolist()))
    assert len(pairs) == len(np.unique(whole)) == len(np.unique(labels))  # the same partition, ids aside
    polygons = tiled.gdf.geometry.values
    assert shapely.area(shapely.union_all(polygons)) == sum(shapely.area(polygons)) == labels.size  # no overlap
    assert (tiled.gdf["visible_px"] == tiled.gdf["area_px"]).all() and not tiled.gdf["hidden"].any()
