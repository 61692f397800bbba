"""Smoke weights for FastSAM: a random YOLOv8-seg that still *responds* (finds masks) on real scenes."""

from __future__ import annotations

from pathlib import Path

from ..registry import ModelSpec
from ..smoke import attach_smoke_marker

__all__ = ["write_smoke_checkpoint"]

# Parameter counts separate FastSAM-s (YOLOv8s-seg, ~12M) from FastSAM-x (YOLOv8x-seg, ~72M).
ARCH_PARAMS_M = {"s": (5.0, 30.0), "x": (45.0, 120.0)}


def check_pt_suffix(path: Path) -> None:
    """Ultralytics only loads ``.pt`` files; anything else is a one-line ``ValueError``."""
    if path.suffix != ".pt":
        raise ValueError(f"FastSAM weights must be an ultralytics .pt file (ultralytics requires it), got {path.name}")


def write_smoke_checkpoint(spec: ModelSpec, path: Path) -> None:
    """Random YOLOv8{s,x}-seg with one class, saved exactly as ultralytics saves a trained model.

    The architecture is ultralytics' own ``yolov8{arch}-seg.yaml`` with ``nc=1`` (FastSAM's single
    "object" class). Ultralytics' default initialisation makes every output constant (activations
    vanish through the random network), so the convolutions are re-drawn with He-normal weights and
    the batch-norm statistics calibrated on multi-scale noise images; the class score is scaled so
    that about 10% of anchors pass FastSAM's default ``conf=0.4`` on those images. Real scenes then
    give tens to hundreds of (meaningless) masks, so the post-processing cost is realistic; the
    count depends on the scene. The file is written by ultralytics' ``strip_optimizer`` (fp16
    model, ``train_args``, version metadata) with the smoke marker added, and loads with
    ``ultralytics.FastSAM(path)``.
    """
    import torch
    from ultralytics.nn.tasks import SegmentationModel
    from ultralytics.utils import LOGGER
    from ultralytics.utils.torch_utils import strip_optimizer

    path = Path(path)
    check_pt_suffix(path)
    if spec.arch not in ARCH_PARAMS_M:
        raise ValueError(f"unknown FastSAM size {spec.arch!r}; expected 's' or 'x'")
    level = LOGGER.level
    LOGGER.setLevel("WARNING")  # ultralytics logs "Overriding nc" and "Optimizer stripped" lines
    try:
        net = SegmentationModel(f"yolov8{spec.arch}-seg.yaml", nc=1, verbose=False)
        net.names = {0: "object"}
        _make_random_net_respond(net)
        path.parent.mkdir(parents=True, exist_ok=True)
        train_args = {"task": "segment", "model": f"yolov8{spec.arch}-seg.yaml", "imgsz": 1024, "single_cls": True}
        torch.save({"model": net, "train_args": train_args}, path)
        strip_optimizer(path, updates=attach_smoke_marker({}, spec.name))
    finally:
        LOGGER.setLevel(level)


def _make_random_net_respond(net, calibration_size: int = 256) -> None:
    """Re-draw conv weights (He-normal), calibrate batch norms on noise, and bias the class score."""
    import torch
    from torch import nn

    for module in net.modules():
        if isinstance(module, nn.Conv2d) and module.weight.requires_grad:  # the DFL conv is fixed
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration batch
    # Noise at several spatial scales (blobs to pixels), stretched to 0..1 like a normalised image.
    size = (calibration_size, calibration_size)
    images = sum(nn.functional.interpolate(torch.rand(4, 3, g, g), size=size, mode="bilinear") for g in (4, 16, 64, 256))
    low, high = images.amin((1, 2, 3), keepdim=True), images.amax((1, 2, 3), keepdim=True)
    images = (images - low) / (high - low)
    net.train()
    with torch.no_grad():
        net(images)
    net.eval()
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = 0.03  # ultralytics' value
    head = net.model[-1]
    logits = []
    hooks = [branch[-1].register_forward_hook(lambda _m, _i, out: logits.append(out)) for branch in head.cv3]
    with torch.no_grad():
        net(images)
    for hook in hooks:
        hook.remove()
    means = [float(out.mean()) for out in logits]
    stds = [max(float(out.std()), 1e-6) for out in logits]
    spread = torch.cat([((out - m) / sd).flatten() for out, m, sd in zip(logits, means, stds, strict=True)])
    # Standardise each level's class logit, then shift so the top 10% of anchors score above 0.4.
    target = float(torch.logit(torch.tensor(0.4))) - float(spread.quantile(0.9))
    for branch, m, sd in zip(head.cv3, means, stds, strict=True):
        conv = branch[-1]
        conv.bias.data = target + (conv.bias.data - m) / sd
        conv.weight.data /= sd
    for param in net.parameters():
        param.requires_grad = False
