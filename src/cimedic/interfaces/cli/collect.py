"""``cimedic sync`` (backfill) and ``cimedic watch`` (incremental polling) of a CI provider's
history (GitHub Actions today).

Exit status: 0; 1 when the provider could not be read (one line naming the repository and what
to do: token, URL); 2 for usage, settings and store errors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from cimedic.interfaces.cli.common import (
    CREATE_HELP,
    DB_HELP,
    REPO_HELP,
    ListFormat,
    context,
    fail,
    print_outcome,
    progress_bar,
    provider_failure,
    repo_ref,
    run_once,
    run_until_stopped,
    since_option,
    stop_on_signals,
)

if TYPE_CHECKING:
    from cimedic.bootstrap import AppContext
    from cimedic.services.collect import CollectReport


def print_collect_report(report: CollectReport, fmt: ListFormat) -> None:
    """One line per collect report (or its JSON), problems on stderr."""
    from dataclasses import asdict

    if fmt is ListFormat.json:
        typer.echo(json.dumps(asdict(report), indent=2))
        return
    state = "not modified (304)" if report.not_modified else f"{report.runs_seen} runs seen"
    typer.echo(
        f"{report.repository}: {state}, {report.runs_ingested} ingested, {report.runs_unchanged} unchanged, "
        f"{report.jobs} jobs, {report.logs_fetched} logs fetched ({report.logs_failed} failed), "
        f"{report.diagnosed} diagnosed, {report.test_reports} test reports"
        + (f" ({report.test_reports_deferred} artifacts deferred)" if report.test_reports_deferred else "")
        + f"; {report.requests} API requests"
    )
    for problem in report.problems[:20]:
        typer.echo(f"  problem: {problem}", err=True)


def warn_kb(ctx: AppContext) -> None:
    """One warning line per knowledge-base entry that could not be loaded."""
    for p in ctx.kb_problems:
        typer.echo(f"cimedic: warning: knowledge base: {p}", err=True)


def refresh(ctx: AppContext, fmt: ListFormat, repository: str | None = None) -> None:
    """Update the analyzers' findings after new history; problems as warnings."""
    from cimedic.services.findings import refresh_findings

    report = refresh_findings(ctx.store, repository=repository, compare=ctx.compare())
    for problem in report.problems:
        typer.echo(f"cimedic: warning: {problem}", err=True)
    if fmt is ListFormat.text:
        typer.echo(report.text())


def sync(
    repo: str = typer.Argument(..., help=REPO_HELP),
    since: str = typer.Option(
        "30d", "--since", help="Backfill runs created since: 30d, 12h, 2w or an ISO date (UTC)."
    ),
    workflow: str | None = typer.Option(
        None, "--workflow", help="Only this workflow (name, file name or id)."
    ),
    no_logs: bool = typer.Option(False, "--no-logs", help="Do not download failed-job logs."),
    reports: bool = typer.Option(
        False,
        "--reports",
        help="Download every missing test report of the repository now (deferred by the "
        "test_report_budget setting or left by an interrupted sync), ignoring the budget.",
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
) -> None:
    """Backfill a repository's CI history: workflow runs, attempts, jobs, steps, failed-job
    logs (diagnosed) and test reports. Test-report downloads stay within the test_report_budget
    setting (requests per hour; failed and re-run attempts first); the rest is fetched by later
    polls of watch, agent and serve, or at once with --reports. Exit 1 when the provider cannot
    be read."""
    from cimedic.model.providers import ProviderError
    from cimedic.services.collect import Collector

    ctx = context(db, create=create)
    ref = repo_ref(ctx, repo)
    start = since_option(since)
    with progress_bar(fmt is ListFormat.text) as progress:
        collector = Collector(
            ctx.store,
            ctx.provider(ref.provider),
            ctx.diagnoser,
            ctx.collect_options(fetch_logs=not no_logs, all_reports=reports),
            progress,
        )
        warn_kb(ctx)
        try:
            report = collector.sync(ref.full_name, since=start, workflow=workflow)
        except (ProviderError, ValueError) as exc:
            fail(provider_failure(ctx, ref.display, exc, ref.provider), code=1)
    print_collect_report(report, fmt)
    refresh(ctx, fmt, ref.full_name)


def watch(
    repos: list[str] = typer.Argument(
        None, help="Repositories OWNER/NAME or PROVIDER:FULL_NAME (default: the watch_repos setting)."
    ),
    interval: float | None = typer.Option(
        None, "--interval", help="Seconds between polls (default watch_interval, 60)."
    ),
    once: bool = typer.Option(
        False, "--once", help="Poll every repository once and exit (1 when a poll failed)."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format of --once."),
) -> None:
    """Poll repositories for new and changed runs with conditional requests (an unchanged
    repository costs no rate limit), fetch and diagnose failed-job logs, refresh the findings
    when the history grew, apply retention hourly. A failed poll is one `cimedic: error:` line
    naming the repository and what to do; watching goes on (with --once: exit 1)."""
    from cimedic.bootstrap.routines import watch_routines
    from cimedic.services.routines import RoutineRunner

    stop = None if once else stop_on_signals()
    ctx = context(db, create=create)
    targets = [repo_ref(ctx, r) for r in (repos or ctx.settings.watch_repos)]
    if not targets:
        fail("no repository to watch: give OWNER/NAME arguments or set watch_repos")
    every = interval if interval is not None else ctx.settings.watch_interval
    warn_kb(ctx)
    runner = RoutineRunner(ctx.store, watch_routines(ctx, targets, every))
    if once:
        run_once(runner, json_output=fmt is ListFormat.json)
        return
    runner.report_outcome = print_outcome
    assert stop is not None
    banner = f"cimedic watch: {', '.join(t.display for t in targets)} every {every:g}s"
    run_until_stopped(runner, banner, stop, first=("poll",))
