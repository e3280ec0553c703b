"""Use case: diagnose stored job logs (right after a fetch, or again with ``cimedic reprocess``
after a knowledge-base or engine update)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from cimedic.store.repository import Store

if TYPE_CHECKING:
    from cimedic.analysis.diagnosis import Diagnoser


def engine_version() -> str:
    """Version tag stored with each diagnosis (the cimedic version)."""
    import cimedic

    return cimedic.__version__


def diagnose_job(store: Store, diagnoser: Diagnoser, job_id: int, name: str) -> bool:
    """Diagnose the stored log of ``job_id``, store the result and place the failure in its
    failure cluster (:func:`cimedic.services.failures.assign_cluster`: new vs recurring is
    known from here on); False when no log is stored.

    The stored diagnosis is redacted (:func:`cimedic.analysis.redact.redact_diagnosis`: summary,
    error and excerpt lines, step and section names), so no secret of the log reaches the
    ``diagnoses`` table nor anything read from it (clusters, explanations, API answers,
    notifications, reports, chat tools). Its signature is the engine's, computed from the
    unredacted lines, so it stays stable whatever the redactor learns."""
    from cimedic.analysis.redact import redact_diagnosis
    from cimedic.services.diagnose import diagnose_bytes
    from cimedic.services.failures import assign_cluster

    log = store.get_log(job_id)
    if log is None:
        return False
    diagnosis = redact_diagnosis(diagnose_bytes(log.content, name, diagnoser))
    store.save_diagnosis(job_id, diagnosis, engine_version=engine_version())
    assign_cluster(store, job_id)
    return True


@dataclass
class ReprocessReport:
    """What ``reprocess`` did: raw payloads re-normalized, logs re-diagnosed, problems."""

    raw_done: int = 0
    raw_failed: int = 0
    diagnosed: int = 0
    changed_signatures: int = 0
    problems: list[str] = field(default_factory=list)


def rediagnose(
    store: Store,
    diagnoser: Diagnoser,
    *,
    since: datetime | None = None,
    repository: str | None = None,
    report: ReprocessReport | None = None,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> ReprocessReport:
    """Re-run the diagnosis on every stored log of jobs created since ``since`` (UTC)."""
    report = report or ReprocessReport()
    keys = store.jobs_with_logs(since=since, repository=repository)
    for n, key in enumerate(keys, 1):
        before = store.get_diagnosis(key.job_id)
        if diagnose_job(store, diagnoser, key.job_id, f"{key.repository}/jobs/{key.provider_id}"):
            report.diagnosed += 1
            after = store.get_diagnosis(key.job_id)
            if before is None or after is None or before.signature != after.signature:
                report.changed_signatures += 1
        if progress:
            progress("diagnosing", n, len(keys))
    return report
