"""Pipeline metrics of the stored CI history (``cimedic stats``, the API's ``/stats``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.analysis.pipeline_metrics import compute_stats
from cimedic.model.history import HistoryFilter
from cimedic.model.metrics import GroupBy, PipelineStats, StatsFilters
from cimedic.services.timewindow import resolve_since

if TYPE_CHECKING:
    from cimedic.store.repository import Store

__all__ = ["DEFAULT_SINCE", "pipeline_stats"]

DEFAULT_SINCE = timedelta(days=7)


def pipeline_stats(
    store: Store,
    *,
    repository: str | None = None,
    workflow: str | None = None,
    branch: str | None = None,
    since: timedelta | datetime | None = DEFAULT_SINCE,
    by: str | GroupBy | None = None,
    deployment_patterns: Sequence[str] = (),
    now: datetime | None = None,
    top: int = 10,
    findings: bool = True,
) -> PipelineStats:
    """Metrics of the runs and jobs created in ``[since, now)`` (UTC) that match the filters.

    ``repository`` is ``owner/name``; ``workflow`` a workflow name or file path (``ci.yml``
    matches ``.github/workflows/ci.yml``); ``branch`` the runs' head branch. ``since`` is a
    ``timedelta`` back from ``now`` (default 7 days), an absolute ``datetime`` (naive = UTC),
    or ``None`` for the whole history. ``now`` defaults to the current time. ``by`` selects
    the breakdown (``workflow``, ``job`` or ``step``), ``deployment_patterns`` the
    ``deployment_workflows`` globs of the DORA metrics, ``top`` the length of the lists.

    With ``findings`` the summary of the stored analyzer findings over the same window and
    repository is attached (:func:`cimedic.services.findings.findings_summary`).

    Reads through ``cimedic.store.queries`` (three queries); raises ``ValueError`` for an
    unknown ``by`` or ``top < 1`` and lets SQLAlchemy errors of the store propagate.
    """
    from cimedic.store import queries

    until = now or datetime.now(UTC)
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    group = GroupBy(by) if by is not None else None
    if top < 1:
        raise ValueError(f"top must be at least 1, not {top}")
    f = HistoryFilter(
        repository=repository,
        workflow=workflow,
        branch=branch,
        since=resolve_since(since, until),
        until=until,
    )
    runs = queries.run_facts(store.engine, f)
    jobs = queries.job_facts(store.engine, f)
    steps = queries.step_aggregates(store.engine, f)
    result = compute_stats(
        runs,
        jobs,
        steps,
        by=group,
        deployment_patterns=deployment_patterns,
        since=f.since,
        until=f.until,
        top=top,
        filters=StatsFilters(repository=repository, workflow=workflow, branch=branch),
    )
    if not findings:
        return result
    from cimedic.services.findings import findings_summary

    summary = findings_summary(store, repository=repository, since=f.since, now=until)
    return result.model_copy(update={"findings": summary})
