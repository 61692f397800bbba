"""``models``, ``prefetch`` and ``smoke-weights``: the weights cache from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

from ..config import CACHE_ENV, MIRROR_ENV, cache_dir
from ..errors import WeightsUnavailableError, one_line
from ..registry import REGISTRY, get_spec, spec_with_weights
from ..weights import copy_weights, ensure_weights, human_size, is_verified, models_table, weights_path


def register(subparsers) -> None:
    """Add ``models``, ``prefetch`` and ``smoke-weights`` to ``python -m helpers``."""
    models = subparsers.add_parser("models", help="list registry models: size, integrity data, cached or not")
    models.set_defaults(func=_cli_models)

    prefetch = subparsers.add_parser(
        "prefetch",
        help="download weights and copy the sample scenes into one folder (for a room without internet)",
        description=(
            "Download (and verify) weights plus the sample scenes into one folder. Without --dest the "
            f"weights go to the cache ({CACHE_ENV}, default ~/.cache/sam-rs). With --dest DIR the "
            f"weights are stored flat in DIR and the scenes in DIR/scenes; on each laptop set "
            f"{CACHE_ENV}=DIR (or copy the weight files into its cache) to use them offline, or serve "
            f"DIR with 'python -m http.server' and set {MIRROR_ENV}=http://HOST:8000 on the laptops."
        ),
    )
    prefetch.add_argument("names", nargs="*", metavar="NAME", help="registry names (default: all with weights)")
    prefetch.add_argument("--dest", metavar="DIR", help=f"target folder (default: the cache, ${CACHE_ENV})")
    prefetch.add_argument("--no-scenes", action="store_true", help="weights only, skip the sample scenes")
    prefetch.set_defaults(func=_cli_prefetch)

    smoke = subparsers.add_parser(
        "smoke-weights",
        help="write randomly initialised weights of NAME's real architecture (tests/CI; masks are meaningless)",
        description=(
            "Write randomly initialised weights of NAME's real architecture in its real checkpoint format, "
            "marked as smoke weights: they load with --weights PATH like an official checkpoint, but every "
            "result is labelled meaningless. For tests and CI on machines without the real weights."
        ),
    )
    smoke.add_argument(
        "name", metavar="NAME", help="registry name with weights, e.g. sam_vit_b, mobile_sam, fastsam_s, "
        "sam2.1_hiera_t (see 'python -m helpers models'; conventional has none)",
    )
    smoke.add_argument(
        "path", metavar="PATH", help="checkpoint file to write (not a folder; FastSAM needs a .pt ending, "
        "e.g. fastsam_s_smoke.pt); missing folders are created, an existing file is replaced",
    )
    smoke.add_argument("--seed", type=int, default=0, help="random seed: same seed, same weights (default 0)")
    smoke.set_defaults(func=_cli_smoke_weights)


def _print_table(rows: list[dict]) -> None:
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns).rstrip())


def _cli_models(args) -> int:
    _print_table(models_table())
    print(f"\ncache: {cache_dir()}  (set {CACHE_ENV} to move it; 'python -m helpers prefetch' fills it)")
    return 0


def _cli_prefetch(args) -> int:
    names = args.names or [s.name for s in REGISTRY.values() if s.has_weights]
    for name in names:
        spec_with_weights(name)  # bad names fail before anything is written
    dest = Path(args.dest).expanduser() if args.dest else cache_dir()
    total = sum(get_spec(name).size or 0 for name in names)
    print(f"prefetch: {len(names)} model(s), {human_size(total)} of weights, into {dest}")
    dest.mkdir(parents=True, exist_ok=True)
    failures = 0 if args.no_scenes else _prefetch_scenes(dest)
    for name in names:
        try:
            path = _prefetch_one(name, dest)
            print(f"ok    {name}: {path}")
        except (WeightsUnavailableError, OSError) as exc:
            failures += 1
            print(f"error: {one_line(exc)}", file=sys.stderr)
    if args.dest and not failures:
        print(f"done. On each laptop: {CACHE_ENV}={dest.resolve()} (or copy the files into its cache)")
    return 1 if failures else 0


def _prefetch_one(name: str, dest: Path) -> Path:
    """Fill ``dest`` from the local cache when it already holds a verified copy, else download."""
    cached = weights_path(name)
    target = weights_path(name, dest)
    if cached != target and not target.is_file() and is_verified(name, cached):
        return copy_weights(name, cached, dest)
    return ensure_weights(name, dest=dest)


def _prefetch_scenes(dest: Path) -> int:
    """Copy the sample scenes into ``dest/scenes``, where ``helpers.data`` finds them when ``dest`` is the
    cache (``SAMRS_CACHE_DIR=dest``); return the number of failures."""
    try:
        from ..data import SCENES_SUBDIR, copy_sample_scenes, list_sample_scenes

        scenes = list_sample_scenes()
    except Exception as exc:  # data helper missing or broken: say so in one line, keep going with weights
        print(f"error: cannot list the sample scenes ({one_line(exc)})", file=sys.stderr)
        return 1
    failures = 0
    for scene in scenes:  # one by one: a broken scene is reported and the others are still copied
        try:
            (target,) = copy_sample_scenes(dest / SCENES_SUBDIR, names=[scene])
            print(f"ok    scene {scene}: {target}")
        except Exception as exc:
            failures += 1
            print(f"error: cannot copy sample scene {scene} ({one_line(exc)})", file=sys.stderr)
    return failures


def _cli_smoke_weights(args) -> int:
    spec_with_weights(args.name)  # a typo fails in one line before torch is imported
    from ..models import write_smoke_weights

    path = write_smoke_weights(args.name, args.path, seed=args.seed)
    print(f"wrote {path} ({human_size(path.stat().st_size)}): untrained weights of {args.name}, masks are meaningless")
    return 0
