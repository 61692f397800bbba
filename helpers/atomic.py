"""Atomic file output: write beside the target, rename onto it only when the write succeeded.

Every file sam-rs writes (weights, smoke weights, embeddings, GeoTIFFs, vector files, PNGs) goes
through :func:`atomic_output`, so a killed or failed run never leaves a truncated file under the final
name, and later runs never load half a file.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


class AtomicOutput:
    """The temporary path of an :func:`atomic_output` block; ``discard()`` cancels the rename."""

    def __init__(self, tmp: Path):
        self.path = tmp
        self.discarded = False

    def discard(self) -> None:
        self.discarded = True


@contextmanager
def atomic_output(path, suffix: str | None = None, fsync: bool = False):
    """Yield a temporary ``Path`` next to ``path``; rename it onto ``path`` if the block succeeds.

    Args:
        path: the final file name. Its folder is created when missing.
        suffix: extension of the temporary name (default: ``path``'s own, since GDAL/OGR drivers and
            ultralytics pick formats by extension).
        fsync: flush the file to disk before the rename (for large downloads).

    The temporary name is hidden (``.name.tmp-XXXX.ext``) and unique per call, so parallel writers of
    the same target never collide; it is removed on any failure, Ctrl-C included. The yielded path
    does not exist yet (writers such as GDAL want to create the file themselves). Use
    :func:`atomic_output_handle` to get at ``discard()``.
    """
    with atomic_output_handle(path, suffix=suffix, fsync=fsync) as handle:
        yield handle.path


@contextmanager
def atomic_output_handle(path, suffix: str | None = None, fsync: bool = False):
    """Like :func:`atomic_output` but yields an :class:`AtomicOutput` (``.path``, ``.discard()``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.tmp-", suffix=suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    handle = AtomicOutput(Path(tmp))
    try:
        yield handle
        if not handle.discarded:
            if fsync:
                with open(handle.path, "rb") as written:
                    os.fsync(written.fileno())
            os.replace(handle.path, path)
    finally:
        handle.path.unlink(missing_ok=True)


@contextmanager
def removing_new_empty_folders(outputs):
    """On exit, remove the folders that the block created for ``outputs`` and left empty.

    Writers create output folders as they go (:func:`helpers.atomic.atomic_output`); when inputs fail
    or the user presses Ctrl-C, no empty folder should be left to suggest something was written.

    Args:
        outputs: the file paths the block may write; only their missing parent folders (as of entry)
            are candidates, so folders that existed before are never touched.
    """
    missing = set()
    for path in outputs:
        for folder in Path(path).parents:
            if folder.exists():
                break
            missing.add(folder)
    try:
        yield
    finally:
        for folder in sorted(missing, key=lambda p: len(p.parts), reverse=True):  # deepest first
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
