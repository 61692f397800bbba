"""SAR intensity arithmetic: units, speckle filters, the log-ratio, and the 8-bit difference image.

Everything here is array in, array out (numpy), with a boolean ``valid`` mask beside every image: the
windowed raster passes of :mod:`helpers.change.difference` call these functions window by window.

The order matters, and the public change-detection recipes often get it wrong:

1. work in **linear power** (sigma0 / gamma0 intensity, not dB, not amplitude): speckle is multiplicative
   with mean 1 there, so averaging filters are unbiased (averaging dB values underestimates the mean
   power by ~2.5 dB for 1-look data);
2. filter speckle (:func:`boxcar`, :func:`lee`) in linear power;
3. take the **log-ratio** ``10 * log10((after + eps) / (before + eps))`` (in dB, = the change in dB): the
   ratio of two powers, ``eps`` added to both BEFORE dividing, so a zero power never divides; a ratio of
   dB values (``after_db / before_db``) is meaningless (its sign flips at 0 dB), see
   :func:`naive_log_ratio`, kept to show what goes wrong;
4. map the log-ratio to 8 bits with a fixed, documented scale (:func:`difference_image`), never by casting
   log values straight to uint8 (negative values wrap around).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import UserInputError

__all__ = ["UNITS", "FILTERS", "DEFAULT_EPSILON", "DEFAULT_SCALE_DB", "DIFFERENCE_STYLES", "SpeckleFilter",
           "check_units", "to_linear", "parse_filter", "boxcar", "lee", "estimate_looks", "filter_speckle",
           "log_ratio", "naive_log_ratio", "difference_image"]

UNITS = ("linear", "db")
"""Input units: ``"linear"`` power (intensity: sigma0/gamma0, > 0) or ``"db"`` (``10 * log10(power)``)."""

FILTERS = ("none", "boxcar", "lee")

DEFAULT_EPSILON = 1e-4
"""Added to both powers before dividing: -40 dB, below any real backscatter (Sentinel-1's noise floor is
about -22 dB), so it changes nothing except where a pixel is ~0 and would make the ratio infinite."""

DEFAULT_SCALE_DB = 10.0
"""|log-ratio| mapped to 255 in the 8-bit difference image (0 dB -> 0): a change of 10 dB or more is white."""

DIFFERENCE_STYLES = ("signed", "grey")


# ---- units ---------------------------------------------------------------------------------------
def check_units(values: np.ndarray, units: str, name: str = "input") -> None:
    """Refuse obvious unit mistakes, seen on a sample of valid pixel values.

    Args:
        values: 1-D float array of valid pixel values (a sample is enough).
        units: what the user says the file holds, ``"linear"`` or ``"db"``.
        name: the file name for the message.

    Raises:
        UserInputError: ``"linear"`` with more than 1 % negative values (power cannot be negative: dB?);
            ``"db"`` with no negative value and a median below 1 (linear sigma0 is ~0.001-1; dB values of
            land and water are mostly negative).

    Warns:
        UserWarning: ``"linear"`` with a median above 10 (digital numbers or amplitude, not calibrated power).
    """
    if units not in UNITS:
        raise UserInputError(f"units must be one of {', '.join(UNITS)}; got {units!r}")
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise UserInputError(f"{name} has no valid pixels (all nodata/NaN)")
    negative = float(np.mean(values < 0))
    if units == "linear" and negative > 0.01:
        raise UserInputError(f"{name}: {negative:.0%} of the values are negative, which linear power cannot be; "
                             "it looks like dB (pass units='db' / --units db)")
    if units == "db" and negative == 0 and float(np.median(values)) < 1.0:
        raise UserInputError(f"{name}: no negative value and a median of {np.median(values):.3g}: this looks like "
                             "linear power, not dB (pass units='linear' / --units linear)")
    if units == "linear" and float(np.median(values)) > 10.0:
        warnings.warn(f"{name}: median value {np.median(values):.3g} is far above calibrated backscatter "
                      "(sigma0 is ~0.001-1): uncalibrated digital numbers or amplitude? Calibrate to sigma0 / "
                      "gamma0 intensity first (an amplitude log-ratio is half the intensity one in dB)",
                      UserWarning, stacklevel=2)


def to_linear(data: np.ndarray, units: str, valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Values in ``units`` -> (float64 linear power, valid mask); power <= 0 or non-finite is invalid.

    Args:
        data: (H, W) array in ``units``.
        units: ``"linear"`` or ``"db"``.
        valid: (H, W) bool mask of pixels with data (``None``: all).
    """
    data = np.asarray(data, dtype=np.float64)
    power = data.copy() if units == "linear" else np.power(10.0, data / 10.0)
    ok = np.isfinite(power) & (power > 0)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    power[~ok] = 0.0
    return power, ok


