"""Convert rasters into 8-bit 3-band GeoTIFFs ready for SAM/FastSAM, keeping georeferencing exactly.

:func:`preprocess` (``python -m helpers preprocess``) converts a file or a folder tree, window by window,
with the scene-global stretch of :func:`helpers.raster.open_raster` and atomic writes.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from tqdm.auto import tqdm

from .atomic import (
    atomic_output,
    check_path_argument,
    fold_path,
    output_lock,
    remove_stale_temp_files,
    removing_new_empty_folders,
    writing,
)
from .errors import RasterPathError, UserInputError, one_line
from .raster import (
    DEFAULT_STRETCH,
    RASTER_SUFFIXES,
    WINDOW_SIZE,
    check_db_range,
    open_raster,
    parse_bands,
    walk_rasters,
)
from .scene import Scene

__all__ = ["PreprocessSummary", "preprocess", "OUTPUT_MARKER"]

#: Hidden file in the root of every folder ``preprocess`` fills: such folders are never walked as inputs.
OUTPUT_MARKER = ".samrs-preprocess-output"


@dataclass
class PreprocessSummary:
    """What :func:`preprocess` did.

    Attributes:
        written: output GeoTIFFs written.
        failed: (input path, one-line reason) for every input that could not be converted.
    """

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def _single_output(source: Path, output: Path) -> Path:
    """A file input's output: ``output`` itself when it ends in .tif/.tiff, else a file inside that folder.

    Only an existing folder or a path without an ending is a folder: ``out/x.png`` is a mistake, not a
    folder named ``x.png``.
    """
    if output.suffix.lower() in (".tif", ".tiff"):
        return output
    if output.is_dir() or not output.suffix:
        return output / f"{source.stem}.tif"
    raise ValueError(f"output {output} must end in .tif/.tiff (a GeoTIFF) or be a folder (no file ending)")


def _mirrored_names(source: Path, output: Path, paths: list[Path]) -> list[Path]:
    """``output/<rel>.tif`` per input; stems that clash (``a.tif`` + ``a.png``) get their ending appended
    (``a_tif.tif``, ``a_png.tif``); what still clashes (``a.tif`` + ``a.TIF``) is refused."""
    rels = [path.relative_to(source) for path in paths]
    tagged = [False] * len(paths)
    while True:
        outs = [output / rel.parent / (f"{rel.stem}_{rel.suffix.lstrip('.').lower()}" if tag else rel.stem)
                for rel, tag in zip(rels, tagged, strict=True)]
        outs = [o.with_name(o.name + ".tif") for o in outs]
        groups: dict[str, list[int]] = {}
        for i, out in enumerate(outs):
            groups.setdefault(fold_path(out), []).append(i)
        clashes = [g for g in groups.values() if len(g) > 1]
        if not clashes:
            return outs
        for group in clashes:
            if any(tagged[i] for i in group):
                first, second = (paths[i] for i in group[:2])
                raise UserInputError(
                    f"inputs {first} and {second} would share the output {outs[group[0]]}; rename one of them "
                    "(names differing only in letter case cannot be told apart on every disk)"
                )
            for i in group:
                tagged[i] = True


def _plan_jobs(source: Path, output: Path, recursive: bool) -> list[tuple[Path, Path]]:
    """(input, output) pairs: a file -> a file (or into a folder); a folder -> a mirrored folder tree.

    Outputs never land on an input: the output folder (and any earlier output tree) inside the input
    tree is skipped, and an output equal to an input, or an output folder equal to the input folder,
    is refused.
    """
    if not source.exists():
        raise RasterPathError(f"input not found: {source}")
    if source.is_file():
        jobs = [(source, _single_output(source, output))]
    else:
        if output.resolve() == source.resolve():
            raise UserInputError(f"output {output} is the input folder {source}: its outputs would overwrite the "
                                 "inputs; choose another output folder")
        paths = walk_rasters(source, exclude=[output], marker=OUTPUT_MARKER, recursive=recursive)
        if not paths:
            where = "under" if recursive else "directly in"
            raise ValueError(f"no rasters found {where} {source} (looked for {', '.join(RASTER_SUFFIXES)})")
        jobs = list(zip(paths, _mirrored_names(source, output, paths), strict=True))
    inputs = {fold_path(path.resolve()): path for path, _ in jobs}
    for _, dst in jobs:
        victim = inputs.get(fold_path(dst.resolve()))
        if victim is not None:
            raise UserInputError(f"output {dst} would overwrite the input {victim}; choose another output")
    return jobs


def _convert_file(src_path: Path, dst_path: Path, read_options: dict, window_size: int, progress: bool = True) -> Path:
    """One raster -> 8-bit 3-band GeoTIFF with the same size/CRS/transform, window by window, atomically."""
    with open_raster(src_path, **read_options) as src:
        profile = {
            "driver": "GTiff",
            "width": src.width,
            "height": src.height,
            "count": 3,
            "dtype": "uint8",
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "compress": "deflate",
            "photometric": "RGB",
        }
        if src.transform is not None:
            profile.update(crs=src.crs, transform=src.transform)
        elif src.file_transform is not None:  # a transform without a CRS: kept exactly as it is
            profile.update(transform=src.file_transform)
        if src.has_mask:
            profile["nodata"] = 0
        with atomic_output(dst_path) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(tmp, "w", **profile) as dst:
                if src.gcps is not None:  # georeferenced by ground control points / RPCs only: carry them
                    dst.gcps = src.gcps
                if src.rpcs is not None:
                    dst.rpcs = src.rpcs
                windows = list(src.windows(window_size))
                bar = tqdm(windows, desc=src_path.name, leave=False, disable=not progress or len(windows) < 4)
                for window in bar:
                    dst.write(_output_block(src.read_window(window), src.has_mask), window=window)
                dst.update_tags(
                    SAMRS_SOURCE=src_path.name,
                    SAMRS_BANDS=",".join(map(str, src.bands)),
                    SAMRS_SAR=str(src.sar),
                    SAMRS_STRETCH_LOW=",".join(f"{v:.6g}" for v in src.stats.low),
                    SAMRS_STRETCH_HIGH=",".join(f"{v:.6g}" for v in src.stats.high),
                )
    return dst_path


def _output_block(scene: Scene, nodata_zero: bool) -> np.ndarray:
    """(3,h,w) uint8 for writing; with nodata 0, valid pixels are lifted to >= 1 so they stay valid."""
    image = scene.image
    if nodata_zero and scene.valid is not None:
        image = image.copy()
        image[scene.valid] = np.maximum(image[scene.valid], 1)
        image[~scene.valid] = 0
    return np.moveaxis(image, -1, 0)


def preprocess(
    input,
    output,
    bands=None,
    stretch=DEFAULT_STRETCH,
    sar: bool = False,
    recursive: bool = True,
    window_size: int = WINDOW_SIZE,
    progress: bool = True,
    **read_options,
) -> PreprocessSummary:
    """Convert rasters into 8-bit 3-band GeoTIFFs ready for SAM/FastSAM, keeping georeferencing exactly.

    Each output has the input's size, CRS and transform; it is written window by window (memory does
    not grow with the scene), to a temporary file renamed into place at the end (a killed run never
    leaves a half-written output). Nodata stays nodata: the output's nodata is 0 and valid pixels are
    lifted to at least 1. The stretch limits used are stored as ``SAMRS_STRETCH_*`` tags.

    Args:
        input: a raster file, or a folder whose rasters (``RASTER_SUFFIXES``) are all converted.
        output: for a file input, an output path ending in ``.tif``/``.tiff``, or a folder (an existing
            one, or a path without a file ending); for a folder input, the folder that receives the
            mirrored tree (``a/b/x.png`` -> ``OUTPUT/a/b/x.tif``).
        bands, stretch, sar: as in :func:`open_raster`.
        recursive: walk sub-folders of a folder input.
        window_size: side of the square windows read and written.
        progress: show tqdm progress bars.
        **read_options: further :func:`open_raster` options (``nodata``, ``sar_db_range``, ...).

    Returns:
        :class:`PreprocessSummary`. A single-file input that fails raises ``ValueError``; in a folder,
        failures are collected and the batch goes on. Folders this call created and left empty are
        removed.

    Raises:
        ValueError: a missing input, a folder without rasters, a single-file output with another ending.
    """
    source = check_path_argument(input, "input")
    output = check_path_argument(output, "output")
    jobs = _plan_jobs(source, output, recursive)
    parse_bands(bands)  # a typo in --bands fails before anything is written
    if "sar_db_range" in read_options:
        check_db_range(read_options["sar_db_range"])  # so does a reversed dB range
    options = dict(read_options, bands=bands, stretch=stretch, sar=sar)
    summary = PreprocessSummary()
    folder_mode = not source.is_file()
    out_root = output if folder_mode else jobs[0][1].parent
    planned = [dst for _, dst in jobs] + ([output / OUTPUT_MARKER] if folder_mode else [])
    with removing_new_empty_folders(planned), \
            (output_lock(out_root, "preprocess") if folder_mode else contextlib.nullcontext()):
        remove_stale_temp_files(out_root, recursive=folder_mode)  # leftovers of runs killed by SIGKILL
        bar = tqdm(jobs, desc="preprocess", unit="file", disable=not progress or len(jobs) < 2)
        for src_path, dst_path in bar:
            try:
                with writing(dst_path):
                    summary.written.append(_convert_file(src_path, dst_path, options, window_size, progress))
            except (ValueError, TypeError, OSError, RasterioError) as exc:
                if not folder_mode:
                    raise
                summary.failed.append((src_path, one_line(exc, with_type=False)))
        if folder_mode and summary.written and not (output / OUTPUT_MARKER).exists():
            (output / OUTPUT_MARKER).write_text("sam-rs preprocess outputs: never walked as inputs\n")
    return summary
