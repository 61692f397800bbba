"""A web app over the package (Gradio): open a scene, click or draw, compare two models, download GIS layers.

    python -m helpers app                      # http://127.0.0.1:7860 (this machine only)
    helpers.launch_app(inline=True)            # inside a notebook

Modules, one concept each: :mod:`~helpers.app.scenes` (named scenes from pluggable providers, uploads),
:mod:`~helpers.app.pool` (models loaded once, shared by sessions), :mod:`~helpers.app.display` (the
picture and the mask table), :mod:`~helpers.app.session` (the state and every action of one session,
without a web framework) and :mod:`~helpers.app.ui` (the Gradio page). Only ``ui`` imports Gradio.
"""

from .pool import ModelPool
from .scenes import SceneCatalog, SceneProvider, default_catalog, read_upload
from .session import AppSession
from .ui import build_app, launch_app

__all__ = ["AppSession", "ModelPool", "SceneCatalog", "SceneProvider", "build_app", "default_catalog",
           "launch_app", "read_upload"]
