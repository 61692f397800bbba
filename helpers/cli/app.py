"""``app``: the web app (Gradio) on this machine: open a scene, click, compare models, download GIS layers."""

from __future__ import annotations

from ..app.scenes import MAX_UPLOAD_MB
from ..app.ui import DEFAULT_MODEL, launch_app
from ..registry import get_spec


def _cmd_app(args) -> int:
    get_spec(args.model)  # an unknown name fails here, in one line, before Gradio starts
    if args.max_upload_mb <= 0:
        raise ValueError(f"--max-upload-mb must be positive, got {args.max_upload_mb}")
    if args.share:
        print("warning: --share publishes a public *.gradio.live link through Gradio's servers; anyone with "
              "the link can use this app")
    launch_app(host=args.host, port=args.port, share=args.share, inline=False, block=True, model=args.model,
               device=args.device, max_upload_mb=args.max_upload_mb)
    return 0


def register(subparsers) -> None:
    """Add ``python -m helpers app``."""
    parser = subparsers.add_parser(
        "app",
        help="web app: open a GeoTIFF, click or draw, compare SAM and FastSAM, download GIS layers",
        description="Start the sam-rs web app (Gradio). Open http://HOST:PORT in a browser; Ctrl-C stops it.",
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to serve on (default 127.0.0.1: this machine only; 0.0.0.0: the local network)")
    parser.add_argument("--port", type=int, default=7860, help="TCP port (default 7860)")
    parser.add_argument("--share", action="store_true",
                        help="also publish a temporary public gradio.live link (needs internet)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"model selected at start (default {DEFAULT_MODEL})")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    parser.add_argument("--max-upload-mb", type=float, default=MAX_UPLOAD_MB,
                        help=f"largest upload in MB (default {MAX_UPLOAD_MB:g})")
    parser.set_defaults(func=_cmd_app)
