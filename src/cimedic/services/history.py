"""Typed reads of the stored CI history for the layers above services: the agent's tools and
explanations, and the interfaces that resolve a job.

The agent reaches data only through services (import-linter contract "agent reaches data
through services, not the store"); this module is the read side its tools use: workflow runs,
diagnoses, repository names, flaky findings and culprit reports (the explanation look-ups are
in :mod:`cimedic.services.explanations`, conversations in :mod:`cimedic.services.conversations`).
Every function returns ``model`` types or plain values, never rows.

:data:`StoreHandle` names the history store for those layers: the agent receives the store from
the interface and only forwards it, to its tools and to service functions, so it needs the
type's name but nothing of ``cimedic.store`` (see :mod:`cimedic.agent.ports`). It is the store's
repository class itself, so mypy checks every hand-over exactly.

Times are aware UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeAlias

from cimedic.store.repository import Store

if TYPE_CHECKING:
    from cimedic.model.culprits import CulpritReport
    from cimedic.model.diagnosis import Diagnosis
    from cimedic.model.flaky import FlakyFinding, Verdict
    from cimedic.model.history import HistoryFilter, RunFact

StoreHandle: TypeAlias = Store

__all__ = [
    "StoreHandle",
    "culprit_reports",
    "diagnosis",
    "flaky_findings",
    "recent_runs",
    "repository_names",
]


def repository_names(store: Store) -> list[str]:
    """``owner/name`` of every stored repository, sorted by name."""
    return [r.full_name for r in store.repositories()]


def recent_runs(store: Store, f: HistoryFilter, *, conclusion: str | None = None) -> list[RunFact]:
    """Workflow runs matching ``f`` (and, when given, the run ``conclusion`` value such as
    ``failure``; runs without a conclusion never match one), newest first by creation time, then
    by store run id."""
    from cimedic.store import queries

    runs = queries.run_facts(store.engine, f)
    if conclusion:
        runs = [r for r in runs if r.conclusion is not None and r.conclusion.value == conclusion]
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(runs, key=lambda r: (r.created_at or oldest, r.run_id))[::-1]


def diagnosis(store: Store, job_id: int) -> Diagnosis | None:
    """The stored diagnosis of the job with store id ``job_id``; None when it has none."""
    return store.get_diagnosis(job_id)


def flaky_findings(
    store: Store, *, repository: str | None = None, verdicts: Sequence[Verdict] = ()
) -> list[FlakyFinding]:
    """Stored flaky findings (as last analysed), filtered by ``repository`` and ``verdicts``
    (none: all); ordered by repository, kind and subject."""
    from cimedic.store.flaky import load_findings

    return load_findings(store, repository=repository, verdicts=verdicts)


def culprit_reports(
    store: Store, *, repository: str | None = None, branch: str | None = None, since: datetime | None = None
) -> list[CulpritReport]:
    """Stored culprit reports (failure episodes with suspect commits), newest first red run
    first; ``since`` keeps episodes whose first red run is at or after it."""
    from cimedic.store.anomalies import load_culprits

    return load_culprits(store, repository=repository, branch=branch, since=since)
