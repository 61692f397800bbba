"""helpers.metrics: pixel, boundary and object scores checked against independent implementations
(scikit-learn, a pixel loop of DAVIS's boundary definition, skimage disk dilation, brute-force matching)
and hand-made cases whose answers are worked out in the comments."""

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from rasterio import features

from helpers.errors import UserInputError
from helpers.masks import Masks
from helpers.metrics import (
    Grid,
    boundary_f,
    boundary_map,
    evaluate,
    evaluations_table,
    match_objects,
    pixel_scores,
    reference_labels,
)
from helpers.smoke import SMOKE_BANNER

UTM = "EPSG:26918"  # UTM 18N, metres (the Alexandria LiDAR grid's CRS)
ORIGIN = (320000.0, 4300000.0)


def utm_grid(shape=(60, 80), pixel=2.0) -> Grid:
    return Grid(shape, Affine(pixel, 0, ORIGIN[0], 0, -pixel, ORIGIN[1]), UTM)


def square(shape, row, col, size, label=True):
    out = np.zeros(shape, dtype=bool if label is True else np.uint32)
    out[row : row + size, col : col + size] = label
    return out


# ---- pixel scores ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed,density", [(0, 0.5), (1, 0.1), (2, 0.9)])
def test_pixel_scores_equal_scikit_learn(seed, density):
    from sklearn.metrics import f1_score, jaccard_score, precision_score, recall_score

    rng = np.random.default_rng(seed)
    pred = rng.random((40, 50)) < density
    ref = rng.random((40, 50)) < 0.4
    scores = pixel_scores(pred, ref)
    truth, guess = ref.ravel(), pred.ravel()
    assert scores["iou"] == pytest.approx(jaccard_score(truth, guess))
    assert scores["dice"] == pytest.approx(f1_score(truth, guess))
    assert scores["precision"] == pytest.approx(precision_score(truth, guess))
    assert scores["recall"] == pytest.approx(recall_score(truth, guess))
    assert scores["tp"] + scores["fn"] == ref.sum() and scores["tp"] + scores["fp"] == pred.sum()


def test_pixel_scores_take_label_rasters_as_foreground():
    labels = square((10, 10), 2, 2, 4, label=7)
    assert pixel_scores(labels, labels > 0)["iou"] == 1.0


def test_empty_prediction_and_reference_follow_the_documented_rule():
    empty, full = np.zeros((5, 5), bool), square((5, 5), 1, 1, 2)
    assert pixel_scores(empty, empty) == {"iou": 1.0, "dice": 1.0, "precision": 1.0, "recall": 1.0,
                                          "tp": 0, "fp": 0, "fn": 0}
    nothing_found = pixel_scores(empty, full)
    assert (nothing_found["iou"], nothing_found["precision"], nothing_found["recall"]) == (0.0, 1.0, 0.0)
    nothing_there = pixel_scores(full, empty)
    assert (nothing_there["iou"], nothing_there["precision"], nothing_there["recall"]) == (0.0, 0.0, 1.0)
    assert boundary_f(empty, empty, tolerance_px=1)["f"] == 1.0
    assert boundary_f(empty, full, tolerance_px=1) | {"tolerance_px": 1} == {
        "precision": 1.0, "recall": 0.0, "f": 0.0, "tolerance_px": 1}


