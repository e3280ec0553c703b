"""``cimedic agent``: the 24/7 process — watchers plus scheduled jobs (see
:mod:`cimedic.services.schedule`)."""

from __future__ import annotations

import typer

from cimedic.interfaces.cli.common import DB_HELP, fail, settings, store


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

    from cimedic.services.schedule import AgentScheduler

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


def _jobs(cfg, st, targets: list[str], interval: float):  # type: ignore[no-untyped-def]
    """The scheduled jobs of the agent process, built from the settings."""
    from cimedic import bootstrap
    from cimedic.services.collect import CollectOptions, Collector
    from cimedic.services.findings import refresh_findings
    from cimedic.services.risk import retrain_if_due
    from cimedic.services.schedule import ScheduledJob

    jobs: list[ScheduledJob] = []
    if targets:
        client = bootstrap.github_client(cfg, st)
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
                if report.runs_ingested:
                    refresh_findings(st, repository=repo, compare=client.compare_commits)
                out.append(f"{repo}: {'304' if report.not_modified else report.runs_ingested}")
            return "; ".join(out)

        jobs.append(ScheduledJob("poll", poll, seconds=interval, description="poll watched repositories"))

    def housekeeping() -> str:
        removed = st.apply_retention(log_days=cfg.log_retention_days, raw_days=cfg.raw_retention_days)
        retrain = retrain_if_due(st)
        return f"retention {removed}; risk model: {retrain.reason}"

    jobs.append(
        ScheduledJob("housekeeping", housekeeping, seconds=3600, description="retention, risk retraining")
    )
    jobs.extend(_step4_jobs(cfg, st))
    return jobs


def _step4_jobs(cfg, st):  # type: ignore[no-untyped-def]
    """Re-run policy, notifications and reports, when those services are installed."""
    return []
