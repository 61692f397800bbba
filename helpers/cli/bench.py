"""``bench``: SAM vs FastSAM latency in FastSAM's published table layout."""

from __future__ import annotations

from collections.abc import Sequence

from ..bench.latency import DEFAULT_MODELS, run_latency_benchmark
from ..registry import get_spec


def _split_models(values: Sequence[str] | None) -> list[str]:
    names = [n.strip() for v in (values or []) for n in v.split(",") if n.strip()]
    return names or list(DEFAULT_MODELS)


def _cmd_bench(args) -> int:
    models = _split_models(args.models)
    for name in models:
        get_spec(name)  # unknown names -> ValueError, one line
    if args.repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {args.repeats}")
    run_latency_benchmark(
        models=models,
        repeats=args.repeats,
        warmup=args.warmup,
        out_dir=args.out,
        smoke=True if args.smoke else None,
        device=args.device,
        quick=args.quick,
        budget_s=args.budget,
    )
    return 0


def register(subparsers) -> None:
    """Add ``python -m helpers bench``."""
    parser = subparsers.add_parser(
        "bench",
        help="latency of SAM vs FastSAM (1/10/100 points, everything 16/32/64 grids), as in FastSAM's table",
        description=run_latency_benchmark.__doc__.split("\n\n")[0],
    )
    parser.add_argument("--models", nargs="+", help=f"registry names (default: {' '.join(DEFAULT_MODELS)})")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per cell; the median is reported")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up runs per cell")
    parser.add_argument("--out", default="out/bench", help="folder for latency.csv / latency.png (default out/bench)")
    parser.add_argument("--smoke", action="store_true", help="untrained weights of the real architectures")
    parser.add_argument("--quick", action="store_true", help="CI-size run: small image, few points, tiny grids")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of repeats per cell at most")
    parser.set_defaults(func=_cmd_bench)
