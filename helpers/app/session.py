"""One browser session of the app: its scene, prompts, results and files (no web framework here).

Every action of the app is a method here, so the whole workflow runs (and is tested) without a
browser::

    session = AppSession(ModelPool(), default_catalog(), workdir)
    session.open_scene("synthetic: buildings")
    session.set_models("mobile_sam", compare="fastsam_s")
    session.prepare()                       # encode once per (scene, model)
    session.click(120, 80)                  # display pixels -> a foreground point -> masks
    session.set_mode("box"); session.click(10, 10); session.click(200, 150)
    session.everything({"mobile_sam": {"points_per_side": 8}})
    files = session.export()                # GeoPackage, GeoJSON, label GeoTIFF, PNG overlay

Prompts live in scene pixels: points are pixel-centre (column, row), the box is XYXY pixel edges
(x1/y1 exclusive). The same prompts go to one model, or to two side by side (with the time of each
step and the IoU between their masks).
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import UserInputError
from ..masks import Masks
from ..scene import Scene
from ..smoke import SMOKE_BANNER
from .display import DisplayGeometry, mask_rows, render_view, row_pixel_areas_m2
from .pool import ModelPool
from .scenes import MAX_UPLOAD_MB, MAX_UPLOAD_PIXELS, SceneCatalog, read_upload

__all__ = ["AppSession", "SessionStore", "PromptState", "MODES", "mask_iou", "EXPORT_FORMATS", "error_message"]

#: Click modes: what a click on the picture adds.
MODES = {
    "foreground": "foreground point",
    "background": "background point",
    "box": "box corner (click two opposite corners)",
}
#: What :meth:`AppSession.export` writes per model: file suffix -> description.
EXPORT_FORMATS = {
    ".gpkg": "GeoPackage polygons",
    ".geojson": "GeoJSON polygons",
    "_labels.tif": "GeoTIFF instance labels (uint32, 0 = background)",
    "_overlay.png": "PNG overlay",
}
_HISTORY = 50  # undo steps kept


@dataclass(frozen=True)
class PromptState:
    """The prompts of a session, in scene pixels.

    Attributes:
        points: pixel-centre (column, row) of each point.
        labels: 1 foreground / 0 background, one per point.
        box: XYXY pixel edges (x1/y1 exclusive) or ``None``.
        corner: (column, row) of the first corner of a box being drawn, or ``None``.
        text: a text prompt (models whose backend takes ``"text"``), or ``None``.
    """

    points: tuple = ()
    labels: tuple = ()
    box: tuple | None = None
    corner: tuple | None = None
    text: str | None = None

    @property
    def empty(self) -> bool:
        return not self.points and self.box is None and not self.text


@dataclass
class ModelResult:
    """The latest result of one model: masks (or why there are none) and seconds per step."""

    masks: Masks | None = None
    note: str = ""
    times: dict = field(default_factory=dict)


def error_message(error: BaseException) -> str:
    """One line for the user about a failed action (the app shows it and keeps serving).

    Bad input (a corrupt file, an unsupported data type, a click outside the scene...) gives its own one
    line; running out of memory says what to reduce; anything else is named as an unexpected error (its
    traceback goes to the server log).
    """
    from ..errors import is_user_facing, one_line

    text = str(error).lower()
    if isinstance(error, MemoryError) or "out of memory" in text or "can't allocate memory" in text:
        return ("out of memory: crop the scene or upload a smaller one, choose a smaller model, or lower "
                "points_per_side / imgsz in everything mode")
    if is_user_facing(error):
        return one_line(error, with_type=False)
    return f"unexpected error ({one_line(error, with_type=True)}); the app keeps running, details are in the server log"


def mask_iou(first: Masks | None, second: Masks | None) -> float:
    """IoU between the pixels covered by two results (the union of each one's masks); NaN if either is
    missing or both cover nothing. For two prompted results of one mask each, the IoU of those masks."""
    if first is None or second is None or first.shape != second.shape:
        return float("nan")
    a, b = first.union(), second.union()
    union = np.count_nonzero(a | b)
    return float("nan") if union == 0 else np.count_nonzero(a & b) / union


class AppSession:
    """The state and actions of one app session.

    Args:
        pool: the process's :class:`ModelPool` (models shared by sessions).
        catalog: the :class:`SceneCatalog` of named scenes.
        workdir: this session's own folder (uploads, exports); removed by :meth:`close`.
        max_upload_mb, max_upload_pixels: upload limits (see :func:`helpers.app.scenes.read_upload`).
        display_max_side, display_min_side: see :class:`DisplayGeometry`.

    Attributes:
        scene: the open :class:`Scene` (``None`` before one is opened).
        models: the model names in use: one, or two side by side.
        mode: what a click adds, a key of :data:`MODES`.
        prompts: the current :class:`PromptState`.
        kind: what the shown results come from: ``"prompts"``, ``"everything"`` or ``None``.
        results: model name -> :class:`ModelResult`.
        last_click: ``{"pixel": (col, row), "map": (x, y) | None, "crs": str | None, "lonlat": (lon, lat) | None}``.
        params: model name -> everything-mode parameters changed from the backend defaults.
    """

    def __init__(self, pool: ModelPool, catalog: SceneCatalog, workdir, max_upload_mb: float = MAX_UPLOAD_MB,
                 max_upload_pixels: int = MAX_UPLOAD_PIXELS, display_max_side: int = 768, display_min_side: int = 512):
        self.pool = pool
        self.catalog = catalog
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.max_upload_mb = max_upload_mb
        self.max_upload_pixels = max_upload_pixels
        self.display_sides = (display_max_side, display_min_side)
        self.scene: Scene | None = None
        self.scene_label = ""
        self.upload_path: Path | None = None
        self.geometry: DisplayGeometry | None = None
        self._base: np.ndarray | None = None
        self._row_areas: np.ndarray | None = None
        self.models: list[str] = []
        self.mode = "foreground"
        self.prompts = PromptState()
        self._history: list[PromptState] = []
        self.kind: str | None = None
        self.results: dict[str, ModelResult] = {}
        self.encodings: dict[str, object] = {}
        self.last_click: dict | None = None
        self.params: dict[str, dict] = {}
        self._exports = 0
        self._views = 0
        self._lock = threading.RLock()

    # ---- scene and models ----------------------------------------------------------------------------
    def open_scene(self, label: str) -> Scene:
        """Open a named scene of the catalog (``"synthetic: buildings"``); clears prompts and results."""
        with self._lock:
            scene = self.catalog.load(label)
            self._set_scene(scene, label)
            return scene

    def open_upload(self, path=None, bands=None) -> Scene:
        """Open an uploaded GeoTIFF / PNG / JPEG (moved into this session's folder first).

        Args:
            path: the uploaded file; ``None`` opens the last upload again (e.g. with other bands).
            bands: band choice for multiband files (``"4,3,2"``, ``"B4,B3,B2"``, ``None`` = default).
        """
        with self._lock:
            if path is None:
                if self.upload_path is None:
                    raise UserInputError("upload a GeoTIFF / PNG / JPEG first")
                target = self.upload_path
            else:
                source = Path(path)
                uploads = self.workdir / "uploads"
                uploads.mkdir(exist_ok=True)
                target = uploads / source.name
                if source.resolve() != target.resolve():
                    shutil.move(str(source), target)
                self.upload_path = target
            scene = read_upload(target, bands=bands, max_mb=self.max_upload_mb, max_pixels=self.max_upload_pixels)
            self._set_scene(scene, f"upload: {target.name}")
            return scene

    def _set_scene(self, scene: Scene, label: str) -> None:
        self.scene = scene
        self.scene_label = label
        self.geometry = DisplayGeometry(scene.height, scene.width, *self.display_sides)
        self._base = self.geometry.base_image(scene)
        self._row_areas = row_pixel_areas_m2(scene)
        self.encodings = {}
        self._reset_prompts()

    def _reset_prompts(self) -> None:
        self.prompts = PromptState()
        self._history.clear()
        self.kind = None
        self.results = {}
        self.last_click = None

    def set_models(self, model: str, compare: str | None = None) -> None:
        """Use ``model`` alone, or ``model`` and ``compare`` side by side (the same prompts through both)."""
        from ..registry import get_spec

        with self._lock:
            names = [model] + ([compare] if compare and compare != model else [])
            for name in names:
                get_spec(name)  # unknown name: one line listing the valid ones
            if names != self.models:
                self.models = names
                self.results = {name: self.results[name] for name in names if name in self.results}

    def backend(self, name: str):
        """The :class:`~helpers.backends.base.Backend` of model ``name`` (without loading it)."""
        from ..backends import backend_for

        return backend_for(name)

    def prepare(self) -> dict:
        """Load each model and set the scene on it (encoded once per (scene, model) through the
        embedding cache); then run the current prompts again. Returns model name -> :class:`Encoding`."""
        with self._lock:
            scene = self._require_scene()
            for name in self.models:
                with self.pool.use(name, scene) as (_, encoding):
                    if name not in self.encodings or encoding.source != "kept":
                        self.encodings[name] = encoding
            self._rerun()
            return dict(self.encodings)

    def _require_scene(self) -> Scene:
        if self.scene is None:
            raise UserInputError("open a scene first: choose one from the list or upload a GeoTIFF / PNG / JPEG")
        if not self.models:
            raise UserInputError("choose a model first")
        return self.scene

    # ---- prompts -------------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        """What a click adds: ``"foreground"``, ``"background"`` or ``"box"`` (two opposite corners)."""
        if mode not in MODES:
            raise UserInputError(f"unknown click mode {mode!r}; choose one of: {', '.join(MODES)}")
        with self._lock:
            if mode != "box" and self.prompts.corner is not None:
                self.prompts = replace(self.prompts, corner=None)
            self.mode = mode

    def click(self, x: float, y: float) -> None:
        """A click at display position (x, y) (display pixels from the picture's top-left, as the browser
        reports it): adds a point, or a box corner, and segments."""
        with self._lock:
            self._require_scene()
            col, row = self.geometry.to_scene(x, y)
            self.click_pixel(col, row)

    def click_pixel(self, col: int, row: int) -> None:
        """A click on scene pixel (``col``, ``row``) in the current :attr:`mode`."""
        with self._lock:
            scene = self._require_scene()
            if not (0 <= col < scene.width and 0 <= row < scene.height):
                raise UserInputError(f"pixel ({col}, {row}) is outside the {scene.width}x{scene.height} scene")
            self.last_click = self._describe_click(col, row)
            state = self.prompts
            if self.mode == "box":
                if state.corner is None:
                    self._push(replace(state, corner=(int(col), int(row))))
                    return  # the box needs its second corner
                (c0, r0), (c1, r1) = state.corner, (int(col), int(row))
                box = (min(c0, c1), min(r0, r1), max(c0, c1) + 1, max(r0, r1) + 1)  # inclusive pixels -> edges
                self._push(replace(state, box=box, corner=None))
            else:
                label = 1 if self.mode == "foreground" else 0
                self._push(replace(state, points=(*state.points, (int(col), int(row))), labels=(*state.labels, label)))
            self.segment()

    def set_text(self, text: str | None) -> None:
        """Set (or with ``""``/``None`` remove) the text prompt and segment."""
        with self._lock:
            self._require_scene()
            text = (text or "").strip() or None
            if text and not any("text" in self.backend(name).prompts for name in self.models):
                raise UserInputError(f"{', '.join(self.models)} take(s) no text prompts; choose a FastSAM model")
            self._push(replace(self.prompts, text=text))
            self.segment()

    def _push(self, state: PromptState) -> None:
        self._history.append(self.prompts)
        del self._history[:-_HISTORY]
        self.prompts = state

    def undo(self) -> None:
        """Take back the last point, box corner, box, text or clear."""
        with self._lock:
            if self._history:
                self.prompts = self._history.pop()
            self._rerun()

    def clear(self) -> None:
        """Remove every prompt and result (undo brings the prompts back)."""
        with self._lock:
            if not self.prompts.empty or self.prompts.corner is not None:
                self._push(PromptState())
            self.kind = None
            self.results = {}

    def _rerun(self) -> None:
        if self.scene is None or not self.models:
            return
        if self.kind == "everything" and self.prompts.empty:
            return  # everything results stay until the next prompt
        self.results = {}
        self.kind = None
        if not self.prompts.empty:
            self.segment()

    # ---- running the models --------------------------------------------------------------------------
    def segment(self) -> dict[str, ModelResult]:
        """Run the current prompts through every model in use (the scene is encoded once per model)."""
        with self._lock:
            scene = self._require_scene()
            self.results, self.kind = {}, None
            if self.prompts.empty:
                return self.results
            for name in self.models:
                self.results[name] = self._segment_with(name, scene)
            self.kind = "prompts"
            return self.results

    def _segment_with(self, name: str, scene: Scene) -> ModelResult:
        backend = self.backend(name)
        state = self.prompts
        kwargs: dict = {}
        if state.points and "points" in backend.prompts:
            kwargs.update(points=list(state.points), labels=list(state.labels))
        if state.box is not None and "boxes" in backend.prompts:
            kwargs["boxes"] = [state.box]
        if state.text and "text" in backend.prompts:
            kwargs["text"] = state.text
        if not kwargs:
            return ModelResult(note=f"{name} takes no {' / '.join(_given_kinds(state))} prompt")
        # one click is ambiguous (SAM's three candidates, the best kept); several prompts are not
        kwargs["multimask"] = len(state.points) == 1 and state.box is None
        if backend.predict_params:
            kwargs.update(self.params.get(name, {}))
        with self.pool.use(name, scene) as (model, encoding):
            self._note_encoding(name, encoding)
            if kwargs.get("text") is not None:
                _ensure_text_scorer(model)
            start = time.perf_counter()
            masks = model.predict(**kwargs)
            seconds = time.perf_counter() - start
        if len(masks) > 1:
            masks = masks.best()
        return ModelResult(masks, times={**self._encode_times(name), "prompt": seconds})

    def everything(self, params: dict[str, dict] | None = None) -> dict[str, ModelResult]:
        """Automatic ("everything") masks from every model in use.

        Args:
            params: model name -> ``generate`` parameters changed from the backend's defaults
                (``model.backend.generate_defaults()``); the rest keep those defaults.
        """
        with self._lock:
            scene = self._require_scene()
            if params is not None:
                self.params.update({name: dict(values) for name, values in params.items()})
            if not self.prompts.empty or self.prompts.corner is not None:
                self._push(PromptState())  # a fresh result; undo brings the prompts (and their masks) back
            self.results, self.kind = {}, None
            for name in self.models:
                values = self.params.get(name, {})
                self.backend(name).check_generate_params(values)  # bad values: one line, before running
                with self.pool.use(name, scene) as (model, encoding):
                    self._note_encoding(name, encoding)
                    start = time.perf_counter()
                    masks = model.generate(**values, progress=False)
                    seconds = time.perf_counter() - start
                self.results[name] = ModelResult(masks, times={**self._encode_times(name), "everything": seconds})
            self.kind = "everything"
            return self.results

    def _note_encoding(self, name: str, encoding) -> None:
        if encoding.source != "kept" or name not in self.encodings:
            self.encodings[name] = encoding

    def _encode_times(self, name: str) -> dict:
        encoding = self.encodings.get(name)
        return {} if encoding is None else {"encode": encoding.seconds}

    # ---- what the app shows --------------------------------------------------------------------------
    def view(self, name: str) -> np.ndarray | None:
        """The display picture for model ``name`` (HxWx3 uint8): scene, its masks, the prompts, the banner."""
        with self._lock:
            if self.scene is None:
                return None
            result = self.results.get(name)
            masks = result.masks if result is not None else None
            start = time.perf_counter()
            picture = render_view(
                self._base, self.geometry, masks, everything=self.kind == "everything",
                points=self.prompts.points, labels=self.prompts.labels, box=self.prompts.box,
                corner=self.prompts.corner, title=name, smoke=self._smoke(name),
            )
            if result is not None:
                result.times["render"] = time.perf_counter() - start
            return picture

    def view_file(self, name: str) -> Path | None:
        """:meth:`view` written as a PNG in this session's ``views`` folder (fast zlib level 1: the default
        level takes ~5x longer on textured scenes, the largest share of a click on a CPU); returns its path.
        Only the newest two pictures per model are kept (the web page has its own copy)."""
        with self._lock:
            picture = self.view(name)
            if picture is None:
                return None
            from PIL import Image

            start = time.perf_counter()
            folder = self.workdir / "views"
            folder.mkdir(exist_ok=True)
            self._views += 1
            path = folder / f"{_safe(name)}-{self._views:06d}.png"
            Image.fromarray(picture).save(path, format="PNG", compress_level=1)
            for old in sorted(folder.glob(f"{_safe(name)}-*.png"))[:-2]:
                old.unlink(missing_ok=True)
            result = self.results.get(name)
            if result is not None:
                result.times["render"] += time.perf_counter() - start
            return path

    def _smoke(self, name: str) -> bool:
        result = self.results.get(name)
        if result is not None and result.masks is not None:
            return bool(result.masks.smoke)
        loaded = name in self.pool.loaded()
        return bool(getattr(self.pool.get(name), "smoke", False)) if loaded else False

    def table(self) -> list[dict]:
        """One row per mask of every model in use: model, id, score, area_px, area_m2 (NaN for plain images)."""
        with self._lock:
            rows = []
            for name in self.models:
                result = self.results.get(name)
                if result is not None and result.masks is not None:
                    rows += mask_rows(result.masks, self._row_areas, name)
            return rows

    def iou(self) -> float:
        """IoU between the two models' masks side by side (NaN with one model); see :func:`mask_iou`."""
        if len(self.models) < 2:
            return float("nan")
        first, second = (self.results.get(name) for name in self.models[:2])
        return mask_iou(first and first.masks, second and second.masks)

    def coordinates(self) -> str:
        """The last click in scene pixels, in the scene CRS and in lon/lat (one line)."""
        click = self.last_click
        if click is None:
            return "click on the picture: its position shows here in pixels, in the scene CRS and in lon/lat"
        col, row = click["pixel"]
        text = f"last click: pixel column {col}, row {row}"
        if click["map"] is None:
            return text + " · plain image without georeferencing: pixel coordinates only"
        x, y = click["map"]
        text += f" · {click['crs']}: x {x:.6f}, y {y:.6f}"
        if click["lonlat"] is not None:
            lon, lat = click["lonlat"]
            text += f" · lon {lon:.6f}, lat {lat:.6f}"
        return text

    def _describe_click(self, col: int, row: int) -> dict:
        info = {"pixel": (int(col), int(row)), "map": None, "crs": None, "lonlat": None}
        scene = self.scene
        if scene.is_georeferenced:
            from ..crs import to_pyproj
            from ..prompts import to_map_points

            x, y = to_map_points([(col, row)], scene)[0]
            pcrs = to_pyproj(scene.crs)
            epsg = pcrs.to_epsg()
            info.update(map=(float(x), float(y)), crs=f"EPSG:{epsg}" if epsg else pcrs.name)
            try:
                lon, lat = to_map_points([(col, row)], scene, crs="EPSG:4326")[0]
                info["lonlat"] = (float(lon), float(lat))
            except Exception:  # noqa: BLE001 - a CRS without a lon/lat datum (engineering CRS): skip it
                pass
        return info

    def status(self) -> str:
        """Markdown: scene, models, seconds per step, IoU side by side, the smoke banner when it applies."""
        with self._lock:
            if self.scene is None:
                return "Open a scene: choose one from the list or upload a GeoTIFF / PNG / JPEG."
            scene = self.scene
            where = (f"{_crs_text(scene)}" if scene.is_georeferenced
                     else "no georeferencing: pixel coordinates (exports too)")
            lines = [f"**{self.scene_label}** · {scene.width}x{scene.height} px · {where}"]
            if self.prompts.corner is not None:
                lines.append("box: first corner set, click the opposite corner")
            rows = ["| model | encode s | prompt s | everything s | render s | masks |", "|---|---|---|---|---|---|"]
            for name in self.models:
                result = self.results.get(name, ModelResult())
                encoding = self.encodings.get(name)
                encode = "" if encoding is None else f"{encoding.seconds:.2f} ({encoding.source})"
                times = result.times
                count = "" if result.masks is None else str(len(result.masks))
                rows.append(f"| {name} | {encode} | {_seconds(times.get('prompt'))} | "
                            f"{_seconds(times.get('everything'))} | {_seconds(times.get('render'))} | "
                            f"{count or result.note} |")
            lines.append("\n".join(rows))
            if len(self.models) > 1 and self.results:
                iou = self.iou()
                lines.append(f"IoU between the two models' masks: {'n/a' if np.isnan(iou) else f'{iou:.3f}'}")
            if any(self._smoke(name) for name in self.models):
                lines.append(f"⚠ **{SMOKE_BANNER}** (smoke mode: SAMRS_SMOKE=1)")
            return "\n\n".join(lines)

    # ---- files ---------------------------------------------------------------------------------------
    def export(self) -> list[Path]:
        """Write the current results of every model in use: GeoPackage, GeoJSON, label GeoTIFF and PNG
        overlay (:data:`EXPORT_FORMATS`), in the scene's CRS. Plain images (no CRS) get no GeoJSON: every GIS
        reads GeoJSON as longitude/latitude; their GeoPackage carries the pixel-grid CRS instead.

        Returns:
            the written files, in a new folder of this session's ``exports`` per call.

        Raises:
            UserInputError: nothing to export yet.
        """
        with self._lock:
            scene = self._require_scene()
            ready = {name: r.masks for name, r in self.results.items()
                     if r.masks is not None and len(r.masks) and r.masks.masks.any()}
            if not ready:
                raise UserInputError("nothing to export yet: click on the picture, draw a box or run everything mode")
            self._exports += 1
            folder = self.workdir / "exports" / f"{self._exports:03d}"
            files = []
            for name, masks in ready.items():
                stem = f"{_safe(scene.name)}_{_safe(name)}_{self.kind}"
                files.append(masks.to_file(folder / f"{stem}.gpkg"))
                if masks.crs is not None:
                    files.append(masks.to_file(folder / f"{stem}.geojson"))
                files.append(masks.to_geotiff(folder / f"{stem}_labels.tif"))
                files.append(masks.to_png(folder / f"{stem}_overlay.png", image=scene.image))
            return files

    def close(self) -> None:
        """Remove this session's folder (uploads and exports)."""
        shutil.rmtree(self.workdir, ignore_errors=True)


class SessionStore:
    """The app's sessions by browser-session id: made on first use, closed (folder removed) when the page
    is closed or after ``ttl_s`` seconds without use.

    Args:
        factory: ``() -> AppSession`` for a new session.
        ttl_s: idle seconds after which a session is closed (checked whenever a session is looked up).
    """

    def __init__(self, factory, ttl_s: float = 2 * 3600):
        self.factory = factory
        self.ttl_s = float(ttl_s)
        self._sessions: dict[str, tuple[AppSession, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> AppSession:
        """The session of ``key`` (a new one the first time)."""
        now = time.monotonic()
        with self._lock:
            idle = [k for k, (_, used) in self._sessions.items() if k != key and now - used > self.ttl_s]
            closing = [self._sessions.pop(k)[0] for k in idle]
            session = self._sessions[key][0] if key in self._sessions else self.factory()
            self._sessions[key] = (session, now)
        for old in closing:
            old.close()
        return session

    def close(self, key: str) -> None:
        """Close the session of ``key`` (if any) and remove its folder."""
        with self._lock:
            entry = self._sessions.pop(key, None)
        if entry is not None:
            entry[0].close()

    def close_all(self) -> None:
        """Close every session."""
        for key in list(self._sessions):
            self.close(key)

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, key: str) -> bool:
        return key in self._sessions


def _given_kinds(state: PromptState) -> list[str]:
    return [kind for kind, given in (("point", state.points), ("box", state.box is not None), ("text", state.text))
            if given]


def _ensure_text_scorer(model) -> None:
    """Give a FastSAM model its CLIP scorer for text prompts: the real CLIP weights when they are in the
    cache; a random CLIP of the real architecture for smoke weights (whose masks are meaningless anyway)."""
    if getattr(model, "clip", True) is not None:
        return
    from ..backends.clip import build_random_clip, load_clip

    try:
        model.clip = load_clip(getattr(model, "clip_weights", None), getattr(model, "device", None))
    except FileNotFoundError as error:
        if not getattr(model, "smoke", False):
            raise UserInputError(str(error)) from None
        model.clip = build_random_clip(getattr(model, "device", None))
    except ImportError as error:
        raise UserInputError(str(error)) from None


def _seconds(value) -> str:
    return "" if value is None else f"{value:.3f}"


def _crs_text(scene: Scene) -> str:
    from ..crs import to_pyproj

    pcrs = to_pyproj(scene.crs)
    epsg = pcrs.to_epsg()
    return f"EPSG:{epsg} ({pcrs.name})" if epsg else pcrs.name


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text)) or "scene"
