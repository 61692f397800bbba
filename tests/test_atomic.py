"""atomic_output: no half-written file under the final name, whatever happens."""

import pytest

from helpers.atomic import atomic_output, atomic_output_handle


def test_success_renames_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "sub" / "out.tif"
    with atomic_output(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".tif" and tmp.name.startswith(".")
        assert not tmp.exists()
        tmp.write_text("done")
    assert target.read_text() == "done"
    assert [p.name for p in target.parent.iterdir()] == ["out.tif"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "out.gpkg"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.gpkg"]


def test_discard_and_fsync(tmp_path):
    target = tmp_path / "x.bin"
    with atomic_output_handle(target) as handle:
        handle.path.write_bytes(b"abc")
        handle.discard()
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with atomic_output(target, fsync=True) as tmp:
        tmp.write_bytes(b"abc")
    assert target.read_bytes() == b"abc"


def test_parallel_writers_get_distinct_temporary_names(tmp_path):
    target = tmp_path / "w.pt"
    with atomic_output(target) as first, atomic_output(target) as second:
        assert first != second
        first.write_text("1")
        second.write_text("2")
    assert target.read_text() == "1"  # the outer block finishes last and wins
