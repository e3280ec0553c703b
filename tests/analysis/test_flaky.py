"""Verdict rules on crafted histories, the Beta interval against SciPy, flip rates, and the
quarantine decisions (``cimedic.analysis.flaky``, ``cimedic.analysis.flaky_stats``)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from cimedic.analysis.flaky import (
    MIN_RUNS_HEALTHY,
    assess,
    assess_all,
    quarantine_candidates,
    unquarantine_proposal,
)
from cimedic.analysis.flaky_stats import (
    beta_cdf,
    beta_interval,
    beta_ppf,
    ewma_flip_rate,
    flip_rate,
    runs_to_observe,
)
from cimedic.model.flaky import (
    EvidenceKind,
    Execution,
    Outcome,
    OutcomeHistory,
    QuarantineEntry,
    SubjectKind,
    Verdict,
)

T0 = datetime(2024, 5, 1, tzinfo=UTC)
_OUT = {"P": Outcome.PASS, "F": Outcome.FAIL, "R": Outcome.FLAKY}


def history(spec: str, *, branch: str | None = None, kind: SubjectKind = SubjectKind.TEST) -> OutcomeHistory:
    """``"1P 2F 2P 3R"``: one token per run, ``<commit><outcomes>``; several outcomes in a token
    are attempts of one run (re-runs); ``R`` is an in-run retry that passed. A token may start with
    ``branch:``."""
    execs = []
    for i, token in enumerate(spec.split()):
        br, _, token = token.rpartition(":") if ":" in token else (branch or "", "", token)
        commit = token.rstrip("PFR")
        for attempt, o in enumerate(token[len(commit) :], start=1):
            execs.append(
                Execution(
                    commit=f"sha{commit}",
                    outcome=_OUT[o],
                    run=f"run{i}",
                    attempt=attempt,
                    at=T0 + timedelta(hours=i, minutes=attempt),
                    retries=1 if o == "R" else 0,
                    branch=br or None,
                )
            )
    return OutcomeHistory(subject="pkg.TestX::test_y", executions=tuple(execs), kind=kind, repository="o/r")


# ------------------------------------------------------------------------------ verdicts


def test_a_re_run_that_passes_on_the_same_commit_is_flaky() -> None:
    f = assess(history("1P 2P 3FP 4P"))
    assert f.verdict is Verdict.FLAKY
    assert f.flaky_commits == 1
    ev = f.evidence[0]
    assert ev.kind is EvidenceKind.SAME_COMMIT
    assert ev.commits == ("sha3",)
    assert ev.runs == ("run2#1", "run2#2")
    assert (ev.passed, ev.failed) == (1, 1)
    assert "same commit" in f.reason


def test_another_run_of_the_same_commit_counts_too() -> None:
    f = assess(history("1P 2F 3P 2P"))  # commit 2 ran again later in another run
    assert f.verdict is Verdict.FLAKY
    assert f.evidence[0].runs == ("run1#1", "run3#1")


def test_an_in_run_retry_is_flaky_by_itself() -> None:
    f = assess(history("1R"))
    assert f.verdict is Verdict.FLAKY
    assert f.evidence[0].kind is EvidenceKind.IN_RUN_RETRY
    assert f.retried == 1 and f.passes == 1 and f.failures == 0
    assert f.failure_probability.failures == 1 and f.failure_probability.trials == 2


def test_a_breakage_without_re_runs_is_broken_not_flaky() -> None:
    f = assess(history("1P 2P 3F 4F 5F 6P 7P"))
    assert f.verdict is Verdict.BROKEN
    assert not f.open_breakage
    assert f.evidence[0].kind is EvidenceKind.BREAKAGE
    assert f.evidence[0].commits == ("sha3", "sha4", "sha5")
    assert "then green again" in f.reason


def test_a_breakage_with_re_runs_on_the_red_commits_is_broken_not_flaky() -> None:
    f = assess(history("1P 2P 3FF 4FFF 5FF 6P"))
    assert f.verdict is Verdict.BROKEN
    assert f.flaky_commits == 0
    assert f.failures == 7


def test_a_one_commit_breakage_confirmed_by_a_re_run_is_broken() -> None:
    f = assess(history("1P 2P 3FF 4P 5P"))
    assert f.verdict is Verdict.BROKEN
    # its last red commit failed only twice: one more targeted re-run is requested
    assert [(r.commit, r.outcome) for r in f.rerun] == [("sha3", Outcome.FAIL)]


def test_a_breakage_still_red_is_open() -> None:
    f = assess(history("1P 2P 3F 4FF 5F"))
    assert f.verdict is Verdict.BROKEN and f.open_breakage
    assert "still red" in f.reason


def test_a_single_failure_never_re_run_is_insufficient_data_with_a_re_run_request() -> None:
    f = assess(history("1P 2P 3F 4P 5P 6P 7P 8P 9P 10P 11P"))
    assert f.verdict is Verdict.INSUFFICIENT
    assert [(r.commit, r.run, r.attempt) for r in f.rerun] == [("sha3", "run2", 1)]
    assert f.evidence[0].kind is EvidenceKind.UNCONFIRMED
    assert "re-run" in f.reason


def test_the_re_run_settles_it() -> None:
    assert assess(history("1P 2P 3F 4P 5P 3P")).verdict is Verdict.FLAKY
    assert assess(history("1P 2P 3F 4P 5P 3F")).verdict is Verdict.BROKEN


def test_three_separate_red_stretches_are_flaky_by_flips_two_are_not() -> None:
    three = assess(history("1P 2F 3P 4P 5F 6P 7F 8P"))
    assert three.verdict is Verdict.FLAKY
    assert three.flaky_commits == 0 and three.red_episodes == 3
    assert {ev.kind for ev in three.evidence} == {EvidenceKind.FLIPS}
    two = assess(history("1P 2F 3F 4P 5F 6F 7P"))
    assert two.verdict is Verdict.BROKEN
    # the green commit between the two red stretches is worth a re-run
    assert ("sha4", Outcome.PASS) in [(r.commit, r.outcome) for r in two.rerun]


def test_red_stretches_are_counted_along_one_branch() -> None:
    # main is red on three commits in a row; green pull-request commits run in between
    spec = "main:1P main:2F pr:10P main:3F pr:11P main:4F main:5P"
    f = assess(history(spec))
    assert f.verdict is Verdict.BROKEN
    assert f.evidence[0].commits == ("sha2", "sha3", "sha4")
    assert "on main" in f.reason
    # failures on three different branches are three stretches, but not three on one branch
    spread = assess(history("a:1P a:2F a:3P b:4P b:5F b:6P c:7P c:8F c:9P"))
    assert spread.verdict is Verdict.INSUFFICIENT and spread.red_episodes == 3


def test_healthy_needs_ten_runs() -> None:
    nine = assess(history(" ".join(f"{i}P" for i in range(MIN_RUNS_HEALTHY - 1))))
    assert nine.verdict is Verdict.INSUFFICIENT and nine.more_runs == 1
    ten = assess(history(" ".join(f"{i}P" for i in range(MIN_RUNS_HEALTHY))))
    assert ten.verdict is Verdict.HEALTHY and ten.more_runs is None
    empty = assess(OutcomeHistory(subject="x", executions=()))
    assert empty.verdict is Verdict.INSUFFICIENT and empty.flip_rate is None


def test_jobs_use_the_same_rules() -> None:
    f = assess(history("1P 2FP 3P", kind=SubjectKind.JOB))
    assert f.kind is SubjectKind.JOB and f.verdict is Verdict.FLAKY


def test_assess_all_sorts_flaky_first() -> None:
    out = assess_all([history("1P 2P"), history("1P 2FP"), history("1F 2F")])
    assert [f.verdict for f in out] == [Verdict.FLAKY, Verdict.BROKEN, Verdict.INSUFFICIENT]


def test_the_flaky_verdict_never_goes_away_when_the_history_grows() -> None:
    """What the benchmark's runs-to-verdict (shortest flaky prefix, by bisection) relies on."""
    rng = random.Random(7)
    for _ in range(300):
        tokens, commit = [], 0
        for _ in range(rng.randint(1, 25)):
            commit += rng.random() < 0.7
            tokens.append(f"{commit}" + "".join(rng.choice("PPPF") for _ in range(rng.randint(1, 2))))
        h = history(" ".join(tokens))
        flaky_seen = False
        for k in range(1, len(h.executions) + 1):
            verdict = assess(OutcomeHistory(subject="x", executions=h.executions[:k])).verdict
            assert not (flaky_seen and verdict is not Verdict.FLAKY)
            flaky_seen = verdict is Verdict.FLAKY


