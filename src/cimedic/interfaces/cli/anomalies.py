"""``cimedic anomalies`` and ``cimedic culprits`` (see ``docs/anomalies.md``)."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from cimedic.interfaces.cli.common import CREATE_HELP, DB_HELP, REPO_HELP, ListFormat, fail, repo_filter
from cimedic.model.wording import plural

if TYPE_CHECKING:
    from rich.console import Console

    from cimedic.model.anomalies import Anomaly, AnomalyScan, CommitInfo
    from cimedic.model.culprits import CulpritReport, CulpritScan, JobOutcomeRef

SINCE_HELP = "Window start: 30m, 12h, 7d, 2w back from now, or an ISO date/date-time (UTC)."


class KindOption(StrEnum):
    duration = "duration"
    queue = "queue"
    failure_rate = "failure_rate"


def _window(text: str):  # type: ignore[no-untyped-def]
    from cimedic.services.timewindow import parse_since

    try:
        return parse_since(text)
    except ValueError as exc:
        fail(str(exc))


def anomalies(
    repo: str | None = typer.Option(None, "--repo", help="Only this repository. " + REPO_HELP),
    since: str = typer.Option("30d", "--since", help=SINCE_HELP + " Anomalies whose onset is in the window."),
    kind: list[KindOption] | None = typer.Option(
        None, "--kind", help="Only this kind (repeatable): duration, queue or failure_rate."
    ),
    output: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """Duration regressions (per workflow, job and step), queue-time spikes and failure-rate
    bursts in the stored history, with their onset, size, runs before and after and the
    commits between the last normal and the first anomalous run. Findings are stored.

    Exit status 0 (also when nothing is found); 2 when the options, the settings or the store
    are unusable.
    """
    from cimedic.interfaces.cli.common import context
    from cimedic.services.anomalies import detect_anomalies

    window = _window(since)
    ctx = context(db, create=create)
    repo = repo_filter(ctx, repo)
    try:
        scan = detect_anomalies(ctx.store, repository=repo, since=window, kinds=[k.value for k in kind or []])
    finally:
        ctx.close()
    if output is ListFormat.json:
        sys.stdout.write(scan.model_dump_json() + "\n")
        return
    print_anomalies(scan)


def culprits(
    repo: str | None = typer.Option(None, "--repo", help="Only this repository. " + REPO_HELP),
    branch: str | None = typer.Option(
        None, "--branch", help="Only failures on this branch (default: every branch, pull requests included)."
    ),
    since: str = typer.Option("30d", "--since", help=SINCE_HELP + " Episodes whose first red run is in it."),
    signature: str | None = typer.Option(
        None, "--signature", help="Only this diagnosis signature (or a prefix of at least 6 characters)."
    ),
    cluster: str | None = typer.Option(
        None, "--cluster", help="Only the failures of this failure cluster (its id or a unique prefix)."
    ),
    compare: bool | None = typer.Option(
        None,
        "--compare/--no-compare",
        help="Ask GitHub's compare API for the commits between last green and first red "
        "(default: when a GitHub token or App is configured).",
    ),
    output: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """For each failure episode of a job on a branch: the last green and first red run, the
    commits between them and the ranked suspect commits; for pull requests, whether the same
    failure occurs on the base branch (then the pull request is not the cause). Reports are stored.

    Exit status 0 (also when nothing is found); 2 when the options, the settings or the store
    are unusable.
    """
    from cimedic.interfaces.cli.common import context
    from cimedic.services.culprits import detect_culprits
    from cimedic.settings import ConfigError

    window = _window(since)
    ctx = context(db, create=create)
    repo = repo_filter(ctx, repo)
    st = ctx.store
    compare_fn = None
    try:
        use_compare = compare if compare is not None else ctx.provider_configured("github")
        if use_compare:
            compare_fn = ctx.provider("github").compare_commits
    except (ConfigError, ValueError, OSError) as exc:
        ctx.close()
        fail(f"cannot set up the GitHub client: {exc}")
    from cimedic.services.failures import ClusterNotFound, resolve_cluster_id
    from cimedic.services.findings import cluster_map

    try:
        cluster_id = resolve_cluster_id(st, cluster) if cluster is not None else None
    except ClusterNotFound as exc:
        ctx.close()
        fail(str(exc))
    try:
        scan = detect_culprits(
            st,
            repository=repo,
            branch=branch,
            since=window,
            signature=signature,
            cluster_of=cluster_map(st),
            cluster_id=cluster_id,
            compare=compare_fn,
        )
    finally:
        ctx.close()
    if output is ListFormat.json:
        sys.stdout.write(scan.model_dump_json() + "\n")
        return
    print_culprits(scan)


# ---------------------------------------------------------------------------------------- text


def _when(value: object) -> str:
    from datetime import datetime

    return value.strftime("%Y-%m-%d %H:%M UTC") if isinstance(value, datetime) else "the beginning"


def _run(ref: JobOutcomeRef) -> str:
    ident = ref.run_provider_id or str(ref.run_id)
    attempt = f" attempt {ref.run_attempt}" if ref.run_attempt > 1 else ""
    return f"run {ident}{attempt} ({_when(ref.created_at)}, {ref.head_sha[:7]})"


def _commit(c: CommitInfo) -> str:
    from rich.markup import escape

    pr = f" #{c.pr_number}" if c.pr_number else ""
    who = f" ({c.author})" if c.author else ""
    return escape(f"{c.sha[:7]} {c.title[:72]}{who}{pr}")


def print_anomalies(scan: AnomalyScan) -> None:
    """The text report of ``cimedic anomalies``."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    where = f" of {scan.repository}" if scan.repository else ""
    examined = ", ".join(f"{n} {k}" for k, n in scan.series.items())
    head = f"Anomalies{where} with onset since {_when(scan.since)}"
    if not scan.anomalies:
        console.print(f"{escape(head)}: none ({examined} series examined).")
        return
    console.print(f"[bold]{escape(head)}[/bold]: {len(scan.anomalies)} ({examined} series examined)")
    for a in scan.anomalies:
        _print_anomaly(console, a)


