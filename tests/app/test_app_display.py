"""The app's picture (display size <-> scene pixels, overlay, banner) and its mask table (areas as exported)."""

import numpy as np
import pytest

from helpers.app.display import CAPTION_PX, DisplayGeometry, mask_rows, render_view, row_pixel_areas_m2
from helpers.data import make_synthetic_scene
from helpers.errors import UserInputError
from helpers.export import masks_to_gdf
from helpers.masks import Masks
from helpers.smoke import SMOKE_BANNER


@pytest.mark.parametrize(("shape", "display"), [((96, 128), (384, 512)), ((256, 256), (512, 512)),
                                                 ((718, 791), (697, 768)), ((1000, 3000), (256, 768))])
def test_display_size_enlarges_small_scenes_by_whole_factors_and_reduces_large_ones(shape, display):
    assert DisplayGeometry(*shape).shape == display


@pytest.mark.parametrize("shape", [(96, 128), (718, 791), (33, 1500)])
def test_every_scene_pixel_centre_maps_back_to_its_pixel(shape):
    geometry = DisplayGeometry(*shape)
    rows, cols = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    for col, row in zip(cols.ravel()[::97], rows.ravel()[::97]):
        x, y = geometry.to_display(col, row)
        y += CAPTION_PX  # the browser reports positions in the whole picture, caption included
        if geometry.scale_x >= 1:  # enlarged: every pixel has display pixels of its own
            assert geometry.to_scene(x, y) == (col, row)
        else:  # reduced: within one display pixel
            back = geometry.to_scene(x, y)
            assert abs(back[0] - col) <= 1 / geometry.scale_x and abs(back[1] - row) <= 1 / geometry.scale_y
    assert geometry.to_scene(-5, 10**6) == (0, shape[0] - 1)  # clicks on the frame edge stay inside
    with pytest.raises(UserInputError, match="click on the scene below it"):
        geometry.to_scene(10, CAPTION_PX - 1)


def test_sample_takes_the_scene_pixel_under_each_display_pixel():
    geometry = DisplayGeometry(3, 4, min_side=12, caption=0)  # 3x enlargement
    array = np.arange(12).reshape(3, 4)
    sampled = geometry.sample(array)
    assert sampled.shape == (9, 12)
    np.testing.assert_array_equal(sampled, np.kron(array, np.ones((3, 3), int)))


def _scene_and_masks():
    scene, labels = make_synthetic_scene("buildings", size=(48, 64), seed=3)
    masks = Masks(masks=np.stack([labels == 1, labels == 2]), scores=[0.9, 0.5], crs=scene.crs,
                  transform=scene.transform)
    return scene, masks


def test_one_prompted_mask_is_blue_with_an_outline_and_only_there():
    scene, masks = _scene_and_masks()
    geometry = DisplayGeometry(*scene.shape, min_side=128)
    base = geometry.base_image(scene)
    picture = render_view(base, geometry, masks.select([0]))[CAPTION_PX:]
    changed = (picture != base).any(axis=2)
    np.testing.assert_array_equal(changed, geometry.sample(masks.masks[0]))
    inside = changed & (picture != 255).any(axis=2)
    assert (picture[inside][:, 2] >= base[inside][:, 2]).all()  # tinted towards blue


def test_everything_results_use_the_label_colours_and_the_caption_says_smoke():
    scene, masks = _scene_and_masks()
    geometry = DisplayGeometry(*scene.shape, min_side=128)
    base = geometry.base_image(scene)
    picture = render_view(base, geometry, masks, everything=True, title="sam_vit_b", smoke=True)
    assert picture.shape == (CAPTION_PX + 96, 128, 3)
    shown, covered = picture[CAPTION_PX:], geometry.sample(masks.union())
    assert (shown[~covered] == base[~covered]).all()
    assert (shown[covered] != base[covered]).any(axis=1).all()
    strip = picture[:CAPTION_PX]
    assert (strip == 20).all(axis=2).mean() > 0.5  # a dark strip with text
    white = (strip == 255).all(axis=2).any(axis=0)  # the title
    amber = (strip[..., 0] > 200) & (strip[..., 2] < 100)  # the untrained-weights banner
    assert white[:40].any() and amber.any(axis=0)[60:].any() and not amber.any(axis=0)[:6].any()
    plain = render_view(base, geometry, masks, everything=True, title="sam_vit_b", smoke=False)[:CAPTION_PX]
    assert not ((plain[..., 0] > 200) & (plain[..., 2] < 100)).any()
    assert SMOKE_BANNER  # the caption's text, with an ASCII dash


def test_prompts_are_drawn_where_they_are():
    scene, _ = _scene_and_masks()
    geometry = DisplayGeometry(*scene.shape, min_side=128)
    base = np.zeros((*geometry.shape, 3), np.uint8)
    picture = render_view(base, geometry, points=[(10, 20), (40, 5)], labels=[1, 0], box=(2, 3, 30, 40))[CAPTION_PX:]
    x, y = (int(v) for v in geometry.to_display(10, 20))
    assert tuple(picture[y, x]) == (40, 220, 70)
    x, y = (int(v) for v in geometry.to_display(40, 5))
    assert tuple(picture[y, x]) == (235, 50, 50)
    assert tuple(picture[int(20 * geometry.scale_y), int(2 * geometry.scale_x)]) == (250, 220, 30)  # box edge


@pytest.mark.parametrize("crs", ["EPSG:32618", "EPSG:4326", "EPSG:3857"])
def test_table_areas_equal_the_exported_polygon_areas(crs):
    scene, labels = make_synthetic_scene("fields", size=(160, 180), seed=1, crs=crs)
    present = np.unique(labels[labels > 0])[:3]
    masks = Masks(masks=np.stack([labels == i for i in present]), scores=[0.9, 0.8, 0.7], crs=scene.crs,
                  transform=scene.transform, model="x")
    rows = mask_rows(masks, row_pixel_areas_m2(scene))
    exported = masks_to_gdf(masks).set_index("id")
    assert len(rows) == len(exported) == 3
    for row in rows:
        assert row["area_px"] == exported.loc[row["id"], "area_px"]
        assert row["area_m2"] == pytest.approx(exported.loc[row["id"], "area_m2"], rel=1e-4)
    if crs == "EPSG:32618":  # 10 m pixels: the pixel count times 100 m²
        assert [r["area_m2"] for r in rows] == [100.0 * r["area_px"] for r in rows]


def test_plain_images_have_no_area_in_m2():
    masks = Masks(masks=np.ones((1, 4, 5), bool), scores=[1.0], model="m")
    assert mask_rows(masks, None) == [{"model": "m", "id": 1, "score": 1.0, "area_px": 20, "area_m2": pytest.approx(np.nan, nan_ok=True)}]
