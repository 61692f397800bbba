"""The point picker's programmatic twin, its ipyevents handler, and the map picker's click handler."""

import warnings

import numpy as np
import pytest
import torch
from rasterio.crs import CRS
from rasterio.transform import from_origin

from helpers.backends.base import SegmentationModel
from helpers.picker import MapPicker, PointPicker, PromptSession, event_to_pixel
from helpers.prompts import to_map_points
from helpers.scene import Scene

H, W = 96, 128
TRANSFORM = from_origin(-112.60, 41.30, 0.0005, 0.0004)


class DiskModel(SegmentationModel):
    """A tiny promptable backend: candidate k is a disk of radius 6*(k+1) around the foreground points,
    minus disks around background points; it records every predict call."""

    def __init__(self):
        super().__init__("disks")
        self.calls = []

    def _set_scene(self, scene):
        pass

    def predict(self, points=None, labels=None, boxes=None, crs=None, multimask=True, mask_input=None):
        self.calls.append({"points": points, "labels": labels, "boxes": boxes, "mask_input": mask_input})
        rows, cols = np.mgrid[:H, :W]
        masks = []
        for radius in (6, 12, 18) if multimask else (12,):
            mask = np.zeros((H, W), bool)
            for (x, y), lab in zip(points or [], labels or [], strict=True):
                disk = (cols - x) ** 2 + (rows - y) ** 2 <= radius**2
                mask = mask | disk if lab == 1 else mask & ~disk
            if boxes is not None:
                x0, y0, x1, y1 = boxes[0]  # pixel edges, x1/y1 exclusive
                mask |= (cols >= x0) & (cols < x1) & (rows >= y0) & (rows < y1)
            masks.append(mask)
        scores = np.array([0.5, 0.9, 0.7][: len(masks)])
        return self._result(np.stack(masks), scores, logits=np.zeros((len(masks), 256, 256), np.float32))


@pytest.fixture
def model(sample_image):
    disks = DiskModel()
    disks.set_image(Scene(image=sample_image(), crs=CRS.from_epsg(4326), transform=TRANSFORM))
    return disks


# ---- the programmatic twin ---------------------------------------------------------------------------
def test_points_undo_clear(model):
    picker = PromptSession(model)
    picker.add_point(30, 40)
    picker.add_point(35, 40, label=0)
    assert picker.points == [(30.0, 40.0), (35.0, 40.0)] and picker.labels == [1, 0]
    assert model.calls[-1]["labels"] == [1, 0]
    assert len(picker.candidates) == 3 and picker.selected == 1  # highest score preselected
    assert not picker.candidates.masks[1][40, 35]  # the background point carved its disk out
    picker.undo()
    assert picker.points == [(30.0, 40.0)] and picker.candidates.masks[1][40, 35]
    picker.clear()
    assert picker.points == [] and picker.candidates is None
    picker.undo()  # clear can be undone
    assert picker.points == [(30.0, 40.0)]
    picker.undo()
    assert picker.points == [] and picker.candidates is None


def test_select_keep_and_export(model, tmp_path):
    picker = PromptSession(model)
    picker.add_point(30, 40)
    chosen = picker.select(2)
    assert chosen.scores[0] == pytest.approx(0.7)
    kept = picker.keep()
    assert picker.points == [] and picker.candidates is None  # ready for the next object
    picker.add_box(80, 60, 100, 70)
    picker.select(0)
    picker.keep()
    collection = picker.kept
    assert len(collection) == 2
    np.testing.assert_array_equal(collection.masks[0], kept.masks[0])
    assert collection.crs == model.scene.crs
    for name in ("kept.geojson", "kept.tif"):
        assert (tmp_path / name).exists() is False
        picker.export(tmp_path / name)
        assert (tmp_path / name).stat().st_size > 0
    import geopandas

    assert len(geopandas.read_file(tmp_path / "kept.geojson")) == 2


def test_errors_are_clear(model):
    picker = PromptSession(model)
    with pytest.raises(ValueError, match="nothing to keep"):
        picker.keep()
    with pytest.raises(ValueError, match="nothing to export"):
        picker.export("x.geojson")
    with pytest.raises(ValueError, match="outside the scene"):
        picker.add_point(500, 5)
    with pytest.raises(ValueError, match="label must be 1"):
        picker.add_point(5, 5, label=3)
    picker.add_point(5, 5)
    with pytest.raises(ValueError, match="no candidate 7: there are 3"):
        picker.select(7)
    with pytest.raises(TypeError, match="has no predict"):
        PromptSession(object())


def test_map_coordinates_and_last_click(model):
    picker = PromptSession(model)
    lon, lat = to_map_points([(64, 48)], model.scene, crs="EPSG:4326")[0]
    picker.add_point(lon, lat, crs="EPSG:4326")
    assert picker.points[0] == pytest.approx((64.0, 48.0), abs=1e-6)
    assert picker.last_click["pixel"] == pytest.approx([64.0, 48.0], abs=1e-6)
    assert picker.last_click["map"] == pytest.approx([lon, lat])
    assert picker.last_click["crs"] == "EPSG:4326"


