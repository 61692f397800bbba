"""Model weights: the registry of official checkpoints, the cache, verified downloads, smoke markers.

Where the files live
    ``cache_dir()``: ``$SAMRS_CACHE_DIR`` when set, else ``~/.cache/sam-rs``. Each checkpoint is stored
    flat under its official file name (``sam_vit_b_01ec64.pth``, ``FastSAM-s.pt``...), so a folder
    filled by ``python -m helpers prefetch --dest DIR`` is used as-is with ``SAMRS_CACHE_DIR=DIR``.

How a download works (:func:`ensure_weights`)
    The file is streamed into a hidden temporary file in the same folder, its size and hashes are
    checked, and only then is it renamed to its final name (``os.replace`` is atomic on one file
    system). A killed, interrupted or corrupt download therefore never leaves a file under the final
    name. Without network the call fails with one line naming the URL and the exact path where the
    file can be placed by hand. ``$SAMRS_WEIGHTS_MIRROR`` (a base URL, e.g. a laptop in the room
    serving a prefetched folder with ``python -m http.server``) replaces the official host; the
    file is verified against the same registry hashes.

Security
    SAM, MobileSAM and SAM 2 checkpoints are plain state dicts and the backends load them with
    ``torch.load(..., weights_only=True)``. Ultralytics ``.pt`` files (FastSAM) are full pickles that
    can run code when loaded: backends load them only from a path returned by :func:`ensure_weights`
    (verified against the registry hashes) or from a path the user passed explicitly
    (``load_model(name, weights=PATH)``: the user vouches for that file). :func:`is_verified` tells
    which case a path is.

Integrity data
    No project publishes sha256 sums for these checkpoints. The sha256 values below are independent
    records of the official files, each cited in a comment, and cross-checked where two or more
    unrelated projects agree. The hex suffix in the SAM file names (``01ec64``...) is the start of the
    file's **md5**, not of its sha256 (so it is not the torch-hub sha256-prefix convention); the full
    md5 is recorded and verified too. Every entry has an exact size in bytes.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import pickletools
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_output

SMOKE_KEY = "sam_rs_smoke"
CACHE_ENV = "SAMRS_CACHE_DIR"
MIRROR_ENV = "SAMRS_WEIGHTS_MIRROR"
DOWNLOAD_TIMEOUT_S = 20.0  # per socket operation (connect, each read): fail fast in an offline room
CHUNK_BYTES = 1 << 20
STALE_PART_AGE_S = 3600.0  # leftovers of killed downloads older than this are removed
_PART_SUFFIX = ".part"
_STAMP_SUFFIX = ".verified"
_USER_AGENT = "sam-rs/0.1 (+https://github.com/; python-urllib)"


class WeightsUnavailableError(RuntimeError):
    """The checkpoint is not cached and cannot be downloaded (offline, HTTP error, bad checksum)."""


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    Attributes:
        name: registry name.
        family: ``"sam"``, ``"mobile_sam"``, ``"sam2"``, ``"fastsam"`` or ``"conventional"``.
        arch: architecture key inside the family: segment_anything registry key (``"vit_b"``),
            ``"vit_t"`` (MobileSAM), FastSAM size (``"s"``/``"x"``), SAM 2 hydra config path
            (``"configs/sam2.1/sam2.1_hiera_t.yaml"``) or ``"skimage"``.
        url: official download URL (``None`` for models without weights).
        filename: file name in the cache (the official one).
        size: exact size in bytes (``None`` if unknown).
        sha256: full sha256 of the official file, when one is recorded (source in ``source``).
        sha256_prefix: hash prefix embedded in the file name (torch-hub convention), when that is all.
        md5: full md5 of the official file, when recorded (SAM file names embed its first 6 digits).
        source: where the integrity data comes from.
        description: one line for tables.
    """

    name: str
    family: str
    arch: str
    url: str | None = None
    filename: str | None = None
    size: int | None = None
    sha256: str | None = None
    sha256_prefix: str | None = None
    md5: str | None = None
    source: str = ""
    description: str = ""

    @property
    def has_weights(self) -> bool:
        return self.url is not None

    def integrity(self) -> str:
        """Short text for tables: the strongest check that is applied to this file."""
        if self.sha256:
            return f"sha256 {self.sha256[:12]}..." + (" + md5" if self.md5 else "")
        if self.sha256_prefix:
            return f"sha256 prefix {self.sha256_prefix}"
        if self.size:
            return "size only"
        return "-" if not self.has_weights else "none"