# ---- speckle filters ----------------------------------------------------------------------------
class SpeckleFilter:
    """A parsed filter choice: ``kind`` (``none``, ``boxcar``, ``lee``) and ``size`` (odd window, pixels)."""

    def __init__(self, kind: str = "none", size: int = 1):
        self.kind, self.size = kind, int(size)

    @property
    def halo(self) -> int:
        """Pixels of context a window needs on each side for the filter to equal the whole-image result."""
        return self.size // 2 if self.kind != "none" else 0

    def __str__(self) -> str:
        return "none" if self.kind == "none" else f"{self.kind}:{self.size}"

    def __repr__(self) -> str:
        return f"SpeckleFilter({str(self)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, SpeckleFilter) and (self.kind, self.size) == (other.kind, other.size)

    def __hash__(self) -> int:
        return hash((self.kind, self.size))


def parse_filter(spec) -> SpeckleFilter:
    """``"lee:5"``, ``"boxcar:7"``, ``"none"`` (or a :class:`SpeckleFilter`) -> :class:`SpeckleFilter`.

    The window size is in pixels, odd, 3 to 31 (default 5 when only the name is given).
    """
    if isinstance(spec, SpeckleFilter):
        return spec
    text = "none" if spec is None else str(spec).strip().lower()
    kind, _, size_text = text.partition(":")
    if kind not in FILTERS:
        raise UserInputError(f"unknown speckle filter {spec!r}; use none, boxcar:N or lee:N (N odd, pixels)")
    if kind == "none":
        if size_text:
            raise UserInputError(f"filter 'none' takes no window size, got {spec!r}")
        return SpeckleFilter()
    try:
        size = int(size_text) if size_text else 5
    except ValueError:
        raise UserInputError(f"filter window must be an odd number of pixels, got {spec!r}") from None
    if size < 3 or size > 31 or size % 2 == 0:
        raise UserInputError(f"filter window must be odd, 3 to 31 pixels, got {size} in {spec!r}")
    return SpeckleFilter(kind, size)


def _local_moments(power: np.ndarray, valid: np.ndarray, size: int):
    """Mean and variance of valid pixels in a ``size`` x ``size`` window (normalised convolution), and the
    valid count fraction; nodata neighbours are left out instead of pulling the mean to 0."""
    from scipy.ndimage import uniform_filter

    weight = valid.astype(np.float64)
    x = np.where(valid, power, 0.0)
    count = uniform_filter(weight, size, mode="constant")
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = uniform_filter(x, size, mode="constant") / count
        mean_sq = uniform_filter(x * x, size, mode="constant") / count
    var = np.maximum(mean_sq - mean * mean, 0.0)
    return np.nan_to_num(mean), np.nan_to_num(var), count


def boxcar(power: np.ndarray, size: int, valid: np.ndarray | None = None) -> np.ndarray:
    """Boxcar (moving average) filter of linear power over valid pixels; invalid pixels stay 0.

    Args:
        power: (H, W) linear power.
        size: odd window side in pixels.
        valid: (H, W) bool (``None``: all valid).
    """
    valid = np.ones(power.shape, bool) if valid is None else valid
    mean, _, _ = _local_moments(power, valid, size)
    return np.where(valid, mean, 0.0)


