"""The real sample scenes shipped with ``localtileserver`` (no download), by name.

    helpers.list_sample_scenes()                  # names
    scene = helpers.sample_scene("landsat")       # Scene with a sensible band choice and stretch

Files are found in ``$SAMRS_DATA_DIR`` (a prefetched folder), then ``cache_dir()/scenes`` (what
``python -m helpers prefetch`` fills), then inside the ``localtileserver`` wheel.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..atomic import atomic_output
from ..config import DATA_ENV, cache_dir, data_dir
from ..crs import pixel_size_m
from ..raster import open_raster, read_scene
from ..scene import Scene

__all__ = ["SAMPLE_SCENES", "SAMPLE_READ_OPTIONS", "LANDSAT_COMPOSITES", "SCENES_SUBDIR", "list_sample_scenes",
           "sample_scene", "sample_scene_path", "copy_sample_scenes", "hillshade"]

DATA_DIR_ENV = DATA_ENV
"""Environment variable naming a folder with prefetched sample scenes (``NAME.tif``) that wins over the
copies inside the ``localtileserver`` wheel."""

SCENES_SUBDIR = "scenes"
"""Subfolder of the weights cache (and of ``$SAMRS_DATA_DIR``) holding prefetched scenes."""

SAMPLE_SCENES = {
    "bahamas_rgb": (
        "Landsat 7 ETM+ true-colour RGB of Andros Island and the Great Bahama Bank; EPSG:32618 (UTM 18N), "
        "300 m pixels, 791x718, 3 bands uint8, nodata 0 outside the footprint (rasterio's RGB.byte.tif)"
    ),
    "landsat": (
        "Landsat 7 ETM+ bands B1-B5, B6 (thermal, high gain), B7 over the south shore of the Great Salt Lake "
        "(evaporation/tailings ponds, Oquirrh Mountains); EPSG:4326, 0.00027 deg (~23x30 m), 1489x1482, "
        "7 bands uint8, no nodata; default view true colour B3,B2,B1 stretched"
    ),
    "landsat7": (
        "Landsat 7 colour-infrared composite of San Francisco Bay (NIR,red,green in R,G,B: vegetation red); "
        "EPSG:3857, 30 m pixels, 2181x1917, 3 bands uint8, nodata 0"
    ),
    "co_elevation_roi": (
        "Elevation model of a Colorado mountain area near Crested Butte (2545-3939 m); EPSG:4269 (NAD83), "
        "1/3 arc-second (~8x10 m), 1007x633, 1 band float32 metres; shown as hillshade"
    ),
    "srtm90": (
        "SRTM elevation of central California: Sierra Nevada, Yosemite, Owens Valley (23-4338 m); EPSG:4326, "
        "0.00081 deg (~70x90 m), 4269x2465, 1 band int16 metres ('elevation'); shown as hillshade"
    ),
}
"""Real sample scenes by name -> one-line description (what, CRS, resolution, size, bands)."""

SAMPLE_READ_OPTIONS = {
    "bahamas_rgb": {},
    "landsat": {"bands": ("B3", "B2", "B1"), "stretch_uint8": True},
    "landsat7": {},
    "co_elevation_roi": {"hillshade": True},
    "srtm90": {"hillshade": True},
}
"""Default :func:`sample_scene` options per scene (8-bit RGB scenes pass through unchanged)."""

LANDSAT_COMPOSITES = {
    "true_colour": ("B3", "B2", "B1"),
    "colour_infrared": ("B4", "B3", "B2"),  # vegetation red, water dark
    "swir": ("B7", "B4", "B2"),  # ponds, wet soil and bare rock separate well
}
"""Useful band combinations for the 7-band ``landsat`` sample (``sample_scene("landsat", bands=...)``)."""




def list_sample_scenes() -> list[str]:
    """Names of the real sample scenes (keys of :data:`SAMPLE_SCENES`)."""
    return list(SAMPLE_SCENES)


def _check_name(name: str) -> str:
    if name not in SAMPLE_SCENES:
        raise ValueError(f"unknown sample scene {name!r}; choose one of: {', '.join(SAMPLE_SCENES)}")
    return name


def _wheel_data_dir() -> Path:
    import localtileserver

    return Path(localtileserver.__file__).parent / "tiler" / "data"


def _scene_folders() -> list[Path]:
    """Where prefetched scenes may be, first match wins: ``$SAMRS_DATA_DIR`` (and its ``scenes`` /
    ``sample_scenes`` subfolders), then ``cache_dir()/scenes`` (what ``python -m helpers prefetch`` fills)."""
    folders = []
    prefetched = data_dir()
    if prefetched is not None:
        folders += [prefetched, prefetched / SCENES_SUBDIR, prefetched / "sample_scenes"]
    return [*folders, cache_dir() / SCENES_SUBDIR]


def sample_scene_path(name: str) -> Path:
    """Path of a sample scene GeoTIFF: a prefetched copy (see :func:`_scene_folders`), else the wheel's."""
    _check_name(name)
    filename = f"{name}.tif"
    for folder in _scene_folders():
        if (folder / filename).is_file():
            return folder / filename
    path = _wheel_data_dir() / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"sample scene {name!r} not found at {path}; reinstall localtileserver or set {DATA_DIR_ENV}"
        )
    return path