REGISTRY: dict[str, ModelSpec] = {}


def _register(spec: ModelSpec) -> None:
    REGISTRY[spec.name] = spec


_SAM = "https://dl.fbaipublicfiles.com/segment_anything"
_SAM21 = "https://dl.fbaipublicfiles.com/segment_anything_2/092824"
_ULTRA = "https://github.com/ultralytics/assets/releases/download/v8.4.0"
_MOBILE = "https://github.com/ChaoningZhang/MobileSAM/raw/master/weights"

# Sources of the integrity data (URLs from the official READMEs / download scripts):
# [micro-sam]  computational-cell-analytics/micro-sam, micro_sam/util.py (pooch registry: SAM vit_h/l/b and
#              MobileSAM "vit_t" sha256) and micro_sam/v2/util.py (HASHES["sam2.1"]: the four SAM 2.1 sha256).
#              The same sha256 values are pinned, with the same byte sizes, by many unrelated projects
#              found with the search tool (e.g. Docker/setup scripts that run `sha256sum -c` on downloads).
# [md5]        Sanster/IOPaint, iopaint/plugins/segment_anything.py (SEGMENT_ANYTHING_MODELS md5); the first
#              six digits equal the suffix Meta put in each file name.
# [sizes]      SAM: wget "Length: 375042383" log and several manifests listing 375042383 / 1249524607 /
#              2564550879; SAM 2.1: manifests listing 156008466 / 184416285 / 323606802 / 898083611.
# [fastsam]    Manifests pinning FastSAM-s.pt 23,851,578 B sha256 c9f78716... for the ultralytics/assets v8.4.0
#              release asset (also the v8.2.0/v8.3.0 assets, same bytes); FastSAM-x.pt 144,972,346 B sha256
#              752cadc2... is recorded for the v8.2.0 asset and the v8.4.0 asset has the same size (recorded by
#              another project); ultralytics 8.4 downloads from release v8.4.0 (utils/downloads.py).
# [mobilesam]  ChaoningZhang/MobileSAM weights/mobile_sam.pt: 40,728,226 B, sha256 6dbb9052... ([micro-sam] vit_t and
#              projects pinning commit f706ad9 of that repository).
# SAM 2.1 URLs: facebookresearch/sam2 checkpoints/download_ckpts.sh and README (SAM 2.1, released 2024-09-29).
# Meta, Ultralytics and MobileSAM publish no checksums themselves: if an upstream file is ever replaced,
# the download fails verification (one line) instead of loading unknown bytes.
# fmt: off
_register(ModelSpec("sam_vit_h",      "sam",          "vit_h", f"{_SAM}/sam_vit_h_4b8939.pth",      "sam_vit_h_4b8939.pth",      2564550879, sha256="a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e", md5="4b8939a88964f0f4ff5f5b2642c598a6", source="[micro-sam] sha256, [md5], [sizes]", description="SAM ViT-H (636M params), best quality, slowest"))  # noqa: E501
_register(ModelSpec("sam_vit_l",      "sam",          "vit_l", f"{_SAM}/sam_vit_l_0b3195.pth",      "sam_vit_l_0b3195.pth",      1249524607, sha256="3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622", md5="0b3195507c641ddb6910d2bb5adee89c", source="[micro-sam] sha256, [md5], [sizes]", description="SAM ViT-L (308M params)"))  # noqa: E501
_register(ModelSpec("sam_vit_b",      "sam",          "vit_b", f"{_SAM}/sam_vit_b_01ec64.pth",      "sam_vit_b_01ec64.pth",      375042383,  sha256="ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912", md5="01ec64d29a2fca3f0661936605ae66f8", source="[micro-sam] sha256, [md5], [sizes]", description="SAM ViT-B (91M params), the CPU-friendly SAM"))  # noqa: E501
_register(ModelSpec("fastsam_x",      "fastsam",      "x",     f"{_ULTRA}/FastSAM-x.pt",            "FastSAM-x.pt",              144972346,  sha256="752cadc2828edb1cd4bc4f9eb587100631af06ea2108f4c9ed56df4755701e76", source="[fastsam]", description="FastSAM-x (YOLOv8x-seg, 68M params), ultralytics pickle"))  # noqa: E501
_register(ModelSpec("fastsam_s",      "fastsam",      "s",     f"{_ULTRA}/FastSAM-s.pt",            "FastSAM-s.pt",              23851578,   sha256="c9f78716a81c7aff0d608ccc73e1b82ab3aaad86005049f6a92106a0be6d0844", source="[fastsam]", description="FastSAM-s (YOLOv8s-seg, 12M params), ultralytics pickle"))  # noqa: E501
_register(ModelSpec("mobile_sam",     "mobile_sam",   "vit_t", f"{_MOBILE}/mobile_sam.pt",          "mobile_sam.pt",             40728226,   sha256="6dbb90523a35330fedd7f1d3dfc66f995213d81b29a5ca8108dbcdd4e37d6c2f", source="[mobilesam], [micro-sam]", description="MobileSAM (TinyViT encoder, 10M params) + SAM decoder"))  # noqa: E501
_register(ModelSpec("sam2.1_hiera_t", "sam2",         "configs/sam2.1/sam2.1_hiera_t.yaml",  f"{_SAM21}/sam2.1_hiera_tiny.pt",      "sam2.1_hiera_tiny.pt",      156008466, sha256="7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69", source="[micro-sam] v2, [sizes]", description="SAM 2.1 Hiera-T (39M params)"))  # noqa: E501
_register(ModelSpec("sam2.1_hiera_s", "sam2",         "configs/sam2.1/sam2.1_hiera_s.yaml",  f"{_SAM21}/sam2.1_hiera_small.pt",     "sam2.1_hiera_small.pt",     184416285, sha256="6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38", source="[micro-sam] v2, [sizes]", description="SAM 2.1 Hiera-S (46M params)"))  # noqa: E501
_register(ModelSpec("sam2.1_hiera_b+", "sam2",        "configs/sam2.1/sam2.1_hiera_b+.yaml", f"{_SAM21}/sam2.1_hiera_base_plus.pt", "sam2.1_hiera_base_plus.pt", 323606802, sha256="a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5", source="[micro-sam] v2, [sizes]", description="SAM 2.1 Hiera-B+ (81M params)"))  # noqa: E501
_register(ModelSpec("sam2.1_hiera_l", "sam2",         "configs/sam2.1/sam2.1_hiera_l.yaml",  f"{_SAM21}/sam2.1_hiera_large.pt",     "sam2.1_hiera_large.pt",     898083611, sha256="2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318", source="[micro-sam] v2, [sizes]", description="SAM 2.1 Hiera-L (224M params)"))  # noqa: E501
_register(ModelSpec("conventional",   "conventional", "skimage", description="scikit-image baseline (Felzenszwalb / SLIC / watershed), no weights"))  # noqa: E501
# fmt: on


