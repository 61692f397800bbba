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
official post-processing (OpenCV), then the same box NMS.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchvision.ops.boxes import batched_nms, box_area
from tqdm.auto import tqdm

__all__ = ["AMG_DEFAULTS", "AMG_PARAM_DOCS", "AMG_RUN_OPTIONS", "AMG_RUN_OPTION_DOCS", "generate_sam", "check_amg_params"]

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

# Options of this implementation that the official generator does not have (kept out of the tables above,
# which mirror segment-anything's parameters); accepted by generate_sam and SamModel.generate alike.
AMG_RUN_OPTIONS: dict = {"progress": True}
AMG_RUN_OPTION_DOCS: dict[str, str] = {
    "progress": "show a tqdm progress bar over point batches (True/False); True default (shown only on a "
    "terminal), False silences it in scripts and batch runs",
}

UPSCALE_CHUNK = 16  # masks upscaled at once: (16, 1024, 1024) float32 = 64 MiB
DECODER_CHUNK = 2  # prompts taken through the decoder together on CPU: their (4096, 256) image tokens stay in cache
_BOUND_MARGIN = 1e-3  # logit units added to bounds to cover float rounding in the interpolation


# ---- parameters --------------------------------------------------------------------------------------
def check_amg_params(params: dict) -> dict:
    """Merge ``params`` with :data:`AMG_DEFAULTS` and :data:`AMG_RUN_OPTIONS`; ``ValueError`` (one line) if bad."""
    valid = {**AMG_DEFAULTS, **AMG_RUN_OPTIONS}
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"unknown SAM generate parameter(s) {unknown}; valid: {', '.join(valid)}")
    p = {**valid, **params}
    if not isinstance(p["progress"], (bool, np.bool_)):
        raise ValueError(f"progress must be True or False, got {p['progress']!r}")
    if "point_grids" in params and params["point_grids"] is not None and "points_per_side" not in params:
        p["points_per_side"] = None  # an explicit grid replaces the default 32x32 grid
    if (p["points_per_side"] is None) == (p["point_grids"] is None):
        raise ValueError("give exactly one of points_per_side or point_grids")
    for name in ("points_per_batch", "crop_n_points_downscale_factor"):
        if int(p[name]) < 1:
            raise ValueError(f"{name} must be >= 1, got {p[name]}")
    if p["points_per_side"] is not None and int(p["points_per_side"]) < 1:
        raise ValueError(f"points_per_side must be >= 1, got {p['points_per_side']}")
    if int(p["crop_n_layers"]) < 0 or float(p["min_mask_region_area"]) < 0:
        raise ValueError("crop_n_layers and min_mask_region_area must be >= 0")
    for name in ("box_nms_thresh", "crop_nms_thresh", "crop_overlap_ratio"):
        if not 0.0 <= float(p[name]) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {p[name]}")
    if p["point_grids"] is not None:
        grids = [np.asarray(g, dtype=np.float64) for g in p["point_grids"]]
        if len(grids) < int(p["crop_n_layers"]) + 1 or any(g.ndim != 2 or g.shape[1] != 2 for g in grids):
            raise ValueError(f"point_grids must hold one (N, 2) array per crop layer ({int(p['crop_n_layers']) + 1})")
        p["point_grids"] = grids
    return p


def layer_point_grids(p: dict) -> list[np.ndarray]:
    """Normalised (x, y) prompt grids per crop layer, exactly as the official generator builds them."""
    from segment_anything.utils.amg import build_all_layer_point_grids

    if p["point_grids"] is not None:
        return p["point_grids"]
    return build_all_layer_point_grids(
        int(p["points_per_side"]), int(p["crop_n_layers"]), int(p["crop_n_points_downscale_factor"])
    )


# ---- small array helpers ------------------------------------------------------------------------------
def mask_boxes_inclusive(masks: torch.Tensor) -> torch.Tensor:
    """(N, 4) int64 XYXY boxes with the *last* mask column/row (segment-anything's convention).

    An empty mask gets ``[0, 0, 0, 0]``.
    """
    n, h, w = masks.shape
    if n == 0:
        return torch.zeros((0, 4), dtype=torch.int64, device=masks.device)
    rows, cols = masks.any(dim=2), masks.any(dim=1)
    empty = ~rows.any(dim=1)
    top = rows.int().argmax(dim=1)
    bottom = h - 1 - rows.flip(1).int().argmax(dim=1)
    left = cols.int().argmax(dim=1)
    right = w - 1 - cols.flip(1).int().argmax(dim=1)
    boxes = torch.stack([left, top, right, bottom], dim=1).long()
    boxes[empty] = 0
    return boxes


