"""``cimedic reprocess`` and ``cimedic ingest junit``: work on what the store already holds."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cimedic.interfaces.cli.common import (
    CREATE_HELP,
    DB_HELP,
    REPO_HELP,
    ListFormat,
    context,
    fail,
    progress_bar,
    repo_filter,
    since_option,
)

if TYPE_CHECKING:
    from cimedic.bootstrap import AppContext

ingest_app = typer.Typer(help="Ingest data from files (test reports).", no_args_is_help=True)


def reprocess(
    since: str | None = typer.Option(
        None, "--since", help="Only data since: 7d, 12h, 2w or an ISO date (default: all)."
    ),
    repo: str | None = typer.Option(None, "--repo", help="Only this repository. " + REPO_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
    failed: bool = typer.Option(
        False,
        "--failed",
        help="Only the dead-lettered webhook deliveries (failed 5 times): list them (id, event, "
        "tries, reason) and try each once more.",
    ),
) -> None:
    """Process again what is stored: webhook deliveries still pending or failed (at once, without
    waiting for their back-off), and the diagnosis of every stored job log (e.g. after a
    knowledge-base update). With ``--failed``, only the dead-lettered deliveries."""
    from cimedic.services.analyze_jobs import ReprocessReport, rediagnose
    from cimedic.services.webhooks import process_pending

    ctx = context(db, create=create)
    start = since_option(since)
    if failed:
        _retry_dead(ctx, start, fmt)
        return
    repo = repo_filter(ctx, repo)
    st = ctx.store
    diagnoser = ctx.diagnoser
    for p in ctx.kb_problems:
        typer.echo(f"cimedic: warning: knowledge base: {p}", err=True)
    report = ReprocessReport()
    deliveries = process_pending(
        st, ctx.webhook_receivers, statuses=("pending", "failed"), since=start, due_only=False
    )
    report.raw_done, report.raw_failed = deliveries.done, deliveries.failed
    report.problems.extend(deliveries.problems)
    with progress_bar(fmt is ListFormat.text) as progress:
        rediagnose(st, diagnoser, since=start, repository=repo, report=report, progress=progress)
    from cimedic.services.failures import recluster

    clusters = recluster(st)
    from cimedic.services.findings import refresh_findings

    refreshed = refresh_findings(st, repository=repo, compare=ctx.compare())
    report.problems.extend(refreshed.problems)
    if fmt is ListFormat.json:
        typer.echo(json.dumps({**asdict(report), "clusters": asdict(clusters)}, indent=2))
        return
    typer.echo(
        f"deliveries: {report.raw_done} processed, {report.raw_failed} failed; "
        f"logs: {report.diagnosed} diagnosed, {report.changed_signatures} with a new signature; "
        f"failure clusters rebuilt: {clusters.clusters} clusters of {clusters.failures} failures"
    )
    for problem in report.problems[:20]:
        typer.echo(f"  problem: {problem}", err=True)


def _retry_dead(ctx: AppContext, since: datetime | None, fmt: ListFormat) -> None:
    """``reprocess --failed``: list the dead-lettered deliveries, try each once more, say which
    are done now. Text: one line per delivery, then a summary; JSON: ``{"dead": [{"id", "delivery",
    "source", "event", "tries", "reason"}], "retried", "done", "still_dead", "problems"}``."""
    from cimedic.services.webhooks import process_pending, source_of

    sources = {source_of(p) for p in ctx.webhook_receivers}
    dead = [raw for raw in ctx.store.raw_events(status=("dead",), since=since) if raw.source in sources]
    result = process_pending(
        ctx.store, ctx.webhook_receivers, statuses=("dead",), since=since, due_only=False
    )
    rows = [
        {
            "id": raw.id,
            "delivery": raw.key,
            "source": raw.source,
            "event": raw.event,
            "tries": raw.attempts,
            "reason": raw.error or "",
        }
        for raw in dead
    ]
    if fmt is ListFormat.json:
        out = {
            "dead": rows,
            "retried": len(rows),
            "done": result.done,
            "still_dead": result.failed,
            "problems": result.problems,
        }
        typer.echo(json.dumps(out, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['id']}  {row['delivery']}  {row['event']}  tries={row['tries']}  {row['reason']}")
    typer.echo(
        f"dead-lettered deliveries: {len(rows)} retried, {result.done} done, {result.failed} still dead"
    )


@ingest_app.command("junit")
def ingest_junit(
    files: list[Path] = typer.Argument(
        ..., help="JUnit-style XML files (Surefire, pytest, jest-junit, go-junit-report ...)."
    ),
    repo: str = typer.Option(..., "--repo", help="Repository the reports belong to. " + REPO_HELP),
    run: str = typer.Option(..., "--run", help="Workflow run id the reports belong to (created if unknown)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
) -> None:
    """Ingest test reports into the store, attached to a run. A file that cannot be ingested
    (unreadable, over the 200 MiB cap, not well-formed XML, not a test report) is one
    ``cimedic: error:`` line (in ``errors`` with ``--format json``); the other files are still
    ingested, and the exit code is 1 at the end."""
    from cimedic.services.test_reports import ingest_junit_files

    ctx = context(db, create=create)
    try:
        ref = ctx.repo_ref(repo)
        report = ingest_junit_files(
            ctx.store, list(files), repository=ref.full_name, run=run, provider=ref.provider
        )
    except ValueError as exc:
        fail(str(exc))
    if fmt is ListFormat.json:
        typer.echo(json.dumps(asdict(report), indent=2))
    else:
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(report.by_status.items())) or "no test cases"
        typer.echo(f"{report.reports} reports, {report.cases} test cases ({statuses}) for {repo} run {run}")
        for problem in report.problems[:50]:
            typer.echo(f"  problem: {problem}", err=True)
        for error in report.errors:
            typer.echo(f"cimedic: error: {error}", err=True)
    if report.failed_files:
        raise typer.Exit(1)
