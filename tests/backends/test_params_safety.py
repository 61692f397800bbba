"""``generate`` parameters of every backend under hostile values (issue 11): bounded, checked before loading."""

import pytest

from helpers.backends import backend_for
from helpers.cli import main
from helpers.data import write_synthetic_geotiff

BAD = {
    "sam_vit_b": ["crop_n_layers=50", "points_per_side=100000", "points_per_side=\"abc\"", "points_per_side=8.5",
                  "pred_iou_thresh=2", "points_per_batch=0", "min_mask_region_area=-3"],
    "mobile_sam": ["crop_n_layers=50", "points_per_side=1000"],
    "sam2.1_hiera_t": ["crop_n_layers=50", "points_per_side=100000", "points_per_side=\"abc\"",
                       "pred_iou_thresh=5", "use_m2m=\"yes\"", "points_per_batch=-1"],
    "fastsam_s": ["imgsz=100000", "imgsz=\"big\"", "conf=-1", "max_det=10000000"],
    "conventional": ["scale=\"big\"", "n_segments=-5", "sigma=-1", "max_masks=1000000000", "markers=0",
                     "compactness=\"x\"", "min_size=0"],
}
CASES = [(model, param) for model, params in BAD.items() for param in params]


@pytest.fixture
def no_model_load(monkeypatch):
    import helpers.models

    def forbidden(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(helpers.models, "load_model", forbidden)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return write_synthetic_geotiff(tmp_path_factory.mktemp("in") / "a.tif", kind="buildings", size=(64, 64), seed=1)


@pytest.mark.parametrize("model, param", CASES)
def test_bad_param_values_fail_before_the_model_loads(scene, tmp_path, capsys, no_model_load, model, param):
    code = main(["segment", str(scene), "--out", str(tmp_path / "out"), "--model", model, "--param", param,
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in err
    assert param.split("=")[0] in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("model, param", CASES)
def test_the_backend_contract_refuses_them_in_one_line(model, param):
    import json

    key, value = param.split("=", 1)
    with pytest.raises(ValueError) as info:
        backend_for(model).check_generate_params({key: json.loads(value)})
    assert "\n" not in str(info.value) and key in str(info.value)


@pytest.mark.parametrize("model", list(BAD))
def test_the_defaults_pass_their_own_checks(model):
    backend = backend_for(model)
    assert backend.check_generate_params({}) == backend.check_generate_params(backend.generate_defaults())
