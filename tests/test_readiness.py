"""The workshop checklist: computed on this machine, every line not ready says what to do."""

from __future__ import annotations

import sys
from collections import namedtuple

import pytest

import helpers
from helpers import readiness
from helpers.readiness import NOT_READY, READY, readiness_checklist


def rows_by_check(checklist) -> dict:
    return {row["check"]: row for row in checklist.rows}


@pytest.fixture(scope="module")
def checklist():
    return readiness_checklist(["sam_vit_b", "fastsam_s", "conventional"])


def test_every_line_is_measured_here(checklist):
    rows = rows_by_check(checklist)
    assert {"Python", "packages", "device", "sample data", "disk space", "outputs folder"} <= set(rows)
    assert rows["Python"]["ready"] == READY and sys.executable in rows["Python"]["details"]
    assert rows["device"]["details"].startswith(str(helpers.pick_device(verbose=False)))
    assert rows["sample data"]["ready"] == READY
    assert "weights: conventional" not in rows  # nothing to download for the baseline
    assert {row["ready"] for row in checklist.rows} <= {READY, NOT_READY, readiness.OPTIONAL}


def test_missing_weights_in_smoke_mode_are_ready_and_say_meaningless(monkeypatch):
    monkeypatch.setenv("SAMRS_SMOKE", "1")
    monkeypatch.setattr(readiness, "cache_status", lambda name: "no")
    rows, missing = readiness._weights_rows(["sam_vit_b"])
    assert rows[0]["ready"] == READY and "SAMRS_SMOKE=1" in rows[0]["details"]
    assert "meaningless" in rows[0]["details"] and missing > 0


def test_missing_weights_without_smoke_name_the_three_ways_forward(monkeypatch, tmp_path):
    monkeypatch.delenv("SAMRS_SMOKE", raising=False)
    monkeypatch.setenv("SAMRS_CACHE_DIR", str(tmp_path / "weights"))
    checklist = readiness_checklist(["fastsam_s"])
    row = rows_by_check(checklist)["weights: fastsam_s"]
    assert row["ready"] == NOT_READY and not checklist.ready
    details = row["details"]
    assert str(tmp_path / "weights" / helpers.get_spec("fastsam_s").filename) in details  # by hand, to this path
    assert "prefetch" in details and "SAMRS_CACHE_DIR" in details and "SAMRS_WEIGHTS_MIRROR" in details
    assert "SAMRS_SMOKE=1" in details
    assert "Not ready" in checklist._repr_markdown_() and "not ready" in repr(checklist)


def test_cached_weights_are_ready(monkeypatch):
    monkeypatch.delenv("SAMRS_SMOKE", raising=False)
    monkeypatch.setattr(readiness, "cache_status", lambda name: "verified")
    rows, missing = readiness._weights_rows(["sam_vit_b"])
    assert rows[0]["ready"] == READY and missing == 0
    assert str(helpers.weights_path("sam_vit_b")) in rows[0]["details"]


def test_missing_package_and_full_disk_are_not_ready(monkeypatch):
    monkeypatch.setattr(readiness, "REQUIRED_PACKAGES", ("torch", "no-such-package-samrs"))
    package = readiness._package_rows()[0]
    assert package["ready"] == NOT_READY and "no-such-package-samrs" in package["details"]
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(readiness.shutil, "disk_usage", lambda path: usage(10, 9, 2**20))
    disk = readiness._disk_row(missing_bytes=400 * 2**20)
    assert disk["ready"] == NOT_READY and "1.0 MB free" in disk["details"]


def test_ready_verdict_follows_the_rows():
    ok = readiness.Checklist([{"check": "a", "ready": READY, "details": ""},
                              {"check": "b", "ready": readiness.OPTIONAL, "details": "extra"}],
                             ["check", "ready", "details"])
    assert ok.ready and "Ready for the workshop" in ok._repr_markdown_()
