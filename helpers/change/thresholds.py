"""Objective thresholds for a change-magnitude image: Otsu, Kittler-Illingworth (minimum error), manual.

A change image (the ``|log-ratio|`` in dB) has two populations: unchanged pixels (a narrow mode near
0 dB, wide only because of speckle) and changed pixels (a long tail). A threshold splits them:

* **Otsu** (1979): maximises the between-class variance (scikit-image's ``threshold_otsu``). Works best
  when both classes are large; with little change it drifts into the no-change mode's tail.
* **Kittler-Illingworth** (1986), *minimum error*: fits one Gaussian per class and picks the threshold
  that minimises the Bayes classification error. The classic choice for SAR log-ratio images
  (Bazi, Bruzzone & Melgani 2005); it copes with a small change class.
* **manual**: a value in dB (e.g. 3 dB, a doubling or halving of the backscatter).

Thresholds are computed from a :class:`Histogram` accumulated window by window, so scenes of any size
are thresholded from all their pixels without holding them in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserInputError

__all__ = ["THRESHOLD_METHODS", "HIST_MAX_DB", "HIST_BIN_DB", "Histogram", "Threshold", "otsu",
           "kittler_illingworth", "parse_threshold", "compute_threshold", "change_threshold"]

THRESHOLD_METHODS = ("otsu", "ki")
HIST_MAX_DB = 40.0
"""Histogram range of the change magnitude: 0 to 40 dB (larger values land in the last bin)."""
HIST_BIN_DB = 0.01
"""Histogram bin width in dB: finer than any threshold needs to be."""


class Histogram:
    """A fixed-bin histogram of change magnitudes (dB), filled window by window with :meth:`add`.

    Args:
        max_db: upper end of the range (values above are counted in the last bin).
        bin_db: bin width.
    """

    def __init__(self, max_db: float = HIST_MAX_DB, bin_db: float = HIST_BIN_DB):
        self.edges = np.arange(0.0, max_db + bin_db / 2, bin_db)
        self.counts = np.zeros(len(self.edges) - 1, dtype=np.int64)

    def add(self, magnitude: np.ndarray) -> None:
        """Count the finite values of ``magnitude`` (>= 0, dB); NaN (nodata) is ignored."""
        values = np.asarray(magnitude, dtype=np.float64).ravel()
        values = values[np.isfinite(values)]
        if values.size == 0:
            return
        index = np.clip((values / (self.edges[1] - self.edges[0])).astype(np.int64), 0, len(self.counts) - 1)
        self.counts += np.bincount(index, minlength=len(self.counts))

    @classmethod
    def of(cls, magnitude: np.ndarray, **options) -> Histogram:
        """The histogram of one array."""
        hist = cls(**options)
        hist.add(magnitude)
        return hist

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    @property
    def centers(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2

    def trimmed(self) -> tuple[np.ndarray, np.ndarray]:
        """(counts, bin centres) from the first to the last occupied bin."""
        occupied = np.flatnonzero(self.counts)
        if occupied.size == 0:
            raise UserInputError("no valid pixels to threshold (the change image is all nodata)")
        lo, hi = occupied[0], occupied[-1] + 1
        return self.counts[lo:hi], self.centers[lo:hi]


@dataclass(frozen=True)
class Threshold:
    """A change threshold on ``|log-ratio|``: pixels with a larger magnitude are change.

    Attributes:
        value: the threshold in dB.
        method: ``"otsu"``, ``"ki"`` or ``"manual"``.
    """

    value: float
    method: str

    def __str__(self) -> str:
        return f"{self.value:.2f} dB ({self.method})"

    def as_tags(self) -> dict:
        """Metadata tags for output files: ``threshold_db`` and ``threshold_method``."""
        return {"threshold_db": f"{self.value:.4f}", "threshold_method": self.method}


def otsu(hist: Histogram) -> float:
    """Otsu's threshold of a :class:`Histogram` (scikit-image, from the histogram), in dB."""
    from skimage.filters import threshold_otsu

    counts, centers = hist.trimmed()
    if counts.size < 2:
        return float(centers[0])
    return float(threshold_otsu(hist=(counts, centers)))


def kittler_illingworth(hist: Histogram) -> float:
    """Kittler & Illingworth's minimum-error threshold of a :class:`Histogram`, in dB.

    For each candidate ``t`` both classes (``<= t`` and ``> t``) are modelled as Gaussians with their
    share ``P``, mean and standard deviation ``s``; the threshold minimises
    ``J(t) = 1 + 2 (P1 ln s1 + P2 ln s2) - 2 (P1 ln P1 + P2 ln P2)``.
    """
    counts, centers = hist.trimmed()
    if counts.size < 3:
        return float(centers[0])
    p = counts / counts.sum()
    share = np.cumsum(p)[:-1]  # class 1 = bins 0..t, for t = 0 .. n-2
    first = np.cumsum(p * centers)[:-1]
    second = np.cumsum(p * centers * centers)[:-1]
    total1, total2 = float(np.sum(p * centers)), float(np.sum(p * centers * centers))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = share, 1.0 - share
        m1, m2 = first / p1, (total1 - first) / p2
        v1 = second / p1 - m1 * m1
        v2 = (total2 - second) / p2 - m2 * m2
        cost = 1 + (p1 * np.log(v1) + p2 * np.log(v2)) - 2 * (p1 * np.log(p1) + p2 * np.log(p2))
    # Both classes need a spread (a class in one bin has variance ~0 and a cost of -inf).
    bin_width = float(centers[1] - centers[0])
    ok = (p1 > 0) & (p2 > 0) & (v1 > bin_width**2) & (v2 > bin_width**2) & np.isfinite(cost)
    if not ok.any():
        return otsu(hist)
    t = int(np.flatnonzero(ok)[np.argmin(cost[ok])])
    return float((centers[t] + centers[t + 1]) / 2)


def parse_threshold(spec) -> str | float:
    """``"otsu"``, ``"ki"`` or a number (dB, > 0; ``"3"`` / ``"3dB"`` / ``3.0``) -> method name or value."""
    if isinstance(spec, (int, float, np.floating, np.integer)) and not isinstance(spec, bool):
        value = float(spec)
    else:
        text = str(spec).strip().lower()
        if text in THRESHOLD_METHODS:
            return text
        if text in ("kittler", "kittler-illingworth", "minimum-error"):
            return "ki"
        try:
            value = float(text.removesuffix("db"))
        except ValueError:
            raise UserInputError(f"threshold must be otsu, ki or a value in dB (e.g. 3), got {spec!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise UserInputError(f"a manual threshold must be a positive number of dB, got {spec!r}")
    return value


def compute_threshold(spec, hist: Histogram | None = None) -> Threshold:
    """The :class:`Threshold` for ``spec`` (``"otsu"``, ``"ki"`` or a dB value); methods need ``hist``."""
    choice = parse_threshold(spec)
    if not isinstance(choice, str):
        return Threshold(float(choice), "manual")
    if hist is None:
        raise UserInputError(f"threshold {choice!r} needs the histogram of the change image")
    value = otsu(hist) if choice == "otsu" else kittler_illingworth(hist)
    return Threshold(float(value), choice)


def change_threshold(log_ratio_db: np.ndarray, method="ki") -> Threshold:
    """The :class:`Threshold` of an in-memory log-ratio image (dB, signed or not; NaN = nodata).

    Args:
        log_ratio_db: (H, W) log-ratio in dB; its magnitude is thresholded.
        method: ``"ki"``, ``"otsu"`` or a value in dB.
    """
    return compute_threshold(method, Histogram.of(np.abs(np.asarray(log_ratio_db, dtype=np.float64))))
