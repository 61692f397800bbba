"""The app page's parameter controls come from the Backend contract: the tuner's defaults and documentation."""

import pytest

from helpers.app.ui import _changed_params, _families, parameter_controls
from helpers.backends import backend_for
from helpers.registry import list_models


def test_there_is_one_parameter_panel_per_backend_family():
    families = _families()
    assert set(families) == {backend_for(name).family for name in list_models()}


@pytest.mark.parametrize("family", sorted(_families()))
def test_controls_start_at_the_backend_defaults_with_its_documentation(family):
    backend = _families()[family]
    controls = parameter_controls(backend)
    defaults, docs = backend.generate_defaults(), backend.param_docs()
    assert [c["name"] for c in controls] == list(backend.tuner_controls)
    for control in controls:
        name, kind, options = control["name"], control["kind"], control["options"]
        assert control["default"] == defaults[name] and control["doc"] == docs[name] and docs[name]
        if kind == "choice":
            assert control["start"] in options
        elif kind in ("int", "float"):
            low, high, _ = options
            assert low <= control["start"] <= high
        if kind == "bool" or (kind == "choice" and defaults[name] in options) or (
                kind in ("int", "float") and options[0] <= defaults[name] <= options[1]):
            assert control["start"] == defaults[name]  # representable defaults are where the control starts


def test_only_moved_controls_become_parameters():
    controls = parameter_controls(backend_for("sam_vit_b"))
    starts = [c["start"] for c in controls]
    assert _changed_params(controls, starts) == {}
    moved = list(starts)
    names = [c["name"] for c in controls]
    moved[names.index("points_per_side")] = 8
    moved[names.index("crop_n_layers")] = 1.0  # sliders may send floats for int controls
    moved[names.index("pred_iou_thresh")] = 0.5
    assert _changed_params(controls, moved) == {"points_per_side": 8, "crop_n_layers": 1, "pred_iou_thresh": 0.5}
    params = _changed_params(controls, moved)
    assert isinstance(params["crop_n_layers"], int)
    backend_for("sam_vit_b").check_generate_params(params)  # what the app passes, the backend accepts


def test_an_upload_is_described_with_its_bands(tmp_path):
    from helpers.app.scenes import read_upload
    from helpers.app.ui import _upload_info
    from helpers.data import write_synthetic_geotiff

    path = write_synthetic_geotiff(tmp_path / "fields.tif", "fields", size=(32, 40), variant="multiband16")
    text = _upload_info(read_upload(path, bands="4,3,2"))
    assert text.startswith("fields: uint16 bands 1: blue, 2: green, 3: red, 4: nir")
    assert text.endswith("showing band(s) 4, 3, 2 as RGB")
