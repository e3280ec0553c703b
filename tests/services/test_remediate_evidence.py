"""``heal`` refuses a run whose stored diagnosis has deterministic evidence (issue 11 §6), in
a dry run and with ``--apply``, whatever ``allow_causes`` says, and audits why; a run that
failed on network errors only is still re-run. Real engine diagnoses in a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from cimedic.actions.rerun import RecordingRerun
from cimedic.analysis.diagnosis import Diagnoser
from cimedic.analysis.remediation import decide
from cimedic.model import Category, Conclusion, Job, Repository, RunAttempt, Status, WorkflowRun
from cimedic.model.diagnosis import Evidence, EvidenceKind
from cimedic.model.remediation import JobDiagnosis, Reason, RerunCandidate, RerunPolicy, Verdict
from cimedic.services.diagnose import diagnose_bytes, make_diagnoser
from cimedic.services.remediate import heal, list_actions
from cimedic.store import schema as t
from cimedic.store.repository import Store

pytestmark = pytest.mark.timeout(120)

TS = "2026-03-02T10:00:0{}.1000000Z "


def gha(command: str, *output: str) -> bytes:
    lines = [f"##[group]Run {command}", command, "shell: /usr/bin/bash -e {0}", "##[endgroup]", *output]
    lines.append("##[error]Process completed with exit code 1.")
    return ("".join(TS.format(i % 10) + line + "\n" for i, line in enumerate(lines))).encode()


# a real assertion failure, then a network reset (was: network / transient / re-run)
MOCHA_RESET = gha(
    "npm test",
    "> shop@2.1.0 test",
    "> mocha test/",
    "  checkout",
    "    1) applies the discount",
    "  1 passing (2s)",
    "  1 failing",
    "  1) checkout",
    "       applies the discount:",
    "      AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:",  # line 13
    "      30 !== 25",
    "      at Context.<anonymous> (test/checkout.test.js:21:12)",
    "Error: read ECONNRESET",
    "    at TLSWrap.onStreamRead (node:internal/stream_base_commons:217:20)",
)
NPM_RESET = gha(
    "npm ci",
    "npm ERR! code ECONNRESET",
    "npm ERR! network request to https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz failed, reason: read ECONNRESET",
    "npm ERR! network This is a problem related to network connectivity.",
)


@pytest.fixture(scope="module")
def diagnoser() -> Diagnoser:
    return make_diagnoser()[0]


def failed_run(store: Store, diagnoser: Diagnoser, log: bytes, run_id: str = "77") -> int:
    """A failed run with one failed job whose log is diagnosed by the engine and stored as
    ``analyze`` stores it; returns the job's store id."""
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    repo_id = store.upsert_repository(Repository(owner="acme", name="shop", default_branch="main"))
    run = WorkflowRun(
        provider_id=run_id, repository="acme/shop", workflow_name="CI", branch="main", head_sha="c" * 40,
        status=Status.COMPLETED, conclusion=Conclusion.FAILURE, created_at=created,
        updated_at=created + timedelta(minutes=5),
    )  # fmt: skip
    attempt = RunAttempt(
        run_provider_id=run_id, attempt=1, status=Status.COMPLETED, conclusion=Conclusion.FAILURE
    )
    job = Job(provider_id=f"{run_id}0", run_provider_id=run_id, name="test", workflow_name="CI",
              status=Status.COMPLETED, conclusion=Conclusion.FAILURE, created_at=created)  # fmt: skip
    store.ingest_run(repo_id, run, [attempt], [job])
    with store.engine.connect() as conn:
        job_id = int(
            conn.execute(select(t.jobs.c.id).where(t.jobs.c.provider_id == f"{run_id}0")).scalar_one()
        )
    store.save_log(job_id, log, original_size=len(log), truncated=False)
    store.save_diagnosis(job_id, diagnose_bytes(log, "test", diagnoser), engine_version="test")
    return job_id


def test_assertion_plus_econnreset_is_refused_in_dry_run_and_with_apply(
    store: Store, diagnoser: Diagnoser
) -> None:
    failed_run(store, diagnoser, MOCHA_RESET)
    action = RecordingRerun()
    live = RerunPolicy(dry_run=False, cooldown_s=0)

    [dry] = heal(store, live, action, now=datetime.now(UTC), apply=False)
    assert (dry.verdict, dry.reason) == (Verdict.SKIPPED, Reason.DETERMINISTIC_EVIDENCE)
    assert "assertion at line 13" in dry.detail and "ECONNRESET" not in dry.detail
    assert dry.detail.startswith("job 'test': test/")
    # a final decision: --apply does not decide again, nothing is sent
    assert heal(store, live, action, now=datetime.now(UTC), apply=True) == []
    assert action.calls == []
    [row] = list_actions(store, repository="acme/shop")
    assert (row.verdict, row.reason, row.result) == (Verdict.SKIPPED, Reason.DETERMINISTIC_EVIDENCE, None)
    assert "deterministic evidence" in row.detail


