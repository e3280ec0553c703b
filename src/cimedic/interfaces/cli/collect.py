"""``cimedic sync`` (backfill) and ``cimedic watch`` (incremental polling) for GitHub Actions."""

from __future__ import annotations

import json
import time

import typer

from cimedic.interfaces.cli.common import (
    DB_HELP,
    ListFormat,
    fail,
    progress_bar,
    settings,
    since_option,
    store,
)


def _print_report(report, fmt: ListFormat) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import asdict

    if fmt is ListFormat.json:
        typer.echo(json.dumps(asdict(report), indent=2))
        return
    state = "not modified (304)" if report.not_modified else f"{report.runs_seen} runs seen"
    typer.echo(
        f"{report.repository}: {state}, {report.runs_ingested} ingested, {report.runs_unchanged} unchanged, "
        f"{report.jobs} jobs, {report.logs_fetched} logs fetched ({report.logs_failed} failed), "
        f"{report.diagnosed} diagnosed, {report.test_reports} test reports; {report.requests} GitHub requests"
    )
    for problem in report.problems[:20]:
        typer.echo(f"  problem: {problem}", err=True)


def _collector(cfg, st, *, progress, fetch_logs: bool = True):  # type: ignore[no-untyped-def]
    from cimedic import bootstrap
    from cimedic.services.collect import CollectOptions, Collector

    client = bootstrap.github_client(cfg, st)
    diagnoser, problems = bootstrap.diagnoser(cfg)
    for p in problems:
        typer.echo(f"cimedic: warning: knowledge base: {p}", err=True)
    options = CollectOptions(
        log_max_bytes=cfg.log_max_bytes,
        max_workers=cfg.github_max_concurrency,
        fetch_logs=fetch_logs,
        test_artifact_patterns=tuple(cfg.test_artifact_patterns),
        fetch_test_reports=bool(cfg.test_artifact_patterns),
    )
    return Collector(st, client, diagnoser, options, progress)


def _refresh(st, repo: str, collector, fmt: ListFormat) -> None:  # type: ignore[no-untyped-def]
    """Update the analyzers' findings (flaky, anomalies, culprits, risk) after new history."""
    from cimedic.services.findings import refresh_findings

    report = refresh_findings(st, repository=repo, compare=collector.client.compare_commits)
    for problem in report.problems:
        typer.echo(f"cimedic: warning: {problem}", err=True)
    if fmt is ListFormat.text:
        typer.echo(
            f"findings: {report.flaky} flaky, {report.broken} broken, {report.anomalies} anomalies, "
            f"{report.culprits} culprit reports; failure risk: {report.risk or 'no model'}"
        )


def _check_repo(repo: str) -> str:
    owner, _, name = repo.partition("/")
    if not owner or not name or "/" in name:
        fail(f"repository must be OWNER/REPO, got {repo!r}")
    return repo


def sync(
    repo: str = typer.Argument(..., help="Repository OWNER/REPO."),
    since: str = typer.Option(
        "30d", "--since", help="Backfill runs created since: 30d, 12h, 2w or an ISO date (UTC)."
    ),
    workflow: str | None = typer.Option(
        None, "--workflow", help="Only this workflow (name, file name or id)."
    ),
    no_logs: bool = typer.Option(False, "--no-logs", help="Do not download failed-job logs."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", help="Output format."),
) -> None:
    """Backfill a repository's GitHub Actions history: runs, attempts, jobs, steps, failed-job
    logs (diagnosed) and test reports."""
    from cimedic.connectors.github_actions.client import GitHubError

    repo = _check_repo(repo)
    cfg = settings()
    start = since_option(since)
    st = store(cfg, db)
    with progress_bar(fmt is ListFormat.text) as progress:
        collector = _collector(cfg, st, progress=progress, fetch_logs=not no_logs)
        try:
            report = collector.sync(repo, since=start, workflow=workflow)
        except GitHubError as exc:
            fail(f"GitHub: {exc}")
    _print_report(report, fmt)
    _refresh(st, repo, collector, fmt)


def watch(
    repos: list[str] = typer.Argument(
        None, help="Repositories OWNER/REPO (default: the watch_repos setting)."
    ),
    interval: float | None = typer.Option(
        None, "--interval", help="Seconds between polls (default watch_interval, 60)."
    ),
    once: bool = typer.Option(False, "--once", help="Poll every repository once and exit."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", help="Output format (one report per poll)."),
) -> None:
    """Poll repositories for new and changed runs with conditional requests (an unchanged
    repository costs no rate limit), fetch and diagnose failed-job logs."""
    from cimedic.connectors.github_actions.client import GitHubError

    cfg = settings()
    targets = [_check_repo(r) for r in (repos or cfg.watch_repos)]
    if not targets:
        fail("no repository to watch: give OWNER/REPO arguments or set watch_repos")
    every = interval if interval is not None else cfg.watch_interval
    st = store(cfg, db)
    collector = _collector(cfg, st, progress=None)
    last_retention = 0.0
    while True:
        started = time.monotonic()
        for repo in targets:
            try:
                report = collector.poll(repo)
            except GitHubError as exc:
                typer.echo(f"cimedic: warning: {repo}: GitHub: {exc}", err=True)
                continue
            _print_report(report, fmt)
            if report.runs_ingested:
                _refresh(st, repo, collector, fmt)
        if time.monotonic() - last_retention > 3600:
            from cimedic.services.risk import retrain_if_due

            st.apply_retention(log_days=cfg.log_retention_days, raw_days=cfg.raw_retention_days)
            retrain_if_due(st)
            last_retention = time.monotonic()
        if once:
            return
        time.sleep(max(0.0, every - (time.monotonic() - started)))
