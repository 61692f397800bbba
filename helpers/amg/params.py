"""Parameters of SAM's automatic mask generator: the official defaults, their documentation, checks, grids."""

from __future__ import annotations

import numpy as np

from ..backends.base import check_bool, check_float, check_int

__all__ = ["AMG_DEFAULTS", "AMG_PARAM_DOCS", "AMG_CONTROLS", "check_amg_params", "check_amg_values",
           "layer_point_grids", "MAX_POINTS_PER_SIDE", "MAX_CROP_N_LAYERS", "MAX_POINTS_PER_BATCH", "check_int",
           "check_float", "check_bool"]

# Limits that keep one generate() call within a laptop's time and memory: crop layer i adds 4**i crops
# (crop_n_layers=50 tried to build grids for 4**50 crops), and every point is one decoder prompt.
MAX_POINTS_PER_SIDE = 128  # 16,384 prompts per crop (the official default is 32)
MAX_CROP_N_LAYERS = 3  # 1 + 4 + 16 + 64 = 85 crops encoded
MAX_POINTS_PER_BATCH = 4096
MAX_GRID_POINTS = MAX_POINTS_PER_SIDE**2


# The official SamAutomaticMaskGenerator defaults (segment-anything 1.0), tuned for ViT-H on photos.
AMG_DEFAULTS: dict = {
    "points_per_side": 32,
    "points_per_batch": 64,
    "pred_iou_thresh": 0.88,
    "stability_score_thresh": 0.95,
    "stability_score_offset": 1.0,
    "box_nms_thresh": 0.7,
    "crop_n_layers": 0,
    "crop_nms_thresh": 0.7,
    "crop_overlap_ratio": 512 / 1500,
    "crop_n_points_downscale_factor": 1,
    "min_mask_region_area": 0,
    "point_grids": None,
}

# One line per parameter: what it does, its unit, typical remote-sensing values.
AMG_PARAM_DOCS: dict[str, str] = {
    "points_per_side": "grid of prompt points per image side (count; N² prompts); 32 default, 48-64 for small "
    "objects such as buildings or ponds in 10-30 m imagery (time grows with N²)",
    "points_per_batch": "prompts decoded together (count); memory knob only, results identical; 64 CPU, "
    "128-256 on a GPU",
    "pred_iou_thresh": "keep masks whose predicted IoU exceeds this (0-1); 0.88 default, 0.7-0.85 for "
    "low-contrast fields and water",
    "stability_score_thresh": "keep masks whose IoU between logit cut-offs ±offset is at least this (0-1); "
    "0.95 default, 0.85-0.92 for soft boundaries (wetlands, vegetation)",
    "stability_score_offset": "logit shift used for the stability score (logit units); 1.0 default, rarely "
    "changed (0.7-1.0)",
    "box_nms_thresh": "box IoU above which a lower-scoring duplicate mask is removed (0-1); 0.7 default, "
    "0.5-0.6 to thin out nested masks of the same field",
    "crop_n_layers": "extra passes on 2^i x 2^i overlapping crops (count); 0 default, 1 to catch small "
    "objects in large scenes (encodes 4 more crops)",
    "crop_nms_thresh": "box IoU for removing duplicates between crops (0-1); 0.7 default",
    "crop_overlap_ratio": "overlap between neighbouring crops (fraction of the short image side); 512/1500 "
    "default, 0.2-0.4",
    "crop_n_points_downscale_factor": "points per side divided by this**layer in crop layers (count); 1 "
    "default, 2 keeps crop passes affordable",
    "min_mask_region_area": "fill holes and drop islands smaller than this (pixels); 0 default (off), 10-100 "
    "removes speckle (multiply by pixel area for m²)",
    "point_grids": "explicit prompt grids, one (N, 2) array of (x, y) in [0, 1] per crop layer; None "
    "default; exclusive with points_per_side",
}



