"""``cimedic demo``: rebuild the demo history from the bundled GitHub replay and show stats."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer

from cimedic.interfaces.cli.common import CREATE_HELP, DB_HELP, ListFormat, context, progress_bar


def demo(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
) -> None:
    """Rebuild the demo repositories in the store from the bundled GitHub replay (real
    GitHub response shapes and real job logs; no network), through the same code path as
    `cimedic sync`; diagnose the failed jobs, run every analyzer, print `cimedic stats`, and the
    store location."""
    from cimedic.interfaces.cli.render import print_stats
    from cimedic.services.demo import run_demo
    from cimedic.services.stats import pipeline_stats

    ctx = context(db, create=create)
    st = ctx.store
    with progress_bar(fmt is ListFormat.text) as progress:
        report = run_demo(st, ctx.diagnoser, progress=progress)
    patterns = ctx.settings.deployment_workflows or ["Deploy", "deploy.yml"]
    stats = pipeline_stats(st, since=None, deployment_patterns=patterns)
    if fmt is ListFormat.json:
        typer.echo(
            json.dumps(
                {
                    "store": st.location,
                    "repositories": report.repositories,
                    "collected": [asdict(r) for r in report.reports],
                    "counts": report.counts,
                    "stats": stats.model_dump(mode="json"),
                },
                indent=2,
            )
        )
        return
    for r in report.reports:
        typer.echo(
            f"{r.repository}: {r.runs_ingested} runs, {r.jobs} jobs, {r.logs_fetched} failed-job logs fetched "
            f"and {r.diagnosed} diagnosed, {r.test_reports} test reports ({r.requests} replayed GitHub requests)"
        )
    print_stats(stats, st.location)
    typer.echo(f"\nStore: {st.location}")
    typer.echo("Try: cimedic stats --since 30d --by workflow" + ("" if db is None else f" --db {db}"))
