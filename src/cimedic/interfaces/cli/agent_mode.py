"""``cimedic agent``: the 24/7 process — watchers plus scheduled jobs (see
:mod:`cimedic.services.schedule`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from cimedic.interfaces.cli.common import DB_HELP, fail, settings, store

if TYPE_CHECKING:
    from collections.abc import Callable

    from cimedic.services.schedule import ScheduledJob
    from cimedic.settings import Settings
    from cimedic.store.repository import Store


def agent(
    repos: list[str] = typer.Argument(
        None, help="Repositories OWNER/REPO to watch (default: the watch_repos setting)."
    ),
    interval: float | None = typer.Option(
        None, "--interval", help="Seconds between polls (default: the watch_interval setting, 60)."
    ),
    once: bool = typer.Option(False, "--once", help="Run every job once, in order, and exit."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Run cimedic 24/7: poll the repositories, keep clusters, flaky verdicts, anomalies,
    culprits and failure risk up to date, apply the re-run policy, send notifications and the
    daily and weekly reports. Stops gracefully on SIGTERM or Ctrl-C."""
    import signal
    import threading

    from cimedic.interfaces.logsetup import configure_logging
    from cimedic.services.schedule import AgentScheduler

    configure_logging()  # our own logs are redacted too
    cfg = settings()
    targets = list(repos or cfg.watch_repos)
    for repo in targets:
        owner, _, name = repo.partition("/")
        if not owner or not name or "/" in name:
            fail(f"repository must be OWNER/REPO, got {repo!r}")
    st = store(cfg, db)
    jobs = _jobs(cfg, st, targets, interval if interval is not None else cfg.watch_interval)
    scheduler = AgentScheduler(st, jobs)
    if once:
        for job in jobs:
            scheduler._wrap(job)()
            last = scheduler.runs[job.id][-1]
            typer.echo(f"{job.id}: {'ok' if last.ok else 'FAILED'} in {last.seconds:.1f}s {last.summary}")
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler.start()
    typer.echo(
        f"cimedic agent: {len(jobs)} jobs, watching {', '.join(targets) or 'no repository'}; store {st.location}",
        err=True,
    )
    try:
        while not stop.wait(1.0):
            pass
    finally:
        typer.echo("cimedic agent: stopping (waiting for running jobs)", err=True)
        scheduler.shutdown(wait=True)


def _jobs(cfg: Settings, st: Store, targets: list[str], interval: float) -> list[ScheduledJob]:
    """The scheduled jobs of the agent process, built from the settings."""
    from cimedic import bootstrap
    from cimedic.services.collect import CollectOptions, Collector
    from cimedic.services.findings import refresh_findings
    from cimedic.services.risk import retrain_if_due
    from cimedic.services.schedule import ScheduledJob

    jobs: list[ScheduledJob] = []
    has_github = bool(targets or cfg.github_token or cfg.github_app_id)
    client = bootstrap.github_client(cfg, st) if has_github else None
    if targets and client is not None:
        diagnoser, _problems = bootstrap.diagnoser(cfg)
        collector = Collector(
            st,
            client,
            diagnoser,
            CollectOptions(
                log_max_bytes=cfg.log_max_bytes,
                max_workers=cfg.github_max_concurrency,
                test_artifact_patterns=tuple(cfg.test_artifact_patterns),
                fetch_test_reports=bool(cfg.test_artifact_patterns),
            ),
        )

        def poll() -> str:
            out = []
            for repo in targets:
                report = collector.poll(repo)
                out.append(f"{repo}: {'304' if report.not_modified else report.runs_ingested}")
            return "; ".join(out)

        jobs.append(ScheduledJob("poll", poll, seconds=interval, description="poll watched repositories"))
    compare = client.compare_commits if client is not None else None
    seen: dict[str, int] = {}

    def findings() -> str:
        # whatever brought the history (poll, webhooks of `cimedic serve`, sync): refresh when it grew
        mark = {
            k: v for k, v in st.counts().items() if k in ("workflow_runs", "jobs", "diagnoses", "test_cases")
        }
        if mark == seen:
            return "no new history"
        report = refresh_findings(st, compare=compare)
        seen.clear()
        seen.update(mark)
        problems = f"; problems: {'; '.join(report.problems)}" if report.problems else ""
        return (
            f"flaky {report.flaky}, broken {report.broken}, anomalies {report.anomalies}, "
            f"culprits {report.culprits}, risk {report.risk}{problems}"
        )

    jobs.append(
        ScheduledJob(
            "findings",
            findings,
            seconds=max(60.0, interval),
            description="attach new failures to flaky verdicts, anomalies, culprits, risk",
        )
    )

    def housekeeping() -> str:
        removed = st.apply_retention(log_days=cfg.log_retention_days, raw_days=cfg.raw_retention_days)
        retrain = retrain_if_due(st)
        return f"retention {removed}; risk model: {retrain.reason}"

    jobs.append(
        ScheduledJob("housekeeping", housekeeping, seconds=3600, description="retention, risk retraining")
    )
    jobs.extend(_step4_jobs(cfg, st))
    return jobs


