"""torch module -> .onnx: both exporters give ONNX Runtime the module's numbers; large weights go to one file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.onnx.export_torch import _finalise, export_module, external_data_files
from helpers.onnx.session import open_session


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)

    def forward(self, x, y):
        return self.linear(x).relu() + y.sum(dim=1, keepdim=True)


@pytest.mark.parametrize("dynamo", [False, True])
def test_exported_graph_equals_the_module_with_dynamic_axes(tmp_path, dynamo):
    torch.manual_seed(0)
    module = Tiny().eval()
    example = (torch.randn(2, 5, 4), torch.randn(2, 3, 3))
    path = export_module(module, example, tmp_path / "tiny.onnx", input_names=["x", "y"], output_names=["out"],
                         dynamic_axes={"x": {0: "batch", 1: "n"}, "y": {0: "batch"}}, dynamo=dynamo)
    assert path.is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx"]  # no temporary left
    session = open_session(path)
    for batch, n in ((1, 7), (3, 2)):
        x, y = torch.randn(batch, n, 4), torch.randn(batch, 3, 3)
        with torch.no_grad():
            reference = module(x, y).numpy()
        (result,) = session.run(None, {"x": x.numpy(), "y": y.numpy()})
        np.testing.assert_allclose(result, reference, rtol=1e-5, atol=1e-6)


def test_weights_outside_the_graph_are_gathered_in_one_file(tmp_path, monkeypatch):
    import onnx

    from helpers.onnx import export_torch

    monkeypatch.setattr(export_torch, "_PROTOBUF_LIMIT", 100)  # this tiny graph stands for one over 2 GiB

    torch.manual_seed(0)
    export_module(Tiny().eval(), (torch.randn(2, 5, 4), torch.randn(2, 3, 3)), tmp_path / "plain.onnx",
                  input_names=["x", "y"], output_names=["out"])
    model = onnx.load(str(tmp_path / "plain.onnx"))
    # what the TorchScript exporter writes for graphs over 2 GiB: one file per tensor
    onnx.save(model, str(tmp_path / ".tmp.onnx"), save_as_external_data=True, all_tensors_to_one_file=False,
              size_threshold=0)
    assert len(external_data_files(tmp_path / ".tmp.onnx")) >= 2
    _finalise(tmp_path / ".tmp.onnx", tmp_path / "big.onnx")
    assert external_data_files(tmp_path / "big.onnx") == ["big.onnx.data"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.onnx", "big.onnx.data", "plain.onnx"]
    x, y = np.ones((2, 5, 4), np.float32), np.ones((2, 3, 3), np.float32)
    assert np.allclose(open_session(tmp_path / "big.onnx").run(None, {"x": x, "y": y})[0],
                       open_session(tmp_path / "plain.onnx").run(None, {"x": x, "y": y})[0])
