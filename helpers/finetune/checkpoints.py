"""Fine-tuned weights in SAM 2's own format, and the training state that lets a killed run resume.

* :func:`save_sam2_checkpoint` writes ``{"model": state_dict}``, the format of Meta's released
  checkpoints: ``helpers.load_model("sam2.1_hiera_t", weights=path)`` and
  ``sam2.build_sam.build_sam2(config, ckpt_path=path)`` both load it, so the fine-tuned model works
  wherever a checkpoint does (``segment --weights``, the picker, the video predictor). Weights derived
  from untrained smoke weights keep the smoke marker: they learned the training tiles, not the world.
* :func:`save_training_state` / :func:`load_training_state` keep what a resumed run needs (the trained
  parameters, the optimizer's moments, the step, the history, the random generators) in a small file
  next to it. Both are written atomically (:func:`helpers.atomic.atomic_output`): a run killed while
  writing leaves the previous complete file, never half of one.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..atomic import atomic_output
from ..errors import UserInputError, one_line
from ..smoke import attach_smoke_marker

__all__ = ["load_training_state", "save_sam2_checkpoint", "save_training_state", "trainable_state"]


def save_sam2_checkpoint(sam2, path, smoke_name: str | None = None) -> Path:
    """Write a ``SAM2Base``'s weights as ``{"model": state_dict}`` (tensors on CPU), atomically.

    Args:
        sam2: the ``sam2.modeling.sam2_base.SAM2Base`` (``Sam2Model.sam2``).
        path: the ``.pt`` file to write.
        smoke_name: the registry name when the weights descend from smoke weights: the file then
            carries the smoke marker, and models loaded from it say their masks are meaningless.
    """
    state = {name: tensor.detach().to("cpu") for name, tensor in sam2.state_dict().items()}
    checkpoint = {"model": state}
    if smoke_name:
        attach_smoke_marker(checkpoint, smoke_name)
    path = Path(path)
    with atomic_output(path) as tmp:
        torch.save(checkpoint, tmp)
    return path


def trainable_state(sam2) -> dict:
    """``{name: tensor}`` of the parameters being trained (``requires_grad``), copied to CPU."""
    return {name: p.detach().to("cpu").clone() for name, p in sam2.named_parameters() if p.requires_grad}


def save_training_state(path, state: dict) -> Path:
    """Write the resumable training state (a dict of tensors, numbers, strings, lists and dicts)."""
    path = Path(path)
    with atomic_output(path) as tmp:
        torch.save(state, tmp)
    return path


def load_training_state(path) -> dict:
    """Read a training state written by :func:`save_training_state` (``weights_only``: nothing executes).

    Raises:
        UserInputError: the file is not readable as a training state.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same one-line answer
        raise UserInputError(f"{path} is not a readable training state ({one_line(error, with_type=False)[:160]}); "
                             "delete it to start again") from None
    if not isinstance(state, dict) or "trainable" not in state:
        raise UserInputError(f"{path} is not a sam-rs training state; delete it to start again")
    return state
