"""sam-rs helpers: SAM, SAM 2, FastSAM and a conventional baseline on remote-sensing scenes.

The public surface is small and re-exported here (imported lazily, so ``import helpers`` is fast and
``python -m helpers models`` does not load torch):

    model = helpers.load_model("sam_vit_b")          # registry name -> model (downloads once)
    model.set_image("scene.tif")                     # encode once (embedding cache)
    masks = model.predict(points=[(120, 80)], labels=[1])   # prompt many times -> Masks
"""

import os

from .lazy import lazy_exports

# Ultralytics must never pip-install packages at run time (workshop laptops, CI, offline rooms).
os.environ["YOLO_AUTOINSTALL"] = "False"

__version__ = "0.1.0"

_EXPORTS = {
    # models and weights
    "load_model": "helpers.models",
    "list_models": "helpers.registry",
    "get_spec": "helpers.registry",
    "write_smoke_weights": "helpers.models",
    "ensure_smoke_weights": "helpers.models",
    "weights_for": "helpers.models",
    "smoke_weights_path": "helpers.smoke",
    "smoke_note": "helpers.smoke",
    "ensure_weights": "helpers.weights",
    "is_verified": "helpers.weights",
    "weights_path": "helpers.weights",
    "cache_status": "helpers.weights",
    "models_table": "helpers.weights",
    "pick_device": "helpers.device",
    "readiness_checklist": "helpers.readiness",
    # configuration and errors
    "smoke_mode": "helpers.config",
    "cache_dir": "helpers.config",
    "home_dir": "helpers.config",
    "output_dir": "helpers.config",
    "WeightsUnavailableError": "helpers.errors",
    "UserInputError": "helpers.errors",
    "UntrainedWeightsWarning": "helpers.errors",
    # backends
    "SegmentationModel": "helpers.backends.base",
    "backend_for": "helpers.backends",
    "SamModel": "helpers.backends.sam",
    "Sam2Model": "helpers.backends.sam2",
    "FastSAMModel": "helpers.backends.fastsam",
    "ConventionalModel": "helpers.backends.conventional",
    "generate_sam": "helpers.amg",
    "export_onnx": "helpers.onnx.export",
    # results, scenes, prompts
    "Masks": "helpers.masks",
    "Scene": "helpers.scene",
    "to_pixel_points": "helpers.prompts",
    "to_pixel_boxes": "helpers.prompts",
    "to_map_points": "helpers.prompts",
    "prepare_prompts": "helpers.prompts",
    "pixel_indices": "helpers.prompts",
    "EmbeddingCache": "helpers.embedding_cache",
    "default_cache": "helpers.embedding_cache",
    "resolve_cache": "helpers.embedding_cache",
    # rasters and data
    "read_scene": "helpers.raster",
    "open_raster": "helpers.raster",
    "preprocess": "helpers.preprocessing",
    "sample_scene": "helpers.data",
    "sample_scene_path": "helpers.data",
    "list_sample_scenes": "helpers.data",
    "make_synthetic_scene": "helpers.data",
    "write_synthetic_geotiff": "helpers.data",
    "SAMPLE_SCENES": "helpers.data",
    "real_data_path": "helpers.data",
    "list_real_data": "helpers.data",
    "REAL_DATA": "helpers.data",
    "areas_m2": "helpers.crs",
    "pixel_area_m2": "helpers.crs",
    "to_pyproj": "helpers.crs",
    # large scenes, batches, export
    "segment_tiled": "helpers.tiling",
    "tile_grid": "helpers.tiling",
    "TiledResult": "helpers.tiling",
    "TilingOptions": "helpers.tiling",
    "segment_batch": "helpers.batch",
    "LazyModel": "helpers.batch",
    "dask_client": "helpers.distributed",
    "model_loads": "helpers.distributed",
    "masks_to_gdf": "helpers.export",
    "masks_to_file": "helpers.export",
    "masks_to_geotiff": "helpers.export",
    "masks_to_png": "helpers.export",
    "write_vector": "helpers.export",
    "write_label_geotiff": "helpers.export",
    "vectorize_raster": "helpers.vectorize",
    # accuracy against reference data
    "evaluate": "helpers.metrics",
    "pixel_scores": "helpers.metrics",
    "boundary_f": "helpers.metrics",
    "match_objects": "helpers.metrics",
    "reference_labels": "helpers.metrics",
    "evaluations_table": "helpers.metrics",
    "evaluations_frame": "helpers.metrics",
    "scores_by_size": "helpers.metrics",
    # classical baselines and inputs for the case studies
    "buildings_from_heights": "helpers.baselines",
    "height_to_rgb": "helpers.baselines",
    "HEIGHT_RENDERINGS": "helpers.baselines",
    "plane_roughness": "helpers.baselines",
    "ndwi": "helpers.baselines",
    "interior_points": "helpers.baselines",
    "water_pseudo_reference": "helpers.baselines",
    "select_by_area": "helpers.baselines",
    "select_by_mean": "helpers.baselines",
    "Evaluation": "helpers.metrics",
    # fine-tuning SAM 2 on a binary data set
    "build_finetune_dataset": "helpers.finetune",
    "finetune_sam2": "helpers.finetune",
    "FinetuneConfig": "helpers.finetune",
    "TileDataset": "helpers.finetune",
    # time series (SAM 2 video tracking)
    "open_stack": "helpers.timeseries",
    "TimeStack": "helpers.timeseries",
    "ObjectPrompt": "helpers.timeseries",
    "load_tracker": "helpers.timeseries",
    "track": "helpers.timeseries",
    "VideoTracker": "helpers.timeseries",
    "TrackResult": "helpers.timeseries",
    "predict_each_date": "helpers.timeseries",
    "index_masks": "helpers.timeseries",
    "temporal_consistency": "helpers.timeseries",
    "agreement": "helpers.timeseries",
    "plot_areas": "helpers.timeseries",
    "show_dates": "helpers.timeseries",
    "write_gif": "helpers.timeseries",
    "date_slider": "helpers.timeseries",
    # interactive, tuning, benchmarks
    "PointPicker": "helpers.picker",
    "MapPicker": "helpers.picker",
    "PromptSession": "helpers.picker",
    "sweep": "helpers.tuner",
    "plot_sweep": "helpers.tuner",
    "mask_stats": "helpers.tuner",
    "match_iou": "helpers.tuner",
    "parameter_table": "helpers.tuner",
    "scene_label": "helpers.tuner",
    "Tuner": "helpers.tuner",
    "backend_defaults": "helpers.tuner",
    "RS_PRESET": "helpers.tuner",
    "RS_PRESET_WHY": "helpers.tuner",
    "run_latency_benchmark": "helpers.bench",
    "measure": "helpers.bench",
    "track_peak_memory": "helpers.bench",
    "hardware_line": "helpers.bench",
    "print_table": "helpers.tables",
    "Table": "helpers.tables",
    "run_command": "helpers.cli",
    # the web app
    "launch_app": "helpers.app",
    # change detection (SAR log-ratio pipeline, simulated pairs, optical object change)
    "detect_change": "helpers.change.pipeline",
    "ChangeOptions": "helpers.change.pipeline",
    "change_batch": "helpers.change.batch",
    "simulate_sar_pair": "helpers.change.simulate",
    "classes_from_optical": "helpers.change.simulate",
    "filter_speckle": "helpers.change.sar",
    "log_ratio": "helpers.change.sar",
    "naive_log_ratio": "helpers.change.sar",
    "difference_image": "helpers.change.sar",
    "change_threshold": "helpers.change.thresholds",
    "change_scores": "helpers.change.metrics",
    "evaluate_simulated": "helpers.change.evaluate",
    "grid_of": "helpers.change.align",
    "describe_difference": "helpers.change.align",
    "read_on_grid": "helpers.change.align",
    "read_bands": "helpers.change.optical",
    "water_index": "helpers.change.optical",
    "water_mask": "helpers.change.optical",
    "false_colour": "helpers.change.optical",
    "NAIP_BANDS": "helpers.change.optical",
    "LANDSAT_BANDS": "helpers.change.optical",
    "label_objects": "helpers.change.objects",
    "select_segments": "helpers.change.objects",
    "match_objects_across_dates": "helpers.change.objects",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
