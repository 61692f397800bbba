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

from .dataset import SPLITS, TileDataset, TrainingTile, build_finetune_dataset, instance_labels
from .evaluation import METRICS, Evaluation, evaluate_tiles, fixed_prompts
from .loss import LOSS_WEIGHTS, Sam2Loss
from .prompts import EVAL_PROMPT_KINDS, Prompts, evaluation_prompts, training_prompts
from .trainer import FinetuneConfig, FinetuneResult, Trainer, finetune_sam2

__all__ = [
    "EVAL_PROMPT_KINDS",
    "LOSS_WEIGHTS",
    "METRICS",
    "SPLITS",
    "Evaluation",
    "FinetuneConfig",
    "FinetuneResult",
    "Prompts",
    "Sam2Loss",
    "TileDataset",
    "Trainer",
    "TrainingTile",
    "build_finetune_dataset",
    "evaluate_tiles",
    "evaluation_prompts",
    "finetune_sam2",
    "fixed_prompts",
    "instance_labels",
    "training_prompts",
]
