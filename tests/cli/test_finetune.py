"""``python -m helpers finetune``: best checkpoint + metrics.json (before/after), one-line errors."""

import json

import pytest

import helpers
from helpers.cli import main
from helpers.data import write_synthetic_geotiff

# the scene of tests/finetune/conftest.py (same pixels, so the tiles' embeddings come from the disk cache)
ROOF = (215, 205, 190)
BUILDINGS = [(4, 4, 22, 26), (32, 6, 58, 20), (10, 36, 44, 58), (68, 8, 92, 30), (100, 10, 124, 28), (74, 38, 118, 58)]


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_finetune")
    labels = folder / "labels.tif"
    objects = [{"box": box, "value": ROOF} for box in BUILDINGS]
    image = write_synthetic_geotiff(folder / "scene.tif", "buildings", size=(64, 128), seed=0, objects=objects,
                                    labels_path=labels)
    return image, labels, folder


def test_finetune_writes_the_best_checkpoint_and_before_after_metrics(scene, capsys):
    image, labels, folder = scene
    out = folder / "run"
    code = main(["finetune", "--model", "sam2.1_hiera_t", "--images", str(image), "--labels", str(labels),
                 "--out", str(out), "--epochs", "1", "--lr", "1e-3", "--tile", "64", "--block-size", "64",
                 "--val-fraction", "0.5", "--min-object-px", "8", "--objects-per-step", "2",
                 "--eval-prompts", "box", "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "before" in printed and "best checkpoint" in printed and "untrained weights" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    for side in ("before", "after"):
        assert {"iou", "dice", "boundary_f"} <= set(metrics[side])
        assert 0 <= metrics[side]["iou"] <= 1
    assert metrics["n_val_tiles"] == 1 and metrics["freeze_encoder"] is True
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["tile_size"] == 64 and manifest["inputs"][0]["path"] == str(image)
    # the checkpoint works wherever a checkpoint does
    model = helpers.load_model("sam2.1_hiera_t", weights=out / "best.pt", device="cpu")
    assert model.smoke and model.checkpoint == out / "best.pt"


@pytest.mark.parametrize("extra, message", [
    (["--weights", "missing.pt"], "weights file not found"),
    (["--split", "scene"], "at least two scenes"),
    (["--model", "sam_vit_b"], "needs a SAM 2 model"),
])
def test_bad_input_is_one_line_and_exit_code_2(scene, capsys, extra, message):
    image, labels, folder = scene
    args = ["finetune", "--images", str(image), "--labels", str(labels), "--out", str(folder / "bad"),
            "--tile", "64", "--block-size", "64", "--min-object-px", "8", "--quiet", *extra]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
