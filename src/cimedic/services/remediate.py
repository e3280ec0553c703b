"""Guarded self-healing: one ``heal`` pass over failed runs, and the audit (``cimedic actions``).

A pass finds runs whose latest attempt failed (:func:`cimedic.store.actions.failed_runs`),
decides with the pure :func:`cimedic.analysis.remediation.decide` from structured data only,
records every decision in ``action_audit`` and, only when ``apply`` is true AND the policy
says ``dry_run: false`` AND the verdict is ``rerun``, asks the provider to re-run the failed
jobs. The decision row is written (result ``pending``) before the request and the result
after it: at most once per (run, attempt), also across restarts; a crash between the two
leaves ``pending`` for a person to check.

Each failed job's deterministic evidence (kinds and line numbers, no text) comes with its
stored diagnosis (:func:`cimedic.store.actions.failed_runs`), so the policy can refuse a run
with an assertion, compiler/linter diagnostic, non-network exception or formatter diff (reason
``deterministic_evidence``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from cimedic.actions.rerun import RerunAction
from cimedic.analysis.remediation import HOUR_S, decide
from cimedic.model.remediation import Decision, Reason, RerunPolicy, Verdict
from cimedic.store.actions import failed_runs, list_decisions, record_decision, set_result
from cimedic.store.base import StoreBase

log = logging.getLogger(__name__)


def heal(
    store: StoreBase,
    policy: RerunPolicy,
    action: RerunAction | None,
    *,
    now: datetime,
    apply: bool,
    repository: str | None = None,
    only_run: str | None = None,
) -> list[Decision]:
    """One pass (``now``: aware UTC); ``only_run`` limits it to one run (GitHub run id). Returns the decisions this pass recorded or changed
    (a pass that learns nothing new returns ``[]``); ``already_decided`` skips are not
    re-recorded. Candidates: runs created within ``policy.max_age_s`` before ``now``.

    With ``apply`` false, or ``policy.dry_run`` true, or ``action`` None, an allowed candidate
    is recorded as ``would_rerun`` and nothing is sent. An action that raises is recorded with
    result ``error`` and its message; it is not retried.
    """
    since = now - timedelta(seconds=policy.max_age_s)
    effective = policy if (apply and action is not None) else policy.model_copy(update={"dry_run": True})
    history = list_decisions(store, since=min(since, now - timedelta(seconds=HOUR_S)))
    existing = {(d.repository, d.run_id, d.run_attempt, d.action): d for d in history}
    out: list[Decision] = []
    for candidate in failed_runs(store, since=since, repository=repository):
        if only_run is not None and candidate.run_id != only_run:
            continue
        decision = decide(candidate, effective, history, now)
        key = (decision.repository, decision.run_id, decision.run_attempt, decision.action)
        old = existing.get(key)
        if decision.reason is Reason.ALREADY_DECIDED:
            continue
        if old is not None and (old.verdict, old.reason, old.dry_run) == (
            decision.verdict,
            decision.reason,
            decision.dry_run,
        ):
            continue  # nothing new: keep the first decision time
        if decision.verdict is Verdict.RERUN:
            decision = decision.model_copy(update={"result": "pending"})
            if not record_decision(store, decision):
                continue  # another pass executed it meanwhile
            assert action is not None
            try:
                action.rerun_failed_jobs(decision.repository, decision.run_id)
            except Exception as exc:  # any refusal is audited, never retried
                log.warning("re-run of %s run %s failed: %s", decision.repository, decision.run_id, exc)
                decision = decision.model_copy(update={"result": "error", "error": str(exc)[:2000]})
            else:
                decision = decision.model_copy(update={"result": "ok"})
            set_result(store, decision, decision.result or "ok", decision.error)
        else:
            record_decision(store, decision)
        history.append(decision)
        existing[key] = decision
        out.append(decision)
    return out


def list_actions(
    store: StoreBase, *, since: datetime | None = None, repository: str | None = None
) -> list[Decision]:
    """The audit: every recorded decision since ``since`` (aware UTC), newest first."""
    return list_decisions(store, since=since, repository=repository)


def request_rerun(
    store: StoreBase,
    policy: RerunPolicy,
    action: RerunAction | None,
    run_id: str,
    *,
    now: datetime,
    apply: bool,
) -> str:
    """A re-run someone asked for (e.g. in chat): the policy decides exactly as in
    :func:`heal` for that one run, and the decision is audited. Returns a one-line answer."""
    decisions = heal(store, policy, action, now=now, apply=apply, only_run=str(run_id))
    if decisions:
        d = decisions[-1]
        return f"run {run_id}: {d.verdict.value} ({d.reason.value}): {d.detail}"
    earlier = [d for d in list_decisions(store) if d.run_id == str(run_id)]
    if earlier:
        d = earlier[0]
        return f"run {run_id}: already decided: {d.verdict.value} ({d.reason.value}) at {d.decided_at:%Y-%m-%d %H:%M} UTC"
    return f"run {run_id}: not a failed run within the policy's age limit; nothing to re-run"
