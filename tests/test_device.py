"""pick_device: CUDA, then MPS, then CPU, saying which; unavailable or malformed devices are ValueErrors."""

import pytest
import torch

from helpers.device import pick_device


def test_none_picks_the_best_available_and_says_so(capsys):
    device = pick_device(None)
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert device.type == expected
    out = capsys.readouterr().out
    assert f"using device {device}" in out


def test_verbose_false_is_silent(capsys):
    pick_device("cpu", verbose=False)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("given", ["cpu", torch.device("cpu")])
def test_explicit_cpu_is_used(given, capsys):
    assert pick_device(given) == torch.device("cpu")
    assert "as requested" in capsys.readouterr().out


def test_unavailable_accelerator_is_a_value_error():
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            pick_device("cuda")
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="MPS is not available"):
            pick_device("mps")


@pytest.mark.parametrize("bad", ["banana", "cuda:x", ""])
def test_malformed_device_is_a_value_error(bad):
    with pytest.raises(ValueError):
        pick_device(bad)
