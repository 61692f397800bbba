"""Simulated SAR pairs with known change: no real SAR pair ships with the project, so we make them.

    pair = simulate_sar_pair(size=(256, 256), looks=4, seed=0)      # a synthetic landscape
    pair.write(folder)                                             # before.tif, after.tif, truth.tif

A simulated pair is built the way SAR images form, so a change detector meets the difficulties of real data:

1. a **land-cover map** (:data:`CLASSES`): a synthetic landscape (fields, a forest, a lake, a pond, a town),
   or one derived from a real optical scene (:func:`classes_from_optical`, e.g. Landsat: water from MNDWI,
   vegetation from NDVI);
2. a noise-free **reflectivity** (backscatter, dB) per class, with typical C-band VV values
   (:data:`CLASS_DB`: water -22 dB, fields -12 dB, forest -7.5 dB, built-up 0 dB), spatial variation within
   classes, and a bright texture in built-up areas (it is the same on both dates: buildings stay);
3. **known changes** on the second date (:data:`CHANGES`): a flooded field (decrease), a new building
   block (increase), a cleared forest patch (decrease), a drained pond (increase), placed where the
   land cover fits; plus *natural variation* that is not change (crop growth, soil moisture: a smooth
   random field of ``natural_variation_db`` dB over fields and bare soil);
4. independent **speckle** per date: linear power times Gamma(L, 1/L) noise with ``L`` looks
   (``L = 1``: single-look intensity, the hardest; Sentinel-1 IW GRD is about 4.4).

Truth is per pixel: 0 no change, 1 increase, 2 decrease (the ``truth`` array and ``truth.tif``).
These are **simulations**: their numbers say how methods compare on speckle of known statistics, not what
accuracy to expect on a real Sentinel-1 pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserInputError

__all__ = ["CLASSES", "CLASS_DB", "CHANGES", "NO_CHANGE", "INCREASE", "DECREASE", "ChangeSpec", "SimulatedPair",
           "synthetic_landscape", "majority_filter", "classes_from_optical", "simulate_sar_pair"]

WATER, FIELD, FOREST, BUILT, BARE = 1, 2, 3, 4, 5
CLASSES = {WATER: "water", FIELD: "field", FOREST: "forest", BUILT: "built-up", BARE: "bare soil"}
CLASS_DB = {WATER: -22.0, FIELD: -12.0, FOREST: -7.5, BUILT: 0.0, BARE: -14.0}
"""Typical C-band VV backscatter (dB) per class: calm water is a mirror, forests scatter in their volume,
buildings form bright double bounces with the ground."""
_CLASS_SPREAD_DB = {WATER: 1.0, FIELD: 2.0, FOREST: 0.5, BUILT: 1.0, BARE: 1.5}  # smooth variation within a class
_BUILT_TEXTURE_DB = 3.0  # pixel-to-pixel texture of built-up areas (std, dB)
NO_CHANGE, INCREASE, DECREASE = 0, 1, 2


@dataclass(frozen=True)
class ChangeSpec:
    """One kind of known change.

    Attributes:
        name: what happened.
        source: the land-cover class it happens in (a :data:`CLASSES` key).
        target: the class it becomes (its backscatter: :data:`CLASS_DB`).
        target_db: override of the new backscatter (dB), e.g. wet soil after draining.
        shape: ``"rect"`` (a patch of ``size`` x ``size * aspect`` pixels) or ``"component"`` (a whole
            connected region of ``source`` of about ``size**2`` pixels, e.g. a pond).
        size: patch side as a fraction of the scene's shorter side.
        aspect: width / height of the patch.
    """

    name: str
    source: int
    target: int
    target_db: float | None = None
    shape: str = "rect"
    size: float = 0.12
    aspect: float = 1.0


CHANGES = (
    ChangeSpec("flooded field", FIELD, WATER, size=0.14, aspect=1.6),
    ChangeSpec("new building block", FIELD, BUILT, size=0.08, aspect=1.5),
    ChangeSpec("cleared patch", FOREST, BARE, size=0.12, aspect=0.8),
    ChangeSpec("drained pond", WATER, BARE, target_db=-13.0, shape="component", size=0.09),
)


@dataclass
class SimulatedPair:
    """A simulated SAR pair and its truth (see the module docstring).

    Attributes:
        before, after: float32 (H, W) linear power with speckle (0 where invalid).
        truth: uint8 (H, W): 0 no change, 1 increase, 2 decrease.
        reflectivity_before_db, reflectivity_after_db: float32 (H, W) noise-free backscatter (dB).
        classes: uint8 (H, W) land cover of the first date (:data:`CLASSES`).
        changes: one dict per placed change: ``name``, ``direction``, ``pixels``, ``box`` (pixel XYXY),
            ``delta_db`` (mean reflectivity change).
        looks: the speckle's number of looks.
        valid: (H, W) bool (``False`` in the nodata wedge).
        crs, transform: georeferencing of the written files.
    """

    before: np.ndarray
    after: np.ndarray
    truth: np.ndarray
    reflectivity_before_db: np.ndarray
    reflectivity_after_db: np.ndarray
    classes: np.ndarray
    changes: list = field(default_factory=list)
    looks: float = 4.0
    valid: np.ndarray | None = None
    crs: object = None
    transform: object = None

    @property
    def change(self) -> np.ndarray:
        """(H, W) bool: the known change mask."""
        return self.truth > 0

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.truth.shape)

    def write(self, folder, units: str = "linear", names=("before.tif", "after.tif", "truth.tif")) -> dict:
        """Write the pair as float32 GeoTIFFs in ``units`` (``"linear"``: nodata 0; ``"db"``: nodata NaN) and the
        truth as uint8 (0/1/2, nodata 255). Returns ``{"before", "after", "truth"}`` paths."""
        import rasterio

        from ..atomic import atomic_output

        if units not in ("linear", "db"):
            raise UserInputError(f"units must be 'linear' or 'db', got {units!r}")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        valid = np.ones(self.shape, bool) if self.valid is None else self.valid
        profile = dict(driver="GTiff", width=self.shape[1], height=self.shape[0], count=1, crs=self.crs,
                       transform=self.transform, tiled=True, blockxsize=256, blockysize=256, compress="deflate")
        paths = {}
        for key, data, name in (("before", self.before, names[0]), ("after", self.after, names[1])):
            if units == "linear":
                values, nodata = np.where(valid, data, 0.0), 0.0
            else:
                with np.errstate(divide="ignore"):
                    values, nodata = np.where(valid, 10 * np.log10(data), np.nan), float("nan")
            with atomic_output(folder / name) as tmp, rasterio.open(tmp, "w", dtype="float32", nodata=nodata,
                                                                      **profile) as dst:
                dst.write(values.astype(np.float32), 1)
                dst.set_band_description(1, f"sigma0_vv_{'linear' if units == 'linear' else 'db'}")
                dst.update_tags(SAMRS_SIMULATED="SAR pair with known change", looks=str(self.looks), units=units)
            paths[key] = folder / name
        with atomic_output(folder / names[2]) as tmp, rasterio.open(tmp, "w", dtype="uint8", nodata=255,
                                                                      **profile) as dst:
            dst.write(np.where(valid, self.truth, 255).astype(np.uint8), 1)
            dst.set_band_description(1, "change: 0 none, 1 increase, 2 decrease")
        paths["truth"] = folder / names[2]
        return paths


# ---- land cover ----------------------------------------------------------------------------------
def _smooth_noise(shape, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth random field of unit standard deviation with a correlation length of ~``sigma`` pixels."""
    from scipy.ndimage import gaussian_filter

    noise = gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    return noise / (noise.std() or 1.0)


