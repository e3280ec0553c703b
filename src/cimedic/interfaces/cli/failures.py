"""``cimedic failures [show ID | link ID URL]``: failure clusters across runs, workflows and
repositories (see ``docs/failures.md``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from cimedic.interfaces.cli.common import (
    CREATE_HELP,
    DB_HELP,
    REPO_HELP,
    ListFormat,
    context,
    fail,
    repo_filter,
    since_option,
)
from cimedic.model.wording import plural

if TYPE_CHECKING:
    from cimedic.model.clusters import ClusterDetail, ClusterList, ClusterOccurrence, FailureCluster

app = typer.Typer(
    help="Failure clusters: the same failure grouped across runs, workflows and repositories.",
    invoke_without_command=True,
)

_FORMAT_HELP = "Output format."


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value.model_dump(mode="json"), ensure_ascii=False))


@app.callback(invoke_without_command=True)
def failures(
    ctx: typer.Context,
    since: str = typer.Option(
        "7d",
        "--since",
        help="Clusters with an occurrence since: 30m, 12h, 7d, 2w back from now, an ISO date/date-time (UTC), or 'all'.",
    ),
    repo: str | None = typer.Option(None, "--repo", help="Only occurrences in this repository. " + REPO_HELP),
    limit: int = typer.Option(20, "--limit", min=1, help="Show at most this many clusters."),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help=_FORMAT_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """List failure clusters by impact: occurrences, affected jobs, trend, first and last seen.

    Exit status 0 (also when no cluster matches); 2 when the options, the settings or the
    store are unusable.
    """
    if ctx.invoked_subcommand is not None:
        return
    from cimedic.services.failures import list_clusters

    start = None if since.strip().lower() == "all" else since_option(since)
    app_ctx = context(db, create=create)
    repo = repo_filter(app_ctx, repo)
    st = app_ctx.store
    try:
        result = list_clusters(st, since=start, repository=repo, top=limit)
    finally:
        app_ctx.close()
    if fmt is ListFormat.json:
        _echo_json(result)
        return
    print_list(result, st.location)


@app.command("show")
def show(
    cluster_id: str = typer.Argument(
        ..., metavar="ID", help="Cluster id (16 hex digits, or a unique prefix)."
    ),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help=_FORMAT_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """Show one failure cluster: its figures over the whole history, signature variants and
    occurrences (newest first). Exit status 2 when there is no such cluster."""
    from cimedic.services.failures import ClusterNotFound, cluster_detail

    app_ctx = context(db, create=create)
    try:
        detail = cluster_detail(app_ctx.store, cluster_id)
    except ClusterNotFound as exc:
        fail(str(exc))
    finally:
        app_ctx.close()
    if fmt is ListFormat.json:
        _echo_json(detail)
        return
    print_detail(detail)


@app.command("link")
def link(
    cluster_id: str = typer.Argument(
        ..., metavar="ID", help="Cluster id (16 hex digits, or a unique prefix)."
    ),
    url: str | None = typer.Argument(None, metavar="URL", help="Issue or tracking URL (http/https)."),
    note: str | None = typer.Option(None, "--note", help="A free-text note kept with the cluster."),
    clear: bool = typer.Option(False, "--clear", help="Remove the cluster's link and note."),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help=_FORMAT_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """Attach an issue URL and/or a note to a failure cluster (replacing the previous ones);
    ``--clear`` removes them. Exit status 2 when there is no such cluster or the URL is not an
    http(s) URL."""
    from cimedic.services.failures import ClusterNotFound, link_cluster

    if clear and (url or note):
        fail("--clear takes no URL or --note")
    if not clear and not url and not note:
        fail("give a URL, a --note, or --clear")
    app_ctx = context(db, create=create)
    try:
        cluster = link_cluster(app_ctx.store, cluster_id, None if clear else url, None if clear else note)
    except (ClusterNotFound, ValueError) as exc:
        fail(str(exc))
    finally:
        app_ctx.close()
    if fmt is ListFormat.json:
        _echo_json(cluster)
        return
    if cluster.link is None:
        typer.echo(f"{cluster.id}: link removed")
    else:
        parts = [p for p in (cluster.link.url, cluster.link.note and f"note: {cluster.link.note}") if p]
        typer.echo(f"{cluster.id} ({cluster.title}): {'; '.join(parts)}")


# ---------------------------------------------------------------------------------------- text
def _when(value: object) -> str:
    from datetime import datetime

    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else "-"


def _status(c: FailureCluster) -> str:
    """``new`` (first seen inside the window) or ``recurring`` (seen before it): the JSON's
    ``new`` / ``recurring``, one definition (:func:`cimedic.analysis.clustering.summarize_cluster`)."""
    return "new" if c.new else "recurring"


def _trend(c: FailureCluster) -> str:
    """``steady (last 7d: 4, prior 7d: 0)``: the trend word with the counts it compares."""
    days = f"{c.trend_window_days:g}d"
    return f"{c.trend.value} (last {days}: {c.recent:,}, prior {days}: {c.previous:,})"


def print_list(result: ClusterList, location: str) -> None:
    """The text report of ``cimedic failures`` (a rich table on stdout)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    scope = f"{_when(result.since) if result.since else 'the beginning'} .. {_when(result.until)} UTC"
    if result.repository:
        scope += f" in {result.repository}"
    if not result.clusters:
        console.print(f"No failure clusters in {escape(scope)} of {escape(location)}.")
        return
    title = f"Failure clusters {scope}: {len(result.clusters)} of {result.total}, by impact"
    t = Table(title=escape(title), title_justify="left", expand=True)
    t.add_column("id", no_wrap=True)
    t.add_column("occ.", justify="right", no_wrap=True)
    t.add_column("jobs", justify="right", no_wrap=True)
    t.add_column("trend", no_wrap=True)
    t.add_column("status", no_wrap=True)
    t.add_column("last seen", no_wrap=True)
    t.add_column("failure", min_width=20, ratio=1, no_wrap=True, overflow="ellipsis")
    for c in result.clusters:
        text = escape(c.title) + (f"\n[dim]{escape(c.link.url or c.link.note or '')}[/dim]" if c.link else "")
        t.add_row(
            c.id,
            f"{c.occurrences:,}",
            f"{c.jobs:,}",
            _trend(c),
            _status(c),
            _when(c.last_seen)[5:10],
            text,
        )
    console.print(t)
    width = result.clusters[0].trend_window_days
    days = f"{width:g} {'day' if width == 1 else 'days'}"
    console.print(
        f"[dim]status: new = first seen in this window, recurring = seen before it too. trend: occurrences in "
        f"the last {days} against the {days} before (rising/fading only when the change is "
        f"significant). Details: cimedic failures show ID[/dim]"
    )


