"""Image-embedding cache: encode once per (image content, model, checkpoint), in memory and on disk.

SAM's image encoder is the expensive step (about 10 s per image for ViT-B on a laptop CPU); the prompt
encoder and mask decoder take milliseconds. Embeddings are therefore kept

* in memory, in a small LRU shared by every model in the process (``default_cache()``), and
* on disk under ``helpers.config.home_dir() / "embeddings"`` (``$SAMRS_HOME/embeddings``, default
  ``~/.cache/sam-rs/embeddings``), one file per key, so a new kernel re-opening the same scene loads
  the embedding instead of re-encoding it. A disk that cannot be written (read-only, full) only costs
  the speed-up: the cache warns once and predictions go on.

The key is a hash of the image bytes (and shape), the model name, the checkpoint identity (a content
fingerprint of the weights file) and anything else that changes the numbers (device type, precision).
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .atomic import atomic_output
from .config import home_dir
from .errors import one_line

if TYPE_CHECKING:  # torch is imported when an embedding is read or written, not with the module
    import torch

__all__ = [
    "Embedding",
    "EmbeddingCache",
    "default_cache",
    "resolve_cache",
    "embedding_dir",
    "image_digest",
    "checkpoint_identity",
    "embedding_key",
]

# Bytes read from each end of a weights file for its fingerprint: a torch zip stores tensor data
# near the start and its index at the end, so different weights differ there. Reading 8 MiB keeps
# a 2.5 GB ViT-H checkpoint's identity cheap (no full sha256 on every load).
_FINGERPRINT_BYTES = 4 * 1024 * 1024
_FORMAT_VERSION = 1


@dataclass
class Embedding:
    """One encoded image.

    Attributes:
        features: float tensor (1, C, h, w), e.g. (1, 256, 64, 64) for SAM.
        input_size: (h, w) of the resized image fed to the encoder (before padding to 1024).
        original_size: (H, W) of the original image.
        source: where it came from: ``"computed"``, ``"memory"`` or ``"disk"``.
        seconds: time spent obtaining it (encoding or loading).
        extra: backend-specific details needed to use ``features`` exactly as computed, e.g. SAM 2's
            memory layout of each feature level (``{"layouts": [...]}``). Saved to disk with the
            features, so it may hold only what ``torch.load(weights_only=True)`` reads back: tensors,
            numbers, strings, and lists/dicts of them (anything else makes the disk copy unreadable,
            which is treated like a missing file: the image is encoded again).
    """

    features: torch.Tensor
    input_size: tuple[int, int]
    original_size: tuple[int, int]
    source: str = "computed"
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def embedding_dir() -> Path:
    """Default on-disk location: ``helpers.config.home_dir() / "embeddings"`` (``$SAMRS_HOME/embeddings``)."""
    return home_dir() / "embeddings"


def image_digest(image: np.ndarray) -> str:
    """Content hash of an image array (bytes + shape + dtype)."""
    array = np.ascontiguousarray(image)
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{array.shape}|{array.dtype.str}|".encode())
    digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def checkpoint_identity(path) -> str:
    """Content fingerprint of a weights file: size plus the hash of its first and last 4 MiB.

    Content based (not path/mtime based), so a copied or re-written identical file keeps its cached
    embeddings while different weights (another seed, a fine-tune) never share them. Memoised per
    (path, size, mtime) within the process, so a re-written file is fingerprinted again.
    """
    path = Path(path).expanduser().resolve()
    stat = path.stat()
    return _fingerprint(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _fingerprint(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(_FINGERPRINT_BYTES))
        if size > 2 * _FINGERPRINT_BYTES:
            handle.seek(-_FINGERPRINT_BYTES, os.SEEK_END)
            digest.update(handle.read())
    return digest.hexdigest()[:32]


def embedding_key(image: np.ndarray, model: str, checkpoint: str, variant: str = "") -> str:
    """The cache key: hash of (image content, model name, checkpoint identity, variant)."""
    parts = f"v{_FORMAT_VERSION}|{image_digest(image)}|{model}|{checkpoint}|{variant}"
    return hashlib.sha256(parts.encode()).hexdigest()[:40]


class EmbeddingCache:
    """Memory LRU plus on-disk store of :class:`Embedding` objects, by key.

    Args:
        directory: where embedding files go; ``None`` uses :func:`embedding_dir` (resolved at use, so
            tests may change ``$SAMRS_HOME``); ``False`` disables the disk store.
        memory_items: how many embeddings to keep in memory (SAM ViT: 4 MiB each).
    """

    def __init__(self, directory: Path | str | None | bool = None, memory_items: int = 8):
        self._directory = directory
        self.memory_items = int(memory_items)
        self._memory: OrderedDict[str, Embedding] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = {"computed": 0, "memory": 0, "disk": 0}
        self._disk_warned = False

    @property
    def directory(self) -> Path | None:
        if self._directory is False:
            return None
        if self._directory is None or self._directory is True:
            return embedding_dir()
        return Path(self._directory).expanduser()

    def path_for(self, key: str) -> Path | None:
        directory = self.directory
        return None if directory is None else directory / key[:2] / f"{key}.pt"

    # ---- lookup --------------------------------------------------------------------------------
    def get(self, key: str, device=None, expected: dict | None = None, check=None) -> Embedding | None:
        """The cached embedding for ``key`` (memory first, then disk), or ``None``.

        Args:
            key: from :func:`embedding_key`.
            device: move the features there.
            expected: what a file on disk must hold to be used: any of ``features_shape`` (tuple),
                ``input_size`` and ``original_size`` ((h, w)). Features must in any case be a finite
                floating-point (1, C, h, w) tensor. A file that does not match (a hostile or broken
                cache folder, another format) counts as missing: the caller encodes again and the
                file is replaced.
            check: optional ``(Embedding) -> bool`` for backend-specific details (``extra``).
        """
        with self._lock:
            hit = self._memory.get(key)
            if hit is not None:
                self._memory.move_to_end(key)
                self.stats["memory"] += 1
                return _moved(hit, device, "memory")
        loaded = self._load(key)
        if loaded is None or not _matches(loaded, expected, check):
            return None
        self._remember(key, loaded)
        self._count("disk")
        return _moved(loaded, device, "disk")

    def get_or_compute(self, key: str, compute: Callable[[], Embedding], device=None, persist: bool = True,
                       expected: dict | None = None, check=None):
        """Return the cached embedding or ``compute()`` it, then store it (memory, and disk if ``persist``).

        ``expected`` / ``check``: what a file on disk must hold to be used (see :meth:`get`).
        """
        start = time.perf_counter()
        hit = self.get(key, device=device, expected=expected, check=check)
        if hit is not None:
            hit.seconds = time.perf_counter() - start
            return hit
        embedding = compute()
        embedding.source = "computed"
        embedding.seconds = time.perf_counter() - start
        self._count("computed")
        self._remember(key, embedding)
        if persist:
            self._save(key, embedding)
        return embedding

    def clear_memory(self) -> None:
        """Forget the in-memory embeddings (the disk store stays)."""
        with self._lock:
            self._memory.clear()

    def __contains__(self, key: str) -> bool:
        with self._lock:
            if key in self._memory:
                return True
        path = self.path_for(key)
        return path is not None and path.is_file()

    # ---- storage -------------------------------------------------------------------------------
    def _count(self, source: str) -> None:
        with self._lock:
            self.stats[source] += 1

    def _remember(self, key: str, embedding: Embedding) -> None:
        if self.memory_items <= 0:
            return
        with self._lock:
            self._memory[key] = embedding
            self._memory.move_to_end(key)
            while len(self._memory) > self.memory_items:
                self._memory.popitem(last=False)

    def _save(self, key: str, embedding: Embedding) -> None:
        path = self.path_for(key)
        if path is None:
            return
        payload = {
            "features": embedding.features.detach().to("cpu").contiguous(),
            "input_size": list(embedding.input_size),
            "original_size": list(embedding.original_size),
            "extra": dict(embedding.extra),
            "format": _FORMAT_VERSION,
        }
        try:
            with atomic_output(path) as tmp:  # readers never see half a file; no temp file is left
                import torch  # imported when needed: the command line and batch planning stay light

                torch.save(payload, tmp)
        except (OSError, RuntimeError) as error:  # torch.save raises RuntimeError on a full disk
            self._warn_disk_failure(path.parent, error)

    def _warn_disk_failure(self, folder: Path, error: Exception) -> None:
        """A read-only or full disk only costs the speed-up, never the result: say so once."""
        with self._lock:
            if self._disk_warned:
                return
            self._disk_warned = True
        reason = one_line(error, with_type=False)
        warnings.warn(
            f"embedding cache: cannot write to {folder} ({reason}); continuing without the disk copy",
            RuntimeWarning,
            stacklevel=4,
        )

    def _load(self, key: str) -> Embedding | None:
        path = self.path_for(key)
        if path is None or not path.is_file():
            return None
        try:
            import torch

            payload = torch.load(path, map_location="cpu", weights_only=True)
            features = payload["features"]
            if not (isinstance(features, torch.Tensor) and features.ndim == 4 and features.shape[0] == 1
                    and features.is_floating_point() and bool(torch.isfinite(features).all())):
                return None
            sizes = [tuple(int(v) for v in payload[name]) for name in ("input_size", "original_size")]
            if any(len(size) != 2 or min(size) < 1 for size in sizes):
                return None
            return Embedding(features=features, input_size=sizes[0], original_size=sizes[1], source="disk",
                             extra=dict(payload.get("extra", {})))
        except Exception:  # noqa: BLE001 - a corrupt or foreign cache file is re-encoded, not fatal
            return None


def _matches(embedding: Embedding, expected: dict | None, check) -> bool:
    """Whether a loaded embedding has what the caller expects (shape, sizes, backend details)."""
    for name, want in (expected or {}).items():
        have = tuple(embedding.features.shape) if name == "features_shape" else getattr(embedding, name)
        if tuple(have) != tuple(int(v) for v in want):
            return False
    try:
        return check is None or bool(check(embedding))
    except Exception:  # noqa: BLE001 - a check that cannot even run means the file is not usable
        return False


def _moved(embedding: Embedding, device, source: str) -> Embedding:
    features = embedding.features if device is None else embedding.features.to(device)
    return Embedding(features, embedding.input_size, embedding.original_size, source, 0.0, dict(embedding.extra))


_default: EmbeddingCache | None = None
_default_lock = threading.Lock()


def default_cache() -> EmbeddingCache:
    """The process-wide cache shared by all models (memory LRU + ``embedding_dir()`` on disk)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = EmbeddingCache()
        return _default


def resolve_cache(cache) -> EmbeddingCache | None:
    """The ``embedding_cache=`` build option -> the cache a model uses.

    Args:
        cache: ``None`` or ``True``: the shared :func:`default_cache`; ``False``: no caching
            (returns ``None``); an :class:`EmbeddingCache`: that cache.

    Raises:
        TypeError: anything else.
    """
    if cache is None or cache is True:
        return default_cache()
    if cache is False:
        return None
    if isinstance(cache, EmbeddingCache):
        return cache
    raise TypeError(f"embedding_cache must be None, True, False or an EmbeddingCache, got {type(cache).__name__}")
