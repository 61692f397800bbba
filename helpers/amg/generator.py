"""SAM automatic mask generation ("everything" mode): the official algorithm, doing less work.

:func:`generate_sam` returns the same masks as segment-anything's ``SamAutomaticMaskGenerator``
(``output_mode="binary_mask"``) for the same model, image and parameters: same point grids, crops,
decoder calls, upscaling, filters and non-maximum suppressions, in the same order. It is faster because
it does the same arithmetic in a cheaper order and skips work whose result the official generator throws
away:

* the mask decoder is reassociated (shared image-side work, small matrices multiplied first) and run a
  couple of prompts at a time on CPU, so each prompt's image tokens stay in cache (:func:`decode_multimask`);
* a point whose three candidates all fail ``pred_iou_thresh`` never has its masks computed: the IoU head
  does not need them (the official decoder computes and upscales all three first);
* candidates that cannot reach ``stability_score_thresh`` are rejected from exact low-resolution
  bounds (every upscaled logit is a convex combination of nearby low-resolution logits), so they are
  never upscaled either;
* survivors are upscaled as two matrix products equal to the model's ``postprocess_masks`` (same bilinear
  weights), computed only over the rows and columns where the mask can be, so a small object costs a
  small product; stability score, binary mask and box come from that one piece;
* no run-length encoding / decoding round trip, no deep copies: masks stay boolean arrays, cropped to
  their box until the end, and only the final survivors are pasted into full-size masks.

Values agree with the official generator to float rounding (~1e-6 relative on the logits), not bit for
bit. Small-region removal (``min_mask_region_area``) uses the same 8-connected components as the
official post-processing (segment-anything's own ``remove_small_regions``), then the same box NMS.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from segment_anything.utils.amg import (
    batched_mask_to_box,
    calculate_stability_score,
    is_box_near_crop_edge,
    remove_small_regions,
)
from torchvision.ops.boxes import batched_nms, box_area
from tqdm.auto import tqdm

from ..scene import check_rgb_uint8
from .decoder import decode_multimask, fast_decoder_applies
from .params import check_amg_params, layer_point_grids
from .upscale import UpscaleGeometry, stability_upper_bound

__all__ = ["generate_sam", "official_postprocess"]

UPSCALE_CHUNK = 16  # masks upscaled at once: (16, 1024, 1024) float32 = 64 MiB


# ---- one crop ------------------------------------------------------------------------------------------
class _Candidates:
    """Masks kept so far (crop frame), each stored cropped to its box to keep memory small.

    A *deferred* candidate has its exact box but no mask yet (``pieces[i]`` is ``None``): its point (model
    input coordinates) and candidate number are kept, and the mask is computed only if it survives NMS.
    """

    def __init__(self):
        self.iou, self.stability, self.points, self.boxes, self.pieces = [], [], [], [], []
        self.inputs, self.which = [], []  # deferred candidates: point in model input coordinates, candidate 0-2

    def add(self, pieces: list, boxes, iou, stability, points, inputs=None, which=None):
        self.pieces.extend(pieces)
        self.boxes.append(boxes.cpu())
        self.iou.append(iou.cpu())
        self.stability.append(stability.cpu())
        self.points.append(points)
        self.inputs.append(np.full((len(pieces), 2), np.nan) if inputs is None else inputs)
        self.which.append(np.full(len(pieces), -1) if which is None else which)

    def __len__(self):
        return len(self.pieces)

    def tensors(self):
        if not self.pieces:
            return (torch.zeros((0, 4), dtype=torch.int64), torch.zeros(0), torch.zeros(0), np.zeros((0, 2)))
        return torch.cat(self.boxes), torch.cat(self.iou), torch.cat(self.stability), np.concatenate(self.points)


def official_postprocess(sam) -> bool:
    """True when ``sam.postprocess_masks`` is segment-anything's own (so :class:`UpscaleGeometry` reproduces it)."""
    from segment_anything.modeling import Sam

    return type(sam).postprocess_masks is Sam.postprocess_masks and "postprocess_masks" not in vars(sam)


