"""The background routines of ``cimedic watch``, ``cimedic serve`` and ``cimedic agent``, built
from an :class:`~cimedic.bootstrap.context.AppContext` (each a thin closure over a service;
the runner is :class:`cimedic.services.routines.RoutineRunner`).

Intervals: ``poll`` every ``watch_interval`` seconds (or ``--interval``); ``findings`` every
``max(60 s, interval)`` (it refreshes only when the history grew, see
:class:`cimedic.services.findings.FindingsRefresher`; ``serve`` every 600 s); ``housekeeping``
hourly (retention, risk retraining); ``heal`` every minute; ``notify`` every 5 minutes; the
daily report at 07:00 UTC and the weekly one on Mondays at 07:00 UTC, written as Markdown and
HTML under ``<data_dir>/reports/``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cimedic.services.routines import Routine

if TYPE_CHECKING:
    from cimedic.bootstrap.context import AppContext
    from cimedic.model.providers import RepoRef
    from cimedic.services.findings import FindingsRefresher

__all__ = [
    "PollError",
    "agent_routines",
    "findings_refresher",
    "serve_routines",
    "watch_routines",
]

FINDINGS_MIN_INTERVAL = 60.0
"""Seconds between two findings checks at least (each costs four row counts when idle)."""
SERVE_FINDINGS_INTERVAL = 600.0
"""Seconds between two findings checks of ``cimedic serve`` (webhooks bring history in bursts)."""


class PollError(RuntimeError):
    """Polling failed for some repositories: one ``repository: error; what to do`` per line."""


def findings_refresher(ctx: AppContext) -> FindingsRefresher:
    """The one place that decides when the findings are refreshed (when the history grew)."""
    from cimedic.services.findings import FindingsRefresher, refresh_findings

    compare = ctx.compare()
    return FindingsRefresher(ctx.store, lambda: refresh_findings(ctx.store, compare=compare))


def poll_routine(ctx: AppContext, targets: Sequence[RepoRef], interval: float) -> Routine:
    """Poll every target (one collector per provider); raises :class:`PollError` naming each
    repository that could not be polled, after polling the others."""
    from cimedic.model.providers import ProviderError
    from cimedic.services.collect import Collector

    by_provider: dict[str, list[RepoRef]] = defaultdict(list)
    for ref in targets:
        by_provider[ref.provider].append(ref)
    collectors = {
        p: Collector(ctx.store, ctx.provider(p), ctx.diagnoser, ctx.collect_options()) for p in by_provider
    }

    def poll() -> str:
        out, failed = [], []
        for provider, refs in by_provider.items():
            for ref in refs:
                try:
                    report = collectors[provider].poll(ref.full_name)
                except (ProviderError, ValueError) as exc:
                    hint = ctx.provider_hint(exc, provider)
                    failed.append(f"{ref.display}: {exc}" + (f"; {hint}" if hint else ""))
                    continue
                out.append(f"{ref.display}: {'304' if report.not_modified else report.runs_ingested}")
        if failed:
            raise PollError(" | ".join(failed))
        return "; ".join(out)

    return Routine("poll", poll, seconds=interval, description="poll watched repositories")


def findings_routine(ctx: AppContext, seconds: float) -> Routine:
    """Refresh flaky verdicts, anomalies, culprits and risk when the history grew."""
    refresher = findings_refresher(ctx)

    def findings() -> str:
        report = refresher.refresh_if_grown()
        if report is None:
            return "no new history"
        if report.problems:
            raise RuntimeError("; ".join(report.problems))
        return report.text()

    return Routine(
        "findings",
        findings,
        seconds=seconds,
        description="keep flaky verdicts, anomalies, culprits, risk up to date",
    )


def housekeeping_routine(ctx: AppContext) -> Routine:
    """Retention of logs and raw payloads, risk-model retraining when due (hourly)."""
    from cimedic.services.risk import retrain_if_due

    def housekeeping() -> str:
        removed = ctx.store.apply_retention(
            log_days=ctx.settings.log_retention_days, raw_days=ctx.settings.raw_retention_days
        )
        retrain = retrain_if_due(ctx.store)
        return f"retention {removed}; risk model: {retrain.reason}"

    return Routine("housekeeping", housekeeping, seconds=3600, description="retention, risk retraining")


def heal_routine(ctx: AppContext) -> Routine:
    """One self-healing pass every minute (re-runs only when the policy is not dry-run and a
    provider can execute them: the double lock)."""
    from cimedic.services.remediate import heal

    policy = ctx.rerun_policy
    action = ctx.rerun_action()

    def run() -> str:
        decisions = heal(ctx.store, policy, action, now=datetime.now(UTC), apply=action is not None)
        return f"{len(decisions)} decisions"

    return Routine("heal", run, seconds=60, description="apply the re-run policy")


def notify_routine(ctx: AppContext) -> Routine:
    """Notifications and digests every 5 minutes; the repository health is recorded on every
    pass, also when no channel is configured and the pass runs dry."""
    from cimedic.services.health import record_health
    from cimedic.services.notify import notify_pending

    notifiers, quiet, templates = ctx.notifiers, ctx.quiet_hours, ctx.notify_templates
    thresholds = ctx.health_thresholds

    def run() -> str:
        now = datetime.now(UTC)
        outcome = notify_pending(
            ctx.store,
            notifiers,
            now,
            quiet=quiet,
            dry_run=not notifiers,
            thresholds=thresholds,
            templates=templates,
            web_base=ctx.web_base,
        )
        if not notifiers:
            record_health(ctx.store, now, thresholds=thresholds)
        if outcome.failed:
            raise RuntimeError(f"{outcome.failed} of {outcome.events} notifications not delivered")
        return f"{len(outcome.notifications)} notifications" + (
            "" if notifiers else " (no notify_urls: dry run, health recorded)"
        )

    return Routine("notify", run, seconds=300, description="notifications and digests")


def report_routine(ctx: AppContext, period: str, cron: str) -> Routine:
    """The ``period`` report (daily or weekly) written as ``<data_dir>/reports/<period>-<date>.md``
    and ``.html``."""
    from cimedic.services.reports import build_report, render_html, render_markdown

    def run() -> str:
        report = build_report(
            ctx.store,
            period=period,
            deployment_patterns=ctx.deployment_patterns(),
            thresholds=ctx.health_thresholds,
            web_base=ctx.web_base,
        )
        folder = ctx.settings.data_dir / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d")
        (folder / f"{period}-{stamp}.md").write_text(render_markdown(report), encoding="utf-8")
        (folder / f"{period}-{stamp}.html").write_text(render_html(report), encoding="utf-8")
        return f"written to {folder}/{period}-{stamp}.md|.html"

    return Routine(f"report-{period}", run, cron=cron, description=f"{period} report")


def watch_routines(ctx: AppContext, targets: Sequence[RepoRef], interval: float) -> list[Routine]:
    """``cimedic watch``: poll, findings, housekeeping."""
    return [
        poll_routine(ctx, targets, interval),
        findings_routine(ctx, max(FINDINGS_MIN_INTERVAL, interval)),
        housekeeping_routine(ctx),
    ]


def serve_routines(ctx: AppContext) -> list[Routine]:
    """``cimedic serve``: findings (after webhooks brought history) and housekeeping."""
    return [findings_routine(ctx, SERVE_FINDINGS_INTERVAL), housekeeping_routine(ctx)]


def agent_routines(ctx: AppContext, targets: Sequence[RepoRef], interval: float) -> list[Routine]:
    """``cimedic agent``: poll (when there are targets), findings, housekeeping, heal, notify,
    daily and weekly reports. Configuration errors of any part (policy, templates, quiet hours,
    notify URLs) raise :class:`~cimedic.settings.ConfigError` here, before anything runs."""
    routines = (
        watch_routines(ctx, targets, interval)
        if targets
        else [
            findings_routine(ctx, max(FINDINGS_MIN_INTERVAL, interval)),
            housekeeping_routine(ctx),
        ]
    )
    return [
        *routines,
        heal_routine(ctx),
        notify_routine(ctx),
        report_routine(ctx, "daily", "0 7 * * *"),
        report_routine(ctx, "weekly", "0 7 * * mon"),
    ]
