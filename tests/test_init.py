"""The public surface re-exported from helpers/__init__.py."""

import subprocess
import sys

import pytest

import helpers


@pytest.mark.parametrize("name", sorted(helpers._EXPORTS))
def test_every_export_is_the_object_of_its_module(name):
    import importlib

    value = getattr(helpers, name)
    module = importlib.import_module(helpers._EXPORTS[name])
    assert value is getattr(module, name)  # the same object, not a copy or a stand-in
    assert name in dir(helpers) and name in helpers.__all__
    if callable(value):
        assert (value.__doc__ or "").strip(), f"public {name} has no docstring"


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        helpers.nope  # noqa: B018


def test_import_is_light_and_forbids_runtime_installs():
    code = "import sys, os, helpers; print('torch' in sys.modules, os.environ['YOLO_AUTOINSTALL'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
