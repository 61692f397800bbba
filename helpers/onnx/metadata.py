"""What an exported model says about itself: one ``manifest.json`` per folder, the same facts in each file.

An export folder (written by ``python -m helpers export-onnx`` or on first use by
``load_model(name, runtime="onnx")``) holds one ``.onnx`` file per graph and ``manifest.json``::

    {"format": 1, "model": "sam_vit_b", "checkpoint_sha256": "ec2df627...", "checkpoint_identity": "...",
     "input_size": 1024, "opset": 17, "smoke": false, "exporter": "torch.onnx (dynamo=False), torch 2.x",
     "files": {"encoder": "encoder.onnx", "decoder": "decoder.onnx", "decoder_int8": "decoder_int8.onnx"},
     "extra": {...}}

Every ``.onnx`` file also carries these facts as ONNX metadata properties (``sam_rs.model``,
``sam_rs.checkpoint_sha256``, ``sam_rs.input_size``, ``sam_rs.opset``, ``sam_rs.smoke``,
``sam_rs.part``...), so a single file copied elsewhere still names its source checkpoint and says whether
its weights are untrained (Netron and ``onnx.load(path).metadata_props`` show them).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..atomic import atomic_output
from ..errors import UserInputError

__all__ = ["FORMAT_VERSION", "MANIFEST", "PROP_PREFIX", "ExportInfo", "file_sha256", "read_manifest",
           "write_manifest", "stamp_onnx", "read_onnx_props", "source_facts", "checkpoint_sha256"]

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PROP_PREFIX = "sam_rs."
_CHUNK = 8 * 1024 * 1024


@dataclass
class ExportInfo:
    """The facts of one export folder (``manifest.json``).

    Attributes:
        model: registry name (``"sam_vit_b"``, ``"mobile_sam"``, ``"sam2.1_hiera_t"``, ``"fastsam_s"``).
        checkpoint_sha256: full sha256 (hex) of the PyTorch checkpoint the graphs were exported from.
        checkpoint_identity: the embedding cache's fingerprint of that checkpoint
            (:func:`helpers.embedding_cache.checkpoint_identity`), so ONNX and PyTorch models of the same
            weights share cached image embeddings.
        input_size: the network's square input size in pixels (SAM: 1024; FastSAM: the export ``imgsz``).
        opset: ONNX opset of the graphs.
        smoke: ``True`` when the source checkpoint holds untrained smoke weights (masks are meaningless).
        exporter: how the graphs were made (``"torch.onnx (dynamo=False), torch 2.x"``, ``"ultralytics ..."``).
        files: graph part -> file name in the folder (``"encoder"``, ``"decoder"``, ``"decoder_int8"``,
            ``"network"``).
        extra: family details the runtime needs (e.g. SAM's pixel mean/std, mask threshold).
    """

    model: str
    checkpoint_sha256: str
    checkpoint_identity: str
    input_size: int
    opset: int
    smoke: bool
    exporter: str
    files: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    format: int = FORMAT_VERSION

    def path(self, folder: Path, part: str) -> Path:
        """The file of graph ``part`` in ``folder``; ``UserInputError`` when the export lacks it."""
        if part not in self.files:
            raise UserInputError(
                f"{Path(folder).name}: this {self.model} export has no {part} graph "
                f"(it has: {', '.join(self.files) or 'none'}); export it again with python -m helpers export-onnx"
            )
        return Path(folder) / self.files[part]

    def props(self, part: str) -> dict[str, str]:
        """The ONNX metadata properties of graph ``part`` (every value a string, as ONNX requires)."""
        values = {
            "model": self.model,
            "part": part,
            "checkpoint_sha256": self.checkpoint_sha256,
            "checkpoint_identity": self.checkpoint_identity,
            "input_size": str(self.input_size),
            "opset": str(self.opset),
            "smoke": "true" if self.smoke else "false",
            "exporter": self.exporter,
            "format": str(self.format),
        }
        return {PROP_PREFIX + key: value for key, value in values.items()}


def source_facts(checkpoint) -> dict:
    """``checkpoint_sha256``, ``checkpoint_identity`` and ``smoke`` of a PyTorch checkpoint, for :class:`ExportInfo`."""
    from ..embedding_cache import checkpoint_identity
    from ..smoke import read_smoke_marker

    return {
        "checkpoint_sha256": checkpoint_sha256(checkpoint),
        "checkpoint_identity": checkpoint_identity(checkpoint),
        "smoke": read_smoke_marker(checkpoint) is not None,
    }


def checkpoint_sha256(path) -> str:
    """Full sha256 of a checkpoint, memoised per (path, size, mtime) within the process."""
    path = Path(path).expanduser().resolve()
    stat = path.stat()
    return _memo_sha256(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _memo_sha256(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def file_sha256(path) -> str:
    """Full sha256 (hex) of a file, read in 8 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder, info: ExportInfo) -> Path:
    """Write ``folder/manifest.json`` atomically; returns its path."""
    path = Path(folder) / MANIFEST
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(asdict(info), indent=2, sort_keys=True) + "\n")
    return path


def read_manifest(folder, expected_model: str | None = None) -> ExportInfo:
    """The :class:`ExportInfo` of an export folder.

    Args:
        folder: a folder written by ``export-onnx`` (or the first-use export cache).
        expected_model: the registry name the caller wants; another model's export is refused.

    Raises:
        UserInputError: no or unreadable ``manifest.json``, a newer format, another model, a missing file.
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise UserInputError(f"{folder} is not an ONNX export folder (no {MANIFEST}); write one with "
                             f"python -m helpers export-onnx NAME --out {folder}")
    try:
        data = json.loads(path.read_text())
        info = ExportInfo(**data)
    except (ValueError, TypeError) as error:
        raise UserInputError(f"{path} is not a sam-rs export manifest ({str(error).splitlines()[0]})") from None
    if int(info.format) > FORMAT_VERSION:
        raise UserInputError(f"{path} has export format {info.format}; this sam-rs reads format {FORMAT_VERSION}")
    if expected_model is not None and info.model != expected_model:
        raise UserInputError(f"{folder} holds an export of {info.model}, not {expected_model}; "
                             f"load it as {info.model}")
    for part, name in info.files.items():
        if not (folder / name).is_file():
            raise UserInputError(f"{folder}: the {part} graph {name} listed in {MANIFEST} is missing")
    return info


def stamp_onnx(path, info: ExportInfo, part: str, extra: dict | None = None) -> None:
    """Add the export's facts to an ``.onnx`` file's metadata properties (in place, atomically).

    ``extra`` adds further ``sam_rs.KEY`` properties. Existing properties of other tools (ultralytics
    writes its own) are kept; ours are replaced.
    """
    import onnx

    path = Path(path)
    model = onnx.load(str(path), load_external_data=False)
    values = info.props(part)
    values.update({PROP_PREFIX + key: str(value) for key, value in (extra or {}).items()})
    kept = [p for p in model.metadata_props if p.key not in values]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in values.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    with atomic_output(path) as tmp:
        onnx.save(model, str(tmp))


def read_onnx_props(path) -> dict[str, str]:
    """The ``sam_rs.*`` metadata properties of an ``.onnx`` file, without the prefix."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {p.key[len(PROP_PREFIX):]: p.value for p in model.metadata_props if p.key.startswith(PROP_PREFIX)}