def _upscale_with_model(sam, low_res, input_hw, crop_hw, threshold, offset):
    """:meth:`UpscaleGeometry.upscale` through the model's own ``postprocess_masks`` (any subclass)."""
    pieces, boxes, stability = [], [], []
    for start in range(0, len(low_res), UPSCALE_CHUNK):
        logits = sam.postprocess_masks(low_res[start : start + UPSCALE_CHUNK][:, None], input_hw, crop_hw)[:, 0]
        stability.append(calculate_stability_score(logits, threshold, offset))
        masks = logits > threshold
        chunk_boxes = batched_mask_to_box(masks)
        boxes.append(chunk_boxes)
        for mask, (x0, y0, x1, y1) in zip(masks.cpu().numpy(), chunk_boxes.cpu().numpy()):
            pieces.append(mask[y0 : y1 + 1, x0 : x1 + 1].copy())
    return pieces, torch.cat(boxes), torch.cat(stability)


def _decode_points(sam, features, points_input: np.ndarray, iou_thresh: float):
    """Candidate masks of B points: low-res logits (K*3, 256, 256) of the K points that need them, predicted IoU
    (B*3,) of all, and (B*3,) the row of each candidate in the logits (-1 where its point was not decoded)."""
    coords = torch.as_tensor(points_input, device=features.device)  # float64, like the official generator
    labels = torch.ones(coords.shape[0], dtype=torch.int, device=features.device)
    sparse, dense = sam.prompt_encoder(points=(coords[:, None, :], labels[:, None]), boxes=None, masks=None)
    image_pe = sam.prompt_encoder.get_dense_pe()
    if fast_decoder_applies(sam):
        low_res, iou, has_masks = decode_multimask(sam.mask_decoder, features, image_pe, sparse, dense[:1], iou_thresh)
    else:
        low_res, iou = sam.mask_decoder(
            image_embeddings=features,
            image_pe=image_pe,
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=True,
        )
        has_masks = torch.ones(len(iou), dtype=torch.bool, device=iou.device)
    decoded = has_masks.repeat_interleave(iou.shape[1])
    rows = torch.full(decoded.shape, -1, dtype=torch.int64, device=iou.device)
    rows[decoded] = torch.arange(int(decoded.sum()), device=iou.device)
    return low_res.flatten(0, 1), iou.flatten(0, 1), rows


def _decode_with(decoder, features, points_input: np.ndarray):
    """:func:`_decode_points` through a replacement decoder (every point decoded)."""
    low_res, iou = decoder(features, points_input)
    return low_res.flatten(0, 1), iou.flatten(0, 1), torch.arange(iou.numel())


