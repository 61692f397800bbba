"""The app's page (Gradio): layout and event wiring over :class:`~helpers.app.session.AppSession`.

Nothing here segments or writes files itself: each event calls one session method and shows the
result. Every event handler catches its errors and shows them as one line in the page (the server keeps
serving). The page loads nothing from the internet (no analytics, no web fonts): everything is served
by this process.
"""

import atexit
import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from ..backends import backend_for
from ..errors import is_user_facing
from ..registry import list_models
from .display import TABLE_COLUMNS
from .pool import ModelPool
from .scenes import MAX_UPLOAD_MB, MAX_UPLOAD_PIXELS, UPLOAD_SUFFIXES, SceneCatalog, default_catalog
from .session import MODES, AppSession, SessionStore, error_message

__all__ = ["build_app", "launch_app", "DEFAULT_MODEL", "APP_TITLE", "parameter_controls"]

DEFAULT_MODEL = "mobile_sam"  # the fastest SAM on a laptop CPU
APP_TITLE = "sam-rs · segment remote-sensing scenes"
_NO_COMPARE = "none"
_LOG = logging.getLogger(__name__)
# Seconds a closed or idle session keeps its state (and its folder) before it is cleaned up.
SESSION_TTL_S = 2 * 3600


def _import_gradio():
    """Gradio with its analytics off (set before it is imported), or one line saying how to install it."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        import gradio as gr
    except ImportError:
        raise ImportError("the app needs Gradio: pip install 'sam-rs[app]' (or pip install gradio)") from None
    return gr


def _app_root() -> Path:
    """A temporary folder for this process's sessions and Gradio's file cache, removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="sam-rs-app-"))
    atexit.register(shutil.rmtree, root, True)
    return root


def parameter_controls(backend) -> list[dict]:
    """The everything-mode controls of a backend, from its contract: one dict per parameter with ``name``,
    ``kind``, ``options`` (:class:`~helpers.backends.base.Control`), ``default`` (``generate_defaults()``),
    ``start`` (the default, or the nearest value the control can show) and ``doc`` (``param_docs()``)."""
    defaults, docs = backend.generate_defaults(), backend.param_docs()
    controls = []
    for name, (kind, options) in backend.tuner_controls.items():
        default = defaults.get(name)
        if kind == "choice":
            start = default if default in options else options[0]
        elif kind == "bool":
            start = bool(default)
        else:
            low, high, _ = options
            start = low if default is None else min(max(default, low), high)
        controls.append({"name": name, "kind": kind, "options": options, "default": default, "start": start,
                         "doc": docs.get(name, "")})
    return controls


def _changed_params(controls: list[dict], values) -> dict:
    """Control values -> the parameters the user moved away from where the control started (the others
    keep the backend's defaults, as in the notebook tuner)."""
    params = {}
    for control, value in zip(controls, values, strict=True):
        if control["kind"] == "int":
            value = int(round(float(value)))
        elif control["kind"] == "float":
            value = float(value)
        elif control["kind"] == "bool":
            value = bool(value)
        if value != control["start"]:
            params[control["name"]] = value
    return params


def _families() -> dict[str, object]:
    """Backend family -> backend, for every registry model (one parameter panel per family)."""
    families: dict[str, object] = {}
    for name in list_models():
        backend = backend_for(name)
        families.setdefault(backend.family, backend)
    return families


def _text_prompts_available() -> bool:
    """Whether OpenAI CLIP (FastSAM's text scorer) is installed."""
    import importlib.util

    return importlib.util.find_spec("clip") is not None


