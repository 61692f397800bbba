"""The fine-tuning loop on a tiny data set: it learns, trains only what it should, checkpoints in SAM 2's
format (ours and sam2's loader), scores before/after with the project's metrics, and resumes after a kill."""

import json

import numpy as np
import pytest
import torch

import helpers
from helpers.backends.sam2 import read_sam2_state_dict
from helpers.embedding_cache import EmbeddingCache
from helpers.errors import UserInputError
from helpers.finetune import FinetuneConfig, Trainer, finetune_sam2
from helpers.finetune.trainer import _cosine
from helpers.maskops import label_raster
from helpers.metrics import boundary_f, pixel_scores
from helpers.registry import get_spec


def test_the_validation_loss_falls_and_the_decoder_changes(tiny_run):
    result, base = tiny_run
    history = result.history
    assert [h["epoch"] for h in history] == [0, 1, 2]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert all(h["train_loss"] > 0 for h in history[1:])
    start = read_sam2_state_dict(base, get_spec("sam2.1_hiera_t"))
    tuned = read_sam2_state_dict(result.checkpoint, get_spec("sam2.1_hiera_t"))
    changed = {k for k in start if not torch.equal(start[k], tuned[k])}
    assert changed and all(k.startswith(("sam_mask_decoder.", "sam_prompt_encoder.")) for k in changed)
    assert any(k.startswith("sam_mask_decoder.") for k in changed)


def test_metrics_json_holds_before_and_after(tiny_run):
    result, _ = tiny_run
    metrics = json.loads((result.out_dir / "metrics.json").read_text())
    for side in ("before", "after"):
        assert {"iou", "dice", "boundary_f", "instance_iou", "loss"} <= set(metrics[side])
        assert set(metrics[side]["by_prompt"]) == {"point"}
    assert metrics["smoke"] is True and metrics["best_epoch"] == min(result.history, key=lambda h: h["val_loss"])["epoch"]
    # before = epoch 0 (the starting weights), after = the best epoch, read back from best.pt
    for name in ("iou", "dice", "boundary_f", "instance_iou"):
        assert metrics["before"][name] == pytest.approx(result.history[0][name])
        assert metrics["after"][name] == pytest.approx(result.history[metrics["best_epoch"]][name])
    assert metrics["after"]["loss"] == pytest.approx(result.history[metrics["best_epoch"]]["val_loss"])
    assert (result.out_dir / "curves.png").stat().st_size > 0
    assert "before" in result.table() and "untrained weights" in result.table()


def test_the_checkpoint_loads_everywhere_and_predicts_what_was_scored(tiny_run, tiny_dataset):
    result, _ = tiny_run
    assert helpers.smoke.read_smoke_marker(result.checkpoint) == "sam2.1_hiera_t"  # still descends from smoke
    # our loader, our public predict: the "after" masks, and the metrics recomputed independently
    model = helpers.load_model("sam2.1_hiera_t", weights=result.checkpoint, device="cpu",
                               embedding_cache=EmbeddingCache(directory=False))
    tile = tiny_dataset.val[0]
    model.set_image(tile.image)
    from helpers.finetune.prompts import evaluation_prompts

    prompts = evaluation_prompts(tile.masks(), "point")
    masks = []
    for point in prompts.points:
        found = model.predict(points=point, labels=[1], multimask=True)
        masks.append(found.masks[int(np.argmax(found.scores))])
    labels = label_raster(np.stack(masks))
    assert np.array_equal(labels, result.after.predictions["point"][tile.id])
    assert pixel_scores(labels, tile.instances)["iou"] == pytest.approx(result.metrics["after"]["iou"])
    assert boundary_f(labels, tile.instances)["f"] == pytest.approx(result.metrics["after"]["boundary_f"])
    # sam2's own builder loads it too, with the same weights
    from sam2.build_sam import build_sam2

    official = build_sam2(get_spec("sam2.1_hiera_t").arch, ckpt_path=str(result.checkpoint), device="cpu")
    for name, tensor in official.state_dict().items():
        assert torch.equal(tensor, model.sam2.state_dict()[name]), name


def test_before_is_the_zero_shot_model_with_the_same_prompts(tiny_run, tiny_dataset):
    result, base = tiny_run
    model = helpers.load_model("sam2.1_hiera_t", weights=base, device="cpu")
    tile = tiny_dataset.val[0]
    model.set_image(tile.image)  # the starting weights' embedding: from the disk cache
    from helpers.finetune.prompts import evaluation_prompts

    masks = []
    for point in evaluation_prompts(tile.masks(), "point").points:
        found = model.predict(points=point, labels=[1], multimask=True)
        masks.append(found.masks[int(np.argmax(found.scores))])
    assert np.array_equal(label_raster(np.stack(masks)), result.before.predictions["point"][tile.id])