def _occurrence_row(o: ClusterOccurrence) -> list[str]:
    from rich.markup import escape

    where = " / ".join(x for x in (o.repository, o.workflow, o.job) if x)
    flags = ", ".join(
        x for x in ("first seen" if o.first_seen else "", "transient" if o.transient else "") if x
    )
    return [
        _when(o.created_at),
        escape(where),
        escape(o.branch or "-"),
        f"{o.run_id}#{o.run_attempt}",
        o.match.value + (f" ({o.distance})" if o.distance else ""),
        flags,
    ]


def print_detail(d: ClusterDetail) -> None:
    """The text report of ``cimedic failures show`` (rich tables on stdout)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    c = d.cluster
    console = Console(highlight=False)
    console.print(f"[bold]{c.id}[/bold] {escape(c.title)}")
    t = Table(show_header=False, box=None)
    t.add_column(style="dim", no_wrap=True)
    t.add_column()
    t.add_row("category", c.category)
    t.add_row("first seen", f"{_when(c.first_seen)} UTC")
    t.add_row("last seen", f"{_when(c.last_seen)} UTC")
    t.add_row(
        "occurrences",
        f"{plural(c.occurrences, 'occurrence')} in {plural(c.runs, 'run')} of {plural(c.jobs, 'distinct job')}",
    )
    days = f"{c.trend_window_days:g} {'day' if c.trend_window_days == 1 else 'days'}"
    t.add_row(
        "trend", f"{c.trend.value}: {c.recent:,} in the last {days}, {c.previous:,} in the {days} before"
    )
    t.add_row("transient", f"{c.transient_share * 100:.0f}% of occurrences")
    t.add_row("repositories", escape(", ".join(c.repositories)))
    t.add_row("workflows", escape(", ".join(c.workflows)))
    t.add_row("jobs", escape(", ".join(c.job_names)))
    t.add_row("branches", escape(", ".join(c.branches)))
    t.add_row("normalised", escape(c.representative))
    t.add_row("example", escape(c.example))
    if c.link is not None:
        t.add_row("link", escape(c.link.url or "-"))
        if c.link.note:
            t.add_row("note", escape(c.link.note))
    console.print(t)
    if len(d.variants) > 1:
        v = Table("signature", "count", "example line", title="Signature variants", title_justify="left")
        for s in d.variants:
            v.add_row(s.signature or "(untrusted)", f"{s.count:,}", escape(s.example[:160]))
        console.print(v)
    o = Table(
        "created",
        "where",
        "branch",
        "run#attempt",
        "matched by",
        "",
        title="Occurrences",
        title_justify="left",
    )
    for occ in d.occurrences:
        o.add_row(*_occurrence_row(occ))
    console.print(o)
    if d.shown < c.total_occurrences:
        console.print(
            f"[dim]{d.shown} newest of {plural(c.total_occurrences, 'occurrence')} shown "
            "(--format json has the same).[/dim]"
        )