def lee(power: np.ndarray, size: int, looks: float, valid: np.ndarray | None = None) -> np.ndarray:
    """Lee (1980) adaptive speckle filter of linear power: ``m + W (y - m)``, ``W = 1 - Cu² / Ci²`` in [0, 1].

    ``Cu² = 1 / looks`` is the speckle's squared coefficient of variation, ``Ci = std / mean`` the local
    one: flat areas (``Ci ≈ Cu``) get the local mean, edges and point targets (``Ci >> Cu``) keep their value.

    Args:
        power: (H, W) linear power.
        size: odd window side in pixels.
        looks: equivalent number of looks (ENL) of the data (Sentinel-1 IW GRD high resolution: ~4.4;
            single-look complex intensity: 1); see :func:`estimate_looks`.
        valid: (H, W) bool (``None``: all valid).
    """
    if not looks or looks <= 0:
        raise UserInputError(f"looks must be a positive number (equivalent number of looks), got {looks!r}")
    valid = np.ones(power.shape, bool) if valid is None else valid
    mean, var, _ = _local_moments(power, valid, size)
    with np.errstate(divide="ignore", invalid="ignore"):
        ci2 = var / (mean * mean)
        weight = np.clip(1.0 - (1.0 / looks) / ci2, 0.0, 1.0)
    weight = np.nan_to_num(weight)
    return np.where(valid, mean + weight * (power - mean), 0.0)