# ---- boundary F -----------------------------------------------------------------------------------
def davis_boundary_by_loop(seg):
    """DAVIS's definition pixel by pixel: a pixel differing from its E, S or SE neighbour in the image."""
    height, width = seg.shape
    out = np.zeros(seg.shape, bool)
    for r in range(height):
        for c in range(width):
            for dr, dc in ((0, 1), (1, 0), (1, 1)):
                if r + dr < height and c + dc < width and seg[r, c] != seg[r + dr, c + dc]:
                    out[r, c] = True
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_boundary_map_is_davis_definition(seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((12, 15)) < 0.5
    labels = rng.integers(0, 4, (12, 15))
    assert np.array_equal(boundary_map(mask), davis_boundary_by_loop(mask))
    assert np.array_equal(boundary_map(labels), davis_boundary_by_loop(labels))


def test_a_square_boundary_has_four_sides_of_pixels():
    # a 10x10 square: inside pixels on its right column and bottom row (19), outside pixels left of its
    # left column, above its top row and the top-left corner (21): 40 = 4 x 10
    assert boundary_map(square((30, 30), 10, 10, 10)).sum() == 40


def test_shifted_square_boundary_f_by_hand():
    ref = square((30, 40), 10, 10, 10)
    pred = square((30, 40), 10, 13, 10)  # shifted 3 px east
    # Exact overlap of the two 40-pixel boundaries (worked out in the DAVIS pixel layout): 8 on the row
    # above, 7 on the bottom row and 1 at the shifted left side's foot: 16 -> P = R = F = 16/40.
    exact = boundary_f(pred, ref, tolerance_px=0)
    assert [exact["precision"], exact["recall"], exact["f"]] == pytest.approx([0.4, 0.4, 0.4])
    assert boundary_f(pred, ref, tolerance_px=3)["f"] == 1.0  # every pixel moved exactly 3 px
    assert boundary_f(ref, ref, tolerance_px=0)["f"] == 1.0


@pytest.mark.parametrize("radius", [1, 2, 4])
def test_boundary_f_equals_davis_disk_dilation(radius):
    from scipy import ndimage
    from skimage.morphology import disk

    rng = np.random.default_rng(radius)
    ref = ndimage.gaussian_filter(rng.random((64, 64)), 3) > 0.5  # smooth random blobs
    pred = ndimage.binary_dilation(ref, iterations=2) ^ (rng.random((64, 64)) < 0.02)
    pb, rb = boundary_map(pred), boundary_map(ref)
    pred_near = (pb & ndimage.binary_dilation(rb, structure=disk(radius))).sum() / pb.sum()
    ref_near = (rb & ndimage.binary_dilation(pb, structure=disk(radius))).sum() / rb.sum()
    got = boundary_f(pred, ref, tolerance_px=radius)
    assert got["precision"] == pytest.approx(pred_near) and got["recall"] == pytest.approx(ref_near)
    assert got["f"] == pytest.approx(2 * pred_near * ref_near / (pred_near + ref_near))


def test_boundary_tolerance_in_metres_uses_the_pixel_size():
    ref = square((30, 40), 10, 10, 10)
    pred = square((30, 40), 10, 11, 10)  # 1 px = 2 m east
    grid = utm_grid((30, 40), pixel=2.0)
    within = boundary_f(pred, ref, tolerance_m=2, transform=grid.transform, crs=grid.crs)
    assert within["tolerance_px"] == pytest.approx(1.0) and within["f"] == 1.0
    short = boundary_f(pred, ref, tolerance_m=1.9, transform=grid.transform, crs=grid.crs)
    assert short["f"] < 1.0
    # the same ground distance on a geographic grid: 0.00002 deg ~ 1.7-2.2 m at 40 N
    geo = Affine(0.00002, 0, -77.05, 0, -0.00002, 38.8)
    degrees = boundary_f(pred, ref, tolerance_m=5, transform=geo, crs="EPSG:4326")
    assert 2.0 < degrees["tolerance_px"] < 3.0
    assert boundary_f(ref, ref)["tolerance_px"] == np.ceil(0.008 * np.hypot(30, 40))  # DAVIS default


def test_boundary_tolerance_errors_are_one_line():
    mask = square((10, 10), 2, 2, 3)
    with pytest.raises(UserInputError, match="georeferenced grid"):
        boundary_f(mask, mask, tolerance_m=2)
    with pytest.raises(UserInputError, match="not both"):
        boundary_f(mask, mask, tolerance_m=2, tolerance_px=1)
    with pytest.raises(UserInputError, match="not the same grid"):
        boundary_f(mask, mask[:5])


# ---- object matching ------------------------------------------------------------------------------
def test_a_split_object_is_no_match():
    ref = square((20, 20), 4, 4, 10, label=1)
    pred = np.zeros((20, 20), np.uint32)
    pred[4:14, 4:9], pred[4:14, 9:14] = 1, 2  # two halves, each with IoU 50/100 = 0.5 with the reference:
    # at 0.5 one half is matched (one-to-one) and the other is a false positive; above 0.5, none
    at_half = match_objects(pred, ref, iou_threshold=0.5)
    assert (at_half.tp, at_half.fp, at_half.fn) == (1, 1, 0)
    strict = match_objects(pred, ref, iou_threshold=0.51)
    assert (strict.tp, strict.fp, strict.fn, strict.f1) == (0, 2, 1, 0.0)
    row = strict.objects.iloc[0]
    assert (row.diagnosis, row.n_parts, row.best_iou) == ("split", 2, 0.5)


def test_a_merged_pair_is_no_match():
    ref = np.zeros((20, 30), np.uint32)
    ref[5:15, 2:12], ref[5:15, 14:24] = 1, 2  # two 100 px buildings 2 px apart
    pred = square((20, 30), 5, 2, 10, label=1)
    pred[5:15, 2:24] = 1  # one blob over both (220 px): IoU 100/220 with each
    match = match_objects(pred, ref)
    assert (match.tp, match.fp, match.fn, match.precision, match.recall) == (0, 1, 2, 0.0, 0.0)
    assert match.objects["diagnosis"].tolist() == ["merged", "merged"]
    assert match.objects["best_iou"].tolist() == pytest.approx([100 / 220] * 2)


def test_shifted_squares_match_by_iou_and_score_f1():
    ref = np.zeros((30, 60), np.uint32)
    ref[5:15, 5:15], ref[5:15, 30:40], ref[20:25, 50:55] = 1, 2, 3
    pred = np.zeros((30, 60), np.uint32)
    pred[5:15, 7:17] = 5  # shifted 2 px: 80 / 120 = 0.667, a match
    pred[5:15, 35:45] = 9  # shifted 5 px: 50 / 150 = 0.333, no match
    pred[25:28, 0:3] = 4  # a false positive far from everything
    match = match_objects(pred, ref)
    assert (match.tp, match.fp, match.fn) == (1, 2, 2)
    assert match.precision == pytest.approx(1 / 3) and match.recall == pytest.approx(1 / 3)
    assert match.f1 == pytest.approx(1 / 3) and match.mean_iou == pytest.approx(80 / 120)
    rows = match.objects.set_index("ref_id")
    assert rows.loc[1, "pred_id"] == 5 and rows.loc[1, "iou"] == pytest.approx(2 / 3)
    assert rows.loc[2, "pred_id"] == 0 and rows.loc[2, "best_pred_id"] == 9
    assert rows.loc[2, "diagnosis"] == "shifted" and rows.loc[3, "diagnosis"] == "missed"
    assert rows["ref_area_px"].tolist() == [100, 100, 25]
    fp = match.predictions.set_index("pred_id")
    assert fp.loc[4, "ref_id"] == 0 and fp.loc[5, "ref_id"] == 1


def test_too_large_and_too_small_predictions_are_diagnosed():
    ref = np.zeros((40, 40), np.uint32)
    ref[2:8, 2:8], ref[20:36, 20:36] = 1, 2
    pred = np.zeros((40, 40), np.uint32)
    pred[0:14, 0:14] = 1  # covers all of ref 1 but is 5x larger
    pred[24:30, 24:30] = 2  # a small part inside ref 2
    assert match_objects(pred, ref).objects["diagnosis"].tolist() == ["too large", "too small"]


def brute_force_best_total_iou(iou_matrix, threshold):
    n_pred, n_ref = iou_matrix.shape
    best = 0.0
    for k in range(min(n_pred, n_ref) + 1):
        for preds in itertools.permutations(range(n_pred), k):
            for refs in itertools.combinations(range(n_ref), k):
                values = [iou_matrix[p, r] for p, r in zip(preds, refs, strict=True)]
                if all(v >= threshold for v in values):
                    best = max(best, sum(values))
    return best


@pytest.mark.parametrize("seed", range(4))
def test_low_threshold_assignment_maximises_total_iou_like_brute_force(seed):
    rng = np.random.default_rng(seed)
    shape = (24, 24)
    ref, pred = np.zeros(shape, np.uint32), np.zeros(shape, np.uint32)
    for label in range(1, 5):
        r, c, h, w = rng.integers(0, 16, 2).tolist() + rng.integers(4, 9, 2).tolist()
        ref[r : r + h, c : c + w] = label
        r, c, h, w = rng.integers(0, 16, 2).tolist() + rng.integers(4, 9, 2).tolist()
        pred[r : r + h, c : c + w] = label
    match = match_objects(pred, ref, iou_threshold=0.1)
    ids_p, ids_r = np.unique(pred[pred > 0]), np.unique(ref[ref > 0])
    iou_matrix = np.array([[((pred == p) & (ref == r)).sum() / ((pred == p) | (ref == r)).sum()
                            for r in ids_r] for p in ids_p])
    assert match.objects["iou"].sum() == pytest.approx(brute_force_best_total_iou(iou_matrix, 0.1))
    matched = match.objects[match.objects.pred_id > 0]
    assert matched["pred_id"].is_unique


def test_bool_masks_become_connected_objects_and_bad_labels_are_refused():
    mask = np.zeros((10, 10), bool)
    mask[1:3, 1:3] = mask[3:5, 3:5] = True  # touching diagonally: one object (8-connected)
    mask[7:9, 7:9] = True
    assert match_objects(mask, mask).n_ref == 2
    with pytest.raises(UserInputError, match="negative"):
        match_objects(np.full((3, 3), -1), mask[:3, :3])
    with pytest.raises(UserInputError, match="integer label raster"):
        match_objects(np.zeros((3, 3), float), mask[:3, :3])
    with pytest.raises(UserInputError, match="iou_threshold"):
        match_objects(mask, mask, iou_threshold=0)


def test_overlapping_masks_are_matched_as_separate_objects():
    ref = np.zeros((20, 20), np.uint32)
    ref[2:10, 2:10], ref[4:8, 12:18] = 1, 2
    stack = np.zeros((3, 20, 20), bool)
    stack[0, 2:10, 2:10] = True  # exactly reference 1
    stack[1, 1:11, 1:11] = True  # a larger duplicate over it (IoU 64/100): overlapping candidate
    stack[2, 4:8, 12:18] = True  # exactly reference 2
    ev = evaluate(Masks(stack, np.ones(3)), ref)
    assert (ev.summary["tp"], ev.summary["fp"], ev.summary["fn"]) == (2, 1, 0)
    assert ev.summary["mean_iou"] == 1.0 and ev.summary["pixel_precision"] == pytest.approx(88 / 124)


def test_a_region_limits_scoring_to_where_the_reference_is_complete():
    ref = np.zeros((20, 40), np.uint32)
    ref[2:8, 2:8] = 1
    pred = ref.copy()
    pred[10:16, 25:35] = 7  # a real object the reference does not cover (outside its area)
    pred[2:8, 18:24] = 8  # a false positive straddling the region edge, mostly outside
    region = np.zeros((20, 40), bool)
    region[:, :20] = True
    everywhere = evaluate(pred, ref, tolerance_px=1)
    assert (everywhere.summary["fp"], everywhere.summary["object_precision"]) == (2, pytest.approx(1 / 3))
    inside = evaluate(pred, ref, tolerance_px=1, region=region)
    assert (inside.summary["fp"], inside.summary["object_f1"]) == (0, 1.0)
    # pixels inside the region still count: 12 of the straddling object's 36 pixels are inside
    assert inside.summary["pixel_precision"] == pytest.approx(36 / (36 + 12))
    assert inside.summary["region_share"] == 0.5
    masks = Masks(np.stack([pred == 1, pred == 7, pred == 8]), np.ones(3))
    assert masks.evaluate(ref, region=region).summary["object_f1"] == 1.0
    with pytest.raises(UserInputError, match="region is empty"):
        evaluate(pred, ref, region=np.zeros_like(region))


# ---- references ----------------------------------------------------------------------------------
def utm_polygons(grid):
    """Three footprints in UTM with corners on pixel edges (no pixel centre on an edge)."""
    def cells(col, row, w, h):
        x0, y0 = grid.transform @ (col, row)
        x1, y1 = grid.transform @ (col + w, row + h)
        return shapely.box(x0, y1, x1, y0)

    return gpd.GeoDataFrame({"name": ["a", "b", "c"]},
                            geometry=[cells(5, 5, 10, 8), cells(30, 10, 6, 6), cells(50, 30, 12, 20)], crs=UTM)


def test_vector_reference_in_another_crs_lands_on_the_scene_grid(tmp_path):
    grid = utm_grid()
    footprints = utm_polygons(grid)
    expected = features.rasterize(((g, i + 1) for i, g in enumerate(footprints.geometry)),
                                  out_shape=grid.shape, transform=grid.transform, dtype="uint32")
    in_degrees = footprints.to_crs("EPSG:4326")
    assert np.array_equal(reference_labels(in_degrees, grid), expected)
    in_degrees.to_file(tmp_path / "footprints.geojson")
    labels = reference_labels(tmp_path / "footprints.geojson", grid)
    assert np.array_equal(labels, expected)
    assert np.bincount(labels.ravel()).tolist()[1:] == [80, 36, 240]  # rows map to labels 1, 2, 3
    web = footprints.to_crs("EPSG:3857").geometry  # a GeoSeries works too
    assert np.array_equal(reference_labels(web, grid), expected)


def test_overlapping_reference_polygons_keep_the_small_one_on_top():
    grid = utm_grid()
    x, y = grid.transform @ (10, 10)
    big, small = shapely.box(x, y - 40, x + 40, y), shapely.box(x + 10, y - 20, x + 20, y - 10)
    labels = reference_labels(gpd.GeoDataFrame(geometry=[small, big], crs=UTM), grid)
    assert np.bincount(labels.ravel())[1] == 25  # the small square (5x5 px) is whole


def test_reference_rasters_masks_and_other_grids(tmp_path):
    import rasterio

    grid = utm_grid((40, 40))
    labels = square((40, 40), 10, 10, 8, label=3)
    assert np.array_equal(reference_labels(labels, grid), labels)
    mask = labels > 0
    assert reference_labels(mask, grid).max() == 1
    assert reference_labels((labels > 0).astype(np.uint8) * 255, grid, binary=True).max() == 1
    # a label raster on a coarser grid (4 m) is resampled onto the 2 m scene grid
    coarse = np.zeros((20, 20), np.uint16)
    coarse[5:9, 5:9] = 4
    path = tmp_path / "coarse.tif"
    with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=1, dtype="uint16", crs=UTM,
                       transform=Affine(4.0, 0, ORIGIN[0], 0, -4.0, ORIGIN[1])) as ds:
        ds.write(coarse, 1)
    resampled = reference_labels(path, grid)
    assert np.array_equal(resampled, square((40, 40), 10, 10, 8, label=4))