def test_refine_feeds_back_selected_logits(model):
    picker = PromptSession(model, refine=True)
    picker.add_point(30, 40)
    assert model.calls[-1]["mask_input"] is None
    picker.add_point(50, 40)
    assert model.calls[-1]["mask_input"].shape == (1, 256, 256)


# ---- the widget and its event handler ----------------------------------------------------------------
def test_event_to_pixel_undoes_display_scaling():
    # a 128x96 scene shown 300x225 on screen: screen (150, 75) is scene (64, 32)
    event = {"relativeX": 150, "relativeY": 75, "boundingRectWidth": 300, "boundingRectHeight": 225}
    assert event_to_pixel(event, W, H, (640, 480)) == (64, 32)
    # only ipyevents' dataX/dataY (in PNG pixels of a 640x480 PNG)
    assert event_to_pixel({"dataX": 320, "dataY": 240}, W, H, (640, 480)) == (64, 48)
    # the far edge clamps to the last pixel
    edge = {"relativeX": 300, "relativeY": 225, "boundingRectWidth": 300, "boundingRectHeight": 225}
    assert event_to_pixel(edge, W, H, (640, 480)) == (W - 1, H - 1)


def _mouse(kind, x, y, rect=(320, 240), **keys):
    return {"type": kind, "relativeX": x, "relativeY": y, "boundingRectWidth": rect[0],
            "boundingRectHeight": rect[1], "shiftKey": False, "altKey": False, **keys}


def test_clicks_drags_and_modifiers_through_the_handler(model):
    picker = PointPicker(model, display_width=320)  # 128x96 scene drawn 2.5x larger
    assert picker.display_size == (320, 240)
    first_png = picker.image_widget.value
    picker.handle_event(_mouse("mousedown", 100, 50))
    picker.handle_event(_mouse("mouseup", 101, 51))  # a click (moved < 4 px)
    assert picker.points == [(40.0, 20.0)] and picker.labels == [1]
    assert picker.image_widget.value != first_png  # the overlay changed
    picker.handle_event(_mouse("mousedown", 200, 100, shiftKey=True))
    picker.handle_event(_mouse("mouseup", 200, 100, shiftKey=True))
    picker.handle_event(_mouse("mousedown", 250, 100, altKey=True))
    picker.handle_event(_mouse("mouseup", 250, 100, altKey=True))
    assert picker.labels == [1, 0, 0]
    picker.background.value = True  # the toggle
    picker.handle_event(_mouse("mousedown", 10, 10))
    picker.handle_event(_mouse("mouseup", 10, 10))
    assert picker.labels[-1] == 0
    picker.handle_event(_mouse("mousedown", 50, 200))  # drag: a box from pixel (20, 80) to pixel (10, 60)
    picker.handle_event(_mouse("mouseup", 25, 150))
    assert picker.box == (10.0, 60.0, 21.0, 81.0)  # pixel edges: both end pixels are inside
    box_mask = picker.candidates.masks[0] & ~model.predict(points=picker.points, labels=picker.labels).masks[0]
    assert box_mask[60:81, 10:21].any() and not box_mask[:, 21:].any() and not box_mask[81:].any()
    assert len(picker.points) == 4
    # candidates offered with their scores; choosing one in the widget selects it
    assert [label for label, _ in picker.candidate_buttons.options] == ["#0 · 0.500", "#1 · 0.900", "#2 · 0.700"]
    picker.candidate_buttons.value = 2
    assert picker.selected == 2
    picker.buttons["keep"].click()
    assert len(picker.kept) == 1 and "kept: 1" in picker.status.value


def test_status_shows_pixel_and_map_coordinates(model):
    picker = PointPicker(model, display_width=256)
    picker.handle_event(_mouse("mousedown", 128, 96, rect=(256, 192)))
    picker.handle_event(_mouse("mouseup", 128, 96, rect=(256, 192)))
    lon, lat = to_map_points([(64, 48)], model.scene, crs="EPSG:4326")[0]
    assert "pixel (col 64, row 48)" in picker.status.value
    assert f"EPSG:4326 ({lon:.6g}, {lat:.6g})" in picker.status.value


def test_user_errors_go_to_the_status_line(model):
    picker = PointPicker(model)
    picker.buttons["keep"].click()
    assert "nothing to keep" in picker.status.value


