"""ONNX export and ONNX Runtime sessions for SAM, MobileSAM, SAM 2.1 and FastSAM.

One concept per module; nothing is imported here (``import helpers.onnx.metadata`` stays light, and the
backends can import these modules without pulling in the model registry):

==========================  ==========================================================================
module                      what
==========================  ==========================================================================
``onnx.metadata``           what every exported folder and file says about itself (source checkpoint
                            sha256, input size, opset, smoke flag): ``manifest.json`` + ONNX metadata
``onnx.export_torch``       a PyTorch module -> one ``.onnx`` file (TorchScript or dynamo exporter, >2 GiB weights)
``onnx.session``            ONNX Runtime sessions: execution providers for a device, thread settings
``onnx.upscale``            low-resolution mask logits -> full-size masks without torch (OpenCV bilinear)
``onnx.sam_graphs``         SAM / MobileSAM image encoder and prompt decoder as exportable modules
``onnx.sam2_graphs``        SAM 2.1 image encoder and prompt decoder as exportable modules
``onnx.fastsam_graph``      FastSAM's YOLOv8-seg network through ultralytics' own exporter
``onnx.quantize``           dynamic int8 quantisation of a decoder (onnxruntime.quantization)
``onnx.store``              exports cached by the source checkpoint's sha256 under ``home_dir()/onnx``
``onnx.export``             ``export_onnx(name, weights, out)``: the ``export-onnx`` command's library side
==========================  ==========================================================================

The ONNX Runtime backends themselves are :mod:`helpers.backends.onnx_sam`,
:mod:`helpers.backends.onnx_sam2` and :mod:`helpers.backends.onnx_fastsam`
(``helpers.load_model(name, runtime="onnx")``).
"""
