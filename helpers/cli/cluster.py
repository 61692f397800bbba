"""``--dask [ADDRESS]`` and ``--workers N`` for every command that walks folders of scenes.

A command adds the options with :func:`add_dask_arguments` and runs inside :func:`dask_from_args`, which
yields ``None`` (no ``--dask``: run here, one input after the other) or a connected
:class:`distributed.Client` (see :mod:`helpers.distributed`) to pass to the batch function::

    with dask_from_args(args) as client:
        summary = segment_batch(..., client=client)
"""

from __future__ import annotations

import contextlib

from ..errors import UserInputError

LOCAL = "local"  # the value of a bare --dask (helpers.distributed.LOCAL; not imported: keeps --help light)


def add_dask_arguments(parser) -> None:
    """Add ``--dask [ADDRESS]`` and ``--workers N`` to an argparse (sub)parser."""
    parser.add_argument(
        "--dask", nargs="?", const=LOCAL, default=None, metavar="ADDRESS",
        help="run on Dask distributed: alone, a local cluster of process workers (one per core); with a scheduler "
        "address (tcp://host:8786) or scheduler file (scheduler.json), that running cluster (SLURM via "
        "dask-jobqueue, Kubernetes, cloud); outputs are identical to a run without it")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="with a bare --dask: number of local worker processes (default: one per CPU core)")


@contextlib.contextmanager
def dask_from_args(args):
    """``None`` without ``--dask``; else a client, and the local cluster it started (closed on exit)."""
    if args.dask is None:
        if args.workers is not None:
            raise UserInputError("--workers needs --dask (a local cluster of that many worker processes)")
        yield None
        return
    if args.workers is not None and args.workers < 1:
        raise UserInputError(f"--workers must be at least 1, got {args.workers}")
    from ..distributed import dask_client

    with dask_client(args.dask, args.workers) as client:
        yield client