def test_export_button_writes_under_the_outputs_folder_and_says_where(model, tmp_path, monkeypatch):
    import html

    monkeypatch.setenv("SAMRS_OUTPUT_DIR", str(tmp_path / "outputs"))
    picker = PointPicker(model)
    assert picker.export_dir == tmp_path / "outputs" / "picker"  # git ignores outputs/
    picker.add_point(30, 40)
    picker.keep()
    text, button = picker.widget.children[-1].children[:2]
    text.value = "ponds.gpkg"  # a relative name: under the outputs folder, not the notebook's folder
    button.click()
    written = (tmp_path / "outputs" / "picker" / "ponds.gpkg").resolve()
    assert written.is_file()
    assert f"exported 1 mask(s) to {written}" in html.unescape(picker.status.value)
    text.value = str(tmp_path / "elsewhere" / "ponds.tif")  # an absolute path is used as given
    button.click()
    assert (tmp_path / "elsewhere" / "ponds.tif").is_file()
    assert str((tmp_path / "elsewhere" / "ponds.tif").resolve()) in html.unescape(picker.status.value)


def test_add_box_takes_edges_and_add_box_from_pixels_inclusive_indices(model):
    picker = PromptSession(model)
    picker.add_box(10, 20, 12, 21)
    assert picker.box == (10.0, 20.0, 12.0, 21.0)
    picker.add_box_from_pixels(11, 20, 10, 20)  # pixels (10, 20) and (11, 20), corners in any order
    assert picker.box == (10.0, 20.0, 12.0, 21.0)
    assert picker.candidates.masks[0][20, 10:12].all() and picker.candidates.masks[0].sum() == 2
    footprint = [model.scene.transform @ corner for corner in ((10, 20), (12, 21))]  # the same pixels on the map
    (x0, y0), (x1, y1) = footprint
    picker.add_box(x0, y0, x1, y1, crs="EPSG:4326")
    assert picker.box == pytest.approx((10.0, 20.0, 12.0, 21.0), abs=1e-6)


# ---- the map picker -------------------------------------------------------------------------------------
class StubMap:
    """Just what MapPicker uses of a leafmap.Map (no tile server needed)."""

    def __init__(self):
        self.layers, self.handlers, self.controls = [], [], []

    def add_control(self, control):
        self.controls.append(control)

    def on_interaction(self, handler):
        self.handlers.append(handler)

    def add_layer(self, layer):
        self.layers.append(layer)

    def remove_layer(self, layer):
        self.layers.remove(layer)


def test_map_picker_clicks_become_lonlat_prompts_and_masks_vector_layers(model):
    stub = StubMap()
    scene = model.scene
    picker = MapPicker(model, scene, map=stub)
    lon, lat = to_map_points([(40, 30)], scene, crs="EPSG:4326")[0]
    stub.handlers[0](type="mousemove", coordinates=[lat, lon])  # ignored
    stub.handlers[0](type="click", coordinates=[lat, lon])
    assert picker.points[0] == pytest.approx((40.0, 30.0), abs=1e-6)
    (layer,) = stub.layers
    feature = layer.data["features"][0]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    ring = np.array(feature["geometry"]["coordinates"][0] if feature["geometry"]["type"] == "Polygon"
                    else feature["geometry"]["coordinates"][0][0])
    assert ring[:, 0].min() <= lon <= ring[:, 0].max() and ring[:, 1].min() <= lat <= ring[:, 1].max()
    assert "1 point(s)" in picker.status.value and picker.status in [c.widget for c in stub.controls]
    picker.undo()
    assert stub.layers == []


def test_map_picker_shows_a_click_outside_the_scene_in_its_status(model):
    stub = StubMap()
    picker = MapPicker(model, model.scene, map=stub)
    lon, lat = to_map_points([(W + 40, 10)], model.scene, crs="EPSG:4326")[0]
    stub.handlers[0](type="click", coordinates=[lat, lon])  # must not raise inside the map callback
    assert "outside the scene" in picker.status.value and picker.points == []


# ---- with SAM itself ------------------------------------------------------------------------------------
class ConstantEncoder(torch.nn.Module):
    img_size = 1024

    def forward(self, x):
        return torch.linspace(-1, 1, 256 * 64 * 64).reshape(1, 256, 64, 64)


def test_picker_drives_sam(tmp_path, smoke_weights, sample_image):
    from helpers.embedding_cache import EmbeddingCache
    from helpers.models import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sam = load_model("sam_vit_b", weights=smoke_weights("sam_vit_b"), device="cpu",
                         embedding_cache=EmbeddingCache(tmp_path))
    sam.sam.image_encoder = ConstantEncoder()  # the decoder is real; the 10 s ViT is not needed here
    picker = PointPicker(sam, image=sample_image(), refine=True)
    picker.add_point(30, 40)
    assert len(picker.candidates) == 3 and picker.candidates.smoke
    picker.add_point(60, 50, label=0)
    assert picker.candidates.prompt_type == "points+mask"
    np.testing.assert_array_equal(picker.candidates.prompts["labels"], [1, 0])
    assert "untrained weights" in picker.status.value
