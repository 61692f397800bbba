"""Change detection over folder trees of pairs: ``python -m helpers change BEFORE [AFTER] --out DIR``.

**Naming rule** (how the two dates of a pair find each other):

* ``BEFORE`` and ``AFTER`` are files: one pair.
* ``BEFORE`` and ``AFTER`` are folders (e.g. ``2019/`` and ``2020/``): each raster under ``BEFORE`` is paired
  with the raster at the SAME relative path and stem under ``AFTER`` (the extension may differ, e.g.
  ``.tif`` / ``.tiff``): ``2019/site_a/vv.tif`` <-> ``2020/site_a/vv.tif``.
* ``BEFORE`` is a folder and ``AFTER`` is omitted: in each folder, ``NAME_before.EXT`` is paired with
  ``NAME_after.EXT`` (case-insensitive ``_before`` / ``_after`` at the end of the stem).

A raster without its partner is reported in one line (and the exit code is 1); the other pairs go on.
Outputs mirror the tree: pair ``site_a/vv`` writes ``DIR/site_a/vv.gpkg``, ``DIR/site_a/vv_change.tif`` ...
(:data:`helpers.change.pipeline.FORMATS`) and, last, ``DIR/site_a/vv.done.json``: re-running skips pairs
whose marker matches (same input sizes and times, options, model and weights) -- resume. A bad pair
(unreadable file, no overlap, wrong units) is reported in one line and the batch goes on.

Each pair is processed by :func:`helpers.change.pipeline.change_pair`, a plain function of (pair, options).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ..atomic import atomic_output, removing_new_empty_folders
from ..batch import (
    MARKER,
    BatchSummary,
    LazyModel,
    find_inputs,
    input_fingerprint,
    is_finished,
    weights_identity,
)
from ..errors import UserInputError, one_line
from ..raster import RASTER_SUFFIXES
from .pipeline import ChangeOptions, ChangePair, change_pair, output_paths, pair_stem

__all__ = ["BEFORE_SUFFIX", "AFTER_SUFFIX", "find_pairs", "change_batch"]

BEFORE_SUFFIX, AFTER_SUFFIX = "_before", "_after"


def _by_key(items, key):
    found: dict = {}
    for path, rel in items:
        found.setdefault(key(rel), []).append((path, rel))
    return found


def find_pairs(before, after=None) -> tuple[list[tuple[Path, Path, Path]], list[tuple[Path, str]]]:
    """Pairs by the naming rule of the module docstring.

    Returns:
        ``(pairs, rejected)``: pairs as ``(before path, after path, output stem relative to the output
        folder)``, sorted; rejected inputs as ``(path, one-line reason)``.
    """
    before = Path(before)
    after = None if after is None else Path(after)
    if not before.exists():
        raise UserInputError(f"no such file or folder: {before}")
    if after is not None and not after.exists():
        raise UserInputError(f"no such file or folder: {after}")
    if before.is_file() or (after is not None and after.is_file()):
        if after is None or not (before.is_file() and after.is_file()):
            raise UserInputError("give two files (BEFORE AFTER), two folders, or one folder of *_before / *_after files")
        for path in (before, after):
            if path.suffix.lower() not in RASTER_SUFFIXES:
                raise UserInputError(f"unsupported file type {path.suffix or '(none)'!r}: {path}")
        return [(before, after, Path(pair_stem(before, after)))], []
    pairs, rejected = [], []
    if after is not None:
        firsts, _ = find_inputs([before])
        seconds, _ = find_inputs([after])
        first_map = _by_key(firsts, lambda rel: rel.with_suffix("").as_posix())
        second_map = _by_key(seconds, lambda rel: rel.with_suffix("").as_posix())
        for key in sorted(set(first_map) | set(second_map)):
            ones, twos = first_map.get(key, []), second_map.get(key, [])
            if len(ones) == 1 and len(twos) == 1:
                pairs.append((ones[0][0], twos[0][0], Path(key)))
            elif len(ones) > 1 or len(twos) > 1:
                for path, _ in ones + twos:
                    rejected.append((path, f"several rasters share the name {key!r} (different extensions)"))
            elif ones:
                rejected.append((ones[0][0], f"no raster at the same relative path under {after}"))
            else:
                rejected.append((twos[0][0], f"no raster at the same relative path under {before}"))
        return pairs, rejected
    found, _ = find_inputs([before])

    def role(rel: Path) -> tuple[str, str] | None:
        stem = rel.stem
        for suffix in (BEFORE_SUFFIX, AFTER_SUFFIX):
            if stem.lower().endswith(suffix):
                return (rel.parent / stem[: -len(suffix)]).as_posix(), suffix
        return None

    groups: dict[str, dict[str, list[Path]]] = {}
    for path, rel in found:
        which = role(rel)
        if which is None:
            rejected.append((path, f"not part of a pair: the name must end in {BEFORE_SUFFIX} or {AFTER_SUFFIX}"))
            continue
        groups.setdefault(which[0], {}).setdefault(which[1], []).append(path)
    for key in sorted(groups):
        ones, twos = groups[key].get(BEFORE_SUFFIX, []), groups[key].get(AFTER_SUFFIX, [])
        if len(ones) == 1 and len(twos) == 1:
            pairs.append((ones[0], twos[0], Path(key)))
            continue
        for path in ones + twos:
            if len(ones) > 1 or len(twos) > 1:
                rejected.append((path, f"several rasters for the pair {key!r} (different extensions)"))
            else:
                partner = AFTER_SUFFIX if path in ones else BEFORE_SUFFIX
                rejected.append((path, f"no matching {Path(key).name}{partner}.* beside it"))
    return pairs, rejected


def _fingerprint_pair(before: Path, after: Path, settings: dict) -> dict:
    return input_fingerprint(before, {**settings, "after": input_fingerprint(after, {})})


def change_batch(before, after, out_dir, options: ChangeOptions | None = None, model=None, force: bool = False,
                 log=None) -> BatchSummary:
    """Change detection for every pair under ``before`` / ``after`` (naming rule: module docstring).

    Args:
        before, after: two files, two folders, or one folder and ``None``.
        out_dir: output root (mirrors the input tree).
        options: :class:`~helpers.change.pipeline.ChangeOptions` (``options.progress``: tqdm bar over pairs).
        model: a loaded model or :class:`helpers.batch.LazyModel` for the model methods (default: a
            ``LazyModel`` of ``options.model_name``, loaded only when a pair still needs work).
        force: redo pairs that are already finished.
        log: where one-line reports go (default stderr).

    Returns:
        :class:`helpers.batch.BatchSummary` (``masks`` counts change objects; exit code 1 when a pair failed).
    """
    from tqdm.auto import tqdm

    options = options or ChangeOptions()
    log = log or (lambda line: tqdm.write(line, file=sys.stderr))
    start = time.perf_counter()
    out_dir = Path(out_dir)
    pairs, rejected = find_pairs(before, after)
    if not pairs and not rejected:
        raise UserInputError(f"no rasters found under {before} (looked for {', '.join(RASTER_SUFFIXES)})")
    if model is None and options.model_name is not None:
        model = LazyModel(options.model_name, options.weights)
    summary = BatchSummary()
    for path, reason in rejected:
        summary.failed.append((path, reason))
        log(f"FAILED {path}: {reason}")
    settings = {**options.settings(), **(weights_identity(model) if model is not None else {})}
    settings = json.loads(json.dumps(settings, default=str))
    planned = [p for _, _, rel in pairs for p in (*output_paths(out_dir / rel, options.formats).values(),
                                                   (out_dir / rel).with_name((out_dir / rel).name + MARKER))]
    with removing_new_empty_folders(planned):
        for first, second, rel in tqdm(pairs, desc="pairs", unit="pair", disable=not options.progress):
            stem = out_dir / rel
            marker = stem.with_name(stem.name + MARKER)
            outputs = output_paths(stem, options.formats)
            if not force and is_finished(marker, _fingerprint_pair(first, second, settings), outputs):
                summary.skipped.append(first)
                summary.masks += json.loads(marker.read_text()).get("changed", 0)
                continue
            if isinstance(model, LazyModel):  # first pair with work left: load now (may download)
                model = model.load()
                settings = json.loads(json.dumps({**options.settings(), **weights_identity(model)}, default=str))
            fingerprint = _fingerprint_pair(first, second, settings)
            try:
                result = change_pair(ChangePair(first, second, stem), options, model)
            except Exception as exc:  # noqa: BLE001 - one bad pair must not stop the batch
                summary.failed.append((first, one_line(exc)))
                log(f"FAILED {first}: {one_line(exc)}")
                continue
            record = {**fingerprint, "changed": result.changed, "result": {
                "objects": result.count, "changed": result.changed, "threshold_db": result.threshold.value,
                "threshold_method": result.threshold.method, "looks_used": result.looks, "aligned": result.aligned,
                "smoke": result.smoke, "seconds": round(result.seconds, 3),
                "outputs": {k: os.path.relpath(v, marker.parent) for k, v in outputs.items()}}}
            with atomic_output(marker) as tmp:
                tmp.write_text(json.dumps(record, indent=1))
            log(result.summary())
            summary.done.append(first)
            summary.masks += result.changed
    summary.seconds = time.perf_counter() - start
    return summary
