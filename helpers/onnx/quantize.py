"""Dynamic int8 quantisation of a decoder graph (ONNX Runtime's ``quantize_dynamic``).

Weights of the matrix products become int8 (per output channel); activations are quantised on the fly.
The decoder file shrinks ~4x and matrix products run on int8 kernels. The masks change a little: the
parity tests and ``benchmarks/onnx_latency.py`` *measure* the agreement with the float graph (mask IoU,
score difference) and report it; nothing asserts that the quantised decoder equals the float one.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..atomic import atomic_output

__all__ = ["QUANTIZED_OPS", "quantize_decoder"]

#: Only matrix products are quantised: they hold the decoder's transformer weights; ONNX Runtime's
#: dynamic int8 convolutions (the mask upscaling head) are slower than float ones on CPUs.
QUANTIZED_OPS = ("MatMul", "Gemm")


def quantize_decoder(source, target) -> Path:
    """Write a dynamically int8-quantised copy of the ``source`` graph to ``target`` (atomically).

    Metadata properties (source checkpoint, smoke flag...) are kept; the caller stamps the new part name.
    """
    target = Path(target)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # onnxruntime logs a pre-processing tip for every call on the root logger
    try:
        with atomic_output(target) as tmp:
            _quantize(source, tmp)
    finally:
        root.setLevel(level)
    return target


def _quantize(source, tmp) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(tmp), op_types_to_quantize=list(QUANTIZED_OPS), per_channel=True,
                     weight_type=QuantType.QInt8)
    model = onnx.load(str(tmp))
    if not model.metadata_props:
        model.metadata_props.extend(onnx.load(str(source), load_external_data=False).metadata_props)
        onnx.save(model, str(tmp))
