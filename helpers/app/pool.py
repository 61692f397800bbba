"""The models behind the app: each loaded once per process, shared by every browser session.

A model holds one scene at a time (SAM's image embedding, FastSAM's everything pass). Sessions take a
model with :meth:`ModelPool.use`, which locks it and sets the session's scene when the model holds
another one. Setting a scene goes through the embedding cache (:mod:`helpers.embedding_cache`), so a
scene is encoded once per (scene, model): the first time takes seconds, switching back takes
milliseconds (FastSAM keeps only its latest everything pass and runs it again after a switch).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..errors import UntrainedWeightsWarning
from ..scene import Scene

__all__ = ["ModelPool", "Encoding"]


@dataclass
class Encoding:
    """How a model got ready for a scene.

    Attributes:
        seconds: wall time of ``set_image`` (0 when the model already held the scene).
        source: ``"computed"`` (encoded now), ``"memory"`` / ``"disk"`` (embedding cache), ``"kept"``
            (the model already held this scene) or ``"ran"`` (a backend without an embedding cache, e.g.
            FastSAM's everything pass).
    """

    seconds: float = 0.0
    source: str = "kept"


class ModelPool:
    """Registry models loaded on first use and kept for the life of the process.

    Args:
        device: ``None`` (best available), ``"cpu"``, ``"cuda"``...; passed to ``load_model``.
        loader: ``(name, device=...) -> model`` (default :func:`helpers.load_model`; tests may inject one).
    """

    def __init__(self, device=None, loader: Callable | None = None):
        self.device = device
        self._loader = loader
        self._models: dict[str, object] = {}
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    def _lock_for(self, name: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(name, threading.RLock())

    def get(self, name: str):
        """The model called ``name``, loaded on first use (smoke weights in smoke mode).

        Raises:
            UserInputError: unknown name. WeightsUnavailableError: weights cannot be had offline.
        """
        with self._lock_for(name):
            if name not in self._models:
                if self._loader is None:
                    from ..models import load_model

                    loader = load_model
                else:
                    loader = self._loader
                with warnings.catch_warnings():
                    # the app shows the smoke banner on every result instead of a console warning
                    warnings.simplefilter("ignore", UntrainedWeightsWarning)
                    self._models[name] = loader(name, device=self.device)
            return self._models[name]

    def loaded(self) -> list[str]:
        """Names of the models loaded so far."""
        return list(self._models)

    @contextmanager
    def use(self, name: str, scene: Scene) -> Iterator[tuple[object, Encoding]]:
        """Lock model ``name`` with ``scene`` set on it; yields ``(model, Encoding)``.

        Other sessions wait for the lock; the scene is set only when the model holds another one.
        """
        model = self.get(name)
        with self._lock_for(name):
            encoding = Encoding()
            if model.scene is not scene:
                start = time.perf_counter()
                model.set_image(scene)
                encoding = Encoding(time.perf_counter() - start, _embedding_source(model))
            yield model, encoding


def _embedding_source(model) -> str:
    embedding = getattr(model, "embedding", None)  # SAM-family models keep the cache's Embedding here
    return getattr(embedding, "source", "ran")
