"""The app's actions without a browser: click -> mask, boxes, undo, two models side by side, everything mode,
downloads that are valid and georeferenced, uploads, errors as one line, sessions cleaned up.

Models are the real architectures with smoke weights (their masks are meaningless, so every mask is checked
against the same model called directly, never against a copied number).
"""

import threading
import time

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import torch
from PIL import Image
from pyproj import Transformer

from helpers.app.display import CAPTION_PX
from helpers.app.pool import ModelPool
from helpers.app.scenes import default_catalog
from helpers.app.session import AppSession, PromptState, SessionStore, error_message, mask_iou
from helpers.errors import UserInputError
from helpers.maskops import label_raster
from helpers.masks import Masks
from helpers.scene import Scene
from helpers.smoke import SMOKE_BANNER

SCENE = "synthetic: buildings"  # 256x256 pixels of 0.5 m in EPSG:32618, shown 2x (512x512)


@pytest.fixture
def session(app_pool, catalog, tmp_path):
    session = AppSession(app_pool, catalog, tmp_path / "session")
    session.set_models("mobile_sam")
    session.open_scene(SCENE)
    session.prepare()
    yield session
    session.close()


def predicted(pool, session, name, **prompts) -> Masks:
    """What the model itself returns for these prompts on the session's scene."""
    with pool.use(name, session.scene) as (model, _):
        masks = model.predict(**prompts)
    return masks.best() if len(masks) > 1 else masks


def assert_same_masks(result: Masks, expected: Masks) -> None:
    np.testing.assert_array_equal(result.masks, expected.masks)
    np.testing.assert_allclose(result.scores, expected.scores, rtol=1e-6)


def test_a_click_gives_the_models_mask_for_that_pixel(session, app_pool):
    session.click(101.4, 61.2 + CAPTION_PX)  # picture pixels: the scene is drawn 2x larger, below a caption
    assert session.prompts.points == ((50, 30),) and session.prompts.labels == (1,)
    result = session.results["mobile_sam"].masks
    assert len(result) == 1 and result.smoke
    assert_same_masks(result, predicted(app_pool, session, "mobile_sam", points=[(50, 30)], labels=[1], multimask=True))
    [row] = session.table()
    area = int(result.masks[0].sum())
    assert row["model"] == "mobile_sam" and row["id"] == 1 and row["area_px"] == area
    assert row["area_m2"] == pytest.approx(0.25 * area)  # 0.5 m pixels
    assert SMOKE_BANNER in session.status()


def test_the_last_click_is_shown_in_the_scene_crs_and_lon_lat(session):
    session.click_pixel(50, 30)
    x, y = session.scene.transform * (50.5, 30.5)  # centre of the pixel
    lon, lat = Transformer.from_crs("EPSG:32618", "EPSG:4326", always_xy=True).transform(x, y)
    text = session.coordinates()
    assert "pixel column 50, row 30" in text
    assert f"EPSG:32618: x {x:.6f}, y {y:.6f}" in text and f"lon {lon:.6f}, lat {lat:.6f}" in text


def test_a_scene_is_encoded_once_per_scene_and_model(session, app_pool, catalog, tmp_path):
    model = app_pool.get("mobile_sam")
    computed = model.cache.stats["computed"]
    for i in range(3):
        session.click_pixel(20 + 10 * i, 40)
        assert model.embedding.source in ("memory", "disk", "computed")
    same = AppSession(app_pool, catalog, tmp_path / "same")  # another browser session, same scene
    same.set_models("mobile_sam")
    assert same.open_scene(SCENE) is session.scene  # the catalog keeps the scenes it loaded
    assert same.prepare()["mobile_sam"].source == "kept"
    again = AppSession(app_pool, default_catalog(), tmp_path / "again")
    again.set_models("mobile_sam")
    again.open_scene(SCENE)  # a new Scene object with the same pixels
    encodings = again.prepare()
    assert encodings["mobile_sam"].source == "memory"
    assert model.cache.stats["computed"] == computed  # nothing was encoded again
    again.close()
    same.close()


def test_two_corner_clicks_draw_a_box(session, app_pool):
    session.set_mode("box")
    session.click_pixel(60, 45)
    assert session.prompts.corner == (60, 45) and session.results == {}
    assert "click the opposite corner" in session.status()
    session.click_pixel(10, 20)  # corners in any order; both pixels inside the box
    assert session.prompts.box == (10, 20, 61, 46) and session.prompts.corner is None
    expected = predicted(app_pool, session, "mobile_sam", boxes=[(10, 20, 61, 46)], multimask=False)
    assert_same_masks(session.results["mobile_sam"].masks, expected)
    picture = session.view("mobile_sam")[CAPTION_PX:]
    assert (picture[40, 20:122] == (250, 220, 30)).all()  # the box's top edge (2x display)


