"""What the app shows: the scene at screen size with masks, prompts and the smoke banner; the mask table.

The picture is rendered in Python (as the notebook point picker does) at a *display* size: large
scenes are reduced to at most ``max_side`` pixels a side, small ones enlarged by a whole factor so they
can be clicked. A caption strip above the scene names the model (and says when its weights are
untrained). :class:`DisplayGeometry` maps between picture pixels (what the browser reports) and scene
pixels (what the models take).
"""

from __future__ import annotations

import numpy as np

from ..errors import UserInputError
from ..maskops import label_raster
from ..masks import Masks
from ..render import overlay_labels
from ..scene import Scene
from ..smoke import SMOKE_BANNER

__all__ = ["DisplayGeometry", "render_view", "row_pixel_areas_m2", "mask_rows", "TABLE_COLUMNS", "CAPTION_PX"]

_MASK_COLOUR = np.array([30, 144, 255], np.float32)  # one prompted mask: the picker's blue
_FOREGROUND = (40, 220, 70)
_BACKGROUND = (235, 50, 50)
_BOX = (250, 220, 30)
_CAPTION_BACKGROUND = (20, 20, 20)
_CAPTION_TEXT = (255, 255, 255)
_CAPTION_WARNING = (255, 200, 0)
#: Height in pixels of the caption strip above the scene in every picture.
CAPTION_PX = 24
#: Columns of the mask table: model, instance id (as in the exported files), score, area.
TABLE_COLUMNS = ["model", "id", "score", "area_px", "area_m2"]


