"""helpers.smoke: the untrained-weights marker, written into real checkpoint formats, read without unpickling."""

from collections import OrderedDict

import pytest
import torch

from helpers import smoke


def test_smoke_marker_round_trip_for_both_checkpoint_kinds(tmp_path):
    state = OrderedDict(weight=torch.zeros(2, 2))
    torch.save(smoke.attach_smoke_marker(state, "sam_vit_b"), tmp_path / "a.pth")
    torch.save(smoke.attach_smoke_marker({"model": {"w": torch.ones(1)}}, "fastsam_s"), tmp_path / "b.pt")
    torch.save(OrderedDict(weight=torch.zeros(2, 2)), tmp_path / "real.pth")
    assert smoke.read_smoke_marker(tmp_path / "a.pth") == "sam_vit_b"
    assert smoke.read_smoke_marker(tmp_path / "b.pt") == "fastsam_s"
    assert smoke.read_smoke_marker(tmp_path / "real.pth") is None
    (tmp_path / "junk.pth").write_bytes(b"not a zip")
    assert smoke.read_smoke_marker(tmp_path / "junk.pth") is None
    # the tagged state dict still loads with weights_only=True
    loaded = torch.load(tmp_path / "a.pth", weights_only=True)
    assert torch.equal(loaded["weight"], torch.zeros(2, 2))


@pytest.mark.parametrize("protocol", [2, 4])
def test_smoke_marker_name_is_read_through_the_pickle_memo(tmp_path, protocol):
    # "name" and the model name occur earlier, so pickle refers back to them instead of repeating them
    checkpoint = {"train_args": {"name": "run1", "model": "fastsam_s"}, "model": {"w": torch.ones(1)}}
    torch.save(smoke.attach_smoke_marker(checkpoint, "fastsam_s"), tmp_path / "c.pt", pickle_protocol=protocol)
    assert smoke.read_smoke_marker(tmp_path / "c.pt") == "fastsam_s"


def test_attach_smoke_marker_rejects_other_objects():
    with pytest.raises(TypeError):
        smoke.attach_smoke_marker([1, 2], "sam_vit_b")


def test_smoke_note_names_untrained_results_only():
    import numpy as np
    import pandas as pd

    from helpers.masks import Masks
    from helpers.smoke import SMOKE_BANNER, smoke_note

    real = Masks(np.zeros((1, 4, 4), bool), [1.0])
    untrained = Masks(np.zeros((1, 4, 4), bool), [1.0], smoke=True)
    assert smoke_note(real) == "" and smoke_note() == ""
    assert smoke_note(real, untrained) == f" ⚠ {SMOKE_BANNER}"
    frame = pd.DataFrame({"smoke": [True]})  # a column named smoke is data, not the flag
    assert smoke_note(frame) == ""
    frame.attrs["smoke"] = True  # what sweep() sets
    assert smoke_note(frame) == f" ⚠ {SMOKE_BANNER}"