def _step4_jobs(cfg: Settings, st: Store) -> list[ScheduledJob]:
    """Re-run policy (every minute), notifications and reports."""
    from datetime import UTC, datetime

    from cimedic import bootstrap
    from cimedic.inputs.policy import PolicyError, load_policy
    from cimedic.services.remediate import heal
    from cimedic.services.schedule import ScheduledJob

    try:
        policy = load_policy(cfg.remediation_policy)
    except PolicyError as exc:
        fail(str(exc))
    needs_client = bool(cfg.github_token or cfg.github_app_id)
    action = bootstrap.github_client(cfg, st) if needs_client else None

    def heal_job() -> str:
        # the double lock holds: apply only when the policy itself is not dry-run
        decisions = heal(st, policy, action, now=datetime.now(UTC), apply=action is not None)
        return f"{len(decisions)} decisions"

    jobs = [ScheduledJob("heal", heal_job, seconds=60, description="apply the re-run policy")]
    jobs.extend(_notify_jobs(cfg, st))
    return jobs


def _notify_jobs(cfg: Settings, st: Store) -> list[ScheduledJob]:
    """Notifications every 5 minutes (repository health recorded on every pass, also when no
    channel is configured and the pass runs dry); the daily (07:00 UTC) and weekly (Monday
    07:00 UTC) reports, written as Markdown and HTML under ``<data_dir>/reports/``. Health
    thresholds: the ``health_window_hours`` and ``health_degraded_rate`` settings; notification
    texts: the templates of ``notify_templates_dir`` (loaded once here: a template with a syntax
    error stops the agent at start with ``cimedic: error: notify template <file>:<line>: ...``)."""
    from datetime import UTC, datetime

    from cimedic.actions.notify import Notifier
    from cimedic.inputs.templates import TemplateError, load_templates
    from cimedic.interfaces.cli.health import thresholds_from
    from cimedic.model.notify import QuietHours
    from cimedic.services.health import record_health
    from cimedic.services.notify import notify_pending
    from cimedic.services.reports import build_report, render_html, render_markdown
    from cimedic.services.schedule import ScheduledJob

    thresholds = thresholds_from(cfg)

    try:
        quiet = QuietHours.parse(cfg.notify_quiet_hours) if cfg.notify_quiet_hours else None
    except ValueError as exc:
        fail(str(exc))
    try:
        templates = load_templates(cfg.notify_templates_dir)
    except TemplateError as exc:
        fail(str(exc))
    from cimedic.bootstrap import notifiers as configured

    try:
        notifiers: list[Notifier] = configured(cfg)
    except ValueError as exc:
        fail(str(exc))

    def notify_job() -> str:
        now = datetime.now(UTC)
        outcome = notify_pending(
            st, notifiers, now, quiet=quiet, dry_run=not notifiers, thresholds=thresholds, templates=templates
        )
        if not notifiers:
            # a dry pass writes nothing: record the health anyway, so `cimedic health` knows since when
            record_health(st, now, thresholds=thresholds)
        return f"{len(outcome.notifications)} notifications" + (
            "" if notifiers else " (no notify_urls: dry run, health recorded)"
        )

    def report_job(period: str) -> Callable[[], str]:
        def run() -> str:
            report = build_report(
                st, period=period, deployment_patterns=tuple(cfg.deployment_workflows), thresholds=thresholds
            )
            folder = cfg.data_dir / "reports"
            folder.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y-%m-%d")
            (folder / f"{period}-{stamp}.md").write_text(render_markdown(report), encoding="utf-8")
            (folder / f"{period}-{stamp}.html").write_text(render_html(report), encoding="utf-8")
            return f"written to {folder}/{period}-{stamp}.md|.html"

        return run

    return [
        ScheduledJob("notify", notify_job, seconds=300, description="notifications and digests"),
        ScheduledJob("report-daily", report_job("daily"), cron="0 7 * * *", description="daily report"),
        ScheduledJob("report-weekly", report_job("weekly"), cron="0 7 * * mon", description="weekly report"),
    ]