def synthetic_landscape(size=(256, 256), seed: int = 0) -> np.ndarray:
    """A synthetic land-cover map (uint8 (H, W), :data:`CLASSES`): fields everywhere, a forest on the right,
    a lake at the bottom left, a small pond, a town in the middle; proportions scale with ``size``."""
    from skimage.draw import disk, ellipse

    height, width = (int(v) for v in size)
    if min(height, width) < 64:
        raise UserInputError(f"a simulated landscape needs at least 64 x 64 pixels, got {size}")
    rng = np.random.default_rng(seed)
    classes = np.full((height, width), FIELD, np.uint8)
    waves = rng.uniform(1, 2)
    boundary = width * (0.7 + 0.05 * np.sin(np.arange(height) / height * 2 * np.pi * waves))  # a ragged edge
    classes[np.arange(width)[None, :] >= boundary[:, None]] = FOREST
    s = min(height, width)
    rr, cc = ellipse(height * 0.78, width * 0.2, s * 0.12, s * 0.17, shape=(height, width), rotation=rng.uniform(0, 1))
    classes[rr, cc] = WATER
    rr, cc = disk((height * 0.25, width * 0.55), s * 0.05, shape=(height, width))
    classes[rr, cc] = WATER
    r0, c0 = int(height * 0.42), int(width * 0.38)
    classes[r0: r0 + int(s * 0.12), c0: c0 + int(s * 0.16)] = BUILT
    classes[r0 + int(s * 0.12): r0 + int(s * 0.15), c0: c0 + int(s * 0.16)] = BARE  # a car park / building site
    return classes


