"""The public surface re-exported from helpers/__init__.py."""

import subprocess
import sys

import pytest

import helpers


@pytest.mark.parametrize("name", sorted(helpers._EXPORTS))
def test_every_export_resolves(name):
    assert getattr(helpers, name) is not None


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        helpers.nope  # noqa: B018


def test_import_is_light_and_forbids_runtime_installs():
    code = "import sys, os, helpers; print('torch' in sys.modules, os.environ['YOLO_AUTOINSTALL'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