def test_reference_errors_are_one_line(tmp_path):
    grid = utm_grid()
    far = gpd.GeoDataFrame(geometry=[shapely.box(-100.1, 40.0, -100.0, 40.1)], crs="EPSG:4326")  # Kansas
    cases = [
        (lambda: reference_labels(far, grid), "does not cover any pixel"),
        (lambda: reference_labels(far.iloc[:0], grid), "empty: no features"),
        (lambda: reference_labels(np.zeros(grid.shape, np.uint8), grid), "empty: no object"),
        (lambda: reference_labels(far.set_crs(None, allow_override=True), grid), "has no CRS"),
        (lambda: reference_labels(utm_polygons(grid), Grid(grid.shape)), "no georeferencing"),
        (lambda: reference_labels(np.ones((3, 3), np.uint8), grid), "but the scene is 60x80"),
        (lambda: reference_labels(np.ones(grid.shape, float), grid), "integer label raster"),
        (lambda: reference_labels(tmp_path / "missing.geojson", grid), "does not exist"),
        (lambda: reference_labels(tmp_path / "missing.tif", grid), "does not exist"),
    ]
    for call, message in cases:
        with pytest.raises(UserInputError, match=message) as info:
            call()
        assert "\n" not in str(info.value)


# ---- evaluate -------------------------------------------------------------------------------------
def test_evaluate_masks_against_vectors_with_areas_timing_and_smoke_banner():
    grid = utm_grid()
    footprints = utm_polygons(grid)
    truth = reference_labels(footprints, grid)
    stack = np.stack([truth == 1, truth == 2])  # two of three found exactly, the third missed
    masks = Masks(stack, [0.9, 0.8], model="sam_vit_b", prompt_type="boxes", crs=grid.crs,
                  transform=grid.transform, timings={"encode": 1.5, "predict": 0.5}, smoke=True)
    ev = masks.evaluate(footprints.to_crs("EPSG:4326"), tolerance_m=2)
    assert ev.summary["object_f1"] == pytest.approx(0.8) and ev.summary["object_recall"] == pytest.approx(2 / 3)
    assert ev.summary["time_s"] == 2.0 and ev.summary["tolerance_px"] == pytest.approx(1.0)
    assert ev.summary["method"] == "sam_vit_b boxes" and ev.smoke
    assert ev.objects["ref_area_m2"].tolist() == pytest.approx([320, 144, 960])
    text = str(ev)
    assert "sam_vit_b boxes (smoke)" in text and SMOKE_BANNER in text and "within 2 m" in text
    real = evaluate(truth, footprints, like=grid, method="perfect", time_s=0.1)
    assert real.summary["object_f1"] == real.summary["pixel_iou"] == real.summary["boundary_f"] == 1.0
    table = evaluations_table([real, ev], title="buildings")
    assert table.splitlines()[0] == "buildings" and "perfect" in table and SMOKE_BANNER in table


