"""The backend contract (helpers.backends.base.Backend), checked for every registry family at once.

Batch runs, the tuner, the benchmark, the app and the notebooks rely on it instead of family names, so
every family must declare it completely and keep it.
"""

import numpy as np
import pytest
import torch

import helpers
from helpers.backends import backend_for
from helpers.backends.base import RUN_OPTIONS, Backend, Control
from helpers.registry import REGISTRY, get_spec

FAMILIES = sorted({spec.family for spec in REGISTRY.values()})
# The cheapest registry name of each family, for the tests that build a model.
SMALLEST = {"sam": "sam_vit_b", "mobile_sam": "mobile_sam", "sam2": "sam2.1_hiera_t", "fastsam": "fastsam_s",
            "conventional": "conventional"}


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_registry_name_has_its_familys_declaration(name):
    spec = get_spec(name)
    backend = backend_for(name)
    assert isinstance(backend, Backend) and backend.family == spec.family
    assert backend.has_weights == spec.has_weights
    assert backend_for(spec) is backend


@pytest.mark.parametrize("family", FAMILIES)
def test_generate_parameters_are_documented_checked_and_controlled(family):
    backend = backend_for(SMALLEST[family])
    defaults = backend.generate_defaults()
    docs = backend.param_docs()
    assert defaults and set(defaults) <= set(docs), f"undocumented: {sorted(set(defaults) - set(docs))}"
    assert all(isinstance(docs[name], str) and "\n" not in docs[name] for name in defaults)
    assert set(backend.generate_parameters()) == set(defaults) | set(RUN_OPTIONS)
    resolved = backend.check_generate_params({})  # the values generate() uses when given nothing
    assert resolved and set(resolved) <= set(defaults)
    assert all(resolved[k] == defaults[k] for k in resolved if not isinstance(defaults[k], np.ndarray))
    with pytest.raises(ValueError) as error:
        backend.check_generate_params({"no_such_parameter": 1})
    assert "no_such_parameter" in str(error.value) and "\n" not in str(error.value)
    for name, control in backend.tuner_controls.items():
        assert name in defaults, f"tuner control {name} is not a generate parameter"
        assert isinstance(control, Control) and control.kind in ("int", "float", "choice", "bool")
        if control.kind in ("int", "float"):
            low, high, step = control.options
            assert low < high and step > 0
        elif control.kind == "choice":
            assert defaults[name] in control.options or defaults[name] is None


@pytest.mark.parametrize("family", [f for f in FAMILIES if backend_for(SMALLEST[f]).has_weights])
def test_unknown_and_gpu_only_build_options_are_refused_in_one_line(family, smoke_weights):
    name = SMALLEST[family]
    backend = backend_for(name)
    weights = smoke_weights(name) if family == "fastsam" else None  # the others build random weights
    with pytest.raises(ValueError) as error:
        backend.build(get_spec(name), weights, torch.device("cpu"), bogus_option=1)
    message = str(error.value)
    assert "bogus_option" in message and "\n" not in message
    assert all(option in message for option in backend.options), "the message lists the valid options"
    gpu_only = [option for option, doc in backend.options.items() if "CUDA only" in doc]
    assert "half" in gpu_only
    for option in gpu_only:
        with pytest.raises(ValueError, match=f"{option}=True needs a CUDA device"):
            backend.build(get_spec(name), weights, torch.device("cpu"), **{option: True})


@pytest.mark.parametrize("family", FAMILIES)
def test_every_model_keeps_the_api(family, sample_image):
    """set_image once, predict and generate(progress=False) -> Masks stamped with the model, its contract."""
    name = SMALLEST[family]
    model = helpers.load_model(name, device="cpu")  # the embedding cache lets generate reuse set_image's encoding
    assert model.backend is backend_for(name)
    assert model.num_parameters() is None or model.num_parameters() > 10_000
    model.set_image(sample_image())  # the image other backend tests encode: its embedding is cached on disk
    clicked = model.predict(points=[(40, 25)], labels=[1])
    assert isinstance(clicked, helpers.Masks) and clicked.model == name and clicked.shape == (96, 128)
    grid = {"points_per_side": 2} if "points_per_side" in model.backend.generate_defaults() else {}
    everything = model.generate(progress=False, **grid)
    assert isinstance(everything, helpers.Masks) and everything.shape == (96, 128)
    assert everything.smoke == model.smoke == model.backend.has_weights  # smoke weights in the test suite
    with pytest.raises(ValueError, match="progress must be True or False"):
        model.generate(progress="yes", **grid)
