"""``cimedic health``: repository health (Healthy / Degraded / Failing / Unknown) as a table or
JSON (see ``docs/notifications.md``, "Repository health")."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from cimedic.interfaces.cli.common import (
    CREATE_HELP,
    DB_HELP,
    REPO_HELP,
    ListFormat,
    context,
    fail,
    repo_filter,
)

if TYPE_CHECKING:
    from cimedic.model.notify import HealthThresholds, RepoHealthStatus

_STYLE = {"healthy": "green", "degraded": "yellow", "failing": "bold red", "unknown": "dim"}


def _at(text: str | None) -> datetime | None:
    if text is None:
        return None
    from cimedic.services.timewindow import parse_moment

    try:
        return parse_moment(text)
    except ValueError:
        fail(f"--at must be an ISO date or date-time (UTC when no offset is given), got {text!r}")


def health(
    repo: str | None = typer.Option(None, "--repo", help="Only this repository. " + REPO_HELP),
    at: str | None = typer.Option(
        None,
        "--at",
        help="Compute the health at this ISO date-time (UTC unless an offset is given); default now.",
    ),
    output: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """The health of each repository's default branch: Failing when its latest run is red,
    Degraded when the failure rate in the window reaches health_degraded_rate, Healthy
    otherwise, Unknown without a completed run in the last health_window_hours. Shows the runs,
    the failure rate, the reason, since when the state holds (when a notification pass or the
    agent recorded it) and the latest run.

    Exit status 0; 2 when the options, the settings or the store are unusable.
    """
    from cimedic.services.health import health_view

    moment = _at(at)
    ctx = context(db, create=create)
    th = ctx.health_thresholds
    repo = repo_filter(ctx, repo)
    try:
        rows = health_view(ctx.store, moment, repo, thresholds=th)
    finally:
        ctx.close()
    if output is ListFormat.json:
        sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False) + "\n")
        return
    if not rows:
        typer.echo(f"no repository {repo} in the store" if repo else "no repository in the store")
        return
    _table(rows, th, moment or rows[0].computed_at or datetime.now(UTC))


def _when(d: datetime | None) -> str:
    return "-" if d is None else d.strftime("%Y-%m-%d %H:%M UTC")


def _table(rows: list[RepoHealthStatus], th: HealthThresholds, moment: datetime) -> None:
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    title = (
        f"Repository health at {_when(moment)}: default branch, last {th.window_seconds / 3600:g} h, "
        f"degraded at a failure rate >= {th.degraded_rate:.0%}"
    )
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    t.add_column("repository / reason", overflow="fold", min_width=24)
    t.add_column("state", no_wrap=True)
    t.add_column("red/runs", justify="right", no_wrap=True)
    t.add_column("rate", justify="right", no_wrap=True)
    t.add_column("since", no_wrap=True)
    t.add_column("latest run", no_wrap=True)
    for r in rows:
        style = _STYLE.get(r.state.value, "")
        state = f"[{style}]{r.state.value.capitalize()}[/{style}]"
        since = "-" if r.since is None else r.since.strftime("%Y-%m-%d %H:%M")
        if r.since is None and r.recorded_state is not None and r.recorded_state is not r.state:
            since = f"- (was {r.recorded_state.value})"
        rate = "-" if r.failure_rate is None else f"{r.failure_rate:.0%}"
        latest = "-"
        if r.latest_run_id:
            latest = escape(r.latest_run_id)
            if r.latest_run_url:
                latest = f"[link={r.latest_run_url}]{latest}[/link]"
        name = f"{escape(r.repository)}\n[dim]{escape(r.reason)}[/dim]"
        t.add_row(name, state, f"{r.failed}/{r.runs}", rate, since, latest)
    console = Console(highlight=False)
    console.print(t)
    for r in rows:
        if r.latest_run_url and r.state.value in ("failing", "degraded"):
            console.print(f"latest run of {escape(r.repository)}: {escape(r.latest_run_url)}", soft_wrap=True)
