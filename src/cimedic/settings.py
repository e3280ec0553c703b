"""Settings: ``CIMEDIC_*`` environment variables over a YAML file over defaults.

The YAML file is ``$CIMEDIC_CONFIG`` or ``<user_config_dir>/cimedic/config.yaml``
(platformdirs); data lives under ``<user_data_dir>/cimedic/``. See ``docs/configuration.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_config_dir, user_data_dir
from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


def default_config_path() -> Path:
    """``$CIMEDIC_CONFIG`` or ``<user_config_dir>/cimedic/config.yaml``."""
    env = os.environ.get("CIMEDIC_CONFIG")
    return Path(env) if env else Path(user_config_dir("cimedic")) / "config.yaml"


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

    # --- metrics ---
    deployment_workflows: list[str] = Field(
        default_factory=list,
        description="Workflow names or paths (fnmatch globs) that count as deployments for DORA metrics.",
    )

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
        path = default_config_path()
        if path.is_file():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


class ConfigError(Exception):
    """The configuration file or environment is invalid; the message says what and where."""


def load_settings(**overrides: Any) -> Settings:
    """Build :class:`Settings`; raises :class:`ConfigError` with the offending key and file."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        where = default_config_path()
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid settings (environment CIMEDIC_* or {where}): {detail}") from exc
    except Exception as exc:  # yaml errors
        raise ConfigError(f"cannot read {default_config_path()}: {exc}") from exc
