"""``cimedic stats``: pipeline metrics of the stored CI history (see ``docs/metrics.md``)."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from cimedic.interfaces.cli.common import CREATE_HELP, DB_HELP, REPO_HELP, context, fail, repo_filter

if TYPE_CHECKING:
    from rich.console import Console

    from cimedic.model.findings import FindingsSummary
    from cimedic.model.metrics import FailingItem, GroupStats, PipelineStats


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
    if output is StatsFormat.json:
        import json

        sys.stdout.write(json.dumps(result.model_dump(mode="json"), ensure_ascii=False) + "\n")
        return
    print_stats(result, store.location)


# ---------------------------------------------------------------------------------------- text


def seconds_text(value: float | None) -> str:
    """A duration for people: ``-`` when unknown, ``42.0s``, ``3m 07s``, ``2h 05m``, ``3d 04h 10m``."""
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f}s"
    s = round(value)
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h {s % 3600 // 60:02d}m"


def rate_text(value: float | None) -> str:
    """A fraction as a percentage with one decimal, ``-`` when unknown."""
    return "-" if value is None else f"{value * 100:.1f}%"


def _when(value: object) -> str:
    from datetime import datetime

    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "the beginning"


def _name(workflow: str | None, job: str, step: str | None = None) -> str:
    parts = [workflow or "(no workflow)", job] + ([step] if step else [])
    return " / ".join(parts)


def print_stats(s: PipelineStats, location: str) -> None:
    """The text report of ``cimedic stats`` (rich tables on stdout)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    filters = [f"{k}={v}" for k, v in s.filters.model_dump().items() if v]
    scope = f"{_when(s.since)} .. {_when(s.until)}" + (f" ({', '.join(filters)})" if filters else "")
    if s.is_empty:
        console.print(f"No runs in the window {escape(scope)} of {escape(location)}.")
        return
    console.print(f"[bold]Pipeline statistics[/bold] {escape(scope)}")

    r, rr = s.runs, s.reruns
    t = Table("", "count", "rate", title="Runs", title_justify="left")
    t.add_row("runs (latest attempt)", f"{r.total:,}", "")
    t.add_row("completed", f"{r.completed:,}", "")
    t.add_row("success", f"{r.succeeded:,}", rate_text(r.success_rate))
    t.add_row("failure", f"{r.failed:,}", rate_text(r.failure_rate))
    t.add_row("cancelled", f"{r.cancelled:,}", rate_text(r.cancelled_rate))
    t.add_row("re-run (attempt > 1)", f"{rr.reruns:,}", rate_text(rr.rerun_rate))
    t.add_row(
        "re-run, then green",
        f"{rr.rerun_succeeded:,} of {rr.rerun_completed:,}",
        rate_text(rr.rerun_success_rate),
    )
    t.add_row("jobs (every attempt)", f"{r.jobs:,}", "")
    console.print(t)

    d, q, m = s.duration, s.queue, s.mttr
    t = Table(title="Durations", title_justify="left")
    t.add_column("", no_wrap=True)
    for head in ("p50", "p90", "p95", "mean", "count"):
        t.add_column(head, justify="right")
    t.add_row(
        "run duration",
        seconds_text(d.p50_seconds),
        seconds_text(d.p90_seconds),
        seconds_text(d.p95_seconds),
        seconds_text(d.mean_seconds),
        f"{d.count:,} runs",
    )
    t.add_row(
        "job queue time",
        seconds_text(q.p50_seconds),
        "",
        seconds_text(q.p95_seconds),
        "",
        f"{q.count:,} jobs",
    )
    t.add_row("one step", "", "", "", seconds_text(s.steps.mean_seconds), f"{s.steps.executions:,} steps")
    console.print(t)
    t = Table(title="MTTR, default branch", title_justify="left")
    for head in ("median", "mean", "incidents", "open"):
        t.add_column(head, justify="right")
    t.add_row(
        seconds_text(m.median_seconds),
        seconds_text(m.mean_seconds),
        f"{m.incidents:,}",
        f"{m.open_incidents:,}",
    )
    console.print(t)

    if s.groups:
        _print_groups(console, s.groups, s.by.value if s.by else "")

    if s.steps.slowest:
        t = Table("step", "mean", "max", "count", title="Slowest steps", title_justify="left")
        for st in s.steps.slowest:
            t.add_row(
                escape(_name(st.workflow, st.job, st.step)),
                seconds_text(st.mean_seconds),
                seconds_text(st.max_seconds),
                f"{st.count:,}",
            )
        console.print(t)
    for title, items in (("Most failing jobs", s.failing_jobs), ("Most failing steps", s.failing_steps)):
        if items:
            _print_failing(console, title, items)

    if s.categories:
        t = Table("category", "jobs", "share", title="Failure categories", title_justify="left")
        for c in s.categories:
            t.add_row(c.category, f"{c.count:,}", rate_text(c.share))
        console.print(t)

    if s.dora is not None:
        k = s.dora
        t = Table(
            title=f"DORA metrics ({escape(', '.join(k.workflows))})", title_justify="left", show_header=False
        )
        freq = (
            "-"
            if k.deployments_per_day is None
            else f"{k.deployments_per_day:.2f}/day, {k.deployments_per_week or 0:.1f}/week"
        )
        t.add_row("deployment frequency", freq, f"{k.successful_deployments} successful of {k.deployments}")
        t.add_row(
            "lead time for changes",
            f"median {seconds_text(k.lead_time_median_seconds)}",
            f"p90 {seconds_text(k.lead_time_p90_seconds)}",
        )
        t.add_row("change failure rate", rate_text(k.change_failure_rate), f"{k.failed_deployments} failed")
        t.add_row(
            "time to restore service",
            f"median {seconds_text(k.time_to_restore_median_seconds)}",
            f"{k.restores} restored, {k.unrestored} not yet",
        )
        console.print(t)

    if s.findings is not None:
        _print_findings(console, s.findings)


def _print_groups(console: Console, groups: tuple[GroupStats, ...], by: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    t = Table(by, "count", "failure", "p50", "p95", "mean", title=f"By {by}", title_justify="left")
    for g in groups:
        t.add_row(
            escape(g.key),
            f"{g.count:,}",
            rate_text(g.failure_rate),
            seconds_text(g.p50_seconds),
            seconds_text(g.p95_seconds),
            seconds_text(g.mean_seconds),
        )
    console.print(t)


def _print_failing(console: Console, title: str, items: tuple[FailingItem, ...]) -> None:
    from rich.markup import escape
    from rich.table import Table

    t = Table("name", "failures", "of", "rate", title=title, title_justify="left")
    for i in items:
        t.add_row(
            escape(_name(i.workflow, i.job, i.step)), f"{i.failures:,}", f"{i.count:,}", rate_text(i.rate)
        )
    console.print(t)


def _print_findings(console: Console, f: FindingsSummary) -> None:
    """The stored findings, one row per section (failure clusters, then each analyzer, plug-ins
    included) with the command that shows more, then the top lines and any problem."""
    from rich.markup import escape
    from rich.table import Table

    t = Table(title="Findings", title_justify="left", show_header=False)
    for section in f.sections:
        t.add_row(escape(section.title), escape(section.text or "none"), escape(section.command))
    console.print(t)
    for line in f.top:
        short = line.detail if len(line.detail) <= 60 else line.detail[:59] + "…"
        detail = f" [dim]({escape(short)})[/dim]" if short else ""
        console.print(f"  [bold]{escape(line.kind)}[/bold]: {escape(line.title)}{detail}")
    for problem in f.problems:
        console.print(f"  [yellow]problem[/yellow]: {escape(problem)}")
