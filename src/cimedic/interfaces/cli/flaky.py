"""``cimedic flaky`` (verdicts on tests and jobs) and ``cimedic quarantine`` (the project's
quarantine list): see ``docs/flaky.md``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

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
    from cimedic.model.flaky import FlakyFinding, QuarantineEntry
    from cimedic.store.repository import Store

T = TypeVar("T")

quarantine_app = typer.Typer(
    help="The project's quarantine list of flaky tests: list, add, remove, export, propose.",
    no_args_is_help=True,
)

REPO_DEFAULT_HELP = "Repository OWNER/NAME or PROVIDER:FULL_NAME (default: the only repository of the store)."
SINCE_HELP = "Window start: 30m, 12h, 7d, 2w back from now, or an ISO date/date-time (UTC)."


class VerdictChoice(StrEnum):
    flaky = "flaky"
    broken = "broken"
    healthy = "healthy"
    insufficient = "insufficient"


class ExportFormat(StrEnum):
    pytest = "pytest"
    json = "json"


class ProposeFormat(StrEnum):
    markdown = "markdown"
    json = "json"


@contextmanager
def _opened(db: str | None, create: bool, repo: str | None) -> Iterator[tuple[Store, str | None]]:
    """The store of the context and the ``full_name`` of ``--repo`` (``OWNER/NAME`` or
    ``PROVIDER:FULL_NAME``; None when not given); the store is closed afterwards (store errors
    end the command with one ``cimedic: error:`` line and exit 2:
    :class:`~cimedic.interfaces.cli.common.RootGroup`)."""
    ctx = context(db, create=create)
    try:
        yield ctx.store, repo_filter(ctx, repo)
    finally:
        ctx.close()


def _call(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except (ValueError, LookupError) as exc:
        fail(str(exc))


def _only_repository(st: Store) -> str:
    """The repository a command without ``--repo`` works on: the only one the store knows (its
    collected repositories and those of quarantine entries); ``cimedic: error:`` listing the
    choices (exit 2) when there are none or several."""
    from cimedic.services.flaky import known_repositories

    names = known_repositories(st)
    if len(names) == 1:
        return names[0]
    if not names:
        fail("the store holds no repository: give --repo OWNER/NAME")
    fail(f"the store holds {len(names)} repositories, give one with --repo: {', '.join(names)}")


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    typer.echo(f"wrote {output}", err=True)


# ------------------------------------------------------------------------------ flaky


def flaky(
    repo: str | None = typer.Option(None, "--repo", help="Only this repository. " + REPO_HELP),
    since: str = typer.Option("30d", "--since", help=SINCE_HELP),
    tests_only: bool = typer.Option(False, "--tests", help="Only tests (default: tests and jobs)."),
    jobs_only: bool = typer.Option(False, "--jobs", help="Only jobs (default: tests and jobs)."),
    verdicts: list[VerdictChoice] = typer.Option(
        [], "--verdict", help="Only these verdicts (repeatable): flaky, broken, healthy, insufficient."
    ),
    show_all: bool = typer.Option(
        False, "--all", help="Also list healthy subjects and those that never failed (text and JSON)."
    ),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """Verdicts on the tests and jobs of the stored history (flaky, broken, healthy,
    insufficient data) with their evidence: which commits, which runs. The findings are stored.

    Text and JSON list the same subjects: by default those that need attention (flaky,
    broken, and insufficient data with a failure); --verdict lists every subject with those
    verdicts, --all every subject.

    Exit status 0 (also when nothing is flaky); 2 when the options or the store are unusable.
    """
    from datetime import UTC, datetime

    from cimedic.model.flaky import Verdict
    from cimedic.services.flaky import analyze_flaky, select_findings

    if tests_only and jobs_only:
        fail("--tests and --jobs exclude each other (give neither for both)")
    start = since_option(since)
    now = datetime.now(UTC)
    with _opened(db, create, repo) as (st, repo):
        findings = analyze_flaky(st, repo, start, tests=not jobs_only, jobs=not tests_only, now=now)
    wanted = {Verdict.INSUFFICIENT if v is VerdictChoice.insufficient else Verdict(v.value) for v in verdicts}
    if wanted:
        findings = [f for f in findings if f.verdict in wanted]
    counts = {v.value: sum(1 for f in findings if f.verdict is v) for v in Verdict}
    shown = select_findings(findings, every=show_all or bool(wanted))
    hidden = len(findings) - len(shown)
    if fmt is ListFormat.json:
        out = {
            "repository": repo,
            "since": start.isoformat() if start else None,
            "until": now.isoformat(),
            "counts": counts,
            "hidden": hidden,
            "findings": [f.model_dump(mode="json") for f in shown],
        }
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        return
    _print_findings(shown, counts, start, hidden)


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%" if x < 0.1 else f"{x * 100:.0f}%"


def _failed(f: FlakyFinding) -> str:
    """Failed tries: the executions that ended red plus the tries that failed before an in-run
    retry passed (``failure_probability.failures``), so a test whose every failure passed on a
    retry does not read as "0 failed"."""
    return str(f.failure_probability.failures)


def _print_findings(findings: list[FlakyFinding], counts: dict[str, int], start: object, hidden: int) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    window = f"since {start:%Y-%m-%d %H:%M} UTC" if hasattr(start, "strftime") else "whole history"
    summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "nothing analysed"
    console.print(f"[bold]Flaky tests and jobs[/bold] ({window}): {escape(summary)}")
    if not findings:
        console.print("No subject needs attention in the window." if hidden else "No subject in the window.")
    if findings:
        table = Table("verdict", "kind", "subject", "runs", "failed", "p(fail) 95% CI", "flip", "why")
        for f in findings:
            fp = f.failure_probability
            subject = escape(f.subject) + (f"\n[dim]{escape(f.variant)}[/dim]" if f.variant else "")
            why = escape(f.reason)
            if f.rerun:
                why += "\n[dim]re-run: " + escape(", ".join(f"{r.run}" for r in f.rerun)) + "[/dim]"
            table.add_row(
                f.verdict.value,
                f.kind.value,
                subject,
                f"{f.executions} / {plural(f.commits, 'commit')}",
                _failed(f),
                f"{_pct(fp.mean)} [{_pct(fp.low)}, {_pct(fp.high)}]",
                "-" if f.flip_rate is None else f"{f.flip_rate:.2f}",
                why,
            )
        console.print(table)
    if hidden:
        console.print(
            f"[dim]{plural(hidden, 'healthy or never-failing subject')} not shown (--all shows them).[/dim]"
        )


# ------------------------------------------------------------------------------ quarantine


def _print_entries(entries: list[QuarantineEntry]) -> None:
    from datetime import UTC, datetime

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    now = datetime.now(UTC)
    console = Console(highlight=False)
    if not entries:
        console.print("No quarantined test.")
        return
    table = Table("repository", "test", "status", "owner", "reason", "since", "expires")
    for e in entries:
        table.add_row(
            escape(e.repository),
            escape(e.test_id),
            e.status(now),
            escape(e.owner),
            escape(e.reason),
            f"{e.created_at:%Y-%m-%d}",
            f"{e.expires_at:%Y-%m-%d}" if e.expires_at else "-",
        )
    console.print(table)


@quarantine_app.command("list")
def quarantine_list(
    repo: str | None = typer.Option(None, "--repo", help="Only this repository. " + REPO_HELP),
    show_all: bool = typer.Option(False, "--all", help="Also expired and removed entries."),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """List the quarantined tests (active ones; --all adds expired and removed entries)."""
    from cimedic.services.flaky import quarantine_list as list_entries

    with _opened(db, create, repo) as (st, repo):
        entries = list_entries(st, repo, include_inactive=show_all)
    if fmt is ListFormat.json:
        sys.stdout.write(json.dumps([e.model_dump(mode="json") for e in entries], ensure_ascii=False) + "\n")
        return
    _print_entries(entries)


@quarantine_app.command("add")
def quarantine_add(
    test_id: str = typer.Argument(..., help="Test id as `cimedic flaky` shows it (classname::name)."),
    repo: str = typer.Option(..., "--repo", help=REPO_HELP),
    reason: str = typer.Option(..., "--reason", help="Why (e.g. a link to the flaky finding or issue)."),
    owner: str = typer.Option(..., "--owner", help="Who fixes it (a person or team)."),
    expires: str | None = typer.Option(
        None, "--expires", help="Expiry: a duration from now (30d, 2w) or an ISO date (UTC); default: never."
    ),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """Quarantine a test (updates reason, owner and expiry when it is already quarantined)."""
    from cimedic.services.flaky import quarantine_add as add
    from cimedic.services.timewindow import parse_since
    from cimedic.store.flaky import test_identities

    until = _call(lambda: parse_since(expires)) if expires else None
    with _opened(db, create, repo) as (st, full_name):
        name = full_name or repo
        entry = _call(lambda: add(st, name, test_id, reason=reason, owner=owner, expires=until))
        known = test_identities(st, name, [test_id])
    if test_id not in known:
        typer.echo(f"cimedic: warning: no stored test of {repo} has the id {test_id!r}", err=True)
    if fmt is ListFormat.json:
        sys.stdout.write(json.dumps(entry.model_dump(mode="json"), ensure_ascii=False) + "\n")
        return
    expiry = f", expires {entry.expires_at:%Y-%m-%d %H:%M} UTC" if entry.expires_at else ""
    typer.echo(f"quarantined {entry.test_id} in {entry.repository} (owner {entry.owner}{expiry})")


@quarantine_app.command("remove")
def quarantine_remove(
    test_id: str = typer.Argument(..., help="Test id of the quarantined test."),
    repo: str = typer.Option(..., "--repo", help=REPO_HELP),
    by: str | None = typer.Option(None, "--by", help="Who removes it (kept with the entry)."),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """End a test's quarantine (the entry is kept, marked removed). Exit 2 when the test is not
    quarantined."""
    from cimedic.services.flaky import quarantine_remove as remove

    with _opened(db, create, repo) as (st, full_name):
        name = full_name or repo
        entry = _call(lambda: remove(st, name, test_id, by=by))
    if fmt is ListFormat.json:
        sys.stdout.write(json.dumps(entry.model_dump(mode="json"), ensure_ascii=False) + "\n")
        return
    typer.echo(f"removed {entry.test_id} from the quarantine of {entry.repository}")


@quarantine_app.command("export")
def quarantine_export(
    repo: str | None = typer.Option(None, "--repo", help=REPO_DEFAULT_HELP),
    fmt: ExportFormat = typer.Option(
        ExportFormat.pytest,
        "--format",
        "-f",
        help="pytest: --deselect lines (pytest @FILE); json: for other runners.",
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file (default: stdout)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """Export the active quarantine list for the test runner. Without --repo: the store's only
    repository (exit 2, listing them, when there are several)."""
    from cimedic.services.flaky import export_json, export_pytest
    from cimedic.services.flaky import quarantine_export as build_export

    with _opened(db, create, repo) as (st, repo):
        name = repo or _only_repository(st)
        export = _call(lambda: build_export(st, name))
    if fmt is ExportFormat.pytest:
        for t in export.tests:
            if not t.pytest_node_id:
                typer.echo(
                    f"cimedic: warning: {t.test_id} has no pytest node id (see --format json)", err=True
                )
        _write(export_pytest(export), output)
    else:
        _write(export_json(export), output)


@quarantine_app.command("propose")
def quarantine_propose(
    repo: str | None = typer.Option(None, "--repo", help=REPO_DEFAULT_HELP),
    since: str = typer.Option("30d", "--since", help=SINCE_HELP),
    stable_days: float = typer.Option(
        14.0, "--stable-days", min=0.01, help="Days without failure before a release is proposed."
    ),
    fmt: ProposeFormat = typer.Option(
        ProposeFormat.markdown, "--format", "-f", help="markdown: a GitHub issue body; json."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file (default: stdout)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """Propose quarantines (flaky tests with enough evidence) and releases (quarantined tests
    stable for --stable-days, or expired) as the text of a GitHub issue. Without --repo: the
    store's only repository (exit 2, listing them, when there are several)."""
    from datetime import timedelta

    from cimedic.services.flaky import proposal_markdown, propose

    start = since_option(since)
    with _opened(db, create, repo) as (st, repo):
        name = repo or _only_repository(st)
        proposals = _call(lambda: propose(st, name, since=start, stable_for=timedelta(days=stable_days)))
    if fmt is ProposeFormat.json:
        _write(json.dumps(proposals.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n", output)
    else:
        _write(proposal_markdown(proposals), output)