def test_evaluate_label_geotiff_and_csv(tmp_path):
    from helpers.export import write_label_geotiff

    grid = utm_grid()
    footprints = utm_polygons(grid)
    truth = reference_labels(footprints, grid)
    path = write_label_geotiff(truth, tmp_path / "pred.tif", crs=grid.crs, transform=grid.transform,
                               tags={"smoke": "true", "model": "fastsam_s"})
    ev = evaluate(path, footprints)
    assert ev.summary["object_f1"] == 1.0 and ev.smoke and ev.summary["method"] == "fastsam_s"
    out = ev.to_csv(tmp_path / "objects.csv")
    lines = out.read_text().splitlines()
    assert lines[0].startswith("ref_id,pred_id,iou") and len(lines) == 4


def test_metrics_never_imports_masks():
    import ast
    from pathlib import Path

    import helpers.metrics as metrics

    tree = ast.parse(Path(metrics.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "masks" not in imported  # metrics duck-types Masks; masks imports metrics lazily


def test_the_evaluate_benchmark_runs_on_a_small_scene(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "evaluate.py"
    spec = importlib.util.spec_from_file_location("benchmark_evaluate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--objects", "100", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "reference objects on a 200x200 grid" in out and "evaluate (all of the above)" in out


def test_smoke_note_names_untrained_results_only():
    from helpers.smoke import smoke_note

    real, smoke = Masks(np.zeros((1, 4, 4), bool), [1.0]), Masks(np.zeros((1, 4, 4), bool), [1.0], smoke=True)
    assert smoke_note(real) == "" and smoke_note([real, real]) == ""
    assert smoke_note(real, [smoke]) == f" ⚠ {SMOKE_BANNER}"