@pytest.fixture(scope="module")
def trainer(tiny_dataset, tmp_path_factory):
    model = helpers.load_model("sam2.1_hiera_t", device="cpu", embedding_cache=False)
    config = FinetuneConfig(epochs=2, objects_per_step=2, box_probability=1.0, correction_clicks=1, lr=1e-3)
    found = Trainer(model, tiny_dataset, tmp_path_factory.mktemp("trainer"), config, progress=False)
    found.encode_all()
    return found


def test_a_step_reaches_the_decoder_not_the_frozen_encoder(trainer):
    sam2 = trainer.sam2
    encoder_before = {k: v.clone() for k, v in sam2.image_encoder.state_dict().items()}
    decoder_before = {k: v.clone() for k, v in sam2.sam_mask_decoder.state_dict().items()}
    computed = trainer.cache.stats["computed"]
    found = trainer.train_step(trainer.train_tiles[0])
    assert found["prompt"] == "box+clicks" and found["loss"] > 0  # a box, then one correction click
    assert trainer.cache.stats["computed"] == computed  # the frozen encoder's features come from the cache
    assert all(p.grad is None and not p.requires_grad for p in sam2.image_encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in sam2.sam_mask_decoder.parameters())
    assert all(torch.equal(v, encoder_before[k]) for k, v in sam2.image_encoder.state_dict().items())
    assert any(not torch.equal(v, decoder_before[k]) for k, v in sam2.sam_mask_decoder.state_dict().items())
    groups = {g["name"]: g for g in trainer.optimizer.param_groups}
    assert set(groups) == {"decoder", "decoder (no decay)"} and groups["decoder (no decay)"]["weight_decay"] == 0


def test_the_learning_rate_follows_a_cosine_to_a_tenth():
    assert _cosine(0, 100, 1e-3) == pytest.approx(1e-3)
    assert _cosine(50, 100, 1e-3) == pytest.approx(0.55e-3)
    assert _cosine(100, 100, 1e-3) == pytest.approx(1e-4)


@pytest.mark.parametrize("settings, message", [
    ({"select_by": "accuracy"}, "unknown select_by"),
    ({"eval_prompts": ("scribble",)}, "eval_prompts"),
    ({"epochs": 0}, "epochs"),
])
def test_bad_settings_are_one_line_errors(settings, message):
    with pytest.raises(UserInputError, match=message):
        FinetuneConfig(**settings)


def test_a_killed_run_resumes_to_the_same_weights(tiny_run, tiny_dataset, tiny_settings, tmp_path, monkeypatch):
    reference, _ = tiny_run
    out = tmp_path / "killed"
    original = Trainer.run_epoch

    def killed_in_epoch_two(self):
        if self.epoch == 1:
            raise KeyboardInterrupt  # the machine dies during epoch 2, after epoch 1 was saved
        original(self)

    monkeypatch.setattr(Trainer, "run_epoch", killed_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        finetune_sam2(tiny_dataset, out, device="cpu", progress=False, **tiny_settings)
    assert json.loads((out / "history.json").read_text())["history"][-1]["epoch"] == 1
    monkeypatch.setattr(Trainer, "run_epoch", original)
    resumed = finetune_sam2(tiny_dataset, out, device="cpu", progress=False, **tiny_settings)
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2]
    for mine, theirs in zip(resumed.history, reference.history, strict=True):
        assert mine["val_loss"] == pytest.approx(theirs["val_loss"], rel=1e-5)
    spec = get_spec("sam2.1_hiera_t")
    a, b = read_sam2_state_dict(resumed.checkpoint, spec), read_sam2_state_dict(reference.checkpoint, spec)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    # other settings in the same folder: refused, not silently mixed
    with pytest.raises(UserInputError, match="other settings"):
        finetune_sam2(tiny_dataset, out, device="cpu", progress=False, **{**tiny_settings, "lr": 5e-4})


def test_the_unfrozen_mode_trains_the_encoder_at_a_lower_rate(tiny_dataset, tmp_path):
    model = helpers.load_model("sam2.1_hiera_t", device="cpu", embedding_cache=False)
    config = FinetuneConfig(epochs=1, lr=1e-4, freeze_encoder=False)
    found = Trainer(model, tiny_dataset, tmp_path, config, progress=False)
    assert found.cache is None  # every step encodes (with gradients): nothing to cache
    assert all(p.requires_grad for p in model.sam2.image_encoder.parameters())
    assert not any(p.requires_grad for n, p in model.sam2.named_parameters()
                   if not n.startswith(("image_encoder.", "sam_prompt_encoder.", "sam_mask_decoder.")))
    rates = {g["name"]: g["lr"] for g in found.optimizer.param_groups}
    assert rates["encoder"] == pytest.approx(0.6e-4) and rates["decoder"] == pytest.approx(1e-4)
    trained = sum(p.numel() for g in found.optimizer.param_groups for p in g["params"])
    assert trained == sum(p.numel() for p in model.sam2.parameters() if p.requires_grad)
