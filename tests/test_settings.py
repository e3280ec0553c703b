"""Settings: ``CIMEDIC_*`` environment over the YAML file at ``$CIMEDIC_CONFIG`` over defaults."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from platformdirs import user_config_dir, user_data_dir

from cimedic.settings import ConfigError, Settings, default_config_path, default_data_dir, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CIMEDIC_* variable from the developer's shell, and no real user config file."""
    for name in list(os.environ):
        if name.upper().startswith("CIMEDIC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "cimedic.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("CIMEDIC_CONFIG", str(path))
    return path


def test_defaults_without_file_or_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIMEDIC_CONFIG", str(tmp_path / "missing.yaml"))
    s = load_settings()
    assert s.log_format == "auto"
    assert s.kb_dirs == []
    assert s.data_dir == Path(user_data_dir("cimedic"))


def test_default_paths_come_from_platformdirs() -> None:
    assert default_config_path() == Path(user_config_dir("cimedic")) / "config.yaml"
    assert default_data_dir() == Path(user_data_dir("cimedic"))
    assert Settings().data_dir == default_data_dir()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG directories are a Linux convention")
def test_default_paths_follow_xdg_on_linux(tmp_path: Path) -> None:
    assert default_config_path() == tmp_path / "xdg-config" / "cimedic" / "config.yaml"
    assert default_data_dir() == tmp_path / "xdg-data" / "cimedic"


def test_default_config_file_is_read(tmp_path: Path) -> None:
    path = default_config_path()
    path.parent.mkdir(parents=True)
    path.write_text("log_format: gitlab\n", encoding="utf-8")
    assert load_settings().log_format == "gitlab"


def test_cimedic_config_points_to_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(
        tmp_path, monkeypatch, "log_format: jenkins\nkb_dirs: [/a, rel/b]\ndata_dir: /srv/cimedic\n"
    )
    assert default_config_path() == path
    s = load_settings()
    assert s.log_format == "jenkins"
    assert s.kb_dirs == [Path("/a"), Path("rel/b")]
    assert s.data_dir == Path("/srv/cimedic")


def test_yaml_overrides_defaults_key_by_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, monkeypatch, "log_format: travis\n")
    s = load_settings()
    assert s.log_format == "travis"
    assert s.kb_dirs == []  # not in the file: default
    assert s.data_dir == default_data_dir()


def test_env_overrides_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, monkeypatch, "log_format: jenkins\nkb_dirs: [/from/yaml]\ndata_dir: /yaml/data\n")
    monkeypatch.setenv("CIMEDIC_LOG_FORMAT", "gitlab")
    monkeypatch.setenv("CIMEDIC_KB_DIRS", '["/from/env", "/also/env"]')
    s = load_settings()
    assert s.log_format == "gitlab"
    assert s.kb_dirs == [Path("/from/env"), Path("/also/env")]
    assert s.data_dir == Path("/yaml/data")  # not in the environment: the file's value


def test_env_overrides_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIMEDIC_CONFIG", str(tmp_path / "missing.yaml"))
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    assert load_settings().data_dir == tmp_path / "data"


def test_init_arguments_override_env_and_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, monkeypatch, "log_format: jenkins\n")
    monkeypatch.setenv("CIMEDIC_LOG_FORMAT", "gitlab")
    assert load_settings(log_format="plain").log_format == "plain"


def test_unknown_yaml_keys_are_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, monkeypatch, "log_format: plain\nsomething_else: 1\n")
    assert load_settings().log_format == "plain"


def test_invalid_yaml_value_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, monkeypatch, "kb_dirs: 5\n")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert str(path) in message
    assert "kb_dirs" in message


def test_malformed_yaml_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, monkeypatch, "kb_dirs: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(path) in str(info.value)


def test_yaml_that_is_not_a_mapping_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, monkeypatch, "- just\n- a list\n")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(path) in str(info.value)
