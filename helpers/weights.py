"""Model weights on disk: the cache, verified atomic downloads, the weights table.

Where the files live
    ``cache_dir()``: ``$SAMRS_CACHE_DIR`` when set, else ``~/.cache/sam-rs``. Each checkpoint is stored
    flat under its official file name (``sam_vit_b_01ec64.pth``, ``FastSAM-s.pt``...), so a folder
    filled by ``python -m helpers prefetch --dest DIR`` is used as-is with ``SAMRS_CACHE_DIR=DIR``.

How a download works (:func:`ensure_weights`)
    The file is streamed into a hidden temporary file in the same folder, its size and hashes are
    checked, and only then is it renamed to its final name (``os.replace`` is atomic on one file
    system). A killed, interrupted or corrupt download therefore never leaves a file under the final
    name. Without network the call fails with one line naming the URL, the exact path where the
    file can be placed by hand, and the other ways forward. ``$SAMRS_WEIGHTS_MIRROR`` (a base URL, e.g. a
    laptop in the room serving a prefetched folder with ``python -m http.server``) replaces the official
    host; the file is verified against the same registry hashes.

Security
    SAM, MobileSAM and SAM 2 checkpoints are plain state dicts and the backends load them with
    ``torch.load(..., weights_only=True)``. Ultralytics ``.pt`` files (FastSAM,
    ``ModelSpec.weights_only=False``) are full pickles that can run code when loaded. They are loaded
    unrestricted only from a path returned by :func:`ensure_weights`, which hashes such files at EVERY
    call: the ``.verified`` stamp records only public facts (registry hash, size, modification time),
    so anyone who can write to a shared cache folder could forge it, and it may spare re-hashing only
    for ``weights_only`` formats. A FastSAM file the user passes explicitly (``load_model(name,
    weights=PATH)``) is loaded with ultralytics' safe loading (``weights_only`` plus an allow-list of
    ultralytics classes), unless the caller opts out with ``safe_load=False``.

    A shared weights folder (``SAMRS_CACHE_DIR`` on a class server or USB stick) therefore needs to
    be trusted only for availability: a replaced file fails verification (one line) and is never
    loaded, but whoever can write there can delete files or make downloads fail.
"""

from __future__ import annotations

import hashlib
import http.client
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .atomic import atomic_output
from .config import CACHE_ENV, MIRROR_ENV, SMOKE_ENV, cache_dir, weights_mirror
from .errors import WeightsUnavailableError, one_line
from .registry import REGISTRY, ModelSpec, get_spec, spec_with_weights

__all__ = [
    "WeightsUnavailableError",
    "cache_status",
    "copy_weights",
    "download_url",
    "ensure_weights",
    "human_size",
    "is_verified",
    "models_table",
    "weights_path",
]

DOWNLOAD_TIMEOUT_S = 20.0  # per socket operation (connect, each read): fail fast in an offline room
CHUNK_BYTES = 1 << 20
STALE_PART_AGE_S = 3600.0  # leftovers of killed downloads older than this are removed
_PART_SUFFIX = ".part"
_STAMP_SUFFIX = ".verified"
_USER_AGENT = "sam-rs/0.1 (+https://github.com/; python-urllib)"


def weights_path(name: str, dest=None) -> Path:
    """Path where ``name``'s checkpoint is (or would be) stored: ``dest`` or :func:`cache_dir`."""
    spec = spec_with_weights(name)
    return Path(dest or cache_dir()).expanduser() / spec.filename


def download_url(spec: ModelSpec) -> str:
    """The official URL, or ``$SAMRS_WEIGHTS_MIRROR/<filename>`` when a mirror is set."""
    mirror = weights_mirror()
    return f"{mirror}/{spec.filename}" if mirror else spec.url


def cache_status(name: str, dest=None) -> str:
    """``"verified"``, ``"cached"`` (right size, hashes not checked yet, or a pickle format, hashed at
    every load), ``"bad size"`` or ``"no"``.

    Cheap (no hashing), for tables such as ``python -m helpers models``.
    """
    spec = get_spec(name)
    if not spec.has_weights:
        return "-"
    path = weights_path(name, dest)
    if not path.is_file():
        return "no"
    if not _size_matches(spec, path):
        return "bad size"
    return "verified" if _stamp_valid(spec, path) else "cached"


def is_verified(name: str, path) -> bool:
    """True when ``path`` is ``name``'s registry checkpoint and its size and hashes match the registry.

    Hashes are computed once per file and remembered in a ``.verified`` stamp next to it (invalidated
    when the file's size or modification time changes); pickle formats (``spec.weights_only`` false)
    are hashed at every call, since a stamp can be forged. A path the user passed explicitly is not
    "verified" in this sense: loading it is the user's decision.
    """
    spec = get_spec(name)
    path = Path(path)
    if not spec.has_weights or not path.is_file() or not _size_matches(spec, path):
        return False
    return _stamp_valid(spec, path) or _verify_in_place(spec, path, progress=False)


