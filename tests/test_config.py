"""helpers.config: every SAMRS_* variable, read in one place."""

from pathlib import Path

import pytest

from helpers import config


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SAMRS_CACHE_DIR", str(tmp_path / "x"))
    assert config.cache_dir() == tmp_path / "x"
    monkeypatch.delenv("SAMRS_CACHE_DIR")
    assert config.cache_dir() == Path.home() / ".cache" / "sam-rs"


def test_home_data_mirror_and_smoke_come_from_their_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("SAMRS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SAMRS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SAMRS_WEIGHTS_MIRROR", " http://laptop:8000/ ")
    monkeypatch.setenv("SAMRS_SMOKE", "1")
    assert config.home_dir() == tmp_path / "home" and config.data_dir() == tmp_path / "data"
    assert config.weights_mirror() == "http://laptop:8000" and config.smoke_mode()
    for name in ("SAMRS_DATA_DIR", "SAMRS_WEIGHTS_MIRROR", "SAMRS_SMOKE"):
        monkeypatch.delenv(name)
    assert config.data_dir() is None and config.weights_mirror() is None and not config.smoke_mode()
    monkeypatch.setenv("SAMRS_SMOKE", "true")  # only "1" switches smoke mode on
    assert not config.smoke_mode()


def test_output_dir_is_created_under_the_output_root(monkeypatch, tmp_path):
    monkeypatch.setenv("SAMRS_OUTPUT_DIR", str(tmp_path / "out"))
    folder = config.output_dir("05_large_scenes_and_export")
    assert folder == tmp_path / "out" / "05_large_scenes_and_export" and folder.is_dir()
    for bad in ("../escape", "a/b", ".."):
        with pytest.raises(ValueError, match="plain name"):
            config.output_dir(bad)
