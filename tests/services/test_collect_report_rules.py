"""The rules of test-report collection as pure functions: which attempt an artifact belongs to,
the download order, and the default hourly budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cimedic.services.collect_reports import artifact_attempt, fetch_order, hourly_budget
from cimedic.store.artifacts import AttemptStart, PendingArtifact

T0 = datetime(2026, 11, 12, 12, 0, tzinfo=UTC)
ATTEMPTS = [AttemptStart(1, T0), AttemptStart(2, T0 + timedelta(minutes=40)), AttemptStart(3, None)]


def test_an_artifact_belongs_to_the_latest_attempt_that_started_before_it_was_created() -> None:
    assert artifact_attempt(T0 + timedelta(minutes=5), ATTEMPTS) == 1
    assert artifact_attempt(T0 + timedelta(minutes=40), ATTEMPTS) == 2  # started at that second
    assert artifact_attempt(T0 + timedelta(hours=5), ATTEMPTS) == 2  # attempt 3's start is unknown
    assert artifact_attempt(T0 - timedelta(seconds=3), ATTEMPTS) == 1  # clock skew: the first
    assert artifact_attempt(None, ATTEMPTS) is None  # several attempts, no time: unknown
    assert artifact_attempt(None, [AttemptStart(1, T0)]) == 1  # one attempt owns everything
    assert artifact_attempt(T0, []) is None


def _pending(ident: int, *, failed: bool = False, rerun: bool = False, minutes: int = 0) -> PendingArtifact:
    return PendingArtifact(
        id=ident,
        run_id=ident,
        run_provider_id=str(ident),
        artifact_id=str(1000 + ident),
        name="junit",
        run_attempt=1,
        created_at=T0 + timedelta(minutes=minutes),
        tries=0,
        failed=failed,
        rerun=rerun,
    )


def test_failed_and_rerun_attempts_come_first_newest_first_then_a_stable_sample_of_the_rest() -> None:
    passing = [_pending(i, minutes=i) for i in range(1, 40)]
    failed = _pending(50, failed=True, minutes=1)
    rerun = _pending(51, rerun=True, minutes=30)
    order = fetch_order([*passing, failed, rerun])
    assert order[:2] == [rerun, failed]
    rest = order[2:]
    assert sorted(p.id for p in rest) == list(range(1, 40))
    assert rest == fetch_order(list(reversed(passing)))  # stable whatever the input order
    # a sample, not the newest or the oldest: the first ten spread over the window
    first_ten = sorted(p.id for p in rest[:10])
    assert first_ten != list(range(1, 11)) and first_ten != list(range(30, 40))


def test_the_default_budget_is_a_fifth_of_the_rate_limit() -> None:
    assert hourly_budget(None, 5000) == 1000
    assert hourly_budget(None, 15000) == 3000  # GitHub Enterprise Cloud app
    assert hourly_budget(None, None) == 1000  # not known yet: 5,000 assumed
    assert hourly_budget(250, 5000) == 250
    assert hourly_budget(0, 5000) == 0