# ---- parameters --------------------------------------------------------------------------------------
def check_amg_values(p: dict) -> dict:
    """Check (in place, and return) the values of the automatic-generator parameters present in ``p``.

    Shared by SAM / MobileSAM (:func:`check_amg_params`) and SAM 2, whose generators take the same
    names. Limits: ``points_per_side`` <= :data:`MAX_POINTS_PER_SIDE`, ``crop_n_layers`` <=
    :data:`MAX_CROP_N_LAYERS`, ``points_per_batch`` <= :data:`MAX_POINTS_PER_BATCH`.
    """
    ints = {"points_per_side": (1, MAX_POINTS_PER_SIDE), "points_per_batch": (1, MAX_POINTS_PER_BATCH),
            "crop_n_layers": (0, MAX_CROP_N_LAYERS), "crop_n_points_downscale_factor": (1, 64)}
    for name, (low, high) in ints.items():
        if name in p:
            check_int(p, name, low, high, none_ok=name == "points_per_side")
    for name in ("pred_iou_thresh", "stability_score_thresh", "box_nms_thresh", "crop_nms_thresh",
                 "crop_overlap_ratio"):
        if name in p:
            check_float(p, name, 0.0, 1.0)
    if "stability_score_offset" in p:
        check_float(p, "stability_score_offset", 0.0, 100.0, low_open=True)
    if "mask_threshold" in p:
        check_float(p, "mask_threshold", -100.0, 100.0)
    if "min_mask_region_area" in p:
        check_float(p, "min_mask_region_area", 0.0)
    for name in ("use_m2m", "multimask_output"):
        if name in p:
            check_bool(p, name)
    if p.get("point_grids") is not None:
        try:
            grids = [np.asarray(g, dtype=np.float64) for g in p["point_grids"]]
        except (TypeError, ValueError):
            raise ValueError("point_grids must be a list of (N, 2) arrays of (x, y) in [0, 1]") from None
        layers = int(p.get("crop_n_layers", 0)) + 1
        if len(grids) < layers or any(g.ndim != 2 or g.shape[1] != 2 for g in grids):
            raise ValueError(f"point_grids must hold one (N, 2) array per crop layer ({layers})")
        if any(len(g) > MAX_GRID_POINTS or not np.isfinite(g).all() for g in grids):
            raise ValueError(f"point_grids must hold finite (x, y) values, at most {MAX_GRID_POINTS:,} points per grid")
        p["point_grids"] = grids
    return p


def check_amg_params(params: dict) -> dict:
    """Merge ``params`` with :data:`AMG_DEFAULTS`; ``ValueError`` (one line) for unknown names or bad values."""
    unknown = sorted(set(params) - set(AMG_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown SAM generate parameter(s) {unknown}; valid: {', '.join(AMG_DEFAULTS)}")
    p = {**AMG_DEFAULTS, **params}
    if "point_grids" in params and params["point_grids"] is not None and "points_per_side" not in params:
        p["points_per_side"] = None  # an explicit grid replaces the default 32x32 grid
    if (p["points_per_side"] is None) == (p["point_grids"] is None):
        raise ValueError("give exactly one of points_per_side or point_grids")
    return check_amg_values(p)


def layer_point_grids(p: dict) -> list[np.ndarray]:
    """Normalised (x, y) prompt grids per crop layer, exactly as the official generator builds them."""
    from segment_anything.utils.amg import build_all_layer_point_grids

    if p["point_grids"] is not None:
        return p["point_grids"]
    return build_all_layer_point_grids(
        int(p["points_per_side"]), int(p["crop_n_layers"]), int(p["crop_n_points_downscale_factor"])
    )


# Tuner / app controls of the automatic generator: name -> (kind, options), see helpers.backends.base.Control.
AMG_CONTROLS: dict = {
    "points_per_side": ("choice", [4, 8, 16, 24, 32, 48, 64]),
    "pred_iou_thresh": ("float", (0.0, 1.0, 0.01)),
    "stability_score_thresh": ("float", (0.0, 1.0, 0.01)),
    "stability_score_offset": ("float", (0.1, 2.0, 0.1)),
    "box_nms_thresh": ("float", (0.1, 1.0, 0.05)),
    "crop_n_layers": ("int", (0, 2, 1)),
    "crop_nms_thresh": ("float", (0.1, 1.0, 0.05)),
    "crop_overlap_ratio": ("float", (0.0, 0.6, 0.02)),
    "crop_n_points_downscale_factor": ("int", (1, 4, 1)),
    "min_mask_region_area": ("int", (0, 500, 5)),
    "points_per_batch": ("choice", [16, 32, 64, 128, 256]),
}
