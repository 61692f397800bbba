"""Interactive prompting: a point picker over the scene image, and a map picker on leafmap.

    picker = PointPicker(model)            # model: SAM, SAM 2, MobileSAM or FastSAM, after set_image
    picker                                 # in Jupyter: click = foreground, shift/alt-click or the
                                           # "background" toggle = background, drag = box
    picker.add_point(120, 80)              # the same, programmatically (headless notebooks, tests)
    picker.add_point(150, 90, label=0)
    picker.select(2); picker.keep()        # keep candidate 2
    picker.kept.to_file("ponds.geojson")

Widget choice: ``ipyevents`` on an ``ipywidgets.Image``. The picture is a PNG rendered in Python (scene,
candidate mask, prompts), so the picker needs only core ipywidgets plus one small, dependency-free
extension that forwards DOM mouse events with modifier keys and the image's rendered size. ipympl
(a full matplotlib canvas per picker, redraws through Agg and its own toolbar/zoom modes that fight
with clicks) and ipycanvas (another front-end extension, drawing state duplicated in JS) were heavier
for the same result; an Image + ipyevents also behaves the same in JupyterLab, Notebook 7 and VS Code.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .config import output_dir
from .errors import one_line
from .masks import Masks
from .prompts import to_map_points, to_pixel_boxes, to_pixel_points
from .smoke import SMOKE_BANNER

__all__ = ["PromptSession", "PointPicker", "MapPicker", "event_to_pixel"]

_FOREGROUND = (40, 220, 70)
_BACKGROUND = (235, 50, 50)
_BOX = (250, 220, 30)
_SELECTED = np.array([30, 144, 255], np.float32)
_KEPT = np.array([255, 140, 0], np.float32)
_DRAG_MIN_PX = 4  # a press and release further apart than this (display pixels) is a box, not a click


class PromptSession:
    """The state behind a picker: prompts, undo history, candidate masks, the kept collection.

    Works with any backend whose ``predict(points, labels, boxes, crs, multimask, mask_input)``
    returns :class:`Masks` (SAM, SAM 2, MobileSAM, FastSAM). Prompts are stored in pixel coordinates
    of ``model.scene``: points as pixel-centre (column, row), the box as XYXY pixel edges (x1/y1
    exclusive, as :attr:`Masks.boxes`); one box at a time (a new box replaces the old).

    Args:
        model: a model on which ``set_image`` was called (or pass ``image``).
        image: optional image/scene/path given to ``model.set_image`` first.
        multimask: ask for SAM's three candidates.
        refine: feed the selected candidate's low-res logits back as ``mask_input`` (SAM's refinement).
    """

    def __init__(self, model, image=None, multimask: bool = True, refine: bool = False):
        if not callable(getattr(model, "predict", None)):
            raise TypeError(f"{type(model).__name__} has no predict(); the picker needs a promptable model")
        if image is not None:
            model.set_image(image)
        self.model = model
        self.scene = model.require_scene() if hasattr(model, "require_scene") else model.scene
        if self.scene is None:
            raise ValueError("call model.set_image(image) first, or pass image=...")
        self.multimask = multimask
        self.refine = refine
        self.points: list[tuple[float, float]] = []
        self.labels: list[int] = []
        self.box: tuple[float, float, float, float] | None = None
        self.candidates: Masks | None = None
        self.selected = 0
        self._kept: list[Masks] = []
        self._history: list[tuple] = []
        self._callbacks: list[Callable] = []
        self.last_click: dict | None = None

    # ---- the programmatic twin -------------------------------------------------------------------
    def add_point(self, x: float, y: float, label: int = 1, crs=None) -> Masks | None:
        """Add a point: pixel-centre column/row (``crs=None``) or map x/y in ``crs``; label 1 = foreground,
        0 = background."""
        if label not in (0, 1):
            raise ValueError(f"label must be 1 (foreground) or 0 (background), got {label!r}")
        pixel = to_pixel_points([(x, y)], crs, self.scene)[0]
        self._push()
        self.points.append((float(pixel[0]), float(pixel[1])))
        self.labels.append(int(label))
        self.last_click = self._describe(pixel, label)
        return self._update()

    def add_box(self, x0: float, y0: float, x1: float, y1: float, crs=None) -> Masks | None:
        """Set the box prompt; corners may come in any order.

        Args:
            x0, y0, x1, y1: XYXY pixel *edges* with x1/y1 exclusive (``crs=None``; ``(10, 20, 12, 21)``
                covers columns 10-11 of row 20, as :attr:`Masks.boxes`), or map coordinates in ``crs``.
                Pixel indices of the first and last pixel inside (what a mouse drag gives) are
                inclusive: use :meth:`add_box_from_pixels` for those.
        """
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        pixel = to_pixel_boxes([box], crs, self.scene)[0]
        self._push()
        self.box = tuple(float(v) for v in pixel)
        return self._update()

    def add_box_from_pixels(self, col0: int, row0: int, col1: int, row1: int) -> Masks | None:
        """Set the box covering pixels ``col0..col1`` x ``row0..row1`` (inclusive indices, any order)."""
        left, right = sorted((col0, col1))
        top, bottom = sorted((row0, row1))
        return self.add_box(left, top, right + 1, bottom + 1)

    def undo(self) -> Masks | None:
        """Take back the last point, box or clear."""
        if self._history:
            self.points, self.labels, self.box = self._history.pop()
        return self._update()

    def clear(self) -> None:
        """Remove all prompts and candidates (undo brings them back); the kept collection stays."""
        if self.points or self.box is not None:
            self._push()
        self.points, self.labels, self.box = [], [], None
        self._update()

    def select(self, index: int) -> Masks:
        """Choose candidate ``index`` (0-based, in the order shown with its score)."""
        if self.candidates is None or not 0 <= index < len(self.candidates):
            n = 0 if self.candidates is None else len(self.candidates)
            raise ValueError(f"no candidate {index}: there are {n} candidate mask(s)")
        self.selected = int(index)
        self._notify()
        return self.candidates.select([self.selected])

    def keep(self) -> Masks:
        """Add the selected candidate to the kept collection and start the next object (clears prompts)."""
        if self.candidates is None:
            raise ValueError("nothing to keep: add a point or a box first")
        chosen = self.candidates.select([self.selected])
        self._kept.append(chosen)
        self._history.clear()
        self.points, self.labels, self.box = [], [], None
        self._update()
        return chosen

    @property
    def kept(self) -> Masks | None:
        """All kept masks as one :class:`Masks` (``None`` before the first ``keep``)."""
        return Masks.concat(self._kept) if self._kept else None

    def export(self, path) -> Path:
        """Write the kept masks: ``.tif``/``.tiff`` label GeoTIFF, ``.png`` overlay, else vector file."""
        kept = self.kept
        if kept is None:
            raise ValueError("nothing to export: keep at least one mask first")
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".tif", ".tiff"):
            return kept.to_geotiff(path)
        if suffix == ".png":
            return kept.to_png(path, image=self.scene.image)
        return kept.to_file(path)

    def on_update(self, callback: Callable) -> None:
        """Call ``callback(picker)`` after every change (new candidates, selection, keep)."""
        self._callbacks.append(callback)

    # ---- internals ------------------------------------------------------------------------------
    def _push(self) -> None:
        self._history.append((list(self.points), list(self.labels), self.box))

    def _describe(self, pixel, label) -> dict:
        info = {"pixel": [float(pixel[0]), float(pixel[1])], "label": int(label), "crs": None, "map": None}
        if self.scene.is_georeferenced:
            info["map"] = [float(v) for v in to_map_points([pixel], self.scene)[0]]
            info["crs"] = self.scene.crs.to_string()
        return info

    def _update(self) -> Masks | None:
        if not self.points and self.box is None:
            self.candidates = None
        else:
            mask_input = None
            if self.refine and self.candidates is not None and self.candidates.logits is not None:
                mask_input = self.candidates.logits[[self.selected]]
            self.candidates = self.model.predict(
                points=self.points or None,
                labels=self.labels or None,
                boxes=None if self.box is None else [self.box],
                multimask=self.multimask,
                mask_input=mask_input,
            )
            self.selected = int(np.argmax(self.candidates.scores)) if len(self.candidates) else 0
        self._notify()
        return self.candidates

    def _notify(self) -> None:
        for callback in self._callbacks:
            callback(self)

    def render(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """HxWx3 uint8 picture: scene, kept masks (orange), selected candidate (blue), prompts."""
        from PIL import Image, ImageDraw

        image = self.scene.image.astype(np.float32)
        for masks, colour, alpha in ((self.kept, _KEPT, 0.45), (self._selected_masks(), _SELECTED, 0.5)):
            if masks is not None:
                covered = masks.union()
                image[covered] = (1 - alpha) * image[covered] + alpha * colour
        picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
        width, height = size or (self.scene.width, self.scene.height)
        if (width, height) != picture.size:
            picture = picture.resize((width, height), Image.Resampling.BILINEAR)
        sx, sy = width / self.scene.width, height / self.scene.height
        draw = ImageDraw.Draw(picture)
        radius = max(3, round(min(width, height) / 80))
        for (x, y), label in zip(self.points, self.labels, strict=True):
            cx, cy = (x + 0.5) * sx, (y + 0.5) * sy  # pixel index -> centre of that pixel on screen
            colour = _FOREGROUND if label == 1 else _BACKGROUND
            draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour, outline=(255, 255, 255))
        if self.box is not None:
            x0, y0, x1, y1 = self.box  # pixel edges; PIL's second corner is the last pixel drawn
            draw.rectangle((x0 * sx, y0 * sy, max(x0 * sx, x1 * sx - 1), max(y0 * sy, y1 * sy - 1)), outline=_BOX, width=2)
        return np.asarray(picture)

    def _selected_masks(self) -> Masks | None:
        if self.candidates is None or len(self.candidates) == 0:
            return None
        return self.candidates.select([self.selected])


def event_to_pixel(event: dict, scene_width: int, scene_height: int, png_size: tuple[int, int]):
    """Scene pixel (column, row) indices under the mouse for an ipyevents mouse event.

    Uses ``relativeX``/``relativeY`` over the rendered ``boundingRectWidth``/``Height`` (CSS pixels,
    so any display scaling is undone exactly), falling back to ipyevents' ``dataX``/``dataY``, which are
    in the PNG's own pixels (``png_size`` = (width, height)).
    """
    if event.get("boundingRectWidth") and event.get("relativeX") is not None:
        u = float(event["relativeX"]) / float(event["boundingRectWidth"]) * scene_width
        v = float(event["relativeY"]) / float(event["boundingRectHeight"]) * scene_height
    else:
        u = float(event["dataX"]) / png_size[0] * scene_width
        v = float(event["dataY"]) / png_size[1] * scene_height
    col = int(np.clip(np.floor(u), 0, scene_width - 1))
    row = int(np.clip(np.floor(v), 0, scene_height - 1))
    return col, row


class PointPicker(PromptSession):
    """Click-to-segment widget over the scene (see the module docstring for the controls).

    Args:
        model, image, multimask, refine: see :class:`PromptSession`.
        display_width: width in screen pixels of the picture (the PNG is rendered at this size;
            the height follows the scene's aspect ratio).
        export_dir: folder for the *export* button's relative file names (default
            ``helpers.output_dir("picker")``: ``outputs/picker/``, which git ignores). The status line
            says what was written where.
    """

    def __init__(self, model, image=None, multimask: bool = True, refine: bool = False, display_width: int = 640,
                 export_dir=None):
        super().__init__(model, image=image, multimask=multimask, refine=refine)
        self.display_size = (int(display_width), max(1, round(display_width * self.scene.height / self.scene.width)))
        self.export_dir = Path(export_dir).expanduser() if export_dir is not None else output_dir("picker")
        self.last_export: str | None = None
        self._press: dict | None = None
        self.render_count = 0
        self._build_widgets()
        self.on_update(lambda _: self._refresh())
        self._refresh()

    # ---- widgets --------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        import ipywidgets as w
        from ipyevents import Event

        width, height = self.display_size
        self.image_widget = w.Image(format="png", width=width, height=height,
                                    layout=w.Layout(width=f"{width}px", height=f"{height}px", padding="0", border="0"))
        # mousedown/mouseup rather than click: a press and release apart is a box drag. Default
        # actions are prevented so the browser does not start dragging the <img> itself.
        self.events = Event(source=self.image_widget, watched_events=["mousedown", "mouseup"],
                            prevent_default_action=True)
        self.events.on_dom_event(self.handle_event)
        self.background = w.ToggleButton(value=False, description="background", icon="minus-circle",
                                          tooltip="add background points (or hold shift / alt while clicking)")
        self.refine_toggle = w.Checkbox(value=self.refine, description="refine with previous mask", indent=False)
        self.refine_toggle.observe(lambda change: setattr(self, "refine", bool(change["new"])), "value")
        buttons = {
            "undo": ("undo", self.undo), "clear": ("trash", self.clear), "keep": ("check", self.keep),
        }
        self.buttons = {}
        for name, (icon, action) in buttons.items():
            button = w.Button(description=name, icon=icon)
            button.on_click(lambda _b, action=action: self._safe(action))
            self.buttons[name] = button
        self.export_path = w.Text(value="kept_masks.geojson", description="export to", layout=w.Layout(width="300px"),
                                  tooltip=".geojson/.gpkg/.shp/.parquet polygons, .tif labels, .png overlay; "
                                          f"relative names go to {self.export_dir}")
        export = w.Button(description="export", icon="download")
        export.on_click(lambda _b: self._safe(self.export_from_widget))
        export_folder = w.HTML(f"<small>in {html.escape(str(self.export_dir))}</small>")
        self.candidate_buttons = w.ToggleButtons(options=[], description="candidates")
        self.candidate_buttons.observe(self._on_candidate, "value")
        self.status = w.HTML()
        controls = w.HBox([self.background, *self.buttons.values(), self.refine_toggle])
        self.widget = w.VBox([controls, self.image_widget, self.candidate_buttons, self.status,
                              w.HBox([self.export_path, export, export_folder])])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def _safe(self, action) -> None:
        _report_user_errors(self.status, action)

    # ---- events ----------------------------------------------------------------------------------
    def handle_event(self, event: dict) -> None:
        """ipyevents handler: press+release close together = point, apart = box."""
        kind = event.get("type")
        if kind == "mousedown":
            self._press = event
            return
        if kind != "mouseup":
            return
        press, self._press = self._press, None
        png = self.display_size
        end = event_to_pixel(event, self.scene.width, self.scene.height, png)
        moved = press is not None and max(
            abs(float(event.get("relativeX", 0)) - float(press.get("relativeX", 0))),
            abs(float(event.get("relativeY", 0)) - float(press.get("relativeY", 0))),
        ) >= _DRAG_MIN_PX
        if moved:  # the pressed and released pixels are both inside the box
            start = event_to_pixel(press, self.scene.width, self.scene.height, png)
            self._safe(lambda: self.add_box_from_pixels(*start, *end))
            return
        background = self.background.value or bool(event.get("shiftKey")) or bool(event.get("altKey"))
        self._safe(lambda: self.add_point(*end, label=0 if background else 1))

    def export_from_widget(self) -> Path:
        """What the *export* button does: write the kept masks to the file named in the text box (relative
        names under :attr:`export_dir`) and say in the status line what was written where."""
        path = Path(self.export_path.value.strip() or "kept_masks.geojson").expanduser()
        if not path.is_absolute():
            path = self.export_dir / path
        written = Path(self.export(path)).resolve()
        self.last_export = f"exported {len(self.kept)} mask(s) to {written}"
        self.status.value = self._status_html()
        return written

    def _on_candidate(self, change) -> None:
        if change["new"] is not None and self.candidates is not None and change["new"] != self.selected:
            self.select(int(change["new"]))

    # ---- drawing ---------------------------------------------------------------------------------
    def png(self) -> bytes:
        """The current picture as PNG bytes (what the image widget shows)."""
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(self.render(self.display_size)).save(buffer, format="PNG")
        return buffer.getvalue()

    def _refresh(self) -> None:
        self.image_widget.value = self.png()
        self.render_count += 1
        options = []
        if self.candidates is not None:
            options = [(f"#{i} · {s:.3f}", i) for i, s in enumerate(self.candidates.scores)]
        if list(self.candidate_buttons.options) != options:
            self.candidate_buttons.options = options
        self.candidate_buttons.value = self.selected if options else None
        self.status.value = self._status_html()

    def _status_html(self) -> str:
        parts = [f"{len(self.points)} point(s)" + (", 1 box" if self.box else "")]
        if self.last_click is not None:
            x, y = self.last_click["pixel"]
            text = f"last click: pixel (col {x:.0f}, row {y:.0f})"
            if self.last_click["map"] is not None:
                mx, my = self.last_click["map"]
                text += f" · {self.last_click['crs']} ({mx:.6g}, {my:.6g})"
            parts.append(text)
        n_kept = 0 if self.kept is None else len(self.kept)
        parts.append(f"kept: {n_kept}")
        smoke = f"<br><b style='color:#c60'>⚠ {SMOKE_BANNER}</b>" if getattr(self.model, "smoke", False) else ""
        exported = f"<br>{html.escape(self.last_export)}" if self.last_export else ""
        return " · ".join(parts) + smoke + exported


def _report_user_errors(status, action) -> None:
    """Run a widget callback; a user error (ValueError) shows as one red line in the ``status`` HTML widget.

    Widget callbacks run inside the front-end's event loop, where a raised exception reaches no one.
    """
    try:
        action()
    except ValueError as error:
        status.value = f"<b style='color:#c00'>{html.escape(one_line(error))}</b>"


class MapPicker(PromptSession):
    """Prompting on a web map: the GeoTIFF as a raster layer, clicks in lon/lat, masks as vectors.

    ``status`` (an ``ipywidgets.HTML`` shown on the map, bottom left) reports the clicks and any error,
    e.g. a click outside the scene.

    Args:
        model: a promptable model.
        source: path of the GeoTIFF (set as the model's image and served by localtileserver).
        map: an existing ``leafmap.Map`` (default: a new one centred on the scene).
        multimask, refine: see :class:`PromptSession`.
        raster_options: passed to ``leafmap.Map.add_raster`` (e.g. ``indexes=[3, 2, 1]``).
    """

    def __init__(self, model, source, map=None, multimask: bool = True, refine: bool = False,  # noqa: A002
                 **raster_options):
        super().__init__(model, image=source, multimask=multimask, refine=refine)
        if not self.scene.is_georeferenced:
            raise ValueError("MapPicker needs a georeferenced scene (a GeoTIFF with a CRS)")
        self.background = False  # set True to make map clicks background points
        self.mask_layer = None
        if map is None:
            import leafmap

            map = leafmap.Map()  # noqa: A001
            map.add_raster(str(source), layer_name=Path(source).stem, **raster_options)
        self.map = map
        self._add_status()
        self.map.on_interaction(self.handle_interaction)
        self.on_update(lambda _: self._show_mask())

    def _add_status(self) -> None:
        import ipywidgets as w
        from ipyleaflet import WidgetControl

        self.status = w.HTML(value="click the scene to segment")
        self.map.add_control(WidgetControl(widget=self.status, position="bottomleft"))

    def handle_interaction(self, **event) -> None:
        """ipyleaflet interaction handler: a click at [lat, lon] becomes a lon/lat point prompt.

        A click outside the scene (or any other user error) shows in :attr:`status` instead of raising
        inside the map's callback, where nobody would see it.
        """
        if event.get("type") != "click":
            return
        lat, lon = event["coordinates"]
        _report_user_errors(
            self.status, lambda: self.add_point(lon, lat, label=0 if self.background else 1, crs="EPSG:4326")
        )

    def mask_geojson(self) -> dict | None:
        """The selected candidate as GeoJSON in lon/lat (EPSG:4326), or ``None``."""
        selected = self._selected_masks()
        if selected is None or not selected.masks.any():
            return None
        return selected.to_gdf(to_crs="EPSG:4326").__geo_interface__

    def _show_mask(self) -> None:
        from ipyleaflet import GeoJSON

        kept = 0 if self.kept is None else len(self.kept)
        smoke = f" · <b style='color:#c60'>⚠ {SMOKE_BANNER}</b>" if getattr(self.model, "smoke", False) else ""
        self.status.value = f"{len(self.points)} point(s) · kept: {kept}{smoke}"
        if self.mask_layer is not None:
            self.map.remove_layer(self.mask_layer)
            self.mask_layer = None
        data = self.mask_geojson()
        if data is not None:
            self.mask_layer = GeoJSON(data=data, name="mask",
                                      style={"color": "#1e90ff", "weight": 2, "fillOpacity": 0.35})
            self.map.add_layer(self.mask_layer)
