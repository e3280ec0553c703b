"""``cimedic analyze``: diagnose one CI log."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from cimedic.model.diagnosis import Diagnosis


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class LogFormatOption(StrEnum):
    auto = "auto"
    github_actions = "github-actions"
    gh_run_view = "gh-run-view"
    github_zip = "github-zip"
    gitlab = "gitlab"
    jenkins = "jenkins"
    travis = "travis"
    plain = "plain"


class _SettingsError(Exception):
    """The settings could not be loaded (the message says why)."""


# Variables of the environment that are not settings (they never reach ``Settings``).
_NOT_SETTINGS = frozenset({"CIMEDIC_NO_PATTERN_CACHE"})


#: The default of the ``decompressed_max_bytes`` setting (2 GiB); keep in step with Settings.
DECOMPRESSED_MAX_BYTES = 2 * 1024**3


def _settings() -> tuple[list[Path], str, int]:
    """``(kb_dirs, log_format, decompressed_max_bytes)`` of the user's settings.

    Loading ``cimedic.settings`` imports pydantic-settings, which costs about 0.2 s at every
    start. When nothing can override the defaults (no ``CIMEDIC_*`` variable that may be a
    setting, no configuration file), the defaults are returned without it: no extra
    knowledge-base directory, automatic format detection (the defaults of
    ``cimedic.settings.Settings``; keep both in step).
    """
    if not _settings_may_be_set():
        return [], "auto", DECOMPRESSED_MAX_BYTES
    from cimedic.settings import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise _SettingsError(str(exc)) from exc
    return list(settings.kb_dirs), settings.log_format, settings.decompressed_max_bytes


def _settings_may_be_set() -> bool:
    import os

    # pydantic-settings matches variable names without regard to case
    if any(k.upper().startswith("CIMEDIC_") and k.upper() not in _NOT_SETTINGS for k in os.environ):
        return True
    from platformdirs import user_config_dir

    return (Path(user_config_dir("cimedic")) / "config.yaml").exists()


def _fail(reason: str) -> None:
    sys.stderr.write(f"cimedic: error: {reason}\n")
    raise typer.Exit(2)


def analyze(
    path: str = typer.Argument(..., help="Log file (.log/.txt, .gz, GitHub run-log .zip) or '-' for stdin."),
    baseline: str | None = typer.Option(
        None, "--baseline", help="A passing log of the same job; its lines are demoted."
    ),
    output: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="Output format."),
    kb: list[Path] = typer.Option(
        [], "--kb", help="Extra knowledge-base directory of YAML causes (repeatable)."
    ),
    log_format: LogFormatOption = typer.Option(
        LogFormatOption.auto, "--log-format", help="Override format detection."
    ),
    explain: bool = typer.Option(
        False,
        "--explain",
        help="Also explain the diagnosis with the configured LLM (redacted excerpt; deterministic "
        "explanation with a note when no LLM is configured or reachable). With --format json the "
        'output becomes {"diagnosis": ..., "explanation": ...}.',
    ),
    no_redact: bool = typer.Option(
        False,
        "--no-redact",
        help="Print secrets found in the log as they are (for reading your own log locally). "
        "Affects only what analyze prints; refused with --explain.",
    ),
) -> None:
    """Diagnose a CI log: failed step, ranked error lines, excerpt, category, cause, signature.

    Exit status 0 whenever the log could be read (even with no failure found); 2 when it
    cannot be opened or decompressed.
    """
    from cimedic.interfaces.cli import render
    from cimedic.model import LogFormat
    from cimedic.services.diagnose import LogReadError, analyze_path

    if no_redact and explain:
        _fail("--no-redact cannot be combined with --explain: what reaches a model is always redacted")

    try:
        kb_dirs, default_format, max_decompressed = _settings()
    except _SettingsError as exc:
        _fail(str(exc))
        return
    fmt = None if log_format is LogFormatOption.auto else LogFormat(log_format.value)
    if fmt is None and default_format != "auto":
        try:
            fmt = LogFormat(default_format)
        except ValueError:
            _fail(f"invalid setting log_format={default_format!r}")
    try:
        result = analyze_path(
            path,
            baseline=baseline,
            log_format=fmt,
            kb_dirs=[*kb_dirs, *kb],
            decompressed_max_bytes=max_decompressed,
        )
    except LogReadError as exc:
        _fail(str(exc))
        return
    for w in result.warnings:
        sys.stderr.write(f"cimedic: warning: {w}\n")
    diagnosis = result.diagnosis
    if not no_redact:
        from cimedic.analysis.redact import redact_diagnosis

        diagnosis = redact_diagnosis(diagnosis)
    if explain:
        _print_explained(diagnosis, output)
        return
    if output is OutputFormat.json:
        sys.stdout.write(render.to_json(diagnosis) + "\n")
    elif output is OutputFormat.markdown:
        sys.stdout.write(render.to_markdown(diagnosis))
    else:
        render.print_text(diagnosis)


def _print_explained(diagnosis: Diagnosis, output: OutputFormat) -> None:
    """The diagnosis followed by its explanation (``--explain``); one JSON object for json."""
    import json

    from cimedic.agent.explain import ExplainContext, explain_diagnosis
    from cimedic.interfaces.cli import render
    from cimedic.interfaces.cli.common import context

    ctx = context()
    explanation = explain_diagnosis(diagnosis, None, ExplainContext(), ctx.llm, model=ctx.llm_model)
    if explanation.source == "deterministic":
        sys.stderr.write(f"cimedic: note: deterministic explanation ({explanation.fallback_reason})\n")
    if output is OutputFormat.json:
        payload = {
            "diagnosis": render.contract(diagnosis),
            "explanation": explanation.model_dump(mode="json"),
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    if output is OutputFormat.markdown:
        sys.stdout.write(render.to_markdown(diagnosis))
    else:
        render.print_text(diagnosis)
    sys.stdout.flush()
    render.print_explanations([explanation], output.value)