def copy_sample_scenes(dest, names=None) -> list[Path]:
    """Copy sample scenes into ``dest`` (``prefetch`` uses ``cache_dir()/scenes``, found automatically).

    A copy of the right size is kept; others are (re)written atomically (temp file, then rename).
    Returns the paths in ``dest``.
    """
    dest = Path(dest)
    copied = []
    for name in names or list_sample_scenes():
        source = sample_scene_path(name)
        target = dest / f"{_check_name(name)}.tif"
        if not (target.is_file() and target.stat().st_size == source.stat().st_size):
            with atomic_output(target, fsync=True) as tmp:
                shutil.copyfile(source, tmp)
        copied.append(target)
    return copied


def sample_scene(name: str, hillshade: bool | None = None, **read_options) -> Scene:
    """A real sample scene as an 8-bit RGB :class:`Scene`.

    Args:
        name: one of :func:`list_sample_scenes`.
        hillshade: render an elevation model as shaded relief blended with its stretched elevation
            (default for the DEMs); ``False`` gives the plain stretched grey.
        **read_options: :func:`helpers.raster.read_scene` options overriding the per-scene defaults in
            :data:`SAMPLE_READ_OPTIONS` (e.g. ``bands=LANDSAT_COMPOSITES["swir"]``).
    """
    options = dict(SAMPLE_READ_OPTIONS[_check_name(name)])
    default_shade = options.pop("hillshade", False)
    shade = default_shade if hillshade is None else hillshade
    options.update(read_options)
    path = sample_scene_path(name)
    scene = read_scene(path, **options)
    scene.name = name
    if shade:
        scene = _shade_scene(scene, path, options)
    return scene


def hillshade(elevation: np.ndarray, dx: float, dy: float, azimuth: float = 315.0, altitude: float = 45.0):
    """Shaded relief in [0, 1] of an HxW elevation grid, with matplotlib's ``LightSource.hillshade``.

    Args:
        elevation: HxW float array in metres, row 0 to the north; NaN cells stay NaN.
        dx, dy: pixel width and height in metres.
        azimuth, altitude: sun direction in degrees (clockwise from north; above the horizon).

    Returns:
        float (H, W): illumination, stretched by matplotlib to span [0, 1] unless the grid is flat (then
        every cell is ``sin(altitude)``).
    """
    from matplotlib.colors import LightSource

    elevation = np.asarray(elevation, dtype=np.float64)
    missing = ~np.isfinite(elevation)
    # NaN would spread through the gradients and the stretch: fill with the mean, then mask again
    filled = np.where(missing, np.nanmean(elevation) if (~missing).any() else 0.0, elevation)
    shade = LightSource(azdeg=azimuth, altdeg=altitude).hillshade(filled, dx=dx, dy=dy, fraction=1.0)
    shade[missing] = np.nan
    return shade


def _shade_scene(scene: Scene, path: Path, options: dict) -> Scene:
    """Blend hillshade (60%) with the stretched elevation (40%): relief plus a sense of height."""
    with open_raster(path, **options) as source:
        elevation, valid = source.read_raw()
    dx, dy = pixel_size_m(scene.transform, scene.crs, scene.shape)
    shade = hillshade(np.where(valid, elevation[0], np.nan), dx, dy)
    grey = scene.image[..., 0].astype(np.float64) / 255.0
    mixed = np.nan_to_num(0.6 * shade + 0.4 * grey, nan=0.0)
    image = np.repeat((mixed * 255).round().astype(np.uint8)[..., None], 3, axis=2)
    image[~valid] = 0
    scene.image = image
    scene.meta["hillshade"] = True
    return scene


