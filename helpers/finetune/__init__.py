"""Fine-tune SAM 2 on a binary remote-sensing data set (buildings, canopy, water...), and measure it.

    import helpers
    ds = helpers.build_finetune_dataset("scene.tif", "buildings.geojson", tile_size=256)
    result = helpers.finetune_sam2(ds, "runs/buildings", model="sam2.1_hiera_t", epochs=10)
    print(result.table())                      # held-out IoU / Dice / boundary F, before and after
    model = helpers.load_model("sam2.1_hiera_t", weights=result.checkpoint)

One concept per module:

* :mod:`.dataset`: tiles + per-instance masks from GeoTIFFs and vectors/label rasters, split by scene
  or spatial block (never by random tile), with a manifest;
* :mod:`.prompts`: SAM 2's training prompts (interior clicks, noised boxes, correction clicks) and the
  fixed evaluation prompts;
* :mod:`.forward`: SAM 2's image path (encoder, prompt encoder, mask decoder) with gradients;
* :mod:`.loss`: SAM 2's loss (focal 20, dice 1, IoU-head L1 1, object score 1; lowest-loss candidate);
* :mod:`.trainer`: the loop (frozen encoder with the embedding cache, AdamW, cosine, clipping, resume);
* :mod:`.checkpoints`: SAM 2-format checkpoints and the resumable state;
* :mod:`.evaluation`: held-out scores with :mod:`helpers.metrics`;
* :mod:`.plots`: tiles with prompts, curves, before/after tables and figures.

``python -m helpers finetune`` runs the same from the command line.
"""

from __future__ import annotations

from ..lazy import lazy_exports

# Public names -> their module, imported on first use: the command line must not pay for torch and SAM 2
# before a run starts.
_EXPORTS = {
    "SPLITS": "dataset",
    "TileDataset": "dataset",
    "TrainingTile": "dataset",
    "build_finetune_dataset": "dataset",
    "instance_labels": "dataset",
    "METRICS": "config",
    "Evaluation": "evaluation",
    "evaluate_tiles": "evaluation",
    "fixed_prompts": "evaluation",
    "LOSS_WEIGHTS": "config",
    "Sam2Loss": "loss",
    "EVAL_PROMPT_KINDS": "prompts",
    "Prompts": "prompts",
    "evaluation_prompts": "prompts",
    "training_prompts": "prompts",
    "FinetuneConfig": "config",
    "FinetuneResult": "trainer",
    "Trainer": "trainer",
    "finetune_sam2": "trainer",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
