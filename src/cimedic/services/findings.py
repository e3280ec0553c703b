"""Use case: refresh the stored findings of every analyzer after new history arrived, and
summarize them for ``cimedic stats`` and the reports.

:func:`refresh_findings` is what ``demo``, ``sync`` and ``reprocess`` call after ingest, and
what the ``findings`` routine of ``watch``, ``serve`` and ``agent`` calls through
:class:`FindingsRefresher` when the history grew: one loop over the findings analyzers
(:mod:`cimedic.services.analyzers`: flaky, anomalies, culprits, failure risk, then plug-ins),
one analyzer's failure never stopping the others. :func:`findings_summary` is the same loop
over the stored findings, after the failure clusters (which need no refresh: they are assigned
when each diagnosis is stored).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.model.findings import AnalyzerResult, FindingCount, FindingLine, FindingsSection, FindingsSummary
from cimedic.store.repository import Store

if TYPE_CHECKING:
    from cimedic.services.analyzers import FindingsAnalyzer
    from cimedic.services.culprits import CompareFn

__all__ = [
    "GROWTH_TABLES",
    "FindingsRefresher",
    "RefreshReport",
    "cluster_map",
    "clusters_section",
    "findings_summary",
    "refresh_findings",
]


@dataclass
class RefreshReport:
    """What a refresh found, one :class:`AnalyzerResult` per analyzer that ran (in order), and
    what it could not do (``problems``: one line per failed analyzer or skipped plug-in)."""

    results: list[AnalyzerResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def result(self, name: str) -> AnalyzerResult | None:
        return next((r for r in self.results if r.name == name), None)

    def count(self, name: str, key: str) -> int | None:
        """The count ``key`` of analyzer ``name`` (``count("flaky", "broken")``), or ``None``."""
        result = self.result(name)
        return result.count(key) if result is not None else None

    def text(self) -> str:
        """One line for people, the analyzers' phrases in order, e.g. ``1 flaky, 1 broken;
        0 anomalies; 8 culprit reports; failure risk: no model yet, 17 runs scored``
        (``no analyzer ran`` when none did; the problems are not included)."""
        return "; ".join(r.line for r in self.results if r.line) or "no analyzer ran"


def _default_analyzers(compare: CompareFn | None, problems: list[str]) -> list[FindingsAnalyzer]:
    from cimedic.services.analyzers import AnalyzerDeps, build_analyzers

    return build_analyzers(AnalyzerDeps(compare=compare), problems=problems)


def refresh_findings(
    store: Store,
    *,
    repository: str | None = None,
    now: datetime | None = None,
    compare: CompareFn | None = None,
    since: timedelta = timedelta(days=30),
    analyzers: Sequence[FindingsAnalyzer] | None = None,
) -> RefreshReport:
    """Run ``analyzers`` (default: every registered one, built with ``compare``, the CI
    provider's compare API) over the runs of ``repository`` (``owner/name``; ``None``: all)
    created in the last ``since`` before ``now`` (aware UTC; default the current time), and
    store their findings. An analyzer that raises is a line in ``problems`` and does not stop
    the others; so is a plug-in that could not be loaded. Never raises for an analyzer."""
    now = now or datetime.now(UTC)
    out = RefreshReport()
    if analyzers is None:
        analyzers = _default_analyzers(compare, out.problems)
    for analyzer in analyzers:
        try:
            out.results.append(analyzer.refresh(store, window=since, now=now, repository=repository))
        except Exception as exc:  # keep the other analyzers going; say what failed
            out.problems.append(f"analyzer {analyzer.name!r} failed: {type(exc).__name__}: {exc}")
    return out


#: The row counts whose growth means "new history" (runs, jobs, diagnoses, test cases).
GROWTH_TABLES = ("workflow_runs", "jobs", "diagnoses", "test_cases")


class FindingsRefresher:
    """Decides, in one place, when the findings are refreshed: when the history grew (the row
    counts of :data:`GROWTH_TABLES`) since the last refresh of this refresher, or since it was
    made, whatever brought it (a poll, webhooks of ``cimedic serve``, a sync). ``refresh()`` does
    the refresh (e.g. :func:`refresh_findings` with the analyzers and the compare function
    bound). Costs four counts when nothing changed. Commands that bring history themselves
    (``sync``, ``demo``, ``reprocess``) refresh directly."""

    def __init__(self, store: Store, refresh: Callable[[], RefreshReport]) -> None:
        self._store = store
        self._refresh = refresh
        self._mark = self._counts()

    def _counts(self) -> dict[str, int]:
        counts = self._store.counts()
        return {k: counts.get(k, 0) for k in GROWTH_TABLES}

    def refresh_if_grown(self) -> RefreshReport | None:
        """Refresh when the history grew; None when it did not."""
        mark = self._counts()
        if mark == self._mark:
            return None
        report = self._refresh()
        self._mark = mark
        return report


def cluster_map(store: Store) -> dict[int, str]:
    """Job id → failure-cluster id for every clustered failure (culprits key failures by it)."""
    from cimedic.store.llm import job_cluster_map

    return job_cluster_map(store)


def clusters_section(
    store: Store, *, repository: str | None, since: datetime | None, now: datetime, top: int
) -> FindingsSection:
    """The failure clusters with an occurrence in ``[since, now)``: how many, how many are new
    (first seen ever inside the window) and how many recurring (seen before the window too),
    the one definition of ``cimedic failures`` (``ClusterSummary.new``/``recurring``: every
    cluster is exactly one of them), and the ``top`` largest."""
    from cimedic.services.failures import list_clusters

    clusters = list_clusters(store, since=since, repository=repository, top=1000, now=now)
    new = sum(1 for c in clusters.clusters if c.new)
    recurring = sum(1 for c in clusters.clusters if c.recurring)
    return FindingsSection(
        name="clusters",
        title="failure clusters",
        command="cimedic failures",
        counts=(
            FindingCount(key="clusters", count=clusters.total, singular="cluster", plural="clusters"),
            FindingCount(key="new_clusters", count=new, singular="new", plural="new"),
            FindingCount(key="recurring_clusters", count=recurring, singular="recurring", plural="recurring"),
        ),
        top=tuple(
            FindingLine(
                kind="failure cluster",
                title=c.title,
                detail=f"{c.occurrences} {'occurrence' if c.occurrences == 1 else 'occurrences'}",
                command=f"cimedic failures show {c.id}",
            )
            for c in clusters.clusters[:top]
        ),
    )


def findings_summary(
    store: Store,
    *,
    repository: str | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    top: int = 3,
    analyzers: Sequence[FindingsAnalyzer] | None = None,
) -> FindingsSummary:
    """The stored findings of ``[since, now)`` (UTC; ``since`` ``None``: all; ``now`` default
    the current time) of ``repository`` (or all): the failure clusters, then one section per
    analyzer of ``analyzers`` (default: every registered one), each with at most ``top`` lines.

    An analyzer whose summary raises is a line in ``problems`` (its section is left out), so is
    a plug-in that could not be loaded; SQLAlchemy errors of the clusters part propagate.
    """
    now = now or datetime.now(UTC)
    problems: list[str] = []
    if analyzers is None:
        analyzers = _default_analyzers(None, problems)
    sections = [clusters_section(store, repository=repository, since=since, now=now, top=top)]
    for analyzer in analyzers:
        try:
            sections.append(analyzer.summary(store, since=since, now=now, repository=repository, top=top))
        except Exception as exc:  # one analyzer's failure does not hide the others' findings
            problems.append(f"analyzer {analyzer.name!r} summary failed: {type(exc).__name__}: {exc}")
    return FindingsSummary(sections=tuple(sections), problems=tuple(problems))
