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


@pytest.mark.parametrize("kind", ["cuda", "mps"])
def test_an_accelerator_is_used_when_present_and_refused_in_one_line_when_not(kind, monkeypatch, capsys):
    import helpers.device

    def available(present: bool):
        if kind == "cuda":
            monkeypatch.setattr(torch.cuda, "is_available", lambda: present)
        else:
            monkeypatch.setattr(helpers.device, "_mps_available", lambda: present)

    available(False)
    with pytest.raises(ValueError, match=f"{kind.upper()} is not available") as info:
        pick_device(kind)
    assert "\n" not in str(info.value)
    available(True)
    assert pick_device(kind).type == kind and "as requested" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["banana", "cuda:x", ""])
def test_malformed_device_is_a_value_error(bad):
    with pytest.raises(ValueError):
        pick_device(bad)