def test_apply_first_is_refused_even_when_the_cause_is_allowed(store: Store, diagnoser: Diagnoser) -> None:
    job_id = failed_run(store, diagnoser, MOCHA_RESET)
    cause = store.get_diagnosis(job_id).cause  # type: ignore[union-attr]
    assert cause is not None and not cause.transient
    action = RecordingRerun()
    policy = RerunPolicy(dry_run=False, cooldown_s=0, allow_causes=(cause.id,))
    [d] = heal(store, policy, action, now=datetime.now(UTC), apply=True)
    assert (d.verdict, d.reason) == (Verdict.SKIPPED, Reason.DETERMINISTIC_EVIDENCE)
    assert action.calls == []


def test_network_only_failure_is_still_rerun(store: Store, diagnoser: Diagnoser) -> None:
    failed_run(store, diagnoser, NPM_RESET)
    action = RecordingRerun()
    policy = RerunPolicy(dry_run=False, cooldown_s=0)
    [dry] = heal(store, policy, action, now=datetime.now(UTC), apply=False)
    assert (dry.verdict, dry.reason) == (Verdict.WOULD_RERUN, Reason.ALLOWED)
    [done] = heal(store, policy, action, now=datetime.now(UTC), apply=True)
    assert (done.verdict, done.result) == (Verdict.RERUN, "ok")
    assert action.calls == [("acme/shop", "77")]


def test_diagnosis_stored_before_the_field_falls_back_to_its_transient_flag(
    store: Store, diagnoser: Diagnoser
) -> None:
    job_id = failed_run(store, diagnoser, NPM_RESET)
    with store.engine.begin() as conn:
        stored = conn.execute(select(t.diagnoses.c.result).where(t.diagnoses.c.job_id == job_id)).scalar_one()
        stored = {k: v for k, v in stored.items() if k != "deterministic_evidence"}
        conn.execute(
            update(t.diagnoses).where(t.diagnoses.c.job_id == job_id).values(result=stored, evidence=None)
        )
    assert store.get_diagnosis(job_id).deterministic_evidence == ()  # type: ignore[union-attr]
    [d] = heal(store, RerunPolicy(cooldown_s=0), None, now=datetime.now(UTC), apply=False)
    assert (d.verdict, d.reason) == (Verdict.WOULD_RERUN, Reason.ALLOWED)


def test_decide_deny_wins_then_evidence_then_allow() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    evidence = (Evidence(line=13, kind=EvidenceKind.ASSERTION), Evidence(line=20, kind=EvidenceKind.COMPILER))
    job = JobDiagnosis(job_name="test", category=Category.NETWORK, cause_id="connection-reset", transient=True,
                       deterministic_evidence=evidence)  # fmt: skip

    def run(policy: RerunPolicy, *jobs: JobDiagnosis) -> Reason:
        cand = RerunCandidate(repository="o/r", run_id="1", run_attempt=1, workflow_name="CI", branch="main",
                              created_at=now - timedelta(hours=1), updated_at=now - timedelta(hours=1),
                              jobs=jobs)  # fmt: skip
        return decide(cand, policy, [], now).reason

    assert run(RerunPolicy(deny_causes=("connection-reset",)), job) is Reason.CAUSE_DENIED
    assert run(RerunPolicy(allow_causes=("connection-reset",)), job) is Reason.DETERMINISTIC_EVIDENCE
    assert run(RerunPolicy(), job.model_copy(update={"deterministic_evidence": ()})) is Reason.ALLOWED
    clean = job.model_copy(update={"deterministic_evidence": (), "job_name": "lint"})
    assert run(RerunPolicy(), clean, job) is Reason.DETERMINISTIC_EVIDENCE  # one such job blocks the run
    many = job.model_copy(update={"deterministic_evidence": evidence * 3})
    cand = RerunCandidate(repository="o/r", run_id="1", run_attempt=1, created_at=now - timedelta(hours=1),
                          jobs=(many,))  # fmt: skip
    detail = decide(cand, RerunPolicy(), [], now).detail
    assert "assertion at line 13, compiler at line 20, assertion at line 13 and 3 more" in detail