def majority_filter(classes: np.ndarray, size: int = 3) -> np.ndarray:
    """Each pixel takes the most frequent class of its ``size`` x ``size`` window (0 = nodata stays 0)."""
    from scipy.ndimage import uniform_filter

    classes = np.asarray(classes, np.uint8)
    if size <= 1:
        return classes.copy()
    values = [v for v in np.unique(classes) if v != 0]
    if not values:
        return classes.copy()
    shares = np.stack([uniform_filter((classes == v).astype(np.float32), size, mode="nearest") for v in values])
    out = np.asarray(values, np.uint8)[np.argmax(shares, axis=0)]
    out[classes == 0] = 0
    return out


def classes_from_optical(swir1, nir, red, green, valid=None, smooth: int = 3) -> np.ndarray:
    """Land cover (uint8, :data:`CLASSES`) from four optical bands (any consistent scaling, e.g. Landsat).

    Rules (approximate; this is a *derived* map, not a reference): water where MNDWI = (green - swir1) /
    (green + swir1) > 0; bare soil where NDVI = (nir - red) / (nir + red) < 0.4; among vegetation, forest
    where SWIR1 is below its median (dense canopies are darker in SWIR) and fields elsewhere. Built-up
    areas cannot be told from bare soil with these bands: they become bare soil. Invalid pixels are 0.
    A ``smooth`` x ``smooth`` majority filter then removes single-pixel salt and pepper (land cover comes in
    parcels; isolated pixels would make the simulated backscatter a speckle-like texture).
    """
    swir1, nir, red, green = (np.asarray(b, dtype=np.float64) for b in (swir1, nir, red, green))
    with np.errstate(divide="ignore", invalid="ignore"):
        mndwi = (green - swir1) / (green + swir1)
        ndvi = (nir - red) / (nir + red)
    ok = np.isfinite(mndwi) & np.isfinite(ndvi)
    if valid is not None:
        ok &= np.asarray(valid, bool)
    classes = np.zeros(swir1.shape, np.uint8)
    vegetation = ok & (mndwi <= 0) & (ndvi >= 0.4)
    classes[vegetation] = FIELD
    if vegetation.any():
        classes[vegetation & (swir1 < np.median(swir1[vegetation]))] = FOREST
    classes[ok & (mndwi <= 0) & (ndvi < 0.4)] = BARE
    classes[ok & (mndwi > 0)] = WATER
    return majority_filter(classes, smooth)


