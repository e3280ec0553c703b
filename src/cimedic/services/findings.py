"""Use case: refresh the stored findings of every analyzer after new history arrived, and
summarize them for ``cimedic stats``.

:func:`refresh_findings` is what ``demo``, ``sync``, ``watch`` (when a poll brought new runs)
and ``reprocess`` call after ingest: flaky verdicts, anomalies, culprits (with failure
clusters), and the failure-risk model (retrained when due, then the recent runs scored).
Failure clusters need no refresh: they are assigned when each diagnosis is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cimedic.model.findings import FindingLine, FindingsSummary
from cimedic.store.repository import Store

HIGH_RISK = 0.5
"""Probability at or above which a scored run counts as high risk (the classifier's decision
threshold; the model is trained on the base rate of the store, see ``docs/risk.md``)."""


@dataclass
class RefreshReport:
    """What a refresh found, and what it could not do (``problems``)."""

    flaky: int = 0
    broken: int = 0
    anomalies: int = 0
    culprits: int = 0
    risk: str = ""
    scored_runs: int = 0
    problems: list[str] = field(default_factory=list)


def refresh_findings(
    store: Store,
    *,
    repository: str | None = None,
    now: datetime | None = None,
    compare: Callable[..., object] | None = None,
    since: timedelta = timedelta(days=30),
) -> RefreshReport:
    """Run the analyzers over the last ``since`` (UTC) and store their findings. One analyzer's
    failure is reported in ``problems`` and does not stop the others."""
    from cimedic.model.flaky import Verdict
    from cimedic.services.anomalies import detect_anomalies
    from cimedic.services.culprits import detect_culprits
    from cimedic.services.flaky import analyze_flaky
    from cimedic.services.risk import RiskModelMissing, retrain_if_due, score_runs

    now = now or datetime.now(UTC)
    out = RefreshReport()
    try:
        findings = analyze_flaky(store, repository, since, now=now)
        out.flaky = sum(1 for f in findings if f.verdict is Verdict.FLAKY)
        out.broken = sum(1 for f in findings if f.verdict is Verdict.BROKEN)
    except Exception as exc:  # keep the other analyzers going; say what failed
        out.problems.append(f"flaky analysis failed: {type(exc).__name__}: {exc}")
    try:
        out.anomalies = len(detect_anomalies(store, repository=repository, since=since, now=now).anomalies)
    except Exception as exc:
        out.problems.append(f"anomaly detection failed: {type(exc).__name__}: {exc}")
    try:
        scan = detect_culprits(
            store,
            repository=repository,
            since=since,
            cluster_of=cluster_map(store),
            compare=compare,  # type: ignore[arg-type]
            now=now,
        )
        out.culprits = len(scan.reports)
    except Exception as exc:
        out.problems.append(f"culprit analysis failed: {type(exc).__name__}: {exc}")
    try:
        retrain = retrain_if_due(store, now=now)
        out.risk = retrain.reason
        out.scored_runs = len(score_runs(store, since=timedelta(days=2), now=now))
    except RiskModelMissing:
        pass
    except Exception as exc:
        out.problems.append(f"failure-risk scoring failed: {type(exc).__name__}: {exc}")
    return out


def cluster_map(store: Store) -> dict[int, str]:
    """Job id → failure-cluster id for every clustered failure (culprits key failures by it)."""
    from cimedic.store.llm import job_cluster_map

    return job_cluster_map(store)


def findings_summary(
    store: Store,
    *,
    repository: str | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    top: int = 3,
) -> FindingsSummary:
    """Counts and top lines of the stored findings in ``[since, now)`` (UTC)."""
    from cimedic.model.flaky import SubjectKind, Verdict
    from cimedic.services.failures import list_clusters
    from cimedic.store import anomalies as anomaly_store
    from cimedic.store import flaky as flaky_store
    from cimedic.store import risk as risk_store

    now = now or datetime.now(UTC)
    lines: list[FindingLine] = []
    clusters = list_clusters(store, since=since, repository=repository, top=1000, now=now)
    new = sum(
        1 for c in clusters.clusters if c.first_seen is not None and (since is None or c.first_seen >= since)
    )
    recurring = sum(
        1
        for c in clusters.clusters
        if c.occurrences > 1 or (since is not None and c.first_seen is not None and c.first_seen < since)
    )
    for c in clusters.clusters[:top]:
        lines.append(
            FindingLine(
                kind="failure cluster",
                title=c.title,
                detail=f"{c.occurrences} occurrences",
                command=f"cimedic failures show {c.id}",
            )
        )
    flaky = flaky_store.load_findings(store, repository=repository, verdicts=(Verdict.FLAKY, Verdict.BROKEN))
    flaky_tests = [f for f in flaky if f.verdict is Verdict.FLAKY and f.kind is SubjectKind.TEST]
    flaky_jobs = [f for f in flaky if f.verdict is Verdict.FLAKY and f.kind is SubjectKind.JOB]
    for f in (flaky_tests + flaky_jobs)[:top]:
        lines.append(
            FindingLine(
                kind=f"flaky {f.kind.value}", title=f.subject, detail=f.reason, command="cimedic flaky"
            )
        )
    from cimedic.services.flaky import quarantine_list

    quarantined = len(quarantine_list(store, repository, now=now))
    anomalies = anomaly_store.load_anomalies(store, repository=repository, since=since)
    for a in anomalies[:top]:
        change = f"{a.relative_change:+.0%}" if a.relative_change is not None else f"{a.absolute_change:+.0f}"
        lines.append(
            FindingLine(
                kind=f"anomaly ({a.kind.value})",
                title=a.scope.label,
                detail=change,
                command="cimedic anomalies",
            )
        )
    culprits = anomaly_store.load_culprits(store, repository=repository, since=since)
    try:
        model = risk_store.latest_model(store)
    except ValueError:  # a damaged model row: report no model rather than fail the stats
        model = None
    version = model.info.version if model is not None else None
    scored = high = 0
    if version is not None:
        scored, best = risk_store.top_scores(store, version, repository=repository, since=since, limit=1000)
        high = sum(1 for s in best if s.probability >= HIGH_RISK)
    return FindingsSummary(
        clusters=clusters.total,
        new_clusters=new,
        recurring_clusters=recurring,
        flaky_tests=len(flaky_tests),
        flaky_jobs=len(flaky_jobs),
        broken_subjects=sum(1 for f in flaky if f.verdict is Verdict.BROKEN),
        quarantined_tests=quarantined,
        anomalies=len(anomalies),
        culprit_reports=len(culprits),
        risk_model=version,
        scored_runs=scored,
        high_risk_runs=high,
        high_risk_threshold=HIGH_RISK,
        top=tuple(lines),
    )