# ------------------------------------------------------------------------------ figures


def test_flip_rates() -> None:
    ppfff = [False, False, True, True, True]
    assert flip_rate(ppfff) == 0.25
    assert flip_rate([False, True, False, True, False]) == 1.0
    assert flip_rate([True]) is None and ewma_flip_rate([True]) is None
    assert ewma_flip_rate([False, True] * 10) == pytest.approx(1.0)
    assert ewma_flip_rate(ppfff, alpha=1e-9) == pytest.approx(0.25)
    # flips long ago weigh less than recent ones
    old_flips = [False, True, False, True, False] + [False] * 19
    new_flips = [False] * 19 + [False, True, False, True, False]
    assert flip_rate(old_flips) == flip_rate(new_flips)
    assert ewma_flip_rate(old_flips) < flip_rate(old_flips) < ewma_flip_rate(new_flips)
    with pytest.raises(ValueError):
        ewma_flip_rate(ppfff, alpha=0.0)


def test_finding_figures() -> None:
    f = assess(history("1P 2P 3FP 4P"))
    assert (f.executions, f.commits, f.passes, f.failures) == (5, 4, 4, 1)
    assert f.flip_rate == pytest.approx(2 / 4)
    fp = f.failure_probability
    assert (fp.prior_alpha, fp.prior_beta, fp.level) == (0.5, 0.5, 0.95)
    assert fp.mean == pytest.approx(1.5 / 6)
    assert fp.low < fp.mean < fp.high