def get_spec(name: str) -> ModelSpec:
    """Registry entry for ``name``; ValueError listing the valid names otherwise."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(REGISTRY)}") from None


def cache_dir() -> Path:
    """Where downloaded weights live: ``$SAMRS_CACHE_DIR`` or ``~/.cache/sam-rs``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "sam-rs").expanduser()


def home_dir() -> Path:
    """Where sam-rs keeps its own working files (embedding cache, smoke weights, notebook outputs):
    ``$SAMRS_HOME`` or ``~/.cache/sam-rs``. Separate from :func:`cache_dir`, which may be a read-only
    prefetched folder shared by a whole room."""
    return Path(os.environ.get("SAMRS_HOME") or Path.home() / ".cache" / "sam-rs").expanduser()


def weights_path(name: str, dest=None) -> Path:
    """Path where ``name``'s checkpoint is (or would be) stored: ``dest`` or :func:`cache_dir`."""
    spec = _spec_with_weights(name)
    return Path(dest or cache_dir()).expanduser() / spec.filename


def download_url(spec: ModelSpec) -> str:
    """The official URL, or ``$SAMRS_WEIGHTS_MIRROR/<filename>`` when a mirror is set."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    return f"{mirror.rstrip('/')}/{spec.filename}" if mirror else spec.url


def cache_status(name: str, dest=None) -> str:
    """``"verified"``, ``"cached"`` (right size, hashes not checked yet), ``"bad size"`` or ``"no"``.

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
    when the file's size or modification time changes). A path the user passed explicitly is not
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
    spec = _spec_with_weights(name)
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
        raise WeightsUnavailableError(_unavailable(spec, url, target, _one_line(reason))) from None
    return target