def near_crop_edge(boxes: torch.Tensor, crop_box, image_box, atol: float = 20.0) -> torch.Tensor:
    """True for boxes (crop frame, inclusive XYXY) within ``atol`` px of a crop edge that is not an image edge."""
    x0, y0 = crop_box[0], crop_box[1]
    shifted = boxes.float() + torch.tensor([x0, y0, x0, y0], dtype=torch.float, device=boxes.device)
    crop = torch.as_tensor(crop_box, dtype=torch.float, device=boxes.device)[None]
    image = torch.as_tensor(image_box, dtype=torch.float, device=boxes.device)[None]
    near_crop = (shifted - crop).abs() <= atol
    near_image = (shifted - image).abs() <= atol
    return (near_crop & ~near_image).any(dim=1)


def _window_max(values: torch.Tensor) -> torch.Tensor:
    """Max of ``values`` (..., L) along the last axis over positions ``c-1 .. c+3`` of each c (clamped)."""
    n = values.shape[-1]
    pooled = torch.nn.functional.max_pool1d(values.reshape(-1, 1, n), 5, stride=1, padding=2).view(values.shape)
    return pooled[..., torch.clamp(torch.arange(n, device=values.device) + 1, max=n - 1)]


def _window_extreme(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Max or min (``kind``) of low-res logits (N, h, w) over rows/columns ``c-1 .. c+3`` of each cell c.

    That window holds every low-res cell an upscaled pixel with home cell c can depend on (see
    :class:`_UpscaleGeometry`), with one cell of slack for float rounding in the source index.
    """
    sign = 1.0 if kind == "max" else -1.0
    along_cols = _window_max(sign * logits)
    return sign * _window_max(along_cols.transpose(1, 2).contiguous()).transpose(1, 2)


def _resize_matrix(low: int, big: int, kept: int, out: int):
    """One axis of ``Sam.postprocess_masks`` as an (out, low) float32 matrix, with each row's nonzero band.

    Built by running the same two bilinear resizes (low -> big, keep the first ``kept``, -> out) on an
    identity matrix; returns the matrix and the first / last nonzero column of each row.
    """
    resize = torch.nn.functional.interpolate
    eye = torch.eye(low, dtype=torch.float64)[None, None]
    up = resize(eye, size=(big, low), mode="bilinear", align_corners=False)[:, :, :kept]
    matrix = resize(up, size=(out, low), mode="bilinear", align_corners=False)[0, 0]
    nonzero = (matrix != 0).int()
    first = nonzero.argmax(dim=1)
    last = low - 1 - nonzero.flip(1).argmax(dim=1)
    return matrix.float(), first.tolist(), last.tolist()


class _UpscaleGeometry:
    """``Sam.postprocess_masks`` for one crop, computed only where a mask can be, plus bounds on it.

    ``postprocess_masks`` resizes 256² logits to 1024² (bilinear), crops the padding, then resizes to the
    crop size (bilinear): a linear, separable map, ``R @ low @ C.T`` with (H, 256) and (W, 256) matrices
    (:func:`_resize_matrix`). Each output pixel is a convex combination of low-res logits from at most 3
    consecutive rows and columns starting at a "home" cell c, which bounds it by the min/max of the window
    c-1 .. c+3 (:func:`_window_extreme`). ``rows[c]``/``cols[c]`` count the output pixels whose home
    row/column is c. :meth:`upscale` uses the bound to skip output rows and columns that are below every
    cut, so a small object costs a small matrix product instead of a full-size resize.
    """

    def __init__(self, low: int, encoder_size: int, input_hw, output_hw):
        self.home_rows = torch.as_tensor(self._home_cells(low, encoder_size, input_hw[0], output_hw[0]))
        self.home_cols = torch.as_tensor(self._home_cells(low, encoder_size, input_hw[1], output_hw[1]))
        self.rows = torch.bincount(self.home_rows, minlength=low).double()
        self.cols = torch.bincount(self.home_cols, minlength=low).double()
        self.row_matrix, self.row_first, self.row_last = _resize_matrix(low, encoder_size, input_hw[0], output_hw[0])
        self.col_matrix, self.col_first, self.col_last = _resize_matrix(low, encoder_size, input_hw[1], output_hw[1])

    @staticmethod
    def _home_cells(low: int, big: int, kept: int, out: int) -> np.ndarray:
        # output pixel -> source pixel in the cropped 1024 grid (left neighbour) -> source low-res cell
        j = np.arange(out, dtype=np.float64)
        src = np.clip((j + 0.5) * (kept / out) - 0.5, 0, None)
        i = np.floor(src).astype(np.int64)
        return np.clip(np.floor(np.clip((i + 0.5) * (low / big) - 0.5, 0, None)).astype(np.int64), 0, low - 1)

    def count_bounds(self, lo: torch.Tensor, hi: torch.Tensor, cut: float):
        """(lower, upper) bounds of the number of output pixels with logit > ``cut``."""
        rows, cols = self.rows.to(lo.device), self.cols.to(lo.device)
        surely = (lo > cut + _BOUND_MARGIN).double()
        maybe = (hi > cut - _BOUND_MARGIN).double()
        lower = torch.einsum("nhw,h,w->n", surely, rows, cols)
        upper = torch.einsum("nhw,h,w->n", maybe, rows, cols)
        return lower, upper

    def upscale(self, low_res: torch.Tensor, threshold: float, offset: float):
        """Binary masks, boxes and stability scores of low-res logits (N, 256, 256) on the CPU, as the official
        generator gets them from ``postprocess_masks`` (values equal to float rounding).

        Returns ``pieces`` (list of N bool arrays, each mask cropped to its box; ``[[False]]`` if empty),
        ``boxes`` (N, 4) int64 inclusive XYXY in the crop frame (``[0, 0, 0, 0]`` if empty) and
        ``stability`` (N,) float32 (NaN when no pixel exceeds ``threshold - offset``, as the official score).
        """
        lowest = threshold - abs(offset) - _BOUND_MARGIN
        live_rows = (_window_max(low_res.amax(dim=2)) > lowest)[:, self.home_rows].numpy()  # (N, H)
        live_cols = (_window_max(low_res.amax(dim=1)) > lowest)[:, self.home_cols].numpy()  # (N, W)
        pieces, boxes, stability = [], np.zeros((len(low_res), 4), dtype=np.int64), np.full(len(low_res), np.nan, dtype=np.float32)
        for n, (rows, cols) in enumerate(zip(live_rows, live_cols)):
            ys, xs = np.flatnonzero(rows), np.flatnonzero(cols)
            if ys.size == 0 or xs.size == 0:
                pieces.append(np.zeros((1, 1), dtype=bool))
                continue
            y0, y1, x0, x1 = ys[0], ys[-1], xs[0], xs[-1]
            r0, r1 = self.row_first[y0], self.row_last[y1] + 1
            c0, c1 = self.col_first[x0], self.col_last[x1] + 1
            logits = self.row_matrix[y0 : y1 + 1, r0:r1] @ low_res[n, r0:r1, c0:c1] @ self.col_matrix[x0 : x1 + 1, c0:c1].T
            union = int(torch.count_nonzero(logits > threshold - offset))
            if union:
                stability[n] = int(torch.count_nonzero(logits > threshold + offset)) / union
            mask = (logits > threshold).cpu().numpy()
            mask_rows, mask_cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            if mask_rows.size == 0:
                pieces.append(np.zeros((1, 1), dtype=bool))
                continue
            top, bottom, left, right = mask_rows[0], mask_rows[-1], mask_cols[0], mask_cols[-1]
            pieces.append(mask[top : bottom + 1, left : right + 1])
            boxes[n] = (x0 + left, y0 + top, x0 + right, y0 + bottom)
        return pieces, torch.as_tensor(boxes), torch.as_tensor(stability)


def stability_upper_bound(low_res: torch.Tensor, geometry: _UpscaleGeometry, threshold: float, offset: float):
    """Upper bound (N,) of the stability score each low-res logit map (N, 256, 256) can reach once upscaled."""
    hi = _window_extreme(low_res, "max")
    lo = _window_extreme(low_res, "min")
    _, inter_hi = geometry.count_bounds(lo, hi, threshold + offset)
    union_lo, _ = geometry.count_bounds(lo, hi, threshold - offset)
    # inter <= union always; an empty union gives NaN in the official score (never kept)
    return torch.where(union_lo > 0, inter_hi / union_lo.clamp(min=1), torch.ones_like(inter_hi))


def stability_scores(logits: torch.Tensor, threshold: float, offset: float) -> torch.Tensor:
    """IoU of the masks cut at ``threshold ± offset`` (N,), as segment-anything computes it."""
    inter = (logits > threshold + offset).flatten(1).sum(1, dtype=torch.int32)
    union = (logits > threshold - offset).flatten(1).sum(1, dtype=torch.int32)
    return inter / union


# ---- mask decoder, reassociated -------------------------------------------------------------------
# The official decoder copies the image embedding once per prompt and projects all 4096 image tokens
# with 256x128 matrices several times per prompt. Here the first layer's image-side work is shared by
# all prompts (the image tokens are the same for every prompt until the first image-to-token attention),
# and the attentions between 7 prompt tokens and 4096 image tokens are reassociated so that the small
# matrices are multiplied first: (q Wk) k^T instead of q (Wk k)^T, (attn k) Wv instead of attn (k Wv),
# attn (v Wo) instead of (attn v) Wo. Same mathematics, ~2x fewer operations; results agree with the
# official decoder to float rounding (~1e-6 relative), as they do between two official batch sizes.
def _per_head(linear: torch.nn.Linear, heads: int):
    weight = linear.weight  # (heads * d, in)
    d = weight.shape[0] // heads
    return weight.view(heads, d, weight.shape[1]), linear.bias.view(heads, d)


def _small_by_image_t(small: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """(B, K, C) @ (1 or B, N, C)^T -> (B, K, N), without copying a shared (batch 1) image B times."""
    if image.shape[0] == 1:
        b, k, c = small.shape
        return (small.reshape(b * k, c) @ image[0].T).view(b, k, -1)
    return torch.bmm(small, image.transpose(1, 2))


def _small_by_image(small: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """(B, K, N) @ (1 or B, N, C) -> (B, K, C), without copying a shared (batch 1) image B times."""
    if image.shape[0] == 1:
        b, k, n = small.shape
        return (small.reshape(b * k, n) @ image[0]).view(b, k, -1)
    return torch.bmm(small, image)


def _token_to_image(attn, queries: torch.Tensor, image_pe: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """``attn(q=queries, k=image_pe, v=image)`` for few query tokens (B, T, C) and many image tokens."""
    heads, (b, t, c) = attn.num_heads, queries.shape
    q = attn.q_proj(queries)
    d = q.shape[-1] // heads
    q = q.view(b, t, heads, d)
    wk, bk = _per_head(attn.k_proj, heads)
    wv, bv = _per_head(attn.v_proj, heads)
    qk = torch.einsum("bthd,hdc->bhtc", q, wk).reshape(b, heads * t, c)
    logits = _small_by_image_t(qk, image_pe)  # (B, H*T, N)
    logits += torch.einsum("bthd,hd->bht", q, bk).reshape(b, heads * t, 1)
    weights = torch.softmax(logits.div_(math.sqrt(d)), dim=-1)
    pooled = _small_by_image(weights, image)  # (B, H*T, C)
    out = torch.einsum("bhtc,hdc->bthd", pooled.view(b, heads, t, c), wv) + bv
    return attn.out_proj(out.reshape(b, t, heads * d))


def _image_to_token(attn, image_pe: torch.Tensor, queries_pe: torch.Tensor, queries: torch.Tensor, residual: torch.Tensor):
    """``residual + attn(q=image_pe, k=queries_pe, v=queries)``: many image tokens attending to few prompt tokens.

    The attention weights are laid out (B, heads, T, N) so that the softmax over the T prompt tokens runs
    along contiguous image tokens (a softmax over a last axis of 7 is ~10x slower), and the residual and
    output bias are added inside the final matrix product: the weights of each head sum to 1, so the bias
    can ride on the value rows (bias / heads per head).
    """
    heads, (b, t, c) = attn.num_heads, queries.shape
    k = attn.k_proj(queries_pe)
    d = k.shape[-1] // heads
    k = k.view(b, t, heads, d)
    v = attn.v_proj(queries).view(b, t, heads, d)
    wq, bq = _per_head(attn.q_proj, heads)
    kq = torch.einsum("bthd,hdc->bhtc", k, wq).reshape(b, heads * t, c)
    logits = _small_by_image_t(kq, image_pe)  # (B, H*T, N)
    logits += torch.einsum("bthd,hd->bht", k, bq).reshape(b, heads * t, 1)
    weights = torch.softmax(logits.div_(math.sqrt(d)).view(b, heads, t, -1), dim=2).view(b, heads * t, -1)
    wo = attn.out_proj.weight.view(-1, heads, d)  # (C_out, H, d)
    vo = torch.einsum("bthd,chd->bhtc", v, wo).reshape(b, heads * t, -1) + attn.out_proj.bias / heads
    return torch.baddbmm(residual, weights.transpose(1, 2), vo)


def _pixel_linear(x: torch.Tensor, conv: torch.nn.ConvTranspose2d) -> torch.Tensor:
    """A 2x2 stride-2 transposed convolution on channels-last pixels: (..., C) -> (..., 2, 2, C_out)."""
    c_in, c_out = conv.weight.shape[:2]
    weight = conv.weight.permute(0, 2, 3, 1).reshape(c_in, 4 * c_out)  # (C, [ky, kx, C_out])
    out = torch.addmm(conv.bias.repeat(4), x.reshape(-1, c_in), weight)
    return out.view(*x.shape[:-1], 2, 2, c_out)


def _upscaled_masks(decoder, keys: torch.Tensor, hyper: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """``hyper @ output_upscaling(keys)`` computed per pixel in channels-last layout (no NCHW copies).

    keys: (B, h*w, C) image tokens; hyper: (B, M, C/8) mask weights. Returns (B, M, 4h, 4w) logits.
    """
    conv1, norm, act1, conv2, act2 = decoder.output_upscaling
    b, (h, w), m = keys.shape[0], hw, hyper.shape[1]
    x = _pixel_linear(keys, conv1)  # (B, N, 2, 2, C/4)
    x = act1(torch.nn.functional.layer_norm(x, x.shape[-1:], norm.weight, norm.bias, norm.eps))
    x = act2(_pixel_linear(x, conv2))  # (B, N, 2, 2, 2, 2, C/8)
    masks = x.reshape(b, -1, x.shape[-1]) @ hyper.transpose(1, 2)  # (B, N*16, M)
    masks = masks.view(b, h, w, 2, 2, 2, 2, m).permute(0, 7, 1, 3, 5, 2, 4, 6)  # rows: i, ky1, ky2
    return masks.reshape(b, m, 4 * h, 4 * w)


def _standard_upscaling(decoder) -> bool:
    from segment_anything.modeling.common import LayerNorm2d

    layers = list(decoder.output_upscaling)
    kinds = (torch.nn.ConvTranspose2d, LayerNorm2d, torch.nn.Module, torch.nn.ConvTranspose2d, torch.nn.Module)
    return len(layers) == 5 and all(isinstance(layer, kind) for layer, kind in zip(layers, kinds)) and all(
        conv.kernel_size == (2, 2) and conv.stride == (2, 2) and conv.padding == (0, 0) for conv in (layers[0], layers[3])
    ) and all("forward" not in vars(layer) for layer in layers) and "forward" not in vars(decoder.output_upscaling)


def fast_decoder_applies(sam) -> bool:
    """True for an unmodified segment-anything ``MaskDecoder`` (anything else runs its own forward)."""
    from segment_anything.modeling.mask_decoder import MaskDecoder
    from segment_anything.modeling.transformer import TwoWayTransformer

    decoder = sam.mask_decoder
    return (
        type(decoder) is MaskDecoder
        and type(decoder.transformer) is TwoWayTransformer
        and "forward" not in vars(decoder)
        and "forward" not in vars(decoder.transformer)
    )


def _token_side(layer, queries, tokens, keys_pe, keys):
    """One TwoWayAttentionBlock up to its image-to-token attention (updates the prompt tokens only)."""
    if layer.skip_first_layer_pe:
        queries = layer.self_attn(q=queries, k=queries, v=queries)
    else:
        q = queries + tokens
        queries = queries + layer.self_attn(q=q, k=q, v=queries)
    queries = layer.norm1(queries)
    queries = layer.norm2(queries + _token_to_image(layer.cross_attn_token_to_image, queries + tokens, keys_pe, keys))
    return layer.norm3(queries + layer.mlp(queries))


def decode_multimask(decoder, image_embeddings, image_pe, sparse, dense_one, iou_thresh: float = 0.0):
    """``MaskDecoder(..., multimask_output=True)`` for B prompts sharing one image (see note above).

    Args:
        image_embeddings, image_pe: (1, C, h, w); sparse: (B, P, C) prompt tokens;
        dense_one: (1, C, h, w) dense prompt embedding shared by all prompts (no mask input).
        iou_thresh: when > 0, masks are computed only for prompts with a candidate whose predicted IoU
            exceeds it (the IoU head does not need the masks; the generator drops the others anyway).

    Returns:
        low-res logits (K, 3, 4h, 4w) of the K prompts with masks, predicted IoU (B, 3) of all prompts, and
        (B,) bool: which prompts have masks (all when ``iou_thresh <= 0``).
    """
    transformer = decoder.transformer
    output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
    tokens = torch.cat((output_tokens[None].expand(sparse.shape[0], -1, -1), sparse), dim=1)
    _, c, h, w = image_embeddings.shape
    image = (image_embeddings + dense_one).flatten(2).transpose(1, 2).contiguous()  # (1, N, C)
    pe = image_pe.flatten(2).transpose(1, 2).contiguous()
    first, *rest = transformer.layers
    outputs = [0, *range(2, 1 + decoder.num_mask_tokens)]  # IoU token, then mask tokens 1.. (multimask output)
    image_with_pe = image + pe
    # until the first image-to-token attention, every prompt sees the same image tokens: batch all prompts
    queries_all = _token_side(first, tokens, tokens, image_with_pe, image)
    standard = _standard_upscaling(decoder)
    # on CPU, small groups are ~2x faster than one big batch (cache); accelerators want the whole batch
    chunk = DECODER_CHUNK if image.device.type == "cpu" else len(tokens)
    masks, ious, has_masks = [], [], []
    for start in range(0, len(tokens), chunk):
        queries, prompt = queries_all[start : start + chunk], tokens[start : start + chunk]
        keys = first.norm4(_image_to_token(first.cross_attn_image_to_token, image_with_pe, queries + prompt, queries, image))
        for layer in rest:
            keys_pe = keys + pe
            queries = _token_side(layer, queries, prompt, keys_pe, keys)
            keys = layer.norm4(_image_to_token(layer.cross_attn_image_to_token, keys_pe, queries + prompt, queries, keys))
        # the final attention is per query token: only the IoU token and the multimask tokens are read after it
        queries, prompt = queries[:, outputs], prompt[:, outputs]
        final = _token_to_image(transformer.final_attn_token_to_image, queries + prompt, keys + pe, keys)
        queries = transformer.norm_final_attn(queries + final)
        iou = decoder.iou_prediction_head(queries[:, 0])[:, 1:]
        need = (iou > iou_thresh).any(dim=1) if iou_thresh > 0 else torch.ones(len(iou), dtype=torch.bool, device=iou.device)
        ious.append(iou)
        has_masks.append(need)
        if not need.all():
            queries, keys = queries[need], keys[need]
        if len(keys):
            hyper = torch.stack([decoder.output_hypernetworks_mlps[i](queries[:, i]) for i in range(1, decoder.num_mask_tokens)], 1)
            masks.append(_upscaled_masks(decoder, keys, hyper, (h, w)) if standard else _upscaled_generic(decoder, keys, hyper, (h, w)))
    masks = torch.cat(masks) if masks else image_embeddings.new_zeros((0, decoder.num_mask_tokens - 1, 4 * h, 4 * w))
    return masks, torch.cat(ious), torch.cat(has_masks)


def _upscaled_generic(decoder, keys: torch.Tensor, hyper: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """``hyper @ output_upscaling(keys)`` through the decoder's own upscaling modules (any architecture)."""
    b, c = keys.shape[0], keys.shape[2]
    upscaled = decoder.output_upscaling(keys.transpose(1, 2).reshape(b, c, *hw))
    _, c_up, h_up, w_up = upscaled.shape
    return (hyper @ upscaled.view(b, c_up, h_up * w_up)).view(b, -1, h_up, w_up)


# ---- one crop ------------------------------------------------------------------------------------------
class _Candidates:
    """Masks kept so far (crop frame), each stored cropped to its box to keep memory small."""

    def __init__(self):
        self.iou, self.stability, self.points, self.boxes, self.pieces = [], [], [], [], []

    def add(self, pieces: list, boxes, iou, stability, points):
        self.pieces.extend(pieces)
        self.boxes.append(boxes.cpu())
        self.iou.append(iou.cpu())
        self.stability.append(stability.cpu())
        self.points.append(points)

    def __len__(self):
        return len(self.pieces)

    def tensors(self):
        if not self.pieces:
            return (torch.zeros((0, 4), dtype=torch.int64), torch.zeros(0), torch.zeros(0), np.zeros((0, 2)))
        return torch.cat(self.boxes), torch.cat(self.iou), torch.cat(self.stability), np.concatenate(self.points)


def official_postprocess(sam) -> bool:
    """True when ``sam.postprocess_masks`` is segment-anything's own (so :class:`_UpscaleGeometry` reproduces it)."""
    from segment_anything.modeling import Sam

    return type(sam).postprocess_masks is Sam.postprocess_masks and "postprocess_masks" not in vars(sam)


def _upscale_with_model(sam, low_res, input_hw, crop_hw, threshold, offset):
    """:meth:`_UpscaleGeometry.upscale` through the model's own ``postprocess_masks`` (any subclass)."""
    pieces, boxes, stability = [], [], []
    for start in range(0, len(low_res), UPSCALE_CHUNK):
        logits = sam.postprocess_masks(low_res[start : start + UPSCALE_CHUNK][:, None], input_hw, crop_hw)[:, 0]
        stability.append(stability_scores(logits, threshold, offset))
        masks = logits > threshold
        chunk_boxes = mask_boxes_inclusive(masks)
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


def _process_batch(sam, features, points, p, geometry, input_hw, crop_hw, crop_box, image_box, out):
    from segment_anything.utils.transforms import ResizeLongestSide

    size = sam.image_encoder.img_size
    points_input = ResizeLongestSide(size).apply_coords(points, crop_hw)
    iou_thresh = float(p["pred_iou_thresh"])
    low_res, iou, rows = _decode_points(sam, features, points_input, iou_thresh)
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
    if official_postprocess(sam) and low_res.device.type == "cpu":  # an accelerator prefers one batched resize
        pieces, boxes, stability = geometry.upscale(low_res[rows[idx]], threshold, offset)
    else:
        pieces, boxes, stability = _upscale_with_model(sam, low_res[rows[idx]], input_hw, crop_hw, threshold, offset)
    chosen = ~near_crop_edge(boxes, crop_box, image_box)
    if p["stability_score_thresh"] > 0.0:
        chosen &= stability >= p["stability_score_thresh"]
    picked = torch.nonzero(chosen)[:, 0].tolist()
    out.add([pieces[i] for i in picked], boxes[chosen], iou[idx][chosen], stability[chosen], points3[idx[chosen].cpu().numpy()])


def _process_crop(sam, image, encode, crop_box, grid, p, image_hw, bar):
    """Candidates of one crop after its box NMS, in image coordinates (the official ``_process_crop``)."""
    from segment_anything.utils.transforms import ResizeLongestSide

    x0, y0, x1, y1 = crop_box
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    crop_hw = crop.shape[:2]
    features = encode(crop)
    device = next(sam.parameters()).device
    features = features.to(device)
    size = sam.image_encoder.img_size
    input_hw = ResizeLongestSide.get_preprocess_shape(crop_hw[0], crop_hw[1], size)
    low = sam.prompt_encoder.mask_input_size[0]
    geometry = _UpscaleGeometry(low, size, input_hw, crop_hw)
    points = grid * np.array(crop_hw)[None, ::-1]
    image_box = [0, 0, image_hw[1], image_hw[0]]
    found = _Candidates()
    batch = int(p["points_per_batch"])
    for start in range(0, len(points), batch):
        _process_batch(sam, features, points[start : start + batch], p, geometry, input_hw, crop_hw, crop_box, image_box, found)
        bar.update(1)
    boxes, iou, stability, pts = found.tensors()
    keep = batched_nms(boxes.float(), iou, torch.zeros(len(boxes)), iou_threshold=p["box_nms_thresh"]).numpy()
    offset = torch.tensor([x0, y0, x0, y0])
    return {
        "boxes": boxes[keep] + offset,
        "iou": iou[keep],
        "stability": stability[keep],
        "points": pts[keep] + np.array([x0, y0]),
        "pieces": [found.pieces[i] for i in keep],
        "crop_boxes": torch.tensor([crop_box] * len(keep), dtype=torch.int64).reshape(-1, 4),
    }


# ---- small regions -------------------------------------------------------------------------------------
def remove_small_regions(mask: np.ndarray, min_area: float, mode: str) -> tuple[np.ndarray, bool]:
    """Fill holes (``mode="holes"``) or drop islands (``"islands"``) smaller than ``min_area`` pixels.

    8-connected components, as segment-anything's post-processing; an all-small mask keeps its largest
    island. Returns the mask and whether it changed.
    """
    import cv2

    holes = mode == "holes"
    working = (mask ^ holes).astype(np.uint8)
    n_labels, regions, stats, _ = cv2.connectedComponentsWithStats(working, connectivity=8)
    sizes = stats[1:, cv2.CC_STAT_AREA]
    small = np.flatnonzero(sizes < min_area) + 1
    if small.size == 0:
        return mask, False
    if holes:
        return np.isin(regions, np.concatenate([[0], small])), True
    big = np.setdiff1d(np.arange(1, n_labels), small)
    if big.size == 0:
        big = np.array([int(np.argmax(sizes)) + 1])
    return np.isin(regions, big), True


def _clean_small_regions(masks: np.ndarray, min_area: float, nms_thresh: float):
    """The official post-processing: clean every mask, prefer unchanged ones in a box NMS."""
    cleaned, unchanged = [], []
    for mask in masks:
        mask, changed_holes = remove_small_regions(mask, min_area, "holes")
        mask, changed_islands = remove_small_regions(mask, min_area, "islands")
        cleaned.append(mask)
        unchanged.append(float(not (changed_holes or changed_islands)))
    cleaned = np.stack(cleaned)
    new_boxes = mask_boxes_inclusive(torch.from_numpy(cleaned))
    scores = torch.as_tensor(unchanged)
    keep = batched_nms(new_boxes.float(), scores, torch.zeros(len(new_boxes)), iou_threshold=nms_thresh)
    keep = keep.numpy()
    return keep, cleaned[keep], new_boxes[keep]


# ---- entry point ---------------------------------------------------------------------------------------
@torch.no_grad()
def generate_sam(sam, image: np.ndarray, encode, *, progress: bool = True, **params) -> dict:
    """Automatic mask generation with a segment-anything ``Sam`` model.

    Args:
        sam: a ``segment_anything.modeling.Sam`` (any ViT size), in eval mode.
        image: HxWx3 uint8 RGB array.
        encode: ``encode(crop) -> torch.Tensor`` image embedding (1, 256, 64, 64) of an HxWx3 uint8
            crop (the whole image first, then each crop box); ``SamModel.encode`` caches both.
        progress: ``True`` shows a tqdm bar over point batches when on a terminal; ``False`` never does
            (not an official parameter; see :data:`AMG_RUN_OPTION_DOCS`).
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

    from .scene import check_rgb_uint8

    check_rgb_uint8(image)
    p = check_amg_params({**params, "progress": progress})
    grids = layer_point_grids(p)
    image_hw = image.shape[:2]
    crop_boxes, layers = generate_crop_boxes(image_hw, int(p["crop_n_layers"]), float(p["crop_overlap_ratio"]))
    n_batches = sum(math.ceil(len(grids[layer]) / int(p["points_per_batch"])) for layer in layers)
    parts = []
    bar = tqdm(total=n_batches, desc="SAM everything", unit="batch", leave=False, disable=None if p["progress"] else True)
    with bar:
        for crop_box, layer in zip(crop_boxes, layers):
            parts.append(_process_crop(sam, image, encode, crop_box, grids[layer], p, image_hw, bar))
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
