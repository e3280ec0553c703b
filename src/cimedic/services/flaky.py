"""Use cases of flaky tests and jobs: ``cimedic flaky`` (verdicts, stored as findings) and
``cimedic quarantine`` (the project's quarantine list: add, remove, list, export for test
runners, and a GitHub-issue text proposing quarantines and releases).

Verdict rules and thresholds: :mod:`cimedic.analysis.flaky` (documented in ``docs/flaky.md``).

**From JUnit names to pytest node ids.** pytest writes ``classname`` as the node id's file
path with ``/`` turned into ``.`` and ``.py`` dropped, followed by the class names, and ``name``
as the function name with its parameter id (``tests/test_a.py::TestX::test_y[1]`` becomes
classname ``tests.test_a.TestX``, name ``test_y[1]``); with ``junit_family=xunit1`` it also
writes ``file="tests/test_a.py"``. :func:`pytest_node_id` inverts that: with a ``.py`` file it is
exact; without one, the module is the last dotted part that matches pytest's default
``python_files`` (``test_*.py``, ``*_test.py``) and the parts after it are classes. Limits:
a project with other ``python_files`` patterns needs ``junit_family=xunit1`` (the file
attribute); node ids are relative to pytest's rootdir, so the list must be used from there;
module or directory names containing dots cannot be told apart; reports of other runners
(Surefire, Jest, Go) get no pytest node id but a ``Class#method`` selector in the JSON export.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.analysis.flaky import (
    MIN_FLIP_EPISODES,
    MIN_RUNS_HEALTHY,
    QUARANTINE_MIN_OBSERVATIONS,
    UNQUARANTINE_MIN_RUNS,
    assess_all,
    quarantine_candidates,
    unquarantine_proposal,
)
from cimedic.model.flaky import (
    Execution,
    FlakyFinding,
    QuarantinedTest,
    QuarantineEntry,
    QuarantineExport,
    QuarantineProposals,
    SubjectKind,
    Verdict,
)
from cimedic.model.wording import noun, plural
from cimedic.services.timewindow import resolve_since

if TYPE_CHECKING:
    from cimedic.store.repository import Store

__all__ = [
    "DEFAULT_SINCE",
    "DEFAULT_STABLE_FOR",
    "analyze_flaky",
    "export_json",
    "export_pytest",
    "junit_selector",
    "known_repositories",
    "proposal_markdown",
    "propose",
    "pytest_node_id",
    "quarantine_add",
    "quarantine_export",
    "quarantine_list",
    "quarantine_remove",
    "select_findings",
]

#: Window of ``cimedic flaky`` (GitHub allows re-runs for 30 days; field notes).
DEFAULT_SINCE = timedelta(days=30)

#: How long a quarantined test must have run without failure before its release is proposed.
#: Ours: two weeks, several runs of a nightly or every-push workflow; ``--stable-days``.
DEFAULT_STABLE_FOR = timedelta(days=14)

_REPO = re.compile(r"[^/\s]+/[^/\s]+")
_PYTEST_MODULE = re.compile(r"^(test_.+|.+_test)$")


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _check_repo(repository: str) -> str:
    if not _REPO.fullmatch(repository):
        raise ValueError(f"repository must be OWNER/NAME, got {repository!r}")
    return repository


def analyze_flaky(
    store: Store,
    repository: str | None = None,
    since: timedelta | datetime | None = DEFAULT_SINCE,
    *,
    tests: bool = True,
    jobs: bool = True,
    now: datetime | None = None,
    save: bool = True,
) -> list[FlakyFinding]:
    """Verdicts on the tests and/or jobs of the runs created in ``[since, now)`` (UTC) of
    ``repository`` (``owner/name``; ``None``: every repository in the store).

    ``since`` is a ``timedelta`` back from ``now`` (default 30 days), an absolute ``datetime``
    (naive = UTC) or ``None`` (the whole history). With ``save`` the findings are upserted into
    ``flaky_findings`` (one row per subject, the latest analysis wins). Returns the findings
    sorted flaky, broken, insufficient data, healthy. SQLAlchemy errors of the store propagate.
    """
    from cimedic.store import flaky as flaky_store

    until = _now(now)
    start = resolve_since(since, until)
    histories = []
    if tests:
        histories += flaky_store.test_histories(store, repository=repository, since=start, until=until)
    if jobs:
        histories += flaky_store.job_histories(store, repository=repository, since=start, until=until)
    findings = assess_all(histories)
    if save:
        flaky_store.save_findings(store, findings, now=until, window_start=start)
    return findings


def needs_attention(f: FlakyFinding) -> bool:
    """A finding worth a look: ``flaky`` (also when every failure passed on an in-run retry, so
    ``failures`` is 0), ``broken``, or ``insufficient data`` with a failure or an in-run retry.
    Healthy subjects and subjects that never failed are not."""
    if f.verdict in (Verdict.FLAKY, Verdict.BROKEN):
        return True
    return f.verdict is Verdict.INSUFFICIENT and (f.failures > 0 or f.retried > 0)


def select_findings(findings: list[FlakyFinding], *, every: bool = False) -> list[FlakyFinding]:
    """The findings a listing shows, in their order: every one with ``every``, else those that
    :func:`needs_attention`. The text and the JSON of ``cimedic flaky`` list the same ones."""
    return list(findings) if every else [f for f in findings if needs_attention(f)]


def known_repositories(store: Store) -> list[str]:
    """The ``OWNER/NAME`` of every repository the store knows: collected ones and those with
    quarantine entries, sorted."""
    from cimedic.store import flaky as flaky_store

    names = {r.full_name for r in store.repositories()}
    names.update(e.repository for e in flaky_store.quarantine_entries(store))
    return sorted(names)


# ------------------------------------------------------------------------------ quarantine


def quarantine_add(
    store: Store,
    repository: str,
    test_id: str,
    *,
    reason: str,
    owner: str,
    expires: timedelta | datetime | None = None,
    now: datetime | None = None,
) -> QuarantineEntry:
    """Quarantine ``test_id`` (cimedic's test id, ``classname::name``) in ``repository`` until
    ``expires`` (a ``timedelta`` from now, an absolute ``datetime``, or ``None``: no expiry).
    Updates reason, owner and expiry when the test is already quarantined. Raises
    ``ValueError`` for a malformed repository, an empty test id, reason or owner, or an expiry
    that is not in the future."""
    from cimedic.store import flaky as flaky_store

    at = _now(now)
    _check_repo(repository)
    if not test_id.strip() or not reason.strip() or not owner.strip():
        raise ValueError("test id, reason and owner must not be empty")
    until = at + expires if isinstance(expires, timedelta) else resolve_since(expires)
    if until is not None and until <= at:
        raise ValueError(f"expiry {until:%Y-%m-%d %H:%M} UTC is not in the future")
    entry = QuarantineEntry(
        repository=repository,
        test_id=test_id.strip(),
        reason=reason.strip(),
        owner=owner.strip(),
        created_at=at,
        expires_at=until,
    )
    return flaky_store.add_quarantine(store, entry)


def quarantine_remove(
    store: Store, repository: str, test_id: str, *, by: str | None = None, now: datetime | None = None
) -> QuarantineEntry:
    """End the active quarantine of ``test_id``; the entry is kept with ``removed_at``/``by``.
    Raises ``LookupError`` when the test is not actively quarantined, ``ValueError`` for a
    malformed repository."""
    from cimedic.store import flaky as flaky_store

    _check_repo(repository)
    entry = flaky_store.remove_quarantine(store, repository, test_id, at=_now(now), by=by)
    if entry is None:
        raise LookupError(f"{test_id!r} is not quarantined in {repository}")
    return entry


def quarantine_list(
    store: Store,
    repository: str | None = None,
    *,
    include_inactive: bool = False,
    now: datetime | None = None,
) -> list[QuarantineEntry]:
    """The active quarantine entries (with ``include_inactive``, also expired and removed
    ones), oldest first."""
    from cimedic.store import flaky as flaky_store

    at = _now(now)
    entries = flaky_store.quarantine_entries(store, repository=repository)
    return entries if include_inactive else [e for e in entries if e.is_active(at)]


def pytest_node_id(classname: str | None, name: str, file: str | None = None) -> str | None:
    """The pytest node id (``path/test_file.py::Class::name``) of a JUnit test case, or
    ``None`` when it does not look like a pytest test (mapping and limits in the module doc)."""
    if file and file.endswith(".py"):
        path = file.replace("\\", "/")
        stem = path.rsplit("/", 1)[-1][:-3]
        parts = (classname or "").split(".")
        # the classes follow the module's name (also when the classname's path is relative to
        # another rootdir than the file attribute's)
        classes = parts[len(parts) - parts[::-1].index(stem) :] if stem in parts else []
        return "::".join([path, *classes, name])
    if not classname:
        return None
    parts = classname.split(".")
    idx = max((i for i, p in enumerate(parts) if _PYTEST_MODULE.match(p)), default=-1)
    if idx < 0:
        return None
    return "::".join(["/".join(parts[: idx + 1]) + ".py", *parts[idx + 1 :], name])


def junit_selector(classname: str | None, name: str) -> str | None:
    """``Class#method`` (Maven Surefire ``-Dtest='!Class#method'``, Gradle filters), or ``None``
    without a class name."""
    return f"{classname}#{name}" if classname else None


def _split_test_id(test_id: str) -> tuple[str | None, str]:
    classname, sep, name = test_id.rpartition("::")
    return (classname, name) if sep else (None, test_id)


def quarantine_export(store: Store, repository: str, *, now: datetime | None = None) -> QuarantineExport:
    """The active quarantine list of ``repository`` with runner selectors, from the names of
    each test's latest stored report (or its test id when it was never stored). Raises
    ``ValueError`` for a malformed repository."""
    from cimedic.store import flaky as flaky_store

    at = _now(now)
    _check_repo(repository)
    entries = quarantine_list(store, repository, now=at)
    known = flaky_store.test_identities(store, repository, [e.test_id for e in entries])
    tests = []
    for e in entries:
        ident = known.get(e.test_id)
        if ident is not None:
            classname, name, file = ident.classname, ident.name, ident.file
            pytest_id = (
                None if ident.dialect in ("surefire", "jest", "go") else pytest_node_id(classname, name, file)
            )
        else:
            classname, name = _split_test_id(e.test_id)
            file = None
            pytest_id = pytest_node_id(classname, name)
        tests.append(
            QuarantinedTest(
                test_id=e.test_id,
                classname=classname,
                name=name,
                file=file,
                pytest_node_id=pytest_id,
                junit_selector=None if pytest_id else junit_selector(classname, name),
                reason=e.reason,
                owner=e.owner,
                created_at=e.created_at,
                expires_at=e.expires_at,
            )
        )
    return QuarantineExport(repository=repository, generated_at=at, tests=tuple(tests))


def export_pytest(export: QuarantineExport) -> str:
    """One ``--deselect=<node id>`` per line (tests without a pytest node id are left out): an
    argument file for ``pytest @FILE`` (pytest >= 8.2), or ``pytest $(cat FILE)``."""
    return "".join(f"--deselect={t.pytest_node_id}\n" for t in export.tests if t.pytest_node_id)


def export_json(export: QuarantineExport) -> str:
    """The export as indented JSON (schema in ``docs/flaky.md``)."""
    return json.dumps(export.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------ proposals


def propose(
    store: Store,
    repository: str,
    *,
    since: timedelta | datetime | None = DEFAULT_SINCE,
    stable_for: timedelta = DEFAULT_STABLE_FOR,
    now: datetime | None = None,
) -> QuarantineProposals:
    """Tests to quarantine (flaky, with at least two flaky observations, not quarantined yet),
    quarantined tests to release (expired, or no failure over at least 10 executions within
    ``stable_for``), and the flaky jobs, from the runs since ``since``. Analyses (and stores
    the findings) like :func:`analyze_flaky`. Raises ``ValueError`` for a malformed repository
    or a non-positive ``stable_for``."""
    from cimedic.store import flaky as flaky_store

    at = _now(now)
    _check_repo(repository)
    if stable_for <= timedelta(0):
        raise ValueError("the stable window must be positive")
    start = resolve_since(since, at)
    findings = analyze_flaky(store, repository, start, now=at)
    entries = [
        e for e in flaky_store.quarantine_entries(store, repository=repository) if e.removed_at is None
    ]
    active = {e.test_id for e in entries if e.is_active(at)}
    recent = flaky_store.test_histories(store, repository=repository, since=at - stable_for, until=at)
    executions: dict[str, list[Execution]] = {}
    for h in recent:
        executions.setdefault(h.subject, []).extend(h.executions)
    releases = []
    for e in entries:
        proposal = unquarantine_proposal(e, executions.get(e.test_id, []), now=at, stable_for=stable_for)
        if proposal is not None:
            releases.append(proposal)
    return QuarantineProposals(
        repository=repository,
        generated_at=at,
        since=start,
        stable_days=stable_for.total_seconds() / 86400.0,
        quarantine=tuple(quarantine_candidates(findings, active)),
        unquarantine=tuple(releases),
        flaky_jobs=tuple(f for f in findings if f.kind is SubjectKind.JOB and f.verdict is Verdict.FLAKY),
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _pct(x: float) -> str:
    return f"{x * 100:.2g}%" if x < 0.1 else f"{x * 100:.0f}%"


def _evidence(f: FlakyFinding, limit: int = 3) -> str:
    items = []
    for ev in f.evidence[:limit]:
        runs = ", ".join(ev.runs[:3])
        items.append(
            f"`{ev.commits[0][:12]}` ({ev.kind.value.replace('_', ' ')}; {noun(len(ev.runs), 'run')} {runs})"
        )
    more = f" and {len(f.evidence) - limit} more" if len(f.evidence) > limit else ""
    return _cell("; ".join(items) + more)


def proposal_markdown(p: QuarantineProposals) -> str:
    """The proposals as the Markdown body of a GitHub issue (commands to act on them included)."""
    when = f"{p.generated_at:%Y-%m-%d %H:%M} UTC"
    window = f"the runs since {p.since:%Y-%m-%d}" if p.since else "the whole stored history"
    out = [
        f"## Flaky tests in `{p.repository}`: quarantine proposal",
        "",
        f"_Generated by cimedic on {when} from {window}._",
        "",
    ]
    if not (p.quarantine or p.unquarantine or p.flaky_jobs):
        out += ["Nothing to propose: no flaky test with enough evidence, no quarantined test to release.", ""]
    if p.quarantine:
        out += [
            f"### Quarantine ({len(p.quarantine)})",
            "",
            "These tests passed and failed on the same commit (re-runs, or retries inside one run) "
            f"at least {QUARANTINE_MIN_OBSERVATIONS} times, or went red and green again on "
            f"{MIN_FLIP_EPISODES}+ separate stretches of commits.",
            "",
            "| Test | Variant | Evidence | Failure probability | Flip rate |",
            "|---|---|---|---|---|",
        ]
        for f in p.quarantine:
            fp = f.failure_probability
            interval = f"{_pct(fp.mean)} ({fp.level:.0%} CI {_pct(fp.low)}–{_pct(fp.high)})"
            flips = "-" if f.flip_rate is None else f"{f.flip_rate:.2f}"
            out.append(
                f"| `{_cell(f.subject)}` | {_cell(f.variant)} | {_evidence(f)} | {interval} | {flips} |"
            )
        out += ["", "To quarantine them:", "", "```sh"]
        out += [
            f"cimedic quarantine add '{f.subject}' --repo {p.repository} "
            f'--reason "flaky: {plural(f.flaky_commits or f.red_episodes, "observation")}" '
            "--owner OWNER --expires 30d"
            for f in p.quarantine
        ]
        out += ["```", ""]
    if p.unquarantine:
        out += [
            f"### Release from quarantine ({len(p.unquarantine)})",
            "",
            "| Test | Owner | Quarantined on | Why |",
            "|---|---|---|---|",
        ]
        for u in p.unquarantine:
            e = u.entry
            out.append(
                f"| `{_cell(e.test_id)}` | {_cell(e.owner)} | {e.created_at:%Y-%m-%d} | {_cell(u.why)} |"
            )
        out += ["", "```sh"]
        out += [
            f"cimedic quarantine remove '{u.entry.test_id}' --repo {p.repository}" for u in p.unquarantine
        ]
        out += ["```", ""]
    if p.flaky_jobs:
        out += [
            f"### Flaky jobs ({len(p.flaky_jobs)})",
            "",
            "These jobs failed and passed on the same commit (typically a re-run attempt that passed).",
            "",
            "| Job | Evidence | Failure probability |",
            "|---|---|---|",
        ]
        for f in p.flaky_jobs:
            out.append(f"| {_cell(f.subject)} | {_evidence(f)} | {_pct(f.failure_probability.mean)} |")
        out.append("")
    out += [
        "<details><summary>How cimedic decides</summary>",
        "",
        "- flaky: passed and failed on the same commit (the common definition of Datadog, Trunk, "
        f"LUCI, Mergify), or red on {MIN_FLIP_EPISODES}+ separate stretches of commits;",
        f"- proposed for quarantine at {QUARANTINE_MIN_OBSERVATIONS}+ flaky observations (LUCI flags at 2);",
        f"- proposed for release after {p.stable_days:g} {'day' if p.stable_days == 1 else 'days'} "
        f"without failure over {UNQUARANTINE_MIN_RUNS}+ executions (Trunk wants {MIN_RUNS_HEALTHY} runs), "
        "or when the quarantine expired.",
        "",
        "</details>",
        "",
    ]
    return "\n".join(out)