def copy_weights(name: str, source, dest, progress: bool = True) -> Path:
    """Copy a local checkpoint into ``dest`` the same way a download is installed (verify, then rename).

    Used by ``prefetch`` to fill a workshop folder from an existing cache without the network.
    """
    spec = _spec_with_weights(name)
    target = weights_path(name, dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    source = Path(source)
    with open(source, "rb") as stream:
        _install_stream(spec, stream, target, source.stat().st_size, progress, desc=f"copy {spec.filename}")
    return target


# ---- download internals ------------------------------------------------------------------------------
def _spec_with_weights(name: str) -> ModelSpec:
    spec = get_spec(name)
    if not spec.has_weights:
        raise ValueError(f"{name} has no weights")
    return spec


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
        with open(tmp, "xb") as out, _progress_bar(total, desc, progress) as bar:
            while chunk := stream.read(CHUNK_BYTES):
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
        _stamp_path(path).write_text(_stamp_text(spec, path))
    except OSError:  # read-only folder (e.g. a shared USB stick): just verify again next time
        pass


def _stamp_valid(spec: ModelSpec, path: Path) -> bool:
    if not (spec.sha256 or spec.sha256_prefix):
        return False  # nothing to remember beyond the size
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


def _one_line(reason) -> str:
    if isinstance(reason, TimeoutError):  # socket.timeout is TimeoutError since Python 3.10
        return f"no answer within {DOWNLOAD_TIMEOUT_S:g} s"
    return " ".join(str(reason).split()) or type(reason).__name__


def _unavailable(spec: ModelSpec, url: str, target: Path, reason: str) -> str:
    return (
        f"cannot download {spec.name} weights from {url} ({reason}); download that file by hand "
        f"and place it at {target}"
    )


# ---- smoke markers ---------------------------------------------------------------------------------
def attach_smoke_marker(checkpoint, name: str):
    """Tag a checkpoint object as untrained before ``torch.save``.

    A plain state dict (SAM ``.pth``) keeps the tag in its ``_metadata`` (which ``load_state_dict``
    ignores for unknown keys, so the official loaders still accept the file); a dict checkpoint
    (ultralytics, SAM 2) gets a top-level key that their loaders ignore.
    """
    marker = {"name": name, "note": "untrained weights — masks are meaningless"}
    if isinstance(checkpoint, OrderedDict) and all(hasattr(v, "shape") for v in checkpoint.values()):
        meta = getattr(checkpoint, "_metadata", None)
        if meta is None:
            meta = OrderedDict()
            checkpoint._metadata = meta
        meta[SMOKE_KEY] = marker
    elif isinstance(checkpoint, dict):
        checkpoint[SMOKE_KEY] = marker
    else:
        raise TypeError(f"cannot tag a {type(checkpoint).__name__} checkpoint")
    return checkpoint


def read_smoke_marker(path) -> str | None:
    """Return the model name recorded in a smoke checkpoint, or ``None`` for a real one.

    Reads only the pickle index inside the torch zip archive (tensor data stays on disk) and never
    unpickles it: :mod:`pickletools` walks the opcodes without executing any, so it is cheap and safe
    on untrusted files. Returns ``"unknown"`` when the marker is there but its name cannot be read.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            pkl = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
            if pkl is None:
                return None
            data = archive.read(pkl)
    except (zipfile.BadZipFile, OSError):
        return None
    if SMOKE_KEY.encode() not in data:
        return None
    return _marker_name(data) or "unknown"


def _marker_name(data: bytes) -> str | None:
    """The string that follows ``SMOKE_KEY`` ... ``"name"`` in the pickle's opcode stream.

    Pickle writes a repeated string once and later refers to it through its memo (``BINGET``...), so
    the memo is followed to see every string in the order the unpickler would; nothing is executed.
    """
    strings, memo, last = [], {}, None
    try:
        for opcode, arg, _ in pickletools.genops(data):
            name = opcode.name
            if "UNICODE" in name and isinstance(arg, str):
                last = arg
                strings.append(arg)
            elif name == "MEMOIZE":
                memo[len(memo)] = last
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = last
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                last = memo.get(arg)
                if isinstance(last, str):
                    strings.append(last)
            else:
                last = None
    except Exception:  # malformed or truncated pickle: the marker is there, the name is not readable
        return None
    try:
        start = strings.index(SMOKE_KEY)
        return strings[strings.index("name", start + 1) + 1]
    except (ValueError, IndexError):
        return None


# ---- command line ------------------------------------------------------------------------------------
def register_cli(subparsers) -> None:
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


def _human_size(size: int | None) -> str:
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
            "size": _human_size(spec.size),
            "integrity": spec.integrity(),
            "cached": cache_status(spec.name),
            "url": spec.url or "-",
        }
        for spec in REGISTRY.values()
    ]


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
        _spec_with_weights(name)  # bad names fail before anything is written
    dest = Path(args.dest).expanduser() if args.dest else cache_dir()
    total = sum(get_spec(name).size or 0 for name in names)
    print(f"prefetch: {len(names)} model(s), {_human_size(total)} of weights, into {dest}")
    dest.mkdir(parents=True, exist_ok=True)
    failures = 0 if args.no_scenes else _prefetch_scenes(dest)
    for name in names:
        try:
            path = _prefetch_one(name, dest)
            print(f"ok    {name}: {path}")
        except (WeightsUnavailableError, OSError) as exc:
            failures += 1
            print(f"error: {_one_line(exc)}", file=sys.stderr)
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
        from .data import SCENES_SUBDIR, copy_sample_scenes, list_sample_scenes

        scenes = list_sample_scenes()
    except Exception as exc:  # data helper missing or broken: say so in one line, keep going with weights
        print(f"error: cannot list the sample scenes ({_one_line(exc)})", file=sys.stderr)
        return 1
    failures = 0
    for scene in scenes:  # one by one: a broken scene is reported and the others are still copied
        try:
            (target,) = copy_sample_scenes(dest / SCENES_SUBDIR, names=[scene])
            print(f"ok    scene {scene}: {target}")
        except Exception as exc:
            failures += 1
            print(f"error: cannot copy sample scene {scene} ({_one_line(exc)})", file=sys.stderr)
    return failures


def _cli_smoke_weights(args) -> int:
    _spec_with_weights(args.name)  # a typo fails in one line before torch is imported
    from .models import write_smoke_weights

    path = write_smoke_weights(args.name, args.path, seed=args.seed)
    print(f"wrote {path} ({_human_size(path.stat().st_size)}): untrained weights of {args.name}, masks are meaningless")
    return 0
