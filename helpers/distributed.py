"""Batches beyond one machine: Dask distributed, on a local cluster or any running scheduler.

The commands that walk folders of scenes (``segment``, and ``change`` / ``track``) share three pieces:

* :func:`dask_client` opens a :class:`distributed.Client`: with no address a ``LocalCluster`` of
  single-threaded process workers on 127.0.0.1 (one per core, or ``workers``), with an address
  (``tcp://host:8786``, or a scheduler JSON file as dask-jobqueue / dask-mpi write) the cluster already
  running there (SLURM/PBS via dask-jobqueue, Kubernetes, cloud). It prints the dashboard link.
* :func:`register_model` gives every worker ONE lazily loaded copy of the model through a
  :class:`ModelPlugin` (a ``WorkerPlugin``): tasks call :func:`worker_model`, so the model is never
  pickled into tasks, is loaded only when a worker first needs it (a resumed run with nothing left loads
  nothing), and is loaded by each worker from its own weights cache / mirror, verified as in
  :func:`helpers.models.load_model`. A restarted worker loads it again, once. :func:`model_loads` counts.
* :class:`TaskRunner` submits tasks, each with a callback, and hands every future to its callback as it
  completes (result or exception), so one failure is one report and the rest go on; callbacks may submit
  more tasks (the tiles of a large scene once its plan is known).

A command's batch function takes ``client=None`` and, when given one, runs its unit of work (the same
function as its sequential loop) as tasks::

    def _pair_task(model_key, job):                 # module level: workers import it by name
        return process_pair(worker_model(model_key), job)

    key = register_model(client, LazyModel(name, weights))
    runner = TaskRunner(client)
    for job in jobs:
        runner.submit(functools.partial(report, job), _pair_task, key, job)   # report(job, result, error)
    runner.run()

and its CLI adds ``--dask`` / ``--workers`` with :mod:`helpers.cli.cluster`.

Task functions must be importable module-level functions (workers import ``helpers``). Every worker
must see the same input and output paths as the client (a shared filesystem on a cluster) and run with
the same ``SAMRS_*`` settings (weights cache, smoke mode; a ``LocalCluster`` inherits them). GPU workers:
one worker per GPU, e.g. ``dask_cuda.LocalCUDACluster()`` (it pins one GPU per worker process), then
pass its ``Client`` on.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
from pathlib import Path

from distributed.diagnostics.plugin import WorkerPlugin

from .errors import SamRsError, UserInputError, one_line

__all__ = ["LOCAL", "dask_client", "ModelPlugin", "register_model", "worker_model", "model_loads", "TaskRunner",
           "TaskError", "cluster_threads"]

LOCAL = "local"
"""The address meaning "start a LocalCluster on this machine" (``--dask`` without a value)."""
DEFAULT_DASHBOARD = "127.0.0.1:8787"  # dask's usual port, on the loopback interface only
CONNECT_TIMEOUT = "20s"
_PLUGIN_PREFIX = "samrs-model-"


def _print(line: str) -> None:
    print(line, file=sys.stderr)


@contextlib.contextmanager
def dask_client(address: str | None = None, workers: int | None = None, *, dashboard: str | None = DEFAULT_DASHBOARD,
                log=None, **cluster_options):
    """A Dask client for a batch run; a local cluster it started is closed on exit.

    Args:
        address: ``None`` or ``"local"``: start a ``LocalCluster`` of process workers on 127.0.0.1, one
            thread each (models are not thread-safe; one process per core uses every core). Otherwise the
            scheduler address (``tcp://host:8786``) or a scheduler file (``scheduler.json``) of a running
            cluster.
        workers: local cluster size (default: the number of CPU cores; GPU machines: use
            ``dask_cuda.LocalCUDACluster`` for one worker per GPU).
        dashboard: ``host:port`` of the local cluster's dashboard (``None``: none); port 0 picks a free one.
        log: where the one-line cluster report goes (default stderr).
        **cluster_options: more ``LocalCluster`` arguments (``memory_limit="4GiB"``...).

    Raises:
        UserInputError: a scheduler that cannot be reached, ``workers`` with an address, ``workers`` < 1.
    """
    from distributed import Client, LocalCluster

    log = log or _print
    cluster = None
    if address in (None, LOCAL):
        n_workers = (os.cpu_count() or 1) if workers is None else int(workers)
        if n_workers < 1:
            raise UserInputError(f"--workers must be at least 1, got {workers}")
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=dashboard, **cluster_options)
        try:
            client = Client(cluster)
        except BaseException:
            cluster.close()
            raise
    else:
        if workers is not None:
            raise UserInputError("--workers sizes a local cluster only; an existing cluster is sized where it runs")
        try:
            if str(address).endswith(".json") and Path(address).is_file():
                client = Client(scheduler_file=str(address), timeout=CONNECT_TIMEOUT)
            else:
                client = Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, ValueError, TypeError) as exc:
            raise UserInputError(f"cannot reach the Dask scheduler at {address}: {one_line(exc)}") from None
    try:
        log(describe(client, local=cluster is not None))
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def describe(client, local: bool = False) -> str:
    """One line: workers, threads and the dashboard link (or why there is none)."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads = sum(w.get("nthreads", 0) for w in workers.values())
    where = "local cluster" if local else f"scheduler {client.scheduler.address}"
    if "dashboard" not in info.get("services", {}):
        board = "no dashboard"
    elif local and importlib.util.find_spec("bokeh") is None:
        board = f"dashboard {client.dashboard_link} needs bokeh (pip install 'bokeh>=3.1')"
    else:
        board = f"dashboard {client.dashboard_link}"
    return f"dask: {where}, {len(workers)} workers, {threads} threads; {board}"


def cluster_threads(client) -> int:
    """Worker threads in the cluster now (at least 1): how many tasks run at once."""
    workers = client.scheduler_info().get("workers", {})
    return max(1, sum(w.get("nthreads", 0) for w in workers.values()))


# ---- the model, once per worker ---------------------------------------------------------------------
class ModelPlugin(WorkerPlugin):
    """Holds one lazily loaded model per worker process.

    Args:
        model: anything with ``load()`` returning the model (a :class:`helpers.batch.LazyModel`); it is
            pickled once per worker (with the plugin), never per task.
        name: the plugin name tasks look it up by (:func:`worker_model`).
    """

    idempotent = True  # registering the same model again (a second batch) keeps the loaded copies

    def __init__(self, model, name: str):
        self.source = model
        self.name = name
        self.loads = 0
        self._model = None
        self._lock = threading.Lock()  # a worker with several threads loads once too

    def model(self):
        """The loaded model (loaded on first use in this worker)."""
        with self._lock:
            if self._model is None:
                self._model = self.source.load()
                self.loads += 1
        return self._model

    def __getstate__(self):  # only the recipe travels; a loaded model and the lock stay where they are
        return {"source": self.source, "name": self.name}

    def __setstate__(self, state) -> None:
        self.__init__(state["source"], state["name"])


def plugin_name(model) -> str:
    """Plugin name of a lazily loaded model: the same model (name, weights, options) gives the same name.

    ``model``: anything with ``name``, ``weights`` and ``options`` (a :class:`helpers.batch.LazyModel`), or
    a registry name (the cached official or smoke weights, no options).
    """
    from dask.base import tokenize

    if isinstance(model, str):
        name, weights, options = model, None, {}
    else:
        name, weights, options = model.name, getattr(model, "weights", None), getattr(model, "options", {})
    return f"{_PLUGIN_PREFIX}{name}-" + tokenize(str(weights), sorted(options.items()))


def register_model(client, model) -> str:
    """Register ``model`` (with ``load()``) on every worker, present and future; returns the plugin name."""
    name = plugin_name(model)
    client.register_plugin(ModelPlugin(model, name), name=name)
    return name


def worker_model(name: str):
    """Inside a task: this worker's copy of the model registered as ``name`` (loaded on first use)."""
    from distributed import get_worker

    return get_worker().plugins[name].model()


def _loads(name: str, dask_worker=None) -> int:
    plugin = dask_worker.plugins.get(name)
    return 0 if plugin is None else plugin.loads


def model_loads(client, model) -> dict[str, int]:
    """``{worker address: times this worker loaded the model}`` (1 each once used; 0 before).

    Args:
        client: the :class:`distributed.Client`.
        model: the model as given to the batch (registry name or :class:`helpers.batch.LazyModel`), or
            the plugin name :func:`register_model` returned.
    """
    import functools

    name = model if isinstance(model, str) and model.startswith(_PLUGIN_PREFIX) else plugin_name(model)
    return client.run(functools.partial(_loads, name))


# ---- futures as they complete ------------------------------------------------------------------------
class TaskError(SamRsError):
    """A task raised on a worker: its one-line reason, exactly as the same failure reads in a local run."""


class _Failure:
    """What a task returns instead of raising: the reason as text. Exceptions often carry context that
    does not survive pickling (rasterio's errors need constructor arguments), and Dask then replaces
    them with a generic ``Exception(repr)``; text always arrives intact."""

    def __init__(self, message: str):
        self.message = message


def _reporting(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - reported to the client in one line, the run goes on
        return _Failure(one_line(exc))


class TaskRunner:
    """Submit tasks with a callback each; :meth:`run` calls the callbacks as the tasks complete.

    ``callback(result, error)`` gets ``(result, None)`` on success, ``(None, exception)`` otherwise: a
    :class:`TaskError` with the task's one-line reason, ``KilledWorker`` if the workers running it kept
    dying (a task whose worker died is retried elsewhere, up to ``distributed.scheduler.allowed-failures``
    times), or a cancellation. Callbacks may submit more tasks; :meth:`run` returns when none is left.

    Args:
        client: a :class:`distributed.Client`.
    """

    def __init__(self, client):
        from distributed import as_completed

        self.client = client
        self._queue = as_completed()
        self._callbacks: dict = {}

    def submit(self, callback, function, *args, priority: int = 0, **kwargs):
        """Run ``function(*args, **kwargs)`` on the cluster (every call runs: no deduplication); returns the
        future. The task key starts with the function's name (the dashboard groups by it)."""
        import uuid

        key = f"{function.__name__}-{uuid.uuid4().hex}"
        future = self.client.submit(_reporting, function, *args, key=key, priority=priority, **kwargs)
        self._callbacks[future.key] = callback
        self._queue.add(future)
        return future

    def cancel(self, futures) -> None:
        """Cancel ``futures`` (their callbacks still run, with a ``CancelledError``)."""
        self.client.cancel(list(futures))

    def run(self) -> None:
        """Feed every future to its callback as it completes, until no task is left."""
        from distributed.client import FutureCancelledError

        for future in self._queue:
            callback = self._callbacks.pop(future.key)
            if future.status == "finished":
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - lost data that could not be recomputed
                    callback(None, exc)
                    continue
                if isinstance(result, _Failure):
                    callback(None, TaskError(result.message))
                else:
                    callback(result, None)
            elif future.status == "cancelled":
                callback(None, FutureCancelledError(future.key, reason="cancelled"))
            else:
                callback(None, future.exception())
