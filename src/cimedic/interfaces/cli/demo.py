"""``cimedic demo``: rebuild the demo history from the bundled GitHub replay and show stats."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer

from cimedic.interfaces.cli.common import DB_HELP, ListFormat, progress_bar, settings, store


def demo(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", help="Output format."),
) -> None:
    """Rebuild the demo repositories in the store from the bundled GitHub replay (real
    GitHub response shapes and real job logs; no network), through the same code path as
    `cimedic sync`; diagnose the failed jobs, print `cimedic stats`, and the store location."""
    from cimedic import bootstrap
    from cimedic.interfaces.cli.stats import print_stats
    from cimedic.services.demo import run_demo
    from cimedic.services.stats import pipeline_stats

    cfg = settings()
    st = store(cfg, db)
    diagnoser, _problems = bootstrap.diagnoser(cfg)
    with progress_bar(fmt is ListFormat.text) as progress:
        report = run_demo(st, diagnoser, progress=progress)
    patterns = cfg.deployment_workflows or ["Deploy", "deploy.yml"]
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
