"""``cimedic stats``: pipeline metrics of the stored CI history (see ``docs/metrics.md``)."""

from __future__ import annotations

import sys
from enum import StrEnum

import typer

from cimedic.interfaces.cli.common import CREATE_HELP, DB_HELP, REPO_HELP, context, fail, repo_filter


class StatsFormat(StrEnum):
    text = "text"
    json = "json"


class StatsBy(StrEnum):
    workflow = "workflow"
    job = "job"
    step = "step"


def stats(
    repo: str | None = typer.Option(None, "--repo", help="Only this repository. " + REPO_HELP),
    workflow: str | None = typer.Option(
        None,
        "--workflow",
        help="Only this workflow (name or file path; 'ci.yml' matches .github/workflows/ci.yml).",
    ),
    branch: str | None = typer.Option(None, "--branch", help="Only runs of this head branch."),
    since: str = typer.Option(
        "7d", "--since", help="Window start: 30m, 12h, 7d, 2w back from now, or an ISO date/date-time (UTC)."
    ),
    by: StatsBy | None = typer.Option(None, "--by", help="Break the figures down by workflow, job or step."),
    output: StatsFormat = typer.Option(StatsFormat.text, "--format", "-f", help="Output format."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
    top: int = typer.Option(10, "--top", min=1, help="Length of the slowest-step and most-failing lists."),
) -> None:
    """Pipeline metrics of the stored history: rates, durations, queue time, re-runs, MTTR,
    slowest and most failing jobs and steps, failure categories, DORA metrics.

    Exit status 0 (also when the window holds no run); 2 when the options, the settings or the
    store are unusable.
    """
    from cimedic.services.stats import pipeline_stats
    from cimedic.services.timewindow import parse_since

    try:
        window = parse_since(since)
    except ValueError as exc:
        fail(str(exc))
    ctx = context(db, create=create)
    repository = repo_filter(ctx, repo)
    store = ctx.store
    try:
        result = pipeline_stats(
            store,
            repository=repository,
            workflow=workflow,
            branch=branch,
            since=window,
            by=by.value if by is not None else None,
            deployment_patterns=ctx.settings.deployment_workflows,
            top=top,
        )
    finally:
        ctx.close()
    from cimedic.interfaces.cli.render import print_stats

    if output is StatsFormat.json:
        import json

        sys.stdout.write(json.dumps(result.model_dump(mode="json"), ensure_ascii=False) + "\n")
        return
    print_stats(result, store.location)