def build_app(catalog: SceneCatalog | None = None, pool: ModelPool | None = None, model: str = DEFAULT_MODEL,
              device=None, max_upload_mb: float = MAX_UPLOAD_MB, max_upload_pixels: int = MAX_UPLOAD_PIXELS,
              workdir=None):
    """The app as a ``gradio.Blocks`` (not started; :func:`launch_app` starts it).

    Args:
        catalog: named scenes (default :func:`helpers.app.scenes.default_catalog`).
        pool: models shared by the sessions (default: a new :class:`ModelPool` on ``device``).
        model: the model selected when the page opens.
        device: ``None`` (best available), ``"cpu"``, ``"cuda"``...
        max_upload_mb, max_upload_pixels: upload limits.
        workdir: folder for the sessions' files (default: a temporary folder removed at exit).
    """
    gr = _import_gradio()
    catalog = catalog or default_catalog()
    pool = pool or ModelPool(device=device)
    root = Path(workdir) if workdir is not None else _app_root()
    models = list_models()
    families = _families()
    text_ok = _text_prompts_available()

    def new_session() -> AppSession:
        return AppSession(pool, catalog, root / f"session-{uuid.uuid4().hex[:12]}", max_upload_mb=max_upload_mb,
                          max_upload_pixels=max_upload_pixels)

    sessions = SessionStore(new_session, ttl_s=SESSION_TTL_S)
    atexit.register(sessions.close_all)

    with gr.Blocks(title=APP_TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(f"## {APP_TITLE}\nOpen a scene, click on it (or draw a box, or run everything mode), "
                    "compare two models, download GIS layers.")
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                scene_choice = gr.Dropdown(catalog.choices(), value=None, label="Scene", elem_id="scene")
                scene_info = gr.Markdown("", elem_id="scene-info")
                with gr.Accordion("Upload a GeoTIFF / PNG / JPEG", open=False, elem_id="upload-panel"):
                    upload = gr.File(label=f"file (up to {max_upload_mb:g} MB)", file_types=list(UPLOAD_SUFFIXES),
                                     type="filepath", elem_id="upload")
                    bands = gr.Textbox(label="bands (multiband files; Enter to apply)",
                                       placeholder="e.g. 4,3,2 or B4,B3,B2; empty = R,G,B", elem_id="bands")
                model_choice = gr.Dropdown(models, value=model, label="Model", elem_id="model")
                compare_choice = gr.Dropdown([_NO_COMPARE, *models], value=_NO_COMPARE,
                                             label="Compare with (same prompts, side by side)", elem_id="compare")
                mode = gr.Radio([(text, key) for key, text in MODES.items()], value="foreground",
                                label="A click adds", elem_id="mode")
                with gr.Row():
                    undo = gr.Button("Undo", elem_id="undo", size="sm")
                    clear = gr.Button("Clear", elem_id="clear", size="sm")
                text = gr.Textbox(label="Text prompt (FastSAM with CLIP)", placeholder="e.g. a pond; Enter to run",
                                  elem_id="text", visible=text_ok and "text" in backend_for(model).prompts)
                with gr.Accordion("Everything mode", open=False, elem_id="everything-panel"):
                    panels, panel_controls, panel_inputs = {}, {}, []
                    for family, backend in families.items():
                        controls = parameter_controls(backend)
                        with gr.Group(visible=family == backend_for(model).family) as panel:
                            gr.Markdown(f"**{family}** parameters (defaults and help as in the notebook tuner)")
                            for control in controls:
                                panel_inputs.append(_control_component(gr, control, family))
                        panels[family] = panel
                        panel_controls[family] = controls
                    run_everything = gr.Button("Run everything mode", variant="primary", elem_id="everything")
                export = gr.Button("Export GeoPackage / GeoJSON / GeoTIFF / PNG", elem_id="export")
                files = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="files")
            with gr.Column(scale=2):
                message = gr.Markdown("", elem_id="message")
                with gr.Row():
                    view_a = gr.Image(format="png", interactive=False, elem_id="view-a", buttons=[], show_label=False)
                    view_b = gr.Image(format="png", interactive=False, elem_id="view-b", buttons=[], show_label=False,
                                      visible=False)
                coords = gr.Markdown("", elem_id="coords")
                status = gr.Markdown("", elem_id="status")
                table = gr.Dataframe(headers=list(TABLE_COLUMNS), interactive=False, elem_id="masks",
                                     label="Masks (id as in the exported files; area_m2 empty for plain images)")

        outputs = [view_a, view_b, status, coords, table, message]
        model_outputs = [*outputs, text, *panels.values()]

        def shown(session, note=""):
            """The page after an action: both pictures, status, coordinates, table, message."""
            import pandas as pd

            names = session.models
            second = names[1] if len(names) > 1 else None
            frame = pd.DataFrame(session.table(), columns=list(TABLE_COLUMNS)).round({"score": 4, "area_m2": 2})
            return (
                session.view_file(names[0]) if names else None,
                gr.update(value=session.view_file(second) if second else None, visible=second is not None),
                session.status(),
                session.coordinates(),
                frame,
                note,
            )

        def failed(error):
            _LOG.warning("app action failed: %s", error, exc_info=not is_user_facing(error))
            return (gr.update(), gr.update(), gr.update(), gr.update(), gr.update(),
                    f"**error:** {error_message(error)}")

        def model_widgets(session):
            names = session.models
            visible = {session.backend(name).family for name in names}
            text_visible = text_ok and any("text" in session.backend(name).prompts for name in names)
            return (gr.update(visible=text_visible), *(gr.update(visible=family in visible) for family in panels))

        def keep_widgets():
            return (gr.update(), *(gr.update() for _ in panels))

        def encoding_note(session):
            return (f"⏳ preparing the scene for {', '.join(session.models)} (encoded once per scene and model; "
                    "the first time takes seconds, later clicks reuse it)…")

        def compare_name(name):
            return None if name in (None, _NO_COMPARE) else name

        def open_scene(request: gr.Request, label, model_name, compare):
            session = sessions.get(request.session_hash)
            if not label:
                yield (*shown(session), *keep_widgets(), gr.update())
                return
            try:
                session.set_models(model_name, compare_name(compare))
                session.open_scene(label)
                yield (*shown(session, encoding_note(session)), *model_widgets(session), catalog.describe(label))
                session.prepare()
                yield (*shown(session, "Ready: click on the picture."), *model_widgets(session), gr.update())
            except Exception as error:  # noqa: BLE001 - every failure becomes a message in the page
                yield (*failed(error), *keep_widgets(), gr.update())

        def open_upload(request: gr.Request, path, band_text, model_name, compare):
            session = sessions.get(request.session_hash)
            if path is None:
                yield (*shown(session), *keep_widgets(), gr.update())
                return
            try:
                session.set_models(model_name, compare_name(compare))
                scene = session.open_upload(path, bands=band_text or None)
                yield (*shown(session, encoding_note(session)), *model_widgets(session), _upload_info(scene))
                session.prepare()
                yield (*shown(session, "Ready: click on the picture."), *model_widgets(session), gr.update())
            except Exception as error:  # noqa: BLE001
                yield (*failed(error), *keep_widgets(), gr.update())

        def reopen_bands(request: gr.Request, band_text):
            session = sessions.get(request.session_hash)
            try:
                scene = session.open_upload(None, bands=band_text or None)
                yield (*shown(session, encoding_note(session)), *model_widgets(session), _upload_info(scene))
                session.prepare()
                yield (*shown(session, "Ready: click on the picture."), *model_widgets(session), gr.update())
            except Exception as error:  # noqa: BLE001
                yield (*failed(error), *keep_widgets(), gr.update())

        def change_models(request: gr.Request, model_name, compare):
            session = sessions.get(request.session_hash)
            try:
                session.set_models(model_name, compare_name(compare))
                if session.scene is None:
                    yield (*shown(session), *model_widgets(session))
                    return
                yield (*shown(session, encoding_note(session)), *model_widgets(session))
                session.prepare()
                yield (*shown(session, "Ready."), *model_widgets(session))
            except Exception as error:  # noqa: BLE001
                yield (*failed(error), *keep_widgets())

        def act(action):
            """A quick action (click, undo, clear, text, mode): one session call, then the page."""
            def handler(request: gr.Request, *args):
                session = sessions.get(request.session_hash)
                try:
                    action(session, *args)
                    return shown(session)
                except Exception as error:  # noqa: BLE001
                    return failed(error)
            return handler

        def on_select(request: gr.Request, evt: gr.SelectData):
            return act(lambda session: session.click(*evt.index))(request)

        def everything(request: gr.Request, *values):
            session = sessions.get(request.session_hash)
            try:
                params, offset = {}, 0
                for family, controls in panel_controls.items():
                    chosen = values[offset: offset + len(controls)]
                    offset += len(controls)
                    for name in session.models:
                        if session.backend(name).family == family:
                            params[name] = _changed_params(controls, chosen)
                yield shown(session, f"⏳ running everything mode with {', '.join(session.models)}…")
                session.everything(params)
                count = len(session.table())
                yield shown(session, f"Everything mode: {count} mask{'' if count == 1 else 's'}.")
            except Exception as error:  # noqa: BLE001
                yield failed(error)

        def export_files(request: gr.Request):
            session = sessions.get(request.session_hash)
            try:
                paths = [str(p) for p in session.export()]
                where = "the scene's CRS" if session.scene.is_georeferenced else "pixel coordinates (plain image)"
                return paths, f"Exported {len(paths)} files in {where}."
            except Exception as error:  # noqa: BLE001
                _LOG.warning("export failed: %s", error, exc_info=not is_user_facing(error))
                return None, f"**error:** {error_message(error)}"

        def on_unload(request: gr.Request):
            sessions.close(request.session_hash)

        # .change, not .input: a dropdown choice fires .input twice
        scene_choice.change(open_scene, [scene_choice, model_choice, compare_choice], [*model_outputs, scene_info])
        upload.upload(open_upload, [upload, bands, model_choice, compare_choice], [*model_outputs, scene_info])
        bands.submit(reopen_bands, [bands], [*model_outputs, scene_info])
        model_choice.change(change_models, [model_choice, compare_choice], model_outputs)
        compare_choice.change(change_models, [model_choice, compare_choice], model_outputs)
        # quick actions skip the queue: a click round trip is about twice as fast without it
        quick = {"show_progress": "hidden", "queue": False}
        # every click counts (Gradio's default drops a click made while the previous one is being answered,
        # e.g. the second corner of a box on a busy CPU); the session's lock keeps them in order
        for view in (view_a, view_b):
            view.select(on_select, None, outputs, trigger_mode="multiple", **quick)
        mode.change(act(lambda session, m: session.set_mode(m)), [mode], outputs, **quick)
        undo.click(act(lambda session: session.undo()), None, outputs, **quick)
        clear.click(act(lambda session: session.clear()), None, outputs, **quick)
        text.submit(act(lambda session, t: session.set_text(t)), [text], outputs)
        run_everything.click(everything, panel_inputs, outputs)
        export.click(export_files, None, [files, message])
        demo.unload(on_unload)
    demo.sam_rs_sessions = sessions  # tests look at the sessions and their folders
    demo.sam_rs_root = root
    return demo


