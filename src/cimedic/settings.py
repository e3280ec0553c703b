"""Settings: ``CIMEDIC_*`` environment variables over a YAML file over defaults.

The YAML file is ``$CIMEDIC_CONFIG`` or ``<user_config_dir>/cimedic/config.yaml``
(platformdirs); data lives under ``<user_data_dir>/cimedic/``. See ``docs/configuration.md``.

Settings are flat: ``<area>_<name>`` in YAML, ``CIMEDIC_<AREA>_<NAME>`` in the environment.
Mistakes are loud: an unknown key in the file, a file that is not a mapping and a
``$CIMEDIC_CONFIG`` naming no file raise :class:`ConfigError`; an unknown ``CIMEDIC_*``
variable is reported by :func:`settings_warnings` (the environment is shared with other tools,
so it only warns).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_config_dir, user_data_dir
from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "CIMEDIC_"

#: ``CIMEDIC_*`` variables that are not settings (read directly by the code or its tests).
NOT_SETTINGS_ENV = frozenset(
    {
        "CIMEDIC_CONFIG",  # the settings file (below)
        "CIMEDIC_NO_PATTERN_CACHE",  # cimedic.services.diagnose: skip the compiled-pattern cache
        "CIMEDIC_TEST_MODEL",  # cimedic.testing.llm_server: the test model's GGUF file
    }
)


class ConfigError(Exception):
    """The configuration file or environment is invalid; the message says what and where."""


def default_config_path() -> Path:
    """``$CIMEDIC_CONFIG`` or ``<user_config_dir>/cimedic/config.yaml``."""
    env = os.environ.get("CIMEDIC_CONFIG")
    return Path(env) if env else Path(user_config_dir("cimedic")) / "config.yaml"


def config_file() -> Path | None:
    """The settings file to read: :func:`default_config_path` when it is a regular file, else
    None (no settings file).

    Raises :class:`ConfigError` when ``$CIMEDIC_CONFIG`` names a path that does not exist or a
    directory. An existing non-regular file such as ``/dev/null`` means "no settings file"; the
    default path may be absent.
    """
    path = default_config_path()
    if path.is_file():
        return path
    if os.environ.get("CIMEDIC_CONFIG"):
        if not path.exists():
            raise ConfigError(f"CIMEDIC_CONFIG names {path}, which does not exist")
        if path.is_dir():
            raise ConfigError(f"CIMEDIC_CONFIG names {path}, which is a directory, not a settings file")
    return None


def read_settings_file(path: Path) -> dict[str, Any]:
    """The YAML mapping of ``path`` (an empty file: ``{}``), its keys checked against
    :class:`Settings`.

    Raises :class:`ConfigError` naming the file when it cannot be read or parsed, when its top
    level is not a mapping, or for a key that is not a setting (with the closest setting, by
    :func:`difflib.get_close_matches`).
    """
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the settings file must be a mapping of setting names to values "
            f"(its top level is a {_yaml_kind(data)})"
        )
    unknown = [key for key in data if not isinstance(key, str) or key not in Settings.model_fields]
    if unknown:
        raise ConfigError(
            f"{path}: "
            + "; ".join(_unknown(str(key), list(Settings.model_fields), "setting") for key in unknown)
        )
    return data


def settings_warnings() -> list[str]:
    """One message per ``CIMEDIC_*`` environment variable that is neither a setting nor in
    :data:`NOT_SETTINGS_ENV`: ``unknown environment variable <name> (did you mean <closest
    setting's variable>?)``, sorted by name. Names are compared in upper case, as pydantic-settings
    matches them without regard to case. Such variables are ignored (not an error: the
    environment is shared with other tools and scripts).
    """
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields} | NOT_SETTINGS_ENV
    names = sorted(k for k in os.environ if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)
    # compared without the common prefix, which would make every name look alike
    suffixes = sorted(k[len(ENV_PREFIX) :] for k in known)
    return [
        _unknown(
            name, suffixes, "environment variable", key=name[len(ENV_PREFIX) :].upper(), prefix=ENV_PREFIX
        )
        for name in names
    ]


def _unknown(name: str, valid: list[str], what: str, key: str | None = None, prefix: str = "") -> str:
    from difflib import get_close_matches

    close = get_close_matches(key or name, valid, n=1)
    hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
    return f"unknown {what} {name}{hint}"


def _yaml_kind(data: object) -> str:
    if isinstance(data, list):
        return "list"
    return "string" if isinstance(data, str) else f"{type(data).__name__} value"


class _SettingsFileSource(InitSettingsSource):
    """The settings file (:func:`config_file`), read and checked by :func:`read_settings_file`."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        self.path = path
        super().__init__(settings_cls, read_settings_file(path))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path})"