# ---- changes ---------------------------------------------------------------------------------------
def _place_rect(classes, source, height, width, taken, rng):
    """Top-left (row, col) of a ``height`` x ``width`` patch that is >= 95 % ``source`` and clear of ``taken``."""
    from scipy.ndimage import uniform_filter

    share = uniform_filter((classes == source).astype(np.float64), (height, width), mode="constant")
    clear = uniform_filter(taken.astype(np.float64), (height, width), mode="constant") == 0
    centre_ok = (share >= 0.95) & clear
    h, w = classes.shape
    centre_ok[: height // 2 + 1] = centre_ok[h - (height - height // 2):] = False
    centre_ok[:, : width // 2 + 1] = centre_ok[:, w - (width - width // 2):] = False
    candidates = np.argwhere(centre_ok)
    if len(candidates) == 0:
        return None
    r, c = candidates[rng.integers(len(candidates))]
    return int(r - height // 2), int(c - width // 2)


def _footprint(spec: ChangeSpec, classes, taken, rng) -> np.ndarray | None:
    """The pixels of one change (bool (H, W)), or ``None`` when the land cover offers no place for it."""
    from scipy.ndimage import binary_dilation, label

    s = min(classes.shape)
    if spec.shape == "component":
        labels, n = label(classes == spec.source)
        areas = np.bincount(labels.ravel(), minlength=n + 1)
        target = (spec.size * s) ** 2
        ok = [i for i in range(1, n + 1) if target / 4 <= areas[i] <= target * 4
              and not (taken & (labels == i)).any()]
        if not ok:
            return None
        return labels == ok[rng.integers(len(ok))]
    spot = None
    for scale in (1.0, 0.75, 0.5):  # a smaller patch where the land cover offers no room for the full one
        height = max(4, int(round(spec.size * s * scale)))
        width = max(4, int(round(height * spec.aspect)))
        spot = _place_rect(classes, spec.source, height, width, binary_dilation(taken, iterations=3), rng)
        if spot is not None:
            break
    if spot is None:
        return None
    mask = np.zeros(classes.shape, bool)
    mask[spot[0]: spot[0] + height, spot[1]: spot[1] + width] = True
    return mask & (classes == spec.source)


def simulate_sar_pair(size=(256, 256), looks: float = 4.0, seed: int = 0, classes: np.ndarray | None = None,
                      changes=CHANGES, natural_variation_db: float = 1.0, nodata_edge: float = 0.0,
                      crs="EPSG:32618", transform=None, resolution: float = 10.0) -> SimulatedPair:
    """A simulated SAR pair with known change (see the module docstring).

    Args:
        size: (rows, cols) of a synthetic landscape (ignored when ``classes`` is given).
        looks: speckle looks ``L`` (Gamma(L, 1/L) multiplicative noise; 1 = single look).
        seed: fixes the landscape, the change locations, the natural variation and the speckle.
        classes: a land-cover map (uint8 (H, W), :data:`CLASSES`; 0 = nodata), e.g. from
            :func:`classes_from_optical`; ``None``: :func:`synthetic_landscape`.
        changes: the :class:`ChangeSpec` to place (each where its source class fits; skipped with a
            note in ``pair.changes`` when nowhere fits).
        natural_variation_db: std (dB) of the smooth, unchanged-class variation between the dates over
            fields and bare soil (crop growth, moisture): not change, but a threshold must ignore it.
        nodata_edge: width fraction of a nodata wedge on the left (like a swath border), 0 for none.
        crs, transform: georeferencing (default: UTM 18N, ``resolution`` metres from (500000, 4500000)).
    """
    from rasterio.transform import from_origin

    if not looks or looks <= 0:
        raise UserInputError(f"looks must be > 0, got {looks!r}")
    rng = np.random.default_rng(seed)
    classes = synthetic_landscape(size, seed) if classes is None else np.asarray(classes, np.uint8)
    shape = classes.shape
    valid = classes > 0
    if nodata_edge:
        rows = np.arange(shape[0])[:, None]
        valid &= np.arange(shape[1])[None, :] >= nodata_edge * shape[1] * (0.5 + rows / shape[0])
    before_db = np.zeros(shape, np.float64)
    for cls, base in CLASS_DB.items():
        inside = classes == cls
        before_db[inside] = base + _CLASS_SPREAD_DB[cls] * _smooth_noise(shape, 6.0, rng)[inside]
    texture = _BUILT_TEXTURE_DB * rng.standard_normal(shape)  # permanent scatterers: the same on both dates
    before_db[classes == BUILT] += texture[classes == BUILT]
    variable = (classes == FIELD) | (classes == BARE)
    after_db = before_db + np.where(variable, natural_variation_db * _smooth_noise(shape, 10.0, rng), 0.0)
    truth = np.zeros(shape, np.uint8)
    taken = ~valid
    placed = []
    for spec in changes:
        mask = _footprint(spec, classes, taken, rng)
        if mask is None or not (mask & valid).any():
            placed.append({"name": spec.name, "direction": "not placed", "pixels": 0})
            continue
        mask &= valid
        new_db = CLASS_DB[spec.target] if spec.target_db is None else spec.target_db
        after_db[mask] = new_db + _CLASS_SPREAD_DB[spec.target] * _smooth_noise(shape, 6.0, rng)[mask]
        if spec.target == BUILT:
            after_db[mask] += texture[mask]
        delta = float(np.mean(after_db[mask] - before_db[mask]))
        truth[mask] = INCREASE if delta > 0 else DECREASE
        rows, cols = np.nonzero(mask)
        placed.append({"name": spec.name, "direction": "increase" if delta > 0 else "decrease",
                       "pixels": int(mask.sum()), "delta_db": round(delta, 2),
                       "box": (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)})
        taken = taken | mask
    speckle = [rng.gamma(looks, 1.0 / looks, shape) for _ in range(2)]
    before = np.where(valid, np.power(10.0, before_db / 10) * speckle[0], 0.0).astype(np.float32)
    after = np.where(valid, np.power(10.0, after_db / 10) * speckle[1], 0.0).astype(np.float32)
    if transform is None:
        transform = from_origin(500_000.0, 4_500_000.0, resolution, resolution)
    return SimulatedPair(before, after, np.where(valid, truth, 0).astype(np.uint8), before_db.astype(np.float32),
                         after_db.astype(np.float32), classes, placed, float(looks), valid, crs, transform)
