"""Small settings-to-object conversions of the composition root: agent budgets, health
thresholds, the re-run policy, notification templates, quiet hours and notifiers. Each raises
:class:`~cimedic.settings.ConfigError` with the user's message when the setting is unusable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cimedic.settings import ConfigError

if TYPE_CHECKING:
    from cimedic.actions.notify import Notifier
    from cimedic.agent.loop import Budgets
    from cimedic.inputs.templates import NotifyTemplates
    from cimedic.model.notify import HealthThresholds, QuietHours
    from cimedic.model.providers import CIProvider
    from cimedic.model.remediation import RerunPolicy
    from cimedic.settings import Settings

__all__ = [
    "budgets_from",
    "notifiers_from",
    "policy_from",
    "quiet_hours_from",
    "templates_from",
    "thresholds_from",
]


def budgets_from(settings: Settings) -> Budgets:
    """Turn budgets from ``agent_max_steps``/``agent_max_tokens``/``agent_max_seconds``, the
    model's window from ``llm_context_tokens`` and the tool-call protocol from ``llm_tool_calls``."""
    from cimedic.agent.loop import Budgets

    return Budgets(
        max_steps=settings.agent_max_steps,
        max_tokens=settings.agent_max_tokens,
        max_seconds=settings.agent_max_seconds,
        context_tokens=settings.llm_context_tokens,
        tool_protocol=settings.llm_tool_calls,
    )


def thresholds_from(settings: Settings) -> HealthThresholds:
    """The health thresholds of ``health_window_hours`` and ``health_degraded_rate``."""
    from cimedic.model.notify import HealthThresholds

    return HealthThresholds.from_hours(settings.health_window_hours, settings.health_degraded_rate)


def policy_from(path: Path | None) -> RerunPolicy:
    """The re-run policy in ``path`` (None: the bundled dry-run policy)."""
    from cimedic.inputs.policy import PolicyError, load_policy

    try:
        return load_policy(path)
    except PolicyError as exc:
        raise ConfigError(str(exc)) from exc


def templates_from(folder: Path | None) -> NotifyTemplates:
    """The notification templates, ``folder`` overriding the bundled ones."""
    from cimedic.inputs.templates import TemplateError, load_templates

    try:
        return load_templates(folder)
    except TemplateError as exc:
        raise ConfigError(str(exc)) from exc


def quiet_hours_from(text: str | None) -> QuietHours | None:
    """``HH:MM-HH:MM`` (UTC) as :class:`QuietHours`, or None."""
    from cimedic.model.notify import QuietHours

    if not text:
        return None
    try:
        return QuietHours.parse(text)
    except ValueError as exc:
        raise ConfigError(f"notify_quiet_hours: {exc}") from exc


def notifiers_from(settings: Settings, github: Callable[[], CIProvider]) -> list[Notifier]:
    """The configured notification channels, in order: apprise (``notify_urls``), GitHub issues
    (``notify_github_issues``), pull request comments (``notify_github_pr_comments``); both
    GitHub channels share the client ``github()`` gives. Empty when none is configured."""
    from cimedic.actions.notify import AppriseNotifier, GitHubIssueNotifier, GitHubPRCommentNotifier

    out: list[Notifier] = []
    if settings.notify_urls:
        try:
            out.append(AppriseNotifier(settings.notify_urls))
        except ValueError as exc:
            raise ConfigError(f"notify_urls: {exc}") from exc
    if settings.notify_github_issues or settings.notify_github_pr_comments:
        client = github()
        if settings.notify_github_issues:
            out.append(GitHubIssueNotifier(client))  # type: ignore[arg-type]
        if settings.notify_github_pr_comments:
            out.append(GitHubPRCommentNotifier(client))  # type: ignore[arg-type]
    return out
