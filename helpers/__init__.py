"""sam-rs helpers: SAM, SAM 2, FastSAM and a conventional baseline on remote-sensing scenes.

The public surface is small and re-exported here (imported lazily, so ``import helpers`` is fast and
``python -m helpers models`` does not load torch):

    model = helpers.load_model("sam_vit_b")          # registry name -> model (downloads once)
    model.set_image("scene.tif")                     # encode once (embedding cache)
    masks = model.predict(points=[(120, 80)], labels=[1])   # prompt many times -> Masks
"""

import importlib
import os

# Ultralytics must never pip-install packages at run time (workshop laptops, CI, offline rooms).
os.environ["YOLO_AUTOINSTALL"] = "False"

__version__ = "0.1.0"

_EXPORTS = {
    "load_model": "helpers.models",
    "list_models": "helpers.models",
    "write_smoke_weights": "helpers.models",
    "smoke_mode": "helpers.models",
    "smoke_weights_path": "helpers.models",
    "ensure_smoke_weights": "helpers.models",
    "weights_for": "helpers.models",
    "get_spec": "helpers.weights",
    "cache_dir": "helpers.weights",
    "ensure_weights": "helpers.weights",
    "WeightsUnavailableError": "helpers.weights",
    "is_verified": "helpers.weights",
    "weights_path": "helpers.weights",
    "cache_status": "helpers.weights",
    "models_table": "helpers.weights",
    "UntrainedWeightsWarning": "helpers.models",
    "pick_device": "helpers.device",
    "Masks": "helpers.masks",
    "Scene": "helpers.scene",
    "SamModel": "helpers.sam",
    "Sam2Model": "helpers.sam2_backend",
    "PointPicker": "helpers.picker",
    "MapPicker": "helpers.picker",
    "PromptSession": "helpers.picker",
    "EmbeddingCache": "helpers.embedding_cache",
    "default_cache": "helpers.embedding_cache",
    "to_pixel_points": "helpers.prompts",
    "to_pixel_boxes": "helpers.prompts",
    "to_map_points": "helpers.prompts",
    "prepare_prompts": "helpers.prompts",
    "pixel_indices": "helpers.prompts",
    "resolve_cache": "helpers.embedding_cache",
    "read_scene": "helpers.raster",
    "open_raster": "helpers.raster",
    "preprocess": "helpers.raster",
    "sample_scene": "helpers.data",
    "sample_scene_path": "helpers.data",
    "list_sample_scenes": "helpers.data",
    "make_synthetic_scene": "helpers.data",
    "write_synthetic_geotiff": "helpers.data",
    "SAMPLE_SCENES": "helpers.data",
    "segment_tiled": "helpers.tiling",
    "tile_grid": "helpers.tiling",
    "TiledResult": "helpers.tiling",
    "segment_batch": "helpers.batch",
    "masks_to_gdf": "helpers.export",
    "masks_to_file": "helpers.export",
    "masks_to_geotiff": "helpers.export",
    "masks_to_png": "helpers.export",
    "write_vector": "helpers.export",
    "write_label_geotiff": "helpers.export",
    "sweep": "helpers.tuner",
    "Tuner": "helpers.tuner",
    "backend_defaults": "helpers.tuner",
    "areas_m2": "helpers.crs",
    "pixel_area_m2": "helpers.crs",
    "to_pyproj": "helpers.crs",
    "RS_PRESET": "helpers.tuner",
    "generate_sam": "helpers.amg",
    "FastSAMModel": "helpers.fastsam",
    "run_latency_benchmark": "helpers.bench",
    "measure": "helpers.bench",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'helpers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
