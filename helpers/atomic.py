"""Atomic file output: write beside the target, rename onto it only when the write succeeded.

Every file sam-rs writes (weights, smoke weights, embeddings, GeoTIFFs, vector files, PNGs) goes
through :func:`atomic_output`, so a killed or failed run never leaves a truncated file under the final
name, and later runs never load half a file.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path

#: Hidden lock file in an output folder (see :func:`output_lock`).
LOCK_NAME = ".samrs.lock"


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

    The temporary name is hidden (``.name.tmp-<pid>.<host>-XXXX.ext``, see :func:`temp_prefix`) and
    unique per call, so parallel writers of the same target never collide; it is removed on any
    failure, Ctrl-C included. Only SIGKILL / a power cut leaves it behind, and then the writer's
    process id in its name lets :func:`remove_stale_temp_files` tell it from a live writer's. The yielded path
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
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.stem), suffix=suffix, dir=path.parent)
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
            are candidates, so folders that existed before are never touched. A folder holding only
            the lock file of :func:`output_lock` counts as empty.
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
            if folder.is_dir() and {p.name for p in folder.iterdir()} <= {LOCK_NAME}:
                (folder / LOCK_NAME).unlink(missing_ok=True)  # a lock of a run that wrote nothing
                folder.rmdir()


# ---- leftovers of killed writers -------------------------------------------------------------------
def _host_tag() -> str:
    """6 hex digits naming this machine: a process id means something only on the host that made it."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


_TEMP_NAME = re.compile(r"^\..*\.tmp-(\d+)\.([0-9a-f]{6})-")


def temp_prefix(stem: str, pid: int | None = None) -> str:
    """Prefix of the hidden temporary names sam-rs writes beside ``stem``: ``.<stem>.tmp-<pid>.<host>-``.

    Args:
        stem: the final file name without its ending (characters other than letters, digits, ``_``,
            ``.`` and ``-`` become ``_``: GDAL gives some of them a meaning in paths).
        pid: the writing process (default: this one).
    """
    # Only plain characters: GDAL/pyogrio give "!", "?", ":" and the like special meanings in paths.
    plain = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)[:80]
    return f".{plain}.tmp-{os.getpid() if pid is None else int(pid)}.{_host_tag()}-"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (a process of another user counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True  # cannot tell: keep its files
    return True


def remove_stale_temp_files(folder, recursive: bool = True) -> list[Path]:
    """Delete the temporary files and folders that killed sam-rs writers left in ``folder``.

    Only names made by :func:`temp_prefix` are candidates, and only those whose writer ran on this
    machine and is no longer alive: a running writer's file, another machine's, and any file sam-rs
    did not name are never touched.

    Returns:
        The paths removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    host = _host_tag()
    walker = os.walk(folder) if recursive else [(str(folder), [], [p.name for p in folder.iterdir()])]
    for root, dirs, files in walker:
        for name in [*files, *dirs]:
            match = _TEMP_NAME.match(name)
            if not match or match.group(2) != host or process_alive(int(match.group(1))):
                continue
            path = Path(root) / name
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                    if name in dirs:
                        dirs.remove(name)
                else:
                    path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


# ---- one writer per output folder ----------------------------------------------------------------
@contextmanager
def output_lock(folder, command: str = "sam-rs"):
    """Hold ``folder/.samrs.lock`` for the block: a second run into the same folder is refused.

    The lock is an OS advisory lock (``fcntl.flock``), released by the kernel when the holder exits,
    even after SIGKILL: a killed run never leaves the folder locked. The file records the holder's
    process id and command for the message, and is removed when the block ends. On systems without
    ``fcntl`` (Windows) nothing is locked.

    Raises:
        ValueError: another process holds the folder (one line naming its process id; a leaf module,
            so not :class:`helpers.errors.UserInputError`, which the command line treats alike).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    while True:
        handle = open(path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            handle.seek(0)
            holder = handle.read().strip() or "starting"
            handle.close()
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                handle = None  # a file system without locks (some network shares): run unlocked
                break
            raise ValueError(
                f"another sam-rs run ({holder}) is writing to {folder}; wait for it to finish or choose "
                "another output folder"
            ) from None
        try:  # the holder we waited for may have removed the file: lock the file that is there now
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()
    if handle is None:
        yield
        return
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, {command}")
        handle.flush()
        yield
    finally:
        path.unlink(missing_ok=True)  # still locked: nobody can hold this file in between
        handle.close()


# ---- arguments, names and failures of output writers ---------------------------------------------
def check_path_argument(value, what: str) -> Path:
    """``Path(value)``; an empty string (an unset shell variable) would mean the current folder: refused.

    Raises:
        ValueError: ``value`` is empty or blank (one line naming ``what``).
    """
    if value is None or not str(value).strip():
        raise ValueError(f"{what} is an empty path (an unset shell variable?); name a file or folder")
    return Path(value)


def fold_path(path) -> str:
    """Comparison key of a path: case-folded, since macOS and Windows file systems ignore letter case."""
    return os.path.normcase(str(path)).casefold()


_DISK_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
_DISK_FULL_TEXTS = ("no space left", "disk is full", "disk quota exceeded", "file too large")


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the disk or quota is full, whatever library raised it
    (``OSError`` ENOSPC, GDAL "No space left on device", SQLite "database or disk is full")."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
            return True
        if any(text in str(exc).lower() for text in _DISK_FULL_TEXTS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


@contextmanager
def writing(path):
    """Report a full disk while writing ``path`` in one line (``OSError: disk full writing PATH``)."""
    try:
        yield
    except Exception as exc:
        if is_disk_full(exc):
            raise OSError(f"disk full writing {path}") from None
        raise
