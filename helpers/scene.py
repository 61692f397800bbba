"""A scene: the 8-bit RGB image a model sees, plus the georeferencing it came with."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Scene:
    """An image ready for a model, with its georeferencing when it has one.

    Attributes:
        image: HxWx3 uint8 RGB array (row, column, channel).
        crs: ``rasterio.crs.CRS`` of the source raster, or ``None`` for plain images.
        transform: ``affine.Affine`` mapping pixel (column, row) to map (x, y), or ``None``.
        valid: HxW bool array, ``False`` where the source had nodata; ``None`` means all valid.
        source: the path the scene was read from, if any.
        name: a short label for plots and file names.
        meta: anything else the reader wants to keep (band choice, stretch limits, ...).
    """

    image: np.ndarray
    crs: object | None = None
    transform: object | None = None
    valid: np.ndarray | None = None
    source: Path | None = None
    name: str = "image"
    meta: dict = field(default_factory=dict)

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def is_georeferenced(self) -> bool:
        return self.crs is not None and self.transform is not None

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        """Map bounds (left, bottom, right, top) in the scene CRS, or ``None`` without georeferencing."""
        if not self.is_georeferenced:
            return None
        from rasterio.transform import array_bounds

        west, south, east, north = array_bounds(self.height, self.width, self.transform)
        return west, south, east, north

    def crop(self, col: int, row: int, width: int, height: int) -> Scene:
        """The window starting at pixel (``col``, ``row``), ``width`` x ``height`` pixels, clipped to the
        scene, with its georeferencing shifted to match."""
        if width <= 0 or height <= 0:
            raise ValueError(f"crop size must be positive, got {width}x{height}")
        c0, r0 = max(0, int(col)), max(0, int(row))
        c1, r1 = min(self.width, int(col) + int(width)), min(self.height, int(row) + int(height))
        if c0 >= c1 or r0 >= r1:
            raise ValueError(f"crop ({col}, {row}, {width}, {height}) lies outside the {self.width}x{self.height} scene")
        transform = None
        if self.transform is not None:
            from affine import Affine

            transform = self.transform @ Affine.translation(c0, r0)
        valid = None if self.valid is None else self.valid[r0:r1, c0:c1]
        return Scene(self.image[r0:r1, c0:c1], self.crs, transform, valid, self.source, self.name, dict(self.meta))


def check_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Validate an HxWx3 uint8 array; raise ``ValueError`` with one clear line otherwise."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array or a file path, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be HxWx3 (rows, columns, RGB), got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(
            f"image must be uint8 (0-255), got {image.dtype}; scale it to uint8 first, or pass the GeoTIFF "
            "path and helpers.read_scene() stretches it for you"
        )
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError(f"image is too small: {image.shape[1]}x{image.shape[0]} pixels")
    return image
