"""Settings: ``CIMEDIC_*`` environment over the YAML file at ``$CIMEDIC_CONFIG`` over defaults."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from platformdirs import user_config_dir, user_data_dir

from cimedic.settings import (
    NOT_SETTINGS_ENV,
    ConfigError,
    Settings,
    config_file,
    default_config_path,
    default_data_dir,
    load_settings,
    settings_warnings,
)


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
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)  # not a regular file: no settings file
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
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    assert load_settings().data_dir == tmp_path / "data"


def test_init_arguments_override_env_and_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, monkeypatch, "log_format: jenkins\n")
    monkeypatch.setenv("CIMEDIC_LOG_FORMAT", "gitlab")
    assert load_settings(log_format="plain").log_format == "plain"


def test_unknown_yaml_key_names_the_key_the_file_and_the_closest_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # regression: a typo of notify_urls was dropped in silence, and nothing was notified
    path = write_config(tmp_path, monkeypatch, "log_format: plain\nnotify_url: [json://localhost]\n")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value) == f"{path}: unknown setting notify_url (did you mean notify_urls?)"


def test_every_unknown_yaml_key_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, monkeypatch, "log_formt: plain\nzzzz: 1\n")
    with pytest.raises(ConfigError) as info:
        Settings()  # the file is checked however the settings are built
    assert str(info.value) == (
        f"{path}: unknown setting log_formt (did you mean log_format?); unknown setting zzzz"
    )


def test_unknown_key_in_the_default_config_file_is_an_error(tmp_path: Path) -> None:
    path = default_config_path()
    path.parent.mkdir(parents=True)
    path.write_text("kb_dir: [/a]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown setting kb_dir \(did you mean kb_dirs\?\)") as info:
        load_settings()
    assert str(path) in str(info.value)


def test_cimedic_config_naming_a_missing_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # regression: the variable was ignored and the defaults used
    missing = tmp_path / "typo.yaml"
    monkeypatch.setenv("CIMEDIC_CONFIG", str(missing))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value) == f"CIMEDIC_CONFIG names {missing}, which does not exist"


def test_cimedic_config_naming_a_directory_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIMEDIC_CONFIG", str(tmp_path))
    with pytest.raises(ConfigError, match="is a directory"):
        load_settings()


def test_cimedic_config_dev_null_means_no_settings_file(monkeypatch: pytest.MonkeyPatch) -> None:
    default = default_config_path()
    default.parent.mkdir(parents=True)
    default.write_text("log_format: gitlab\n", encoding="utf-8")  # must not be read
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    assert config_file() is None
    assert load_settings().log_format == "auto"


def test_missing_default_config_file_is_fine() -> None:
    assert not default_config_path().exists()
    assert config_file() is None
    assert load_settings().log_format == "auto"


def test_empty_settings_file_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, monkeypatch, "# nothing set yet\n")
    assert load_settings().log_format == "auto"


@pytest.mark.parametrize(
    ("text", "kind"), [("- just\n- a list\n", "list"), ("just a string\n", "string"), ("42\n", "int value")]
)
def test_settings_file_that_is_not_a_mapping_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, kind: str
) -> None:
    # regression: "dictionary update sequence element #0 has length 4; 2 is required"
    path = write_config(tmp_path, monkeypatch, text)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value) == (
        f"{path}: the settings file must be a mapping of setting names to values (its top level is a {kind})"
    )


def test_unknown_cimedic_variable_is_a_warning_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_NOTIFY_URL", '["json://localhost"]')
    monkeypatch.setenv("CIMEDIC_ZZZZ", "1")
    monkeypatch.setenv("CIMEDIC_LOG_FORMAT", "plain")
    assert load_settings().log_format == "plain"  # no error
    assert settings_warnings() == [
        "unknown environment variable CIMEDIC_NOTIFY_URL (did you mean CIMEDIC_NOTIFY_URLS?)",
        "unknown environment variable CIMEDIC_ZZZZ",
    ]


def test_variables_that_are_not_settings_do_not_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CIMEDIC_CONFIG", "CIMEDIC_NO_PATTERN_CACHE", "CIMEDIC_TEST_MODEL"):
        monkeypatch.setenv(name, os.devnull)
    for name in Settings.model_fields:
        assert f"CIMEDIC_{name.upper()}" not in NOT_SETTINGS_ENV
    monkeypatch.setenv("CIMEDIC_LLM_MODEL", "m")
    monkeypatch.setenv("cimedic_llm_timeout", "5")  # pydantic-settings ignores case
    assert settings_warnings() == []


def test_not_settings_list_covers_the_variables_the_code_reads() -> None:
    """Every ``CIMEDIC_*`` name written in src/ or bench/ is a setting or in NOT_SETTINGS_ENV
    (else setting that variable would warn)."""
    import re

    root = Path(__file__).resolve().parents[1]
    known = {f"CIMEDIC_{name.upper()}" for name in Settings.model_fields} | NOT_SETTINGS_ENV
    used = {
        name
        for folder in ("src", "bench")
        for path in (root / folder).rglob("*.py")
        for name in re.findall(r"\bCIMEDIC_[A-Z][A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8"))
    }
    assert "CIMEDIC_NO_PATTERN_CACHE" in used
    assert used - known == set()


def test_lower_case_unknown_variable_is_named_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("cimedic_llm_timout", "5")
    assert settings_warnings() == [
        "unknown environment variable cimedic_llm_timout (did you mean CIMEDIC_LLM_TIMEOUT?)"
    ]


def test_env_value_that_is_not_json_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    # regression: reported as "cannot read <config file>: error parsing value for field ..."
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_KB_DIRS", "/a,/b")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("invalid settings: environment variable CIMEDIC_KB_DIRS is not valid JSON")
    assert os.devnull not in message


def test_invalid_env_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write_config(tmp_path, monkeypatch, "log_format: plain\n")
    monkeypatch.setenv("CIMEDIC_LLM_TIMEOUT", "-1")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value) == (
        "invalid settings: llm_timeout (environment variable CIMEDIC_LLM_TIMEOUT): Input should be greater than 0"
    )


def test_invalid_yaml_value_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, monkeypatch, "kb_dirs: 5\n")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value) == f"invalid settings: kb_dirs (in {path}): Input should be a valid list"


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
