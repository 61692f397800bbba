"""Data for the lessons and tests: real sample scenes (:mod:`~helpers.data.samples`), real imagery with
reference data for the case studies (:mod:`~helpers.data.real`) and synthetic scenes with known ground
truth (:mod:`~helpers.data.synthetic`)."""

from .real import LANDSAT_YEARS, NAIP_DATES, REAL_DATA, list_real_data, real_data_path, real_data_url
from .samples import (
    DATA_DIR_ENV,
    LANDSAT_COMPOSITES,
    SAMPLE_READ_OPTIONS,
    SAMPLE_SCENES,
    SCENES_SUBDIR,
    copy_sample_scenes,
    hillshade,
    list_sample_scenes,
    sample_scene,
    sample_scene_path,
)
from .synthetic import (
    DEFAULT_RESOLUTION,
    SYNTHETIC_KINDS,
    SYNTHETIC_VARIANTS,
    SyntheticObject,
    make_synthetic_scene,
    polygon,
    rectangle,
    write_synthetic_geotiff,
)

__all__ = [
    "DATA_DIR_ENV",
    "LANDSAT_YEARS",
    "NAIP_DATES",
    "REAL_DATA",
    "list_real_data",
    "real_data_path",
    "real_data_url",
    "DEFAULT_RESOLUTION",
    "LANDSAT_COMPOSITES",
    "SAMPLE_READ_OPTIONS",
    "SAMPLE_SCENES",
    "SCENES_SUBDIR",
    "SYNTHETIC_KINDS",
    "SYNTHETIC_VARIANTS",
    "SyntheticObject",
    "copy_sample_scenes",
    "hillshade",
    "list_sample_scenes",
    "make_synthetic_scene",
    "polygon",
    "rectangle",
    "sample_scene",
    "sample_scene_path",
    "write_synthetic_geotiff",
]