def default_data_dir() -> Path:
    """``<user_data_dir>/cimedic``."""
    return Path(user_data_dir("cimedic"))


class Settings(BaseSettings):
    """All settings of cimedic (see ``docs/configuration.md`` for each one)."""

    model_config = SettingsConfigDict(env_prefix="CIMEDIC_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir, description="Where cimedic keeps its data.")
    kb_dirs: list[Path] = Field(
        default_factory=list,
        description="Extra knowledge-base directories (YAML causes), after the bundled ones.",
    )
    log_format: str = Field(default="auto", description="Default log format for `analyze` (auto-detected).")
    decompressed_max_bytes: int = Field(
        default=2 * 1024**3,
        ge=1,
        description="Bytes a gzip log or zip member is decompressed to at most by `analyze` (the rest is not read).",
    )

    # --- store ---
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the history store; default SQLite at <data_dir>/cimedic.db.",
    )
    log_max_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=0,
        description="Cap on one stored job log (uncompressed bytes; the tail is kept).",
    )
    log_retention_days: int = Field(
        default=90, ge=0, description="Delete stored job logs older than this (0: keep)."
    )
    raw_retention_days: int = Field(
        default=30, ge=0, description="Delete processed raw payloads older than this (0: keep)."
    )

    # --- GitHub ---
    github_api_url: str = Field(default="https://api.github.com", description="GitHub REST API base URL.")
    github_token: str | None = Field(default=None, description="GitHub token (PAT or GITHUB_TOKEN).")
    github_app_id: str | None = Field(default=None, description="GitHub App id (instead of a token).")
    github_app_private_key: str | None = Field(
        default=None, description="GitHub App private key (PEM text, or a path to the PEM file)."
    )
    github_app_installation_id: str | None = Field(
        default=None, description="GitHub App installation id (found from the repository when unset)."
    )
    github_webhook_secret: str | None = Field(
        default=None, description="Secret of the GitHub webhook (X-Hub-Signature-256)."
    )
    github_max_concurrency: int = Field(
        default=4, ge=1, le=100, description="Parallel GitHub requests at most."
    )
    test_artifact_patterns: list[str] = Field(
        default_factory=lambda: ["*test*", "*junit*", "*report*", "*results*", "*surefire*"],
        description="Run artifacts (fnmatch globs on the lower-cased name) read for JUnit reports; [] for none.",
    )
    test_report_budget: int | None = Field(
        default=None,
        ge=0,
        description=(
            "GitHub requests per rolling hour test-report artifacts may cost (each download is 2: the"
            " 302 and its target); failed and re-run attempts first, the rest deferred to later polls."
            " Unset: a fifth of the token's hourly rate limit (1000 of 5000; GitHub docs, 'Rate limits"
            " for the REST API'). 0: only `cimedic sync --reports` downloads them."
        ),
    )
    watch_interval: float = Field(
        default=60.0, gt=0, description="Seconds between two polls of `cimedic watch`."
    )
    watch_repos: list[str] = Field(
        default_factory=list, description="Repositories `cimedic watch` polls (owner/name)."
    )

    # --- LLM (optional; every feature except chat works without it) ---
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible server URL, e.g. http://127.0.0.1:11434/v1 (Ollama)."
    )
    llm_model: str = Field(default="qwen2.5-coder:7b-instruct", description="Model name the server serves.")
    llm_api_key: str | None = Field(default=None, description="API key, when the server wants one.")
    llm_timeout: float = Field(default=120.0, gt=0, description="Seconds one LLM call may take.")
    llm_context_tokens: int = Field(
        default=4096,
        ge=512,
        description="The model's context window, tokens (sizes chat memory and tool-result cuts).",
    )
    llm_tool_calls: Literal["auto", "native", "json"] = Field(
        default="auto",
        description=(
            "Agent tool-call protocol: native OpenAI `tools`, the structured-JSON baseline, or auto "
            "(native where the server offers it, JSON otherwise)."
        ),
    )

    # --- agent (bounded loop) ---
    agent_max_steps: int = Field(default=6, ge=1, le=40, description="Most model calls per agent/chat turn.")
    agent_max_tokens: int = Field(default=12000, ge=256, description="Token budget per agent/chat turn.")
    agent_max_seconds: float = Field(default=180.0, gt=0, description="Wall-clock budget per turn, seconds.")

    # --- self-healing and notifications ---
    remediation_policy: Path | None = Field(
        default=None, description="YAML re-run policy file (default: the bundled policy, dry-run)."
    )
    notify_urls: list[str] = Field(
        default_factory=list, description="apprise URLs to notify (Slack, email, ...)."
    )
    notify_quiet_hours: str | None = Field(
        default=None, description="HH:MM-HH:MM (UTC) when only digests are sent, e.g. 22:00-07:00."
    )
    notify_github_issues: bool = Field(
        default=False, description="Open a GitHub issue for each new failure cluster."
    )
    notify_templates_dir: Path | None = Field(
        default=None,
        description="Folder of Jinja2 Markdown templates (<event kind>.md) overriding the bundled ones.",
    )
    notify_github_pr_comments: bool = Field(
        default=False,
        description="Comment on the pull request when a new failure cluster first fails one of its runs.",
    )

    # --- repository health (Healthy / Degraded / Failing) ---
    health_window_hours: float = Field(
        default=24.0, gt=0, description="Hours of default-branch runs the repository health looks at."
    )
    health_degraded_rate: float = Field(
        default=0.2, gt=0, le=1, description="Failure rate at or above which a repository is degraded."
    )

    # --- serve ---
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "Host names `cimedic serve` answers to (the Host header, any port), besides 127.0.0.1, "
            "localhost, [::1] and the --host value; `*` allows any (against DNS rebinding)."
        ),
    )

    # --- metrics ---
    deployment_workflows: list[str] = Field(
        default_factory=list,
        description="Workflow names or paths (fnmatch globs) that count as deployments for DORA metrics.",
    )

    @field_validator("notify_quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str | None) -> str | None:
        """``notify_quiet_hours`` must parse as :class:`cimedic.model.notify.QuietHours`
        (``HH:MM-HH:MM``, UTC), so every command that reads settings refuses ``25:00-99:00``."""
        if value:
            from cimedic.model.notify import QuietHours

            QuietHours.parse(value)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_file()
        if path is not None:
            sources.append(_SettingsFileSource(settings_cls, path))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Build :class:`Settings` (``overrides`` win over the environment and the file).

    Raises :class:`ConfigError` with one line that names the offending setting and where it
    came from (environment variable or file): an invalid value, an environment value that is
    not valid JSON for a list, an unknown key in the file or a file that cannot be used (see
    :func:`config_file` and :func:`read_settings_file`). Unknown ``CIMEDIC_*`` variables are
    not errors: see :func:`settings_warnings`.
    """
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(map(str, e['loc']))} ({_origin(str(e['loc'][0]) if e['loc'] else '', overrides)}): "
            f"{e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {detail}") from exc
    except SettingsError as exc:  # an environment value that is not valid JSON
        import re

        match = re.search(r'field "(\w+)"', str(exc))
        name = f"{ENV_PREFIX}{match.group(1).upper()}" if match else f"{ENV_PREFIX}*"
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        raise ConfigError(
            f"invalid settings: environment variable {name} is not valid JSON{cause} "
            """(lists are given as JSON, e.g. '["a", "b"]')"""
        ) from exc


def _origin(field: str, overrides: dict[str, Any]) -> str:
    """Where the value of ``field`` came from, for a message."""
    if field in overrides:
        return "argument"
    env = f"{ENV_PREFIX}{field.upper()}"
    if any(k.upper() == env for k in os.environ):
        return f"environment variable {env}"
    path = config_file()
    return f"in {path}" if path is not None else "default"
