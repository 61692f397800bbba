"""Where the app's scenes come from: named scenes from pluggable providers, and uploaded files.

A :class:`SceneProvider` lists scene names and loads one as a :class:`~helpers.scene.Scene`; a
:class:`SceneCatalog` puts several providers in one list (``"sample: landsat"``,
``"synthetic: fields"``...). A provider of further named scenes (for example the real case-study data)
is one more line in :func:`default_providers`, or ``catalog.add(SceneProvider(...))`` at run time::

    catalog = default_catalog()
    catalog.add(SceneProvider("case study", list_names, load_by_name, describe_name))

Uploaded GeoTIFF / PNG / JPEG files go through :func:`read_upload`: a size limit with a clear message,
a band choice for multiband files, and the package's scene-global stretch (:func:`helpers.raster.open_raster`).
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserInputError, one_line
from ..scene import Scene

__all__ = [
    "SceneProvider",
    "SceneCatalog",
    "default_providers",
    "default_catalog",
    "synthetic_provider",
    "sample_provider",
    "UPLOAD_SUFFIXES",
    "MAX_UPLOAD_MB",
    "MAX_UPLOAD_PIXELS",
    "describe_raster",
    "read_upload",
]

#: File endings the app accepts as uploads (case-insensitive).
UPLOAD_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
#: Largest upload in megabytes (1 MB = 10**6 bytes).
MAX_UPLOAD_MB = 200.0
#: Largest upload in pixels (rows x columns): everything-mode masks are (N, H, W) booleans in memory.
MAX_UPLOAD_PIXELS = 16_000_000
_SEPARATOR = ": "


@dataclass(frozen=True)
class SceneProvider:
    """A named source of scenes for the app's scene list.

    Attributes:
        kind: short label shown before each name (``"sample"`` gives ``"sample: landsat"``); unique in a
            catalog, without ``": "``.
        names: ``() -> list[str]``, the scene names, in display order.
        load: ``(name) -> Scene``: the scene as HxWx3 uint8 RGB with its CRS/transform (``None`` for
            plain images).
        describe: ``(name) -> str``: one line for the user (what, where, CRS, resolution); optional.
    """

    kind: str
    names: Callable[[], list[str]]
    load: Callable[[str], Scene]
    describe: Callable[[str], str] = field(default=lambda name: "")


class SceneCatalog:
    """Scenes from several providers under labels ``"<kind>: <name>"``.

    The last few scenes loaded are kept, so every session opening the same scene gets the same
    :class:`Scene` object and the models, which hold one scene each, need not prepare it again.

    Args:
        providers: :class:`SceneProvider` objects, listed in this order.
        keep: how many loaded scenes to keep (a 2000 x 2000 scene is 12 MB).
    """

    def __init__(self, providers=(), keep: int = 4):
        self.providers: dict[str, SceneProvider] = {}
        self.keep = int(keep)
        self._loaded: OrderedDict[str, Scene] = OrderedDict()
        self._lock = threading.Lock()
        for provider in providers:
            self.add(provider)

    def add(self, provider: SceneProvider) -> SceneCatalog:
        """Add a provider (its ``kind`` must be new); returns the catalog."""
        if _SEPARATOR in provider.kind or not provider.kind.strip():
            raise ValueError(f"provider kind must be a non-empty label without ': ', got {provider.kind!r}")
        if provider.kind in self.providers:
            raise ValueError(f"a scene provider of kind {provider.kind!r} is already in the catalog")
        self.providers[provider.kind] = provider
        return self

    def choices(self) -> list[str]:
        """Every scene label, ``"<kind>: <name>"``, provider by provider."""
        return [f"{kind}{_SEPARATOR}{name}" for kind, provider in self.providers.items() for name in provider.names()]

    def _split(self, label: str) -> tuple[SceneProvider, str]:
        kind, _, name = str(label).partition(_SEPARATOR)
        provider = self.providers.get(kind)
        if provider is None or not name or name not in provider.names():
            raise UserInputError(f"unknown scene {label!r}; choose one of: {', '.join(self.choices())}")
        return provider, name

    def load(self, label: str) -> Scene:
        """The scene behind a label from :meth:`choices` (its ``name`` set to the scene's name)."""
        with self._lock:
            if label in self._loaded:
                self._loaded.move_to_end(label)
                return self._loaded[label]
        provider, name = self._split(label)
        scene = provider.load(name)
        scene.name = scene.name if scene.name not in ("", "image") else name
        with self._lock:
            self._loaded[label] = scene
            while len(self._loaded) > self.keep:
                self._loaded.popitem(last=False)
        return scene

    def describe(self, label: str) -> str:
        """One line about the scene behind ``label``."""
        provider, name = self._split(label)
        return provider.describe(name)


# ---- the built-in providers --------------------------------------------------------------------------
#: Small synthetic scenes with a real CRS (EPSG:32618): fast to open, the same on every machine.
SYNTHETIC_SCENES = {
    "buildings": ("buildings", (256, 256)),
    "fields": ("fields", (256, 256)),
    "water": ("water", (256, 256)),
}


def _synthetic_scene(name: str) -> Scene:
    from ..data.synthetic import make_synthetic_scene

    kind, size = SYNTHETIC_SCENES[name]
    scene, _ = make_synthetic_scene(kind, size=size, seed=0)
    scene.name = f"synthetic_{name}"
    return scene


def _describe_synthetic(name: str) -> str:
    kind, (rows, cols) = SYNTHETIC_SCENES[name]
    return (f"synthetic {kind} scene (made by helpers.make_synthetic_scene, seed 0), {cols}x{rows} pixels, "
            "EPSG:32618 (UTM 18N)")


def synthetic_provider() -> SceneProvider:
    """Synthetic scenes (``helpers.make_synthetic_scene``): ``buildings``, ``fields``, ``water``."""
    return SceneProvider("synthetic", lambda: list(SYNTHETIC_SCENES), _synthetic_scene, _describe_synthetic)


def sample_provider() -> SceneProvider:
    """The real sample scenes of :func:`helpers.list_sample_scenes` (shipped with localtileserver)."""
    from ..data import samples

    return SceneProvider("sample", samples.list_sample_scenes, samples.sample_scene, samples.SAMPLE_SCENES.get)


def default_providers() -> list[SceneProvider]:
    """The providers of :func:`default_catalog`: synthetic scenes, then the real sample scenes.

    Further named scenes (e.g. the case-study data of ``helpers.data``) are one more entry here.
    """
    return [synthetic_provider(), sample_provider()]


def default_catalog() -> SceneCatalog:
    """A :class:`SceneCatalog` of :func:`default_providers`."""
    return SceneCatalog(default_providers())


# ---- uploads -----------------------------------------------------------------------------------------
def _check_upload_file(path: Path, max_mb: float) -> None:
    if path.suffix.lower() not in UPLOAD_SUFFIXES:
        raise UserInputError(
            f"{path.name}: unsupported file type {path.suffix or '(none)'!r}; upload a GeoTIFF, PNG or JPEG "
            f"({', '.join(UPLOAD_SUFFIXES)})"
        )
    if not path.is_file():
        raise UserInputError(f"upload not found: {path.name}")
    size_mb = path.stat().st_size / 1e6
    if size_mb > max_mb:
        raise UserInputError(
            f"{path.name} is {size_mb:.3g} MB; the app takes files up to {max_mb:g} MB. Crop it first, or "
            "segment it tile by tile with `python -m helpers segment`"
        )


def describe_raster(path) -> dict:
    """What a raster file holds, for the band choice: size, band count, data type, band names, CRS.

    Returns:
        ``{"width", "height", "count", "dtype", "bands": ["1: red", ...], "crs": "EPSG:32618" | None}``.

    Raises:
        UserInputError: not a raster GDAL can open (one line).
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # plain PNG / JPEG
            dataset = rasterio.open(path)
    except RasterioError as error:
        reason = one_line(error, with_type=False)
        raise UserInputError(f"cannot read {path.name}: not a raster GDAL can open ({reason})") from None
    with dataset:
        georeferenced = dataset.crs is not None and not dataset.transform.is_identity
        return {
            "width": dataset.width,
            "height": dataset.height,
            "count": dataset.count,
            "dtype": dataset.dtypes[0],
            "bands": [f"{i + 1}: {d}" if d else f"{i + 1}" for i, d in enumerate(dataset.descriptions)],
            "crs": dataset.crs.to_string() if georeferenced else None,
        }


def read_upload(path, bands=None, max_mb: float = MAX_UPLOAD_MB, max_pixels: int = MAX_UPLOAD_PIXELS) -> Scene:
    """An uploaded GeoTIFF / PNG / JPEG as an 8-bit RGB :class:`Scene`.

    Args:
        path: the uploaded file (its name decides the type: one of :data:`UPLOAD_SUFFIXES`).
        bands: ``None`` (R,G,B by colour interpretation, else 1,2,3; band 1 as grey for 1-2 band files),
            1 or 3 1-based band indexes, band descriptions, or a string ``"4,3,2"`` / ``"B4,B3,B2"``.
        max_mb: largest file size in megabytes.
        max_pixels: largest rows x columns.

    Returns:
        The scene with the file's CRS and transform (``None`` for plain PNG/JPEG: pixel coordinates), the
        scene-global 2-98 % stretch for non-8-bit data, nodata in ``Scene.valid``; ``scene.meta`` holds the
        band choice and stretch.

    Raises:
        UserInputError: wrong file type, too large, not readable (corrupt, truncated), unsupported data type
            (complex values), bad band choice; always one line.
    """
    from ..raster import open_raster

    path = Path(path)
    _check_upload_file(path, max_mb)
    info = describe_raster(path)
    pixels = info["width"] * info["height"]
    if pixels > max_pixels:
        raise UserInputError(
            f"{path.name} is {info['width']}x{info['height']} pixels ({pixels / 1e6:.3g} M); the app takes up to "
            f"{max_pixels / 1e6:g} M pixels. Crop it first, or segment it tile by tile with `python -m helpers segment`"
        )
    kind = np.dtype(info["dtype"]).kind
    if kind not in "uif":
        raise UserInputError(
            f"{path.name}: unsupported data type {info['dtype']}; the app reads integer and floating-point bands "
            "(convert complex SAR data to intensity first)"
        )
    try:
        with open_raster(path, bands=bands or None) as source:
            scene = source.read_scene()
    except (ValueError, TypeError, OSError) as error:
        raise UserInputError(str(error).splitlines()[0] if str(error).strip() else type(error).__name__) from None
    scene.name = path.stem
    scene.meta["file_bands"] = info["bands"]
    return scene