def estimate_looks(power: np.ndarray, valid: np.ndarray | None = None, size: int = 7) -> float:
    """Equivalent number of looks: the median of ``mean² / variance`` over non-overlapping ``size``-pixel
    windows (fully valid ones).

    Fully developed speckle of ENL ``L`` has ``mean² / variance = L`` in homogeneous areas; edges and
    texture lower the local value, so the median over a mostly homogeneous scene is a slight
    underestimate (it errs towards more smoothing). Use the documented ENL of the product when known.
    """
    power = np.asarray(power, dtype=np.float64)
    valid = np.ones(power.shape, bool) if valid is None else valid
    h, w = (power.shape[0] // size) * size, (power.shape[1] // size) * size
    if h == 0 or w == 0:
        raise UserInputError(f"image too small to estimate the number of looks ({power.shape}, window {size})")
    blocks = power[:h, :w].reshape(h // size, size, w // size, size)
    full = valid[:h, :w].reshape(h // size, size, w // size, size).all(axis=(1, 3))
    mean = blocks.mean(axis=(1, 3))[full]
    var = blocks.var(axis=(1, 3), ddof=1)[full]
    ok = (var > 0) & (mean > 0)
    if ok.sum() < 10:
        raise UserInputError("too few valid windows to estimate the number of looks; give looks= explicitly")
    return float(np.median(mean[ok] ** 2 / var[ok]))


def filter_speckle(power: np.ndarray, valid: np.ndarray | None = None, speckle_filter="lee:5",
                   looks: float | None = None) -> np.ndarray:
    """Speckle-filter LINEAR power (never dB: averaging dB values biases the mean power low).

    Args:
        power: (H, W) linear power.
        valid: (H, W) bool (``None``: all valid); invalid pixels are left out of every window and stay 0.
        speckle_filter: ``"none"``, ``"boxcar:N"``, ``"lee:N"`` (N odd, pixels) or a :class:`SpeckleFilter`.
        looks: equivalent number of looks for Lee (``None``: :func:`estimate_looks` on ``power``).
    """
    speckle_filter = parse_filter(speckle_filter)
    power = np.asarray(power, dtype=np.float64)
    valid = np.ones(power.shape, bool) if valid is None else np.asarray(valid, bool)
    if speckle_filter.kind == "none":
        return np.where(valid, power, 0.0)
    if speckle_filter.kind == "boxcar":
        return boxcar(power, speckle_filter.size, valid)
    if looks is None:
        looks = estimate_looks(power, valid)
    return lee(power, speckle_filter.size, looks, valid)


# ---- log-ratio -------------------------------------------------------------------------------------
def log_ratio(before: np.ndarray, after: np.ndarray, epsilon: float = DEFAULT_EPSILON, absolute: bool = False,
              valid: np.ndarray | None = None) -> np.ndarray:
    """The log-ratio change image in dB: ``10 * log10((after + eps) / (before + eps))``.

    Args:
        before, after: (H, W) LINEAR power (filtered or not), on the same grid.
        epsilon: added to both powers before dividing (linear power units, default -40 dB).
        absolute: return ``|log-ratio|`` (change magnitude) instead of the signed value
            (> 0: backscatter increase, e.g. new buildings, drained water; < 0: decrease, e.g. flooding,
            clearing).
        valid: (H, W) bool; invalid pixels are NaN in the result.

    Returns:
        float32 (H, W) in dB (equal to the difference of the dB images when ``epsilon`` is negligible).
    """
    if epsilon < 0:
        raise UserInputError(f"epsilon must be >= 0, got {epsilon}")
    before = np.asarray(before, dtype=np.float64)
    after = np.asarray(after, dtype=np.float64)
    if before.shape != after.shape:
        raise UserInputError(f"before and after differ in shape: {before.shape} vs {after.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 10.0 * np.log10((after + epsilon) / (before + epsilon))
    if absolute:
        out = np.abs(out)
    bad = ~np.isfinite(out)
    if valid is not None:
        bad |= ~np.asarray(valid, dtype=bool)
    out[bad] = np.nan
    return out.astype(np.float32)


def naive_log_ratio(before_db: np.ndarray, after_db: np.ndarray, epsilon: float = 1e-6) -> np.ndarray:
    """The WRONG recipe found in public change-detection scripts, kept to show what it costs.

    Divides the dB images (``after_db / before_db``: a ratio of logarithms, whose sign flips where a value
    crosses 0 dB) and adds ``epsilon`` AFTER dividing (``log(ratio + eps)``: a zero denominator still gives
    inf, a negative ratio NaN). Do not use it; :func:`log_ratio` is the right one.

    Returns:
        float32 (H, W) natural-log values; NaN where the recipe breaks down.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(np.asarray(after_db, np.float64) / np.asarray(before_db, np.float64) + epsilon)
    out[~np.isfinite(out)] = np.nan
    return out.astype(np.float32)


# ---- 8-bit difference image -----------------------------------------------------------------------
def difference_image(lr_db: np.ndarray, scale_db: float = DEFAULT_SCALE_DB, style: str = "signed") -> np.ndarray:
    """The log-ratio as an HxWx3 uint8 image for SAM / FastSAM (fixed scale: the same in every tile).

    Args:
        lr_db: (H, W) signed log-ratio in dB (NaN = nodata -> black).
        scale_db: |log-ratio| mapped to 255 (0 dB -> 0); larger values are clipped.
        style: ``"signed"``: red = increase, blue = decrease, green = magnitude (so an increase is
            yellow-ish, a decrease cyan-ish, no change black); ``"grey"``: the magnitude in all three
            channels (the classic single-band difference image).

    Returns:
        (H, W, 3) uint8.
    """
    if style not in DIFFERENCE_STYLES:
        raise UserInputError(f"difference style must be one of {', '.join(DIFFERENCE_STYLES)}; got {style!r}")
    if not scale_db > 0:
        raise UserInputError(f"scale_db must be > 0 dB, got {scale_db}")
    lr = np.nan_to_num(np.asarray(lr_db, dtype=np.float32), nan=0.0)
    magnitude = np.rint(np.clip(np.abs(lr) / scale_db, 0.0, 1.0) * 255.0).astype(np.uint8)
    if style == "grey":
        return np.repeat(magnitude[..., None], 3, axis=2)
    increase = np.where(lr > 0, magnitude, 0).astype(np.uint8)
    decrease = np.where(lr < 0, magnitude, 0).astype(np.uint8)
    return np.stack([increase, magnitude, decrease], axis=-1)

