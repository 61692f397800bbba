"""``export-onnx``: a model's ONNX graphs (+ manifest) in a folder, for ONNX Runtime on laptops."""

from __future__ import annotations

from pathlib import Path

from ..registry import spec_with_weights


def _cmd_export_onnx(args) -> int:
    from ..errors import UserInputError
    from ..onnx.export import export_onnx
    from ..weights import human_size

    spec_with_weights(args.name)  # unknown names / no weights: one line, before anything loads
    if args.opset is not None and not 11 <= args.opset <= 23:
        raise UserInputError(f"--opset must be between 11 and 23, got {args.opset}")
    if args.imgsz is not None and (args.imgsz < 32 or args.imgsz % 32):
        raise UserInputError(f"--imgsz must be a positive multiple of 32, got {args.imgsz}")
    parts = [args.only] if args.only else None
    info = export_onnx(args.name, args.out, weights=args.weights, quantize=args.quantize, opset=args.opset,
                       dynamo=args.dynamo, imgsz=args.imgsz, parts=parts)
    out = Path(args.out)
    smoke = " (smoke weights: untrained, masks are meaningless)" if info.smoke else ""
    print(f"export-onnx: {info.model} -> {out}{smoke}")
    print(f"  source sha256 {info.checkpoint_sha256}, input {info.input_size} px, opset {info.opset}, {info.exporter}")
    for part, name in info.files.items():
        print(f"  {part:<13} {name:<20} {human_size((out / name).stat().st_size)}")
    print(f"  load with: helpers.load_model({info.model!r}, weights={str(out)!r}, runtime='onnx')")
    return 0


def register(subparsers) -> None:
    """Add ``python -m helpers export-onnx``."""
    parser = subparsers.add_parser(
        "export-onnx",
        help="export a model to ONNX (SAM/MobileSAM/SAM 2: encoder + prompt decoder; FastSAM: its network)",
        description=(
            "Export NAME's network(s) to ONNX files in --out, with manifest.json (source checkpoint sha256, "
            "input size, opset, smoke flag; the same facts are in each file's metadata). Load the folder "
            "with helpers.load_model(NAME, weights=DIR, runtime='onnx')."
        ),
    )
    parser.add_argument("name", metavar="NAME", help="registry name: sam_vit_b, sam_vit_l, sam_vit_h, mobile_sam, "
                        "sam2.1_hiera_t/s/b+/l, fastsam_s, fastsam_x")
    parser.add_argument("--weights", metavar="CKPT", help="PyTorch checkpoint (default: the official one, "
                        "or smoke weights with SAMRS_SMOKE=1)")
    parser.add_argument("--out", metavar="DIR", required=True, help="folder to write (an earlier export is replaced)")
    parser.add_argument("--quantize", action="store_true", help="also write decoder_int8.onnx (dynamic int8, SAM families)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17; FastSAM: ultralytics' choice)")
    parser.add_argument("--dynamo", action="store_true", help="torch.export-based exporter (default: TorchScript, faster "
                        "to export, same numbers)")
    parser.add_argument("--imgsz", type=int, default=None, help="FastSAM: example input size in pixels (default 1024)")
    parser.add_argument("--only", choices=["encoder", "decoder"], help="SAM families: write one graph only")
    parser.set_defaults(func=_cmd_export_onnx)