def test_background_points_undo_and_clear(session, app_pool):
    session.click_pixel(50, 30)
    first = session.results["mobile_sam"].masks
    session.set_mode("background")
    session.click_pixel(120, 100)
    assert session.prompts.labels == (1, 0)
    expected = predicted(app_pool, session, "mobile_sam", points=[(50, 30), (120, 100)], labels=[1, 0], multimask=False)
    assert_same_masks(session.results["mobile_sam"].masks, expected)
    session.undo()
    assert session.prompts.points == ((50, 30),)
    assert_same_masks(session.results["mobile_sam"].masks, first)
    session.clear()
    assert session.prompts == PromptState() and session.results == {} and session.table() == []
    session.undo()  # the clear is taken back too
    assert session.prompts.points == ((50, 30),)
    assert_same_masks(session.results["mobile_sam"].masks, first)
    session.undo()
    assert session.prompts.empty and session.results == {}


def test_two_models_side_by_side_get_the_same_prompts(session, app_pool):
    session.set_models("mobile_sam", compare="fastsam_s")
    encodings = session.prepare()
    assert set(encodings) == {"mobile_sam", "fastsam_s"}
    session.click_pixel(50, 30)
    sam, fast = (session.results[name].masks for name in ("mobile_sam", "fastsam_s"))
    assert_same_masks(fast, predicted(app_pool, session, "fastsam_s", points=[(50, 30)], labels=[1], multimask=True))
    a, b = sam.masks[0], fast.masks[0]
    union = np.count_nonzero(a | b)
    expected_iou = np.count_nonzero(a & b) / union if union else float("nan")
    assert session.iou() == pytest.approx(expected_iou, nan_ok=True)
    assert [row["model"] for row in session.table()] == ["mobile_sam", "fastsam_s"]
    status = session.status()
    assert "| mobile_sam |" in status and "| fastsam_s |" in status and "IoU between the two models' masks" in status
    for name in ("mobile_sam", "fastsam_s"):
        assert session.results[name].times["prompt"] > 0
        assert session.view(name).shape == (CAPTION_PX + 512, 512, 3)
        assert session.results[name].times["render"] > 0


def test_mask_iou():
    a = Masks(masks=np.array([[[1, 1, 0, 0]]], bool), scores=[1])
    b = Masks(masks=np.array([[[0, 1, 1, 0]]], bool), scores=[1])
    assert mask_iou(a, b) == pytest.approx(1 / 3)
    assert np.isnan(mask_iou(a, None))