class DisplayGeometry:
    """Scene pixels <-> picture pixels for one scene.

    Args:
        height, width: scene size in pixels.
        max_side: longest display side for large scenes (they are reduced to it).
        min_side: small scenes are enlarged by the largest whole factor keeping the longest side at most
            this (a 96x128 scene becomes 384x512 with the default 512).
        caption: height in pixels of the caption strip above the scene in the picture.

    Attributes:
        scale_x, scale_y: display pixels per scene pixel along columns and rows.
        shape: (rows, columns) of the scene part of the picture; the picture is ``caption`` rows taller.
    """

    def __init__(self, height: int, width: int, max_side: int = 768, min_side: int = 512, caption: int = CAPTION_PX):
        self.height, self.width = int(height), int(width)
        self.caption = int(caption)
        longest = max(self.height, self.width)
        if longest > max_side:
            scale = max_side / longest
        else:
            scale = float(max(1, min_side // longest))
        display_h, display_w = max(1, round(self.height * scale)), max(1, round(self.width * scale))
        self.shape = (display_h, display_w)
        self.scale_y, self.scale_x = display_h / self.height, display_w / self.width
        # nearest scene pixel under the centre of each display pixel
        self.rows = np.minimum(((np.arange(display_h) + 0.5) / self.scale_y).astype(np.int64), self.height - 1)
        self.cols = np.minimum(((np.arange(display_w) + 0.5) / self.scale_x).astype(np.int64), self.width - 1)

    def to_scene(self, x: float, y: float) -> tuple[int, int]:
        """Picture position (x, y) in picture pixels from its top-left (what the browser reports) -> scene
        (column, row).

        Raises:
            UserInputError: the position is on the caption strip, not on the scene.
        """
        y = float(y) - self.caption
        if y < 0:
            raise UserInputError("that click was on the caption strip: click on the scene below it")
        col = int(np.clip(np.floor(float(x) / self.scale_x), 0, self.width - 1))
        row = int(np.clip(np.floor(y / self.scale_y), 0, self.height - 1))
        return col, row

    def to_display(self, col: float, row: float) -> tuple[float, float]:
        """Scene pixel-centre (column, row) -> position (x, y) of that centre in the scene part of the
        picture (add :attr:`caption` to ``y`` for the whole picture)."""
        return (float(col) + 0.5) * self.scale_x, (float(row) + 0.5) * self.scale_y

    def sample(self, array: np.ndarray) -> np.ndarray:
        """A scene-sized (H, W, ...) array at display size (nearest scene pixel)."""
        return array[np.ix_(self.rows, self.cols)]

    def base_image(self, scene: Scene) -> np.ndarray:
        """The scene image at display size: whole-factor enlargements keep sharp pixels, reductions
        average (PIL's box filter)."""
        from PIL import Image

        if self.shape == (self.height, self.width):
            return scene.image.copy()
        picture = Image.fromarray(scene.image)
        size = (self.shape[1], self.shape[0])
        enlarging = self.scale_x >= 1
        resample = Image.Resampling.NEAREST if enlarging else Image.Resampling.BOX
        return np.asarray(picture.resize(size, resample))


def render_view(base: np.ndarray, geometry: DisplayGeometry, masks: Masks | None = None, *,
                everything: bool = False, points=(), labels=(), box=None, corner=None,
                title: str = "", smoke: bool = False, alpha: float = 0.5) -> np.ndarray:
    """The picture: a caption strip, then ``base`` with masks and prompts.

    Args:
        base: HxWx3 uint8 scene at display size (:meth:`DisplayGeometry.base_image`).
        geometry: the scene's :class:`DisplayGeometry`.
        masks: the result to draw, in scene pixels (``None``: the scene alone).
        everything: draw every mask in its own colour with outlines (the label-raster colours of the
            exported PNG); otherwise the union of the masks in blue.
        points: pixel-centre (column, row) prompt points; ``labels``: 1 foreground (green), 0 background (red).
        box: XYXY pixel-edge box prompt (x1/y1 exclusive), drawn in yellow.
        corner: (column, row) of the first corner of a box being drawn (a yellow cross).
        title: the caption (the model's name).
        smoke: add the "untrained weights" banner to the caption.
        alpha: mask opacity.

    Returns:
        uint8 (caption + H, W, 3).
    """
    from PIL import Image, ImageDraw

    image = base
    if masks is not None and len(masks):
        if everything:
            image = overlay_labels(base, geometry.sample(label_raster(masks.masks)), alpha=alpha)
        else:
            covered = geometry.sample(masks.union())
            image = base.astype(np.float32)
            image[covered] = (1 - alpha) * image[covered] + alpha * _MASK_COLOUR
            image = image.astype(np.uint8)
            edge = np.zeros_like(covered)  # white outline: the mask stays visible on blue water
            edge[:-1] |= covered[:-1] != covered[1:]
            edge[:, :-1] |= covered[:, :-1] != covered[:, 1:]
            image[edge & covered] = 255
    picture = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(picture)
    radius = max(4, round(min(geometry.shape) / 80))
    for (col, row), label in zip(points, labels, strict=True):
        x, y = geometry.to_display(col, row)
        colour = _FOREGROUND if label == 1 else _BACKGROUND
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour, outline=(255, 255, 255))
    if box is not None:
        x0, y0, x1, y1 = box  # pixel edges; PIL's second corner is the last pixel drawn
        draw.rectangle((x0 * geometry.scale_x, y0 * geometry.scale_y,
                        max(x0 * geometry.scale_x, x1 * geometry.scale_x - 1),
                        max(y0 * geometry.scale_y, y1 * geometry.scale_y - 1)), outline=_BOX, width=2)
    if corner is not None:
        x, y = geometry.to_display(*corner)
        draw.line((x - radius, y, x + radius, y), fill=_BOX, width=2)
        draw.line((x, y - radius, x, y + radius), fill=_BOX, width=2)
    return np.concatenate([_caption(geometry, title, smoke), np.asarray(picture)], axis=0)


def _caption(geometry: DisplayGeometry, title: str, smoke: bool) -> np.ndarray:
    """The strip above the scene: the title in white, then the smoke banner in amber."""
    from PIL import Image, ImageDraw, ImageFont

    strip = Image.new("RGB", (geometry.shape[1], geometry.caption), _CAPTION_BACKGROUND)
    if geometry.caption:
        draw = ImageDraw.Draw(strip)
        font = ImageFont.load_default(size=max(8, geometry.caption - 9))
        top = (geometry.caption - font.size) // 2 - 1
        draw.text((6, top), title, fill=_CAPTION_TEXT, font=font)
        if smoke:
            left = 6 + (draw.textlength(title + "  ", font=font) if title else 0)
            # the bundled font has no em dash (nor a warning sign)
            draw.text((left, top), SMOKE_BANNER.replace("\u2014", "-"), fill=_CAPTION_WARNING, font=font)
    return np.asarray(strip)


def row_pixel_areas_m2(scene: Scene) -> np.ndarray | None:
    """Ground area in m² of one pixel of each row (H,), ``None`` for plain images.

    In a north-up geographic or Mercator grid a pixel's area changes with latitude only, so the area of
    a mask is the sum over rows of (its pixels in that row) x (that row's pixel area): the same geodesic
    area the exported polygons get, without vectorising (projected CRSs give every row the same area).
    """
    if not scene.is_georeferenced:
        return None
    import shapely

    from ..crs import areas_m2

    transform = scene.transform
    rows = np.arange(scene.height, dtype=np.float64)
    col = scene.width // 2
    corners = [np.column_stack([transform.a * (col + dc) + transform.b * (rows + dr) + transform.c,
                                transform.d * (col + dc) + transform.e * (rows + dr) + transform.f])
               for dc, dr in ((0, 0), (1, 0), (1, 1), (0, 1))]
    polygons = shapely.polygons(np.stack(corners, axis=1))
    return areas_m2(polygons, scene.crs)


def mask_rows(masks: Masks, row_areas: np.ndarray | None, model: str | None = None) -> list[dict]:
    """One table row per mask: model, id (``i + 1``, as in the exported files), score, area in pixels and m²
    (NaN for plain images)."""
    pixels = masks.masks.sum(axis=2)  # (N, H): each mask's pixels per row
    areas_px = pixels.sum(axis=1)
    areas = pixels @ row_areas if row_areas is not None else np.full(len(masks), np.nan)
    return [
        {"model": model or masks.model, "id": i + 1, "score": float(masks.scores[i]),
         "area_px": int(areas_px[i]), "area_m2": float(areas[i])}
        for i in range(len(masks))
    ]