def _process_batch(sam, features, points, p, geometry, input_hw, crop_hw, crop_box, image_box, out, decoder=None):
    from segment_anything.utils.transforms import ResizeLongestSide

    size = sam.image_encoder.img_size
    points_input = ResizeLongestSide(size).apply_coords(points, crop_hw)
    iou_thresh = float(p["pred_iou_thresh"])
    if decoder is None:
        low_res, iou, rows = _decode_points(sam, features, points_input, iou_thresh)
    else:
        low_res, iou, rows = _decode_with(decoder, features, points_input)
    points3 = np.repeat(points, len(iou) // len(points), axis=0)
    keep = torch.ones_like(iou, dtype=torch.bool)
    if iou_thresh > 0.0:
        keep &= iou > iou_thresh  # implies the point was decoded (see decode_multimask)
    threshold, offset = sam.mask_threshold, p["stability_score_offset"]
    if p["stability_score_thresh"] > 0.0 and keep.any():
        idx = torch.nonzero(keep)[:, 0]
        bound = stability_upper_bound(low_res[rows[idx]].float(), geometry, threshold, offset)
        keep[idx[bound < p["stability_score_thresh"]]] = False
    idx = torch.nonzero(keep)[:, 0]
    if len(idx) == 0:
        return
    # (a replacement decoder's logits are upscaled as segment-anything's postprocess_masks does)
    on_cpu = (decoder is not None or official_postprocess(sam)) and low_res.device.type == "cpu"  # a GPU prefers one resize
    if on_cpu and p["stability_score_thresh"] == 0.0:
        # Nothing needs a mask before NMS (no stability filter): exact boxes now, masks for NMS survivors only.
        boxes = geometry.boxes(low_res[rows[idx]], threshold)
        chosen = ~is_box_near_crop_edge(boxes, crop_box, image_box)
        picked = idx[chosen].cpu().numpy()
        candidates = len(iou) // len(points)
        out.add([None] * len(picked), boxes[chosen], iou[idx][chosen], torch.full((len(picked),), float("nan")),
                points3[picked], inputs=points_input[picked // candidates], which=picked % candidates)
        return
    if on_cpu:
        pieces, boxes, stability = geometry.upscale(low_res[rows[idx]], threshold, offset)
    else:
        pieces, boxes, stability = _upscale_with_model(sam, low_res[rows[idx]], input_hw, crop_hw, threshold, offset)
    chosen = ~is_box_near_crop_edge(boxes, crop_box, image_box)
    if p["stability_score_thresh"] > 0.0:
        chosen &= stability >= p["stability_score_thresh"]
    picked = torch.nonzero(chosen)[:, 0].tolist()
    out.add([pieces[i] for i in picked], boxes[chosen], iou[idx][chosen], stability[chosen], points3[idx[chosen].cpu().numpy()])


def _process_crop(sam, image, encode, crop_box, grid, p, image_hw, bar, decoder=None):
    """Candidates of one crop after its box NMS, in image coordinates (the official ``_process_crop``)."""
    from segment_anything.utils.transforms import ResizeLongestSide

    x0, y0, x1, y1 = crop_box
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    crop_hw = crop.shape[:2]
    features = encode(crop)
    if decoder is None:
        features = features.to(next(sam.parameters()).device)
    size = sam.image_encoder.img_size
    input_hw = ResizeLongestSide.get_preprocess_shape(crop_hw[0], crop_hw[1], size)
    low = sam.prompt_encoder.mask_input_size[0]
    geometry = UpscaleGeometry(low, size, input_hw, crop_hw)
    points = grid * np.array(crop_hw)[None, ::-1]
    image_box = [0, 0, image_hw[1], image_hw[0]]
    found = _Candidates()
    batch = int(p["points_per_batch"])
    for start in range(0, len(points), batch):
        _process_batch(sam, features, points[start : start + batch], p, geometry, input_hw, crop_hw, crop_box, image_box,
                       found, decoder)
        bar.update(1)
    boxes, iou, stability, pts = found.tensors()
    keep = batched_nms(boxes.float(), iou, torch.zeros(len(boxes)), iou_threshold=p["box_nms_thresh"]).numpy()
    _materialise(sam, features, found, keep, p, geometry, boxes, stability, decoder)
    offset = torch.tensor([x0, y0, x0, y0])
    return {
        "boxes": boxes[keep] + offset,
        "iou": iou[keep],
        "stability": stability[keep],
        "points": pts[keep] + np.array([x0, y0]),
        "pieces": [found.pieces[i] for i in keep],
        "crop_boxes": torch.tensor([crop_box] * len(keep), dtype=torch.int64).reshape(-1, 4),
    }


def _materialise(sam, features, found: _Candidates, keep: np.ndarray, p: dict, geometry, boxes, stability,
                 decoder=None) -> None:
    """Compute the masks of deferred candidates that survived NMS (in place: ``found.pieces``, ``boxes`` and
    ``stability`` at their rows), decoding their points again, ``points_per_batch`` at a time."""
    deferred = np.array([i for i in keep if found.pieces[i] is None], dtype=np.int64)
    if deferred.size == 0:
        return
    inputs, which = np.concatenate(found.inputs), np.concatenate(found.which)
    batch = int(p["points_per_batch"])
    for start in range(0, len(deferred), batch):
        rows_here = deferred[start : start + batch]
        # every point decoded: its candidate passed pred_iou_thresh once, rounding must not drop it now
        if decoder is None:
            low_res, _, rows = _decode_points(sam, features, inputs[rows_here], 0.0)
        else:
            low_res, _, rows = _decode_with(decoder, features, inputs[rows_here])
        candidates = len(rows) // len(rows_here)
        chosen = rows[np.arange(len(rows_here)) * candidates + which[rows_here]]
        pieces, new_boxes, new_stability = geometry.upscale(low_res[chosen], sam.mask_threshold,
                                                             p["stability_score_offset"])
        for k, i in enumerate(rows_here.tolist()):
            found.pieces[i] = pieces[k]
        boxes[rows_here] = new_boxes
        stability[rows_here] = new_stability


# ---- small regions -------------------------------------------------------------------------------------
def _clean_small_regions(masks: np.ndarray, min_area: float, nms_thresh: float):
    """The official post-processing: clean every mask, prefer unchanged ones in a box NMS."""
    cleaned, unchanged = [], []
    for mask in masks:
        mask, changed_holes = remove_small_regions(mask, min_area, "holes")
        mask, changed_islands = remove_small_regions(mask, min_area, "islands")
        cleaned.append(mask)
        unchanged.append(float(not (changed_holes or changed_islands)))
    cleaned = np.stack(cleaned)
    new_boxes = batched_mask_to_box(torch.from_numpy(cleaned))
    scores = torch.as_tensor(unchanged)
    keep = batched_nms(new_boxes.float(), scores, torch.zeros(len(new_boxes)), iou_threshold=nms_thresh)
    keep = keep.numpy()
    return keep, cleaned[keep], new_boxes[keep]


# ---- entry point ---------------------------------------------------------------------------------------
@torch.no_grad()
def generate_sam(sam, image: np.ndarray, encode, *, progress: bool = True, decoder=None, **params) -> dict:
    """Automatic mask generation with a segment-anything ``Sam`` model.

    Args:
        sam: a ``segment_anything.modeling.Sam`` (any ViT size), in eval mode.
        image: HxWx3 uint8 RGB array.
        encode: ``encode(crop) -> torch.Tensor`` image embedding (1, 256, 64, 64) of an HxWx3 uint8
            crop (the whole image first, then each crop box); ``SamModel.encode`` caches both.
        progress: ``True`` shows a tqdm bar over point batches when on a terminal; ``False`` never does
            (not an official parameter; see :data:`AMG_RUN_OPTION_DOCS`).
        decoder: replaces the model's prompt encoder + mask decoder (e.g. an ONNX Runtime graph):
            ``decoder(features, coords) -> (low_res, iou)`` with ``coords`` float64 (B, 2) single
            foreground points in the encoder frame and torch tensors ``low_res`` (B, 3, 256, 256) float32
            on the CPU and ``iou`` (B, 3), SAM's three candidates. ``sam`` then only provides the geometry
            (``image_encoder.img_size``, ``prompt_encoder.mask_input_size``, ``mask_threshold``).
        **params: any of :data:`AMG_DEFAULTS` (segment-anything's defaults); see :data:`AMG_PARAM_DOCS`.

    Returns:
        dict of numpy arrays, one row per mask, in the official generator's order:
        ``masks`` (N, H, W) bool; ``predicted_iou`` (N,) float32 (alias ``scores``);
        ``stability_score`` (N,) float32 (alias ``stability_scores``); ``point_coords`` (N, 2) float32
        pixel (x, y) of the prompt that produced the mask; ``crop_boxes`` (N, 4) XYXY crop in pixels;
        ``boxes`` (N, 4) float32 XYXY pixel boxes with exclusive right/bottom edges (the ``Masks``
        convention; the official ``bbox`` XYWH is ``[x0, y0, x1 - x0 - 1, y1 - y0 - 1]``, given as
        ``bbox_xywh``); ``areas`` (N,) int64 pixel counts.

    Raises:
        ValueError: unknown parameter or invalid value (one line).
    """
    from segment_anything.utils.amg import generate_crop_boxes

    check_rgb_uint8(image)
    if not isinstance(progress, (bool, np.bool_)):
        raise ValueError(f"progress must be True or False, got {progress!r}")
    p = check_amg_params(params)
    grids = layer_point_grids(p)
    image_hw = image.shape[:2]
    crop_boxes, layers = generate_crop_boxes(image_hw, int(p["crop_n_layers"]), float(p["crop_overlap_ratio"]))
    n_batches = sum(math.ceil(len(grids[layer]) / int(p["points_per_batch"])) for layer in layers)
    parts = []
    bar = tqdm(total=n_batches, desc="SAM everything", unit="batch", leave=False, disable=None if progress else True)
    with bar:
        for crop_box, layer in zip(crop_boxes, layers):
            parts.append(_process_crop(sam, image, encode, crop_box, grids[layer], p, image_hw, bar, decoder))
    data = {key: _join([part[key] for part in parts]) for key in parts[0]}
    if len(crop_boxes) > 1 and len(data["iou"]):
        # prefer masks from smaller crops when the same object is found in several
        scores = 1 / box_area(data["crop_boxes"])
        keep = batched_nms(data["boxes"].float(), scores, torch.zeros(len(scores)), iou_threshold=p["crop_nms_thresh"])
        data = _take(data, keep.numpy())
    masks = _paste(data["pieces"], data["boxes"], image_hw)
    boxes = data["boxes"]
    if p["min_mask_region_area"] > 0 and len(masks):
        nms = max(p["box_nms_thresh"], p["crop_nms_thresh"])
        keep, masks, boxes = _clean_small_regions(masks, p["min_mask_region_area"], nms)
        data = _take(data, keep)
    return _outputs(masks, boxes, data)


def _join(values: list):
    if isinstance(values[0], torch.Tensor):
        return torch.cat(values)
    if isinstance(values[0], np.ndarray):
        return np.concatenate(values)
    return [item for value in values for item in value]


def _take(data: dict, keep: np.ndarray) -> dict:
    return {
        key: [value[i] for i in keep] if isinstance(value, list) else value[torch.as_tensor(keep)] if isinstance(value, torch.Tensor) else value[keep]
        for key, value in data.items()
    }


def _paste(pieces: list, boxes: torch.Tensor, image_hw) -> np.ndarray:
    """Full-size (N, H, W) bool masks from box-cropped pieces and their image-frame inclusive boxes."""
    masks = np.zeros((len(pieces), *image_hw), dtype=bool)
    for mask, piece, (x0, y0, _, _) in zip(masks, pieces, boxes.numpy()):
        mask[y0 : y0 + piece.shape[0], x0 : x0 + piece.shape[1]] = piece
    return masks


def _outputs(masks: np.ndarray, boxes_inclusive: torch.Tensor, data: dict) -> dict:
    inclusive = boxes_inclusive.numpy().astype(np.float32).reshape(-1, 4)
    areas = masks.sum(axis=(1, 2)).astype(np.int64)
    exclusive = inclusive + np.array([0, 0, 1, 1], dtype=np.float32)
    exclusive[areas == 0] = 0
    bbox = inclusive.copy()
    bbox[:, 2:] -= bbox[:, :2]
    iou = data["iou"].numpy().astype(np.float32)
    stability = data["stability"].numpy().astype(np.float32)
    return {
        "masks": masks,
        "predicted_iou": iou,
        "scores": iou,
        "stability_score": stability,
        "stability_scores": stability,
        "point_coords": np.asarray(data["points"], dtype=np.float32).reshape(-1, 2),
        "crop_boxes": data["crop_boxes"].numpy().astype(np.float32).reshape(-1, 4),
        "boxes": exclusive,
        "bbox_xywh": bbox,
        "areas": areas,
    }
