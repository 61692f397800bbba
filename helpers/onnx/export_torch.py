"""A PyTorch module -> one ``.onnx`` file: ``torch.onnx.export`` with the settings every graph here shares.

Two exporters ship with torch: the TorchScript-based one (``dynamo=False``) and the ``torch.export``-based
one (``dynamo=True``, needs ``onnxscript``). Measured on this project's graphs (2 CPU cores, torch 2.15,
onnxruntime 1.32) both give the same numbers to float rounding, but ``dynamo=False`` exports the SAM
decoder about 7x faster (5 s vs 34 s) and the MobileSAM encoder 2x faster, and it needs no example
sizes above 1 for dynamic axes (``torch.export`` specialises a dimension that is 1 in the example). So
``dynamo=False`` is the default; ``dynamo=True`` is available (``export-onnx --dynamo``).

Files above protobuf's 2 GiB limit (SAM ViT-H's encoder) keep their weights in one ``NAME.onnx.data``
file beside the graph (ONNX's external data), which ONNX Runtime finds by itself.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

__all__ = ["DEFAULT_OPSET", "export_module", "exporter_name", "external_data_files", "export_prompt_model_graphs",
           "finish_prompt_model_export"]

DEFAULT_OPSET = 17
_PROTOBUF_LIMIT = 2**31 - 2**20  # protobuf's 2 GiB message limit, with room for the graph itself


def exporter_name(dynamo: bool) -> str:
    import torch

    return f"torch.onnx (dynamo={bool(dynamo)}), torch {torch.__version__.split('+')[0]}"


def _dynamic_shapes(args: tuple, input_names: list[str], dynamic_axes: dict) -> dict:
    """``dynamic_axes`` ({input: {axis: name}}) -> ``torch.export`` dynamic shapes (same name, same Dim)."""
    from torch.export import Dim

    dims: dict[str, object] = {}
    shapes = {}
    for name, _ in zip(input_names, args, strict=True):
        axes = dynamic_axes.get(name)
        if not axes:
            shapes[name] = None
            continue
        shapes[name] = {axis: dims.setdefault(label, Dim(label, min=1, max=4096)) for axis, label in axes.items()}
    return shapes


def export_module(module, args: tuple, path, *, input_names: list[str], output_names: list[str],
                  dynamic_axes: dict | None = None, opset: int = DEFAULT_OPSET, dynamo: bool = False) -> Path:
    """Export ``module(*args)`` to ``path`` (written under a temporary name, renamed when complete).

    Args:
        module: a ``torch.nn.Module`` in eval mode.
        args: example input tensors (the graph's inputs, in order). With ``dynamo=True`` every dynamic
            axis must be larger than 1 in the example.
        path: the ``.onnx`` file to write.
        input_names, output_names: graph input / output names.
        dynamic_axes: ``{input or output name: {axis: symbolic name}}``; the same symbolic name means the
            same size.
        opset: ONNX opset (17 default; ``dynamo=True`` needs 18 or later and raises lower ones to 18).
        dynamo: use the ``torch.export``-based exporter (see the module docstring).

    Returns:
        ``path``.
    """
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.onnx")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # Tracer notes (python ints in shape arithmetic, constant folding of strided slices) concern the
            # exporter, not the user; the parity tests check the graphs' numbers instead.
            warnings.simplefilter("ignore")
            if dynamo:
                torch.onnx.export(
                    module, args, str(tmp), dynamo=True, opset_version=max(int(opset), 18),
                    input_names=input_names, output_names=output_names,
                    dynamic_shapes=_dynamic_shapes(args, input_names, dynamic_axes or {}),
                    external_data=True, verbose=False,
                )  # fmt: skip
            else:
                torch.onnx.export(
                    module, args, str(tmp), dynamo=False, opset_version=int(opset),
                    input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes or None,
                    do_constant_folding=True,
                )  # fmt: skip
        _finalise(tmp, path)
    finally:
        for leftover in [tmp, *tmp.parent.glob(f"{tmp.name}*.data")]:
            leftover.unlink(missing_ok=True)
    return path


def external_data_files(path) -> list[str]:
    """Names of the external data files an ``.onnx`` file refers to (empty for a self-contained file)."""
    import onnx
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    model = onnx.load(str(path), load_external_data=False)
    return sorted({ExternalDataInfo(t).location for t in model.graph.initializer if uses_external_data(t)})


def export_prompt_model_graphs(model, out_dir, parts, export_encoder, export_decoder, quantize: bool) -> dict:
    """Write the encoder / decoder graphs of a promptable model (SAM, MobileSAM, SAM 2) into ``out_dir``.

    Args:
        model: the loaded model (its ``checkpoint`` file is recorded, so it must have one).
        out_dir: the folder (created).
        parts: which graphs, a non-empty subset of ``("encoder", "decoder")``.
        export_encoder, export_decoder: ``f(path)`` writing that graph.
        quantize: also write ``decoder_int8.onnx`` (:mod:`helpers.onnx.quantize`).

    Returns:
        graph part -> file name in ``out_dir`` (:attr:`ExportInfo.files`).
    """
    from .quantize import quantize_decoder

    if model.checkpoint is None:
        raise ValueError(f"{model.name}: export needs a model loaded from a checkpoint file (its sha256 is recorded)")
    unknown = sorted(set(parts) - {"encoder", "decoder"})
    if unknown or not parts:
        raise ValueError(f"parts must be a non-empty subset of encoder, decoder; got {list(parts)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    if "encoder" in parts:
        export_encoder(out_dir / "encoder.onnx")
        files["encoder"] = "encoder.onnx"
    if "decoder" in parts:
        export_decoder(out_dir / "decoder.onnx")
        files["decoder"] = "decoder.onnx"
        if quantize:
            quantize_decoder(out_dir / "decoder.onnx", out_dir / "decoder_int8.onnx")
            files["decoder_int8"] = "decoder_int8.onnx"
    return files


def finish_prompt_model_export(out_dir, info) -> None:
    """Record external weight files, stamp every graph of ``info.files`` and write ``manifest.json``."""
    from .metadata import stamp_onnx, write_manifest

    out_dir = Path(out_dir)
    external = sorted({data for name in info.files.values() for data in external_data_files(out_dir / name)})
    if external:  # weights over 2 GiB (SAM ViT-H's encoder) live beside the graph: keep them with it
        info.extra["external_data"] = external
    for part, name in info.files.items():
        stamp_onnx(out_dir / name, info, part)
    write_manifest(out_dir, info)


def _finalise(tmp: Path, path: Path) -> None:
    """Move an exported graph to ``path``: self-contained below 2 GiB, else its weights in one ``path.data``."""
    import onnx

    external = external_data_files(tmp)
    if not external:
        os.replace(tmp, path)
        return
    # The TorchScript exporter writes one file per tensor for graphs over 2 GiB, the dynamo one a .data file.
    model = onnx.load(str(tmp), load_external_data=True)
    data_name = path.name + ".data"
    Path(path.parent / data_name).unlink(missing_ok=True)
    if model.ByteSize() < _PROTOBUF_LIMIT:
        onnx.save(model, str(path))
    else:
        onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=data_name,
                  size_threshold=0)
    for name in external:
        if name != data_name:
            (tmp.parent / name).unlink(missing_ok=True)
    tmp.unlink(missing_ok=True)