def test_everything_mode_passes_the_changed_parameters(session, app_pool):
    params = {"points_per_side": 4, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
    session.click_pixel(50, 30)
    results = session.everything({"mobile_sam": params})
    assert session.kind == "everything" and session.prompts.empty  # everything starts a fresh result
    with app_pool.use("mobile_sam", session.scene) as (model, _):
        expected = model.generate(**params, progress=False)
    result = results["mobile_sam"].masks
    assert len(result) == len(expected) > 0
    np.testing.assert_array_equal(result.masks, expected.masks)
    assert len(session.table()) == len(result)
    session.undo()  # brings the click back, and its mask
    assert session.kind == "prompts" and session.prompts.points == ((50, 30),)
    with pytest.raises(ValueError, match="points_per_side must be a whole number between 1 and 128"):
        session.everything({"mobile_sam": {"points_per_side": 0}})


def test_exports_are_valid_and_georeferenced(session):
    with pytest.raises(UserInputError, match="nothing to export yet"):
        session.export()
    session.click_pixel(50, 30)
    masks = session.results["mobile_sam"].masks
    files = session.export()
    assert [f.name for f in files] == [f"synthetic_buildings_mobile_sam_prompts{s}" for s in
                                       (".gpkg", ".geojson", "_labels.tif", "_overlay.png")]
    assert all(f.is_file() and session.workdir in f.parents for f in files)
    [row] = session.table()
    for vector in files[:2]:
        gdf = gpd.read_file(vector)
        assert gdf.crs == session.scene.crs and len(gdf) == 1
        assert gdf.loc[0, "area_px"] == row["area_px"] and gdf.loc[0, "area_m2"] == pytest.approx(row["area_m2"])
        assert bool(gdf.loc[0, "smoke"])
        left, bottom, right, top = session.scene.bounds
        minx, miny, maxx, maxy = gdf.total_bounds
        assert left <= minx < maxx <= right and bottom <= miny < maxy <= top
    with rasterio.open(files[2]) as ds:
        assert ds.crs == session.scene.crs and ds.transform == session.scene.transform
        np.testing.assert_array_equal(ds.read(1), label_raster(masks.masks))
    with Image.open(files[3]) as png:
        assert png.size == (256, 256) and png.text["smoke"] == "true"
    assert session.export()[0].parent != files[0].parent  # every export in a folder of its own


def test_a_plain_image_exports_in_pixel_coordinates(app_pool, catalog, tmp_path):
    path = tmp_path / "photo.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(path)
    session = AppSession(app_pool, catalog, tmp_path / "plain")
    session.set_models("conventional")
    session.open_upload(path)
    assert not path.exists() and (session.workdir / "uploads" / "photo.png").is_file()  # moved into the session
    session.prepare()
    session.click_pixel(30, 20)
    assert "no georeferencing: pixel coordinates" in session.status()
    assert "pixel coordinates only" in session.coordinates()
    assert np.isnan(session.table()[0]["area_m2"])
    files = session.export()
    assert not [f for f in files if f.suffix == ".geojson"]  # GeoJSON would be read as lon/lat
    gdf = gpd.read_file(files[0])
    assert "pixel grid" in gdf.crs.name  # the pixel-grid CRS: no GIS takes it for lon/lat
    minx, miny, maxx, maxy = gdf.total_bounds
    assert 0 <= minx < maxx <= 60 and 0 <= miny < maxy <= 40  # pixel corners
    session.close()
    assert not session.workdir.exists()


def test_a_bad_upload_is_a_message_and_the_open_scene_stays(session, tmp_path):
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00 not really a tiff")
    with pytest.raises(UserInputError) as info:
        session.open_upload(junk)
    assert error_message(info.value) == "cannot read junk.tif: not a raster GDAL can open (" + str(info.value).split("(", 1)[1]
    assert session.scene_label == SCENE
    session.click_pixel(50, 30)  # still working
    assert len(session.table()) == 1


def test_clicks_need_a_scene(app_pool, catalog, tmp_path):
    session = AppSession(app_pool, catalog, tmp_path / "empty")
    session.set_models("mobile_sam")
    with pytest.raises(UserInputError, match="open a scene first"):
        session.click(10, 10)
    with pytest.raises(UserInputError, match="unknown click mode"):
        session.set_mode("lasso")
    with pytest.raises(UserInputError, match="unknown model 'sam_vit_z'"):
        session.set_models("sam_vit_z")
    session.close()


class FirstCropScorer:
    """Stands in for CLIP: the first candidate crop matches every text best."""

    def similarity(self, crops, texts):
        scores = torch.zeros(len(texts), len(crops))
        scores[:, 0] = 1.0
        return scores


def test_text_prompts_go_to_models_that_take_them(session, app_pool):
    with pytest.raises(UserInputError, match="mobile_sam take\\(s\\) no text prompts"):
        session.set_text("a roof")
    session.set_models("mobile_sam", compare="fastsam_s")
    session.prepare()
    model = app_pool.get("fastsam_s")
    saved, model.clip = model.clip, FirstCropScorer()
    try:
        session.set_text("a roof")
        expected = predicted(app_pool, session, "fastsam_s", text="a roof", multimask=False)
    finally:
        model.clip = saved
    assert_same_masks(session.results["fastsam_s"].masks, expected)
    assert session.results["mobile_sam"].masks is None
    assert "mobile_sam takes no text prompt" in session.results["mobile_sam"].note


@pytest.mark.parametrize(("error", "message"), [
    (MemoryError(), "out of memory: crop the scene"),
    (RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), "out of memory: crop the scene"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"), "out of memory"),
    (ValueError("bad value\nmore detail"), "bad value"),
    (KeyError("x"), "unexpected error (KeyError: 'x'); the app keeps running"),
])
def test_errors_are_one_line_messages(error, message):
    text = error_message(error)
    assert text.startswith(message) and "\n" not in text


def test_sessions_are_made_once_and_cleaned_up(tmp_path, app_pool, catalog):
    made = []

    def factory():
        made.append(AppSession(app_pool, catalog, tmp_path / f"s{len(made)}"))
        return made[-1]

    store = SessionStore(factory, ttl_s=0.2)
    first = store.get("a")
    assert store.get("a") is first and len(made) == 1 and first.workdir.is_dir()
    store.close("a")
    assert not first.workdir.exists() and "a" not in store
    second = store.get("b")
    time.sleep(0.3)
    store.get("c")  # looking up another session closes the idle one
    assert "b" not in store and not second.workdir.exists()
    store.close_all()
    assert len(store) == 0


class CountingModel:
    def __init__(self, name):
        self.name, self.scene, self.smoke, self.set_images = name, None, True, 0

    def set_image(self, scene):
        self.set_images += 1
        self.scene = scene
        return self


def test_the_pool_loads_each_model_once_and_sets_a_scene_only_when_it_changes():
    loads = []

    def loader(name, device=None):
        loads.append(name)
        return CountingModel(name)

    pool = ModelPool(loader=loader)
    first, second = (Scene(image=np.zeros((4, 4, 3), np.uint8)) for _ in range(2))
    threads = [threading.Thread(target=pool.get, args=("a",)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == ["a"]
    with pool.use("a", first) as (model, encoding):
        assert model.scene is first and encoding.source == "ran"
    with pool.use("a", first) as (model, encoding):
        assert encoding.source == "kept" and encoding.seconds == 0
    with pool.use("a", second) as (model, _):
        pass
    assert model.set_images == 2 and pool.loaded() == ["a"]