def ensure_weights(name: str, dest=None, progress: bool = True) -> Path:
    """Path of the verified checkpoint for ``name``, downloading it first if needed.

    Args:
        name: registry name with weights (see ``python -m helpers models``).
        dest: folder to keep the file in; ``None`` means :func:`cache_dir`.
        progress: show a tqdm progress bar while downloading or hashing.

    Returns:
        ``dest/<official file name>``, verified against the registry size and hashes.

    Raises:
        ValueError: unknown name, or a model without weights (``conventional``).
        WeightsUnavailableError: download impossible or corrupt; one line naming the URL and the
            exact path where the file may be placed by hand.
    """
    spec = spec_with_weights(name)
    target = weights_path(name, dest)
    if target.is_file():
        if _size_matches(spec, target) and (
            _stamp_valid(spec, target) or _verify_in_place(spec, target, progress)
        ):
            return target
        # A wrong-size or wrong-hash file is never trusted (it may be a truncated copy): replace it.
        print(f"sam-rs: {target} does not match the registry; downloading it again", file=sys.stderr)
        _remove(target, _stamp_path(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(target)
    url = download_url(spec)
    try:
        with urllib.request.urlopen(_request(url), timeout=DOWNLOAD_TIMEOUT_S) as response:
            total = _content_length(response) or spec.size
            _install_stream(spec, response, target, total, progress, desc=f"download {spec.filename}")
    except WeightsUnavailableError as exc:
        raise WeightsUnavailableError(_unavailable(spec, url, target, str(exc))) from None
    except urllib.error.HTTPError as exc:
        raise WeightsUnavailableError(_unavailable(spec, url, target, f"HTTP {exc.code} {exc.reason}")) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise WeightsUnavailableError(_unavailable(spec, url, target, _reason_text(reason))) from None
    return target


def copy_weights(name: str, source, dest, progress: bool = True) -> Path:
    """Copy a local checkpoint into ``dest`` the same way a download is installed (verify, then rename).

    Used by ``prefetch`` to fill a workshop folder from an existing cache without the network.
    """
    spec = spec_with_weights(name)
    target = weights_path(name, dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    source = Path(source)
    with open(source, "rb") as stream:
        _install_stream(spec, stream, target, source.stat().st_size, progress, desc=f"copy {spec.filename}")
    return target


# ---- download internals ------------------------------------------------------------------------------
def _request(url: str) -> urllib.request.Request:
    return urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def _progress_bar(total: int | None, desc: str, enabled: bool):
    """tqdm bar; ``disable=None`` lets tqdm hide it when stderr is not a terminal (CI logs)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=None if enabled else True)


def _new_hashers(spec: ModelSpec) -> dict:
    hashers = {"sha256": hashlib.sha256()}
    if spec.md5:
        hashers["md5"] = hashlib.md5(usedforsecurity=False)
    return hashers


def _install_stream(spec: ModelSpec, stream, target: Path, total, progress: bool, desc: str) -> None:
    """Stream ``stream`` into a temp file beside ``target``, verify it, then rename it into place.

    On any failure, including KeyboardInterrupt, the temp file is deleted and ``target`` is untouched.
    """
    with atomic_output(target, suffix=_part_suffix(target), fsync=True) as tmp:
        hashers = _new_hashers(spec)
        received = 0
        # plain open (not mkstemp's 0600): the file gets the umask's permissions, for shared class folders
        # Never more than the registry size (plus one byte to notice): a mirror streaming without a
        # Content-Length must not fill the disk.
        limit = spec.size if spec.size is not None else total
        with open(tmp, "xb") as out, _progress_bar(total, desc, progress) as bar:
            while chunk := stream.read(CHUNK_BYTES if limit is None else max(1, min(CHUNK_BYTES, limit + 1 - received))):
                if limit is not None and received + len(chunk) > limit:
                    raise WeightsUnavailableError(f"the server sent more than the registry size ({limit} bytes)")
                out.write(chunk)
                for hasher in hashers.values():
                    hasher.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        if total is not None and received != total:
            raise WeightsUnavailableError(f"transfer stopped after {received} of {total} bytes")
        if spec.size is not None and received != spec.size:
            raise WeightsUnavailableError(f"got {received} bytes, the registry expects {spec.size}")
        _check_hashes(spec, {k: h.hexdigest() for k, h in hashers.items()}, target)
    _write_stamp(spec, target)


def _part_suffix(target: Path) -> str:
    """Temp files are ``.<stem>.tmp-<random><ext>.part``: hidden, and never taken for weights."""
    return f"{target.suffix}{_PART_SUFFIX}"


def _check_hashes(spec: ModelSpec, digests: dict, path: Path) -> None:
    sha = digests["sha256"]
    if spec.sha256 and sha != spec.sha256:
        raise WeightsUnavailableError(f"sha256 mismatch for {path.name}: got {sha}, expected {spec.sha256}")
    if spec.sha256_prefix and not sha.startswith(spec.sha256_prefix):
        raise WeightsUnavailableError(
            f"sha256 mismatch for {path.name}: got {sha[:12]}..., expected prefix {spec.sha256_prefix}"
        )
    if spec.md5 and digests.get("md5") != spec.md5:
        raise WeightsUnavailableError(f"md5 mismatch for {path.name}: got {digests.get('md5')}, expected {spec.md5}")


def _hash_file(path: Path, spec: ModelSpec, progress: bool = False) -> dict:
    hashers = _new_hashers(spec)
    with open(path, "rb") as stream, _progress_bar(path.stat().st_size, f"verify {path.name}", progress) as bar:
        while chunk := stream.read(CHUNK_BYTES):
            for hasher in hashers.values():
                hasher.update(chunk)
            bar.update(len(chunk))
    return {k: h.hexdigest() for k, h in hashers.items()}


def _verify_in_place(spec: ModelSpec, path: Path, progress: bool) -> bool:
    """Hash a file that was placed by hand (no stamp yet); stamp it when it matches."""
    try:
        _check_hashes(spec, _hash_file(path, spec, progress), path)
    except WeightsUnavailableError:
        return False
    _write_stamp(spec, path)
    return True


def _size_matches(spec: ModelSpec, path: Path) -> bool:
    return spec.size is None or path.stat().st_size == spec.size


# The stamp records what was verified (hash, size, mtime) so later loads need not re-hash gigabytes.
def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + _STAMP_SUFFIX)


def _stamp_text(spec: ModelSpec, path: Path) -> str:
    stat = path.stat()
    return f"{spec.sha256 or spec.sha256_prefix or ''} {stat.st_size} {stat.st_mtime_ns}\n"


def _write_stamp(spec: ModelSpec, path: Path) -> None:
    try:
        with atomic_output(_stamp_path(path)) as tmp:
            tmp.write_text(_stamp_text(spec, path))
    except OSError:  # read-only folder (e.g. a shared USB stick): just verify again next time
        pass


def _stamp_valid(spec: ModelSpec, path: Path) -> bool:
    if not (spec.sha256 or spec.sha256_prefix):
        return False  # nothing to remember beyond the size
    if not spec.weights_only:
        return False  # a pickle runs code when loaded: hash it every time, never trust a (forgeable) stamp
    try:
        return _stamp_path(path).read_text() == _stamp_text(spec, path)
    except OSError:
        return False


def _remove(*paths: Path) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _remove_stale_parts(target: Path) -> None:
    """Delete temp files that killed downloads of this file left behind (never a running one's)."""
    now = time.time()
    for part in target.parent.glob(f".{target.stem}.tmp-*{_part_suffix(target)}"):
        try:
            if now - part.stat().st_mtime > STALE_PART_AGE_S:
                part.unlink()
        except OSError:
            pass


def _reason_text(reason) -> str:
    if isinstance(reason, TimeoutError):  # socket.timeout is TimeoutError since Python 3.10
        return f"no answer within {DOWNLOAD_TIMEOUT_S:g} s"
    return one_line(reason) if isinstance(reason, BaseException) else " ".join(str(reason).split())


def _unavailable(spec: ModelSpec, url: str, target: Path, reason: str) -> str:
    """One line: what failed, and the three ways forward (by hand, a prefetched folder or mirror, smoke)."""
    return (
        f"cannot download {spec.name} weights from {url} ({reason}); download that file by hand "
        f"and place it at {target}, or use a prefetched folder ({CACHE_ENV}=DIR, filled by "
        f"'python -m helpers prefetch') or a room mirror ({MIRROR_ENV}=URL), or set {SMOKE_ENV}=1 "
        "to try the lessons with untrained weights (masks are meaningless)"
    )


def human_size(size: int | None) -> str:
    """Bytes as text for tables (``"357.7 MB"``; ``"-"`` when unknown)."""
    if size is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def models_table() -> list[dict]:
    """One row per registry entry: name, family, size, integrity, cached, url (for CLI and notebooks)."""
    return [
        {
            "name": spec.name,
            "family": spec.family,
            "size": human_size(spec.size),
            "integrity": spec.integrity(),
            "cached": cache_status(spec.name),
            "url": spec.url or "-",
        }
        for spec in REGISTRY.values()
    ]