@pytest.mark.parametrize(
    "failures,trials", [(0, 0), (0, 10), (1, 10), (3, 3), (5, 100), (1, 10_000), (80, 100)]
)
def test_the_credible_interval_matches_scipy(failures: int, trials: int) -> None:
    stats = pytest.importorskip("scipy.stats")
    a, b = 0.5 + failures, 0.5 + trials - failures
    mean, low, high = beta_interval(failures, trials)
    assert mean == pytest.approx(a / (a + b))
    assert low == pytest.approx(float(stats.beta.ppf(0.025, a, b)), rel=1e-9, abs=1e-15)
    assert high == pytest.approx(float(stats.beta.ppf(0.975, a, b)), rel=1e-9, abs=1e-15)


def test_beta_quantiles_and_cdf_match_scipy_in_the_tails() -> None:
    stats = pytest.importorskip("scipy.stats")
    for a, b in [(0.5, 0.5), (0.5, 10_000.5), (2000.5, 0.5), (3.5, 7.5), (1.0, 1.0)]:
        for q in (1e-9, 1e-6, 0.025, 0.5, 0.975, 1 - 1e-6):
            expected = float(stats.beta.ppf(q, a, b))
            got = beta_ppf(q, a, b)
            assert abs(got - expected) <= 1e-9 * min(expected, 1 - expected) + 1e-300
            if expected < 0.999:  # near 1, x itself carries too few digits of 1 - x
                assert beta_cdf(expected, a, b) == pytest.approx(q, rel=1e-8)
    with pytest.raises(ValueError):
        beta_ppf(1.5, 1, 1)
    with pytest.raises(ValueError):
        beta_interval(3, 2)


def test_runs_to_observe() -> None:
    assert runs_to_observe(0.0071) == 421  # FlakeFlagger's median failure rate, 95%
    assert runs_to_observe(0.5) == 5
    assert runs_to_observe(1.0) == 1
    assert runs_to_observe(0.0) is None


# ------------------------------------------------------------------------------ quarantine


def _entry(**kw: object) -> QuarantineEntry:
    base: dict[str, object] = {
        "repository": "o/r",
        "test_id": "pkg.TestX::test_y",
        "reason": "flaky",
        "owner": "@team",
        "created_at": T0,
    }
    return QuarantineEntry.model_validate(base | kw)


def test_quarantine_candidates_need_two_flaky_observations() -> None:
    once = assess(history("1P 2FP 3P"))
    twice = assess(history("1P 2FP 3P 4R"))
    job = assess(history("1FP 2FP", kind=SubjectKind.JOB))
    assert quarantine_candidates([once, twice, job]) == [twice]
    assert quarantine_candidates([twice], quarantined=[twice.subject]) == []


def test_unquarantine_after_a_stable_window_or_at_expiry() -> None:
    now = T0 + timedelta(days=30)
    window = timedelta(days=14)
    green = [Execution(commit=f"c{i}", outcome=Outcome.PASS, at=now - timedelta(days=i)) for i in range(12)]
    proposal = unquarantine_proposal(_entry(), green, now=now, stable_for=window)
    assert proposal is not None and proposal.runs == 12 and proposal.why.startswith("no failure")
    red = [*green, Execution(commit="x", outcome=Outcome.FAIL, at=now - timedelta(days=2))]
    assert unquarantine_proposal(_entry(), red, now=now, stable_for=window) is None
    assert unquarantine_proposal(_entry(), green[:5], now=now, stable_for=window) is None  # too few runs
    expired = unquarantine_proposal(
        _entry(expires_at=now - timedelta(days=1)), [], now=now, stable_for=window
    )
    assert expired is not None and expired.why.startswith("expired")
    removed = _entry(removed_at=now - timedelta(days=1))
    assert unquarantine_proposal(removed, green, now=now, stable_for=window) is None
    assert removed.status(now) == "removed" and not removed.is_active(now)
