"""``Masks``: the one result type every backend (SAM, SAM 2, FastSAM, conventional) returns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .maskops import boxes_from_masks, label_raster
from .render import overlay_masks
from .smoke import SMOKE_BANNER


@dataclass
class Masks:
    """Masks predicted for one scene, with the scores and context needed to trust and export them.

    Attributes:
        masks: bool array (N, H, W), one binary mask per candidate, in scene pixels.
        scores: float32 (N,), the model's confidence (SAM: predicted IoU; FastSAM: detection
            confidence; conventional: 1.0).
        boxes: float32 (N, 4) XYXY pixel boxes (column, row) enclosing each mask; derived from the
            masks when not given.
        logits: optional float32 (N, 256, 256) low-resolution logits, to feed back as ``mask_input``.
        model: registry name of the model that made them.
        prompt_type: ``"points"``, ``"boxes"``, ``"points+boxes"``, ``"everything"``, ``"text"``, ...
        prompts: the prompts used, in pixel coordinates (``points``, ``labels``, ``boxes``, ``text``).
        timings: seconds per step, e.g. ``{"encode": 0.0, "predict": 0.012}``.
        crs, transform: georeferencing of the scene (``None`` for plain images).
        stability_scores: optional float32 (N,) (automatic generation).
        point_coords: optional float32 (N, 2), the prompt point that produced each mask.
        crop_boxes: optional float32 (N, 4) XYXY crop each mask came from.
        tile_ids: optional int32 (N,) tile each mask came from (tiled inference).
        smoke: ``True`` when the model had untrained (smoke) weights: masks are meaningless.
        extra: per-backend extras that do not fit above.
    """

    masks: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray | None = None
    logits: np.ndarray | None = None
    model: str = ""
    prompt_type: str = ""
    prompts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    crs: object | None = None
    transform: object | None = None
    stability_scores: np.ndarray | None = None
    point_coords: np.ndarray | None = None
    crop_boxes: np.ndarray | None = None
    tile_ids: np.ndarray | None = None
    smoke: bool = False
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.masks = np.asarray(self.masks, dtype=bool)
        if self.masks.ndim == 2:
            self.masks = self.masks[None]
        if self.masks.ndim != 3:
            raise ValueError(f"masks must be (N, H, W), got shape {self.masks.shape}")
        n = self.masks.shape[0]
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        if self.scores.shape[0] != n:
            raise ValueError(f"{n} masks but {self.scores.shape[0]} scores")
        if self.boxes is None:
            self.boxes = boxes_from_masks(self.masks)
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(n, 4)

    # ---- size and selection -------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.masks.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the scene."""
        return int(self.masks.shape[1]), int(self.masks.shape[2])

    @property
    def areas(self) -> np.ndarray:
        """Pixel count of each mask (N,)."""
        return self.masks.sum(axis=(1, 2))

    def select(self, index) -> Masks:
        """A new ``Masks`` holding the masks at ``index`` (int, slice, list or bool array)."""
        try:
            idx = np.atleast_1d(np.arange(len(self))[index])
        except IndexError:
            raise ValueError(f"index {index!r} is out of range for {len(self)} mask(s)") from None

        def take(a):
            return None if a is None else np.asarray(a)[idx]

        return replace(
            self,
            masks=self.masks[idx],
            scores=self.scores[idx],
            boxes=self.boxes[idx],
            logits=take(self.logits),
            stability_scores=take(self.stability_scores),
            point_coords=take(self.point_coords),
            crop_boxes=take(self.crop_boxes),
            tile_ids=take(self.tile_ids),
            prompts=dict(self.prompts),
            timings=dict(self.timings),
            extra=dict(self.extra),
        )

    def best(self) -> Masks:
        """The single highest-scoring mask, as a ``Masks`` of length 1."""
        if len(self) == 0:
            raise ValueError("no masks to choose from")
        return self.select([int(np.argmax(self.scores))])

    def sorted(self, by: str = "score") -> Masks:
        """Masks ordered by ``"score"`` (high first) or ``"area"`` (large first)."""
        key = self.scores if by == "score" else self.areas
        return self.select(np.argsort(-np.asarray(key), kind="stable"))

    @classmethod
    def concat(cls, parts: list[Masks]) -> Masks:
        """Join results for the same scene into one ``Masks``."""
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]

        def cat(attr):
            values = [getattr(p, attr) for p in parts]
            return None if any(v is None for v in values) else np.concatenate(values)

        return replace(
            first,
            masks=np.concatenate([p.masks for p in parts]),
            scores=np.concatenate([p.scores for p in parts]),
            boxes=np.concatenate([p.boxes for p in parts]),
            logits=cat("logits"),
            stability_scores=cat("stability_scores"),
            point_coords=cat("point_coords"),
            crop_boxes=cat("crop_boxes"),
            tile_ids=cat("tile_ids"),
        )

    # ---- rasters ------------------------------------------------------------------------------
    def to_label_raster(self) -> np.ndarray:
        """uint32 (H, W) instance labels: 0 = background, mask i -> i + 1.

        Where masks overlap the smaller mask is on top, the rule of every label raster sam-rs writes
        (:func:`helpers.maskops.label_raster`); a mask entirely under smaller ones has no pixel here.
        """
        return label_raster(self.masks)

    def union(self) -> np.ndarray:
        """bool (H, W): pixels covered by any mask."""
        return self.masks.any(axis=0) if len(self) else np.zeros(self.shape, dtype=bool)

    # ---- display ------------------------------------------------------------------------------
    def overlay(self, image: np.ndarray, alpha: float = 0.45, seed: int = 0) -> np.ndarray:
        """HxWx3 uint8: ``image`` with each mask painted in its colour, small on top (like SAM's show_anns)."""
        return overlay_masks(image, self.masks, alpha=alpha, seed=seed)

    def show(self, image: np.ndarray | None = None, ax=None, scores: bool = True, title: str | None = None):
        """Plot the masks over ``image`` (HxWx3 uint8) with matplotlib; returns the axes.

        Prompt points are drawn as green (foreground) / red (background) stars and boxes in yellow.
        Results from smoke weights carry the banner "untrained weights — masks are meaningless".
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 6))
        base = image if image is not None else np.full((*self.shape, 3), 40, np.uint8)
        ax.imshow(self.overlay(base))
        pts = self.prompts.get("points")
        if pts is not None and len(pts):
            pts = np.asarray(pts, dtype=float)
            labels = np.asarray(self.prompts.get("labels", np.ones(len(pts))))
            for lab, colour in ((1, "lime"), (0, "red")):
                sel = labels == lab
                ax.scatter(pts[sel, 0], pts[sel, 1], marker="*", s=220, c=colour, edgecolors="white")
        boxes = self.prompts.get("boxes")
        if boxes is not None:
            for x0, y0, x1, y1 in np.asarray(boxes, dtype=float).reshape(-1, 4):
                ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="yellow", lw=2))
        label = title or f"{self.model} · {self.prompt_type} · {len(self)} mask(s)"
        if scores and title is None and 0 < len(self) <= 3:
            label += " · scores " + ", ".join(f"{s:.3f}" for s in self.scores)
        if self.smoke:
            label += f"\n⚠ {SMOKE_BANNER}"
        ax.set_title(label, fontsize=9)
        ax.set_axis_off()
        return ax

    # ---- accuracy (implemented in helpers.metrics) ---------------------------------------------
    def evaluate(self, reference, **options):
        """Score these masks against reference data (label raster, mask, vector file / GeoDataFrame in
        any CRS): object F1 and mean IoU, pixel IoU/Dice, boundary F. See :func:`helpers.metrics.evaluate`
        for ``options`` (``iou_threshold``, ``tolerance_m``, ``tolerance_px``, ``method``, ``time_s``).

        Returns an :class:`helpers.metrics.Evaluation` (``print(...)`` shows a table; ``.objects`` has one
        row per reference object). Masks from smoke weights are scored too, and say so.
        """
        from .metrics import evaluate

        return evaluate(self, reference, **options)

    # ---- export (implemented in helpers.export) -------------------------------------------------
    def to_geotiff(self, path, **options):
        """Write uint32 instance labels as a GeoTIFF; see :func:`helpers.export.write_label_geotiff`."""
        from .export import masks_to_geotiff

        return masks_to_geotiff(self, path, **options)

    def to_gdf(self, **options):
        """Polygons as a GeoDataFrame; see :func:`helpers.export.masks_to_gdf`."""
        from .export import masks_to_gdf

        return masks_to_gdf(self, **options)

    def to_png(self, path, image: np.ndarray | None = None, **options):
        """Write an overlay PNG (with ``image``) or a mask PNG; see :func:`helpers.export.masks_to_png`."""
        from .export import masks_to_png

        return masks_to_png(self, path, image=image, **options)

    def to_file(self, path, **options):
        """Write polygons to GeoJSON / Shapefile / GeoPackage / GeoParquet by extension."""
        from .export import masks_to_file

        return masks_to_file(self, path, **options)

    def __repr__(self) -> str:
        smoke = ", SMOKE" if self.smoke else ""
        return (
            f"Masks(n={len(self)}, shape={self.shape}, model={self.model!r}, "
            f"prompt_type={self.prompt_type!r}{smoke})"
        )