def _print_anomaly(console: Console, a: Anomaly) -> None:
    from rich.markup import escape

    state = "ongoing" if a.ongoing else f"until {_when(a.ended_at)}"
    console.print(
        f"\n[bold]{a.kind.value}[/bold]  {escape(a.scope.repository)}  {escape(a.scope.label)}"
        f"  ({a.scope.level.value})"
    )
    console.print(f"  {escape(a.summary)}; since {_when(a.onset_at)}, {state}")
    run = a.onset_run_provider_id or str(a.onset_run_id)
    sha = f" ({a.onset_head_sha[:7]})" if a.onset_head_sha else ""
    p = f"; p={a.p_value:.2g}" if a.p_value is not None else ""
    console.print(
        f"  first anomalous run {run}{sha}; {plural(a.before.count, 'run')} before, {a.after.count} after{p}"
    )
    if a.commits:
        console.print("  commits since the last normal run:")
        for c in a.commits[-5:]:
            console.print(f"    {_commit(c)}")
        if len(a.commits) > 5:
            console.print(f"    ... and {len(a.commits) - 5} older")


def print_culprits(scan: CulpritScan) -> None:
    """The text report of ``cimedic culprits``."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    filters = [f"{k}={v}" for k, v in (("repo", scan.repository), ("branch", scan.branch),
                                        ("signature", scan.signature)) if v]  # fmt: skip
    head = f"Failure episodes since {_when(scan.since)}" + (f" ({', '.join(filters)})" if filters else "")
    if not scan.reports:
        console.print(f"{escape(head)}: none.")
        return
    console.print(f"[bold]{escape(head)}[/bold]: {len(scan.reports)}")
    for r in scan.reports:
        _print_report(console, r)


def _print_report(console: Console, r: CulpritReport) -> None:
    from rich.markup import escape

    k = r.key
    what = k.value if not k.signature else f"signature {k.signature[:10]}"
    console.print(
        f"\n[bold]{escape(r.repository)} @{escape(r.branch)}[/bold]  "
        + escape(f"{k.workflow or '(no workflow)'} / {k.job}  [{r.category or '-'}] {what}")
    )
    if r.summary:
        from cimedic.analysis.cluster_text import readable_line

        console.print(f"  {escape(readable_line(r.summary, 160))}")
    green = _run(r.last_green) if r.last_green else "none in the history read"
    console.print(f"  last green: {escape(green)}")
    console.print(f"  first red:  {escape(_run(r.first_red))}; {plural(r.red_runs, 'red run')}")
    state = f"fixed by {_run(r.fixed_by)}" if r.fixed_by else "still failing"
    flags = [f for f, on in (("intermittent", r.intermittent), ("transient", r.transient)) if on]
    console.print("  " + escape(state + (f"  [{', '.join(flags)}]" if flags else "")))
    if r.is_pull_request:
        pr = f"pull request #{r.pr_number}" if r.pr_number else "pull request"
        if r.also_fails_on_base:
            base = f" ({_run(r.base_red)})" if r.base_red else ""
            console.print(f"  {pr}: also fails on {escape(r.base_branch or 'the base')}{escape(base)}"
                          " → not caused by the pull request")  # fmt: skip
        else:
            console.print(f"  {pr}: not failing on {escape(r.base_branch or 'the base branch')}")
    if r.compare_error:
        console.print(f"  compare API: {escape(r.compare_error)}")
    if r.transient:
        between = (
            f" ({plural(len(r.commits), 'commit')} between last green and first red)" if r.commits else ""
        )
        console.print(
            f"  transient failure{between}: a re-run of the same commit passes, so no commit is blamed"
        )
        return
    if not r.suspects:
        console.print("  no commit between last green and first red")
        return
    console.print(f"  suspects ({plural(len(r.commits), 'commit')} between):")
    for s in r.suspects[:5]:
        pr = f" #{s.pr_number}" if s.pr_number else ""
        who = f" ({s.author})" if s.author else ""
        reasons = f"  [{', '.join(s.reasons)}]" if s.reasons else ""
        console.print(f"    {s.score:.2f}  {escape(f'{s.sha[:7]} {s.title[:72]}{who}{pr}')}{escape(reasons)}")