def _upload_info(scene) -> str:
    bands = ", ".join(scene.meta.get("file_bands", []))
    shown = ", ".join(str(b) for b in scene.meta.get("bands", []))
    return f"{scene.name}: {scene.meta.get('dtype', '')} bands {bands}; showing band(s) {shown} as RGB"


def _control_component(gr, control: dict, family: str):
    """A Gradio input for one parameter control (slider, dropdown or checkbox) with its documentation."""
    name, kind, options = control["name"], control["kind"], control["options"]
    common = {"label": name, "info": control["doc"], "elem_id": f"param-{family}-{name}"}
    if kind == "choice":
        return gr.Dropdown(list(options), value=control["start"], **common)
    if kind == "bool":
        return gr.Checkbox(value=control["start"], **common)
    low, high, step = options
    return gr.Slider(low, high, value=control["start"], step=step, **common)


def launch_app(host: str = "127.0.0.1", port: int | None = 7860, share: bool = False, inline: bool | None = None,
               block: bool = False, height: int = 900, **build_options):
    """Build and start the app; returns the running ``gradio.Blocks`` (``.close()`` stops it).

    Args:
        host: interface to serve on (``127.0.0.1``: this machine only; ``0.0.0.0``: the local network).
        port: TCP port (``None``: the first free one from 7860).
        share: also publish a temporary public ``*.gradio.live`` link through Gradio's share servers
            (needs internet; anyone with the link can use the app).
        inline: show the app inside the notebook (``None``: when running in a notebook).
        block: keep serving until interrupted (the command line); ``False`` returns at once.
        height: height in pixels of the inline frame.
        **build_options: :func:`build_app` options (``catalog``, ``model``, ``device``, upload limits...).
    """
    root = build_options.pop("workdir", None) or _app_root()
    # Gradio's copies of uploads and pictures go under the app's folder too (set for this process)
    os.environ["GRADIO_TEMP_DIR"] = str(Path(root) / "gradio")
    demo = build_app(workdir=root, **build_options)
    max_mb = build_options.get("max_upload_mb", MAX_UPLOAD_MB)
    # Gradio serves copies of the pictures and downloads from its cache; it may copy them from the system's
    # temporary folder without more, but the sessions' own folders are not served (other sessions' files).
    in_temp = Path(tempfile.gettempdir()).resolve() in Path(root).resolve().parents
    demo.launch(
        server_name=host, server_port=port, share=share, inline=inline, height=height,
        prevent_thread_lock=not block, inbrowser=False, max_file_size=f"{max_mb:g}mb",
        allowed_paths=[] if in_temp else [str(root)], footer_links=["gradio", "settings"],
    )
    return demo
