"""Verdicts on flaky tests and flaky jobs: pure functions of outcome histories.

:func:`assess` turns one :class:`~cimedic.model.flaky.OutcomeHistory` (the executions of a test
in one variant, or of a job, oldest first) into a :class:`~cimedic.model.flaky.FlakyFinding`.
The rules, in order (thresholds are the module constants below, with their sources):

1. **Same-commit evidence → ``flaky``.** A commit on which the subject both passed and failed
   (a re-run attempt, another run of the same commit, or a retry inside one execution) is the
   definition everyone uses (Datadog, Trunk, Kubernetes, LUCI, Mergify; field notes). A genuine
   breakage never does this: re-run, a broken test fails again. One such commit is enough
   (:data:`MIN_FLAKY_COMMITS`).
2. **No failure →** ``healthy`` with at least :data:`MIN_RUNS_HEALTHY` executions, else
   ``insufficient data``.
3. **Flips → ``flaky``.** Without same-commit evidence the failures fall on different commits,
   and red → green → red could be a breakage, a fix and another breakage. Red stretches are
   counted along each branch's commits (a pull request's failures do not interrupt a red
   stretch on ``main``). Red on :data:`MIN_FLIP_EPISODES` (3) or more separate stretches of one
   branch with green in between is called flaky (statistical evidence, kind ``flips``); one or
   two stretches are not.
4. **Breakage → ``broken``.** A red stretch is *confirmed* when it spans at least
   :data:`MIN_BREAKAGE_COMMITS` consecutive commits or one of its commits failed at least
   :data:`MIN_BREAKAGE_FAILS` times (re-run and still red). With at least one confirmed
   stretch the verdict is ``broken`` (``open_breakage`` when one is still red at its branch's
   latest commit); single failures next to it are listed as ``unconfirmed`` evidence with
   re-run requests, and so are the green commits between two red stretches of a branch (if
   such a commit fails when re-run, the subject is flaky: a test that fails 90% of the time
   looks like two breakages and a fix otherwise), and so is the last red commit of each
   breakage until it has failed :data:`SOLID_BREAKAGE_FAILS` times (a test failing 20% of the
   time fails on two commits in a row 4% of the time).
5. **Otherwise ``insufficient data``:** every failure is a commit that failed once, was never
   re-run, and is followed by green (or is the latest). A one-commit breakage and a flaky failure
   look the same; the finding lists the runs to re-run (:attr:`FlakyFinding.rerun`), and one
   re-run settles each (a pass: flaky; a failure: broken).

The figures (flip rate, exponentially weighted flip rate, Beta posterior of the failure
probability) are in :mod:`cimedic.analysis.flaky_stats`. Quarantine proposals
(:func:`quarantine_candidates`, :func:`unquarantine_proposal`) use LUCI's "at least two flaky
verdicts" and Trunk's "at least 10 runs" (field notes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cimedic.analysis.flaky_stats import (
    CREDIBLE_LEVEL,
    EWMA_ALPHA,
    JEFFREYS_PRIOR,
    beta_interval,
    ewma_flip_rate,
    flip_rate,
)
from cimedic.model.flaky import (
    EvidenceKind,
    Execution,
    FailureEstimate,
    FlakyEvidence,
    FlakyFinding,
    Outcome,
    OutcomeHistory,
    QuarantineEntry,
    RerunRequest,
    SubjectKind,
    UnquarantineProposal,
    Verdict,
)

__all__ = [
    "MAX_EVIDENCE",
    "MAX_RERUNS",
    "MIN_BREAKAGE_COMMITS",
    "MIN_BREAKAGE_FAILS",
    "MIN_FLAKY_COMMITS",
    "MIN_FLIP_EPISODES",
    "MIN_RUNS_HEALTHY",
    "QUARANTINE_MIN_OBSERVATIONS",
    "SOLID_BREAKAGE_FAILS",
    "UNQUARANTINE_MIN_RUNS",
    "assess",
    "assess_all",
    "quarantine_candidates",
    "unquarantine_proposal",
]

#: Commits with both outcomes that make a subject flaky. One: "passed and failed on the same
#: commit" is the definition (Datadog, Trunk, Kubernetes, LUCI, Mergify; field notes).
MIN_FLAKY_COMMITS = 1

#: Separate red stretches of commits (green in between, no same-commit proof) that make a
#: subject flaky by its flips. Ours: one stretch is a breakage and its fix; two are also a
#: revert and a re-land that broke again; three without a single re-run proving a breakage are
#: called flaky. A single breakage (the benchmark's negatives) can never reach it.
MIN_FLIP_EPISODES = 3

#: Executions needed for a ``healthy`` verdict. Trunk wants at least 10 runs per test (field
#: notes).
MIN_RUNS_HEALTHY = 10

#: A red stretch on this many consecutive commits is a confirmed breakage. Ours: the failure
#: survived a code change, so it is not one unlucky execution.
MIN_BREAKAGE_COMMITS = 2

#: A commit that failed this many times (re-run and still red) confirms a breakage: the
#: reproduction a re-run gives (LUCI and Treeherder retry to tell intermittent from real
#: failures; field notes).
MIN_BREAKAGE_FAILS = 2

#: Failures of a breakage's last red commit after which no more re-runs of it are requested.
#: Ours: a test failing half of the time fails three times in a row 12.5% of the time, a
#: test failing 20% of the time 0.8%; two targeted re-runs per breakage are cheap.
SOLID_BREAKAGE_FAILS = 3

#: Independent flaky observations (commits with both outcomes, or red stretches for a verdict by
#: flips) before a test is proposed for quarantine. LUCI flags at >= 2 flaky verdicts (field notes).
QUARANTINE_MIN_OBSERVATIONS = 2

#: Executions within the stable window before a quarantined test is proposed for release.
#: Trunk wants at least 10 runs per test (field notes).
UNQUARANTINE_MIN_RUNS = 10

#: Evidence items kept per finding (most recent first), and re-run requests.
MAX_EVIDENCE = 10
MAX_RERUNS = 5
_MAX_COMMITS_PER_ITEM = 20


@dataclass(slots=True)
class _Commit:
    sha: str
    index: int  # position in the commit order (first execution)
    branch: str | None = None
    executions: list[Execution] = field(default_factory=list)
    passed: int = 0  # executions that ended green (pass, or flaky)
    failed: int = 0  # executions that ended red
    retried: int = 0  # executions that passed on an in-run retry

    @property
    def mixed(self) -> bool:
        return self.retried > 0 or (self.passed > 0 and self.failed > 0)

    @property
    def red(self) -> bool:
        return self.failed > 0 and self.passed == 0


@dataclass
class _Episode:
    commits: list[_Commit]
    open: bool = False

    @property
    def branch(self) -> str | None:
        return self.commits[0].branch

    @property
    def confirmed(self) -> bool:
        return len(self.commits) >= MIN_BREAKAGE_COMMITS or any(
            c.failed >= MIN_BREAKAGE_FAILS for c in self.commits
        )


def _short(sha: str) -> str:
    return sha[:12]


def _runs(executions: Iterable[Execution]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for e in executions:
        if e.run:
            seen.setdefault(e.run_ref, None)
    return tuple(seen)


def _times(executions: Sequence[Execution]) -> tuple[datetime | None, datetime | None]:
    times = [e.at for e in executions if e.at is not None]
    return (min(times), max(times)) if times else (None, None)


def _commit_evidence(c: _Commit) -> FlakyEvidence:
    across = c.failed > 0 and c.passed > 0  # red and green executions (else: in-run retries only)
    first, last = _times(c.executions)
    return FlakyEvidence(
        kind=EvidenceKind.SAME_COMMIT if across else EvidenceKind.IN_RUN_RETRY,
        commits=(c.sha,),
        runs=_runs(c.executions),
        passed=c.passed,
        failed=c.failed + sum(max(1, e.retries) for e in c.executions if e.outcome is Outcome.FLAKY),
        first_at=first,
        last_at=last,
    )


def _episode_evidence(ep: _Episode, kind: EvidenceKind) -> FlakyEvidence:
    execs = [e for c in ep.commits for e in c.executions]
    first, last = _times(execs)
    return FlakyEvidence(
        kind=kind,
        commits=tuple(c.sha for c in ep.commits[:_MAX_COMMITS_PER_ITEM]),
        runs=_runs(execs[:_MAX_COMMITS_PER_ITEM]),
        passed=0,
        failed=len(execs),
        first_at=first,
        last_at=last,
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _episodes(ordered: list[_Commit]) -> tuple[list[_Episode], int, list[_Commit]]:
    """Red stretches per branch (a commit belongs to the branch of its first execution), in the
    order of their first commit; the most stretches on one branch; and the *green islands*:
    green commits between two red stretches of their branch (a re-run of one that fails makes
    the subject flaky)."""
    by_branch: dict[str | None, list[_Commit]] = {}
    for c in ordered:
        by_branch.setdefault(c.branch, []).append(c)
    episodes: list[_Episode] = []
    islands: list[_Commit] = []
    most = 0
    for commits in by_branch.values():
        count = 0
        current: list[_Commit] = []
        green: list[_Commit] = []
        for c in commits:
            if c.red:
                if count and green:
                    islands.extend(green)
                green = []
                current.append(c)
            else:
                if current:
                    episodes.append(_Episode(current))
                    count, current = count + 1, []
                green.append(c)
        if current:
            episodes.append(_Episode(current, open=True))
            count += 1
        most = max(most, count)
    episodes.sort(key=lambda ep: ep.commits[0].index)
    islands.sort(key=lambda c: c.index)
    return episodes, most, islands


def assess(
    history: OutcomeHistory,
    *,
    ewma_alpha: float = EWMA_ALPHA,
    level: float = CREDIBLE_LEVEL,
    prior: tuple[float, float] = JEFFREYS_PRIOR,
) -> FlakyFinding:
    """The verdict on one history, with its figures and evidence (rules in the module doc).

    ``history.executions`` must be oldest first; a commit takes its place in the commit order
    from its first execution. ``ewma_alpha`` is the smoothing factor of the weighted flip rate,
    ``level`` the probability of the credible interval, ``prior`` the Beta prior
    ``(alpha, beta)`` of the failure probability. Raises ``ValueError`` for ``ewma_alpha``
    outside ``(0, 1]`` or ``level`` outside ``(0, 1)``.
    """
    commits: dict[str, _Commit] = {}
    stream: list[bool] = []
    passes = failures = retried = 0
    last_failure: datetime | None = None
    ok, bad = Outcome.PASS, Outcome.FAIL
    for e in history.executions:
        c = commits.get(e.commit)
        if c is None:
            c = commits[e.commit] = _Commit(e.commit, len(commits), e.branch)
        c.executions.append(e)
        outcome = e.outcome
        if outcome is ok:
            c.passed += 1
            stream.append(False)
        elif outcome is bad:
            c.failed += 1
            stream.append(True)
            if e.at is not None:
                last_failure = e.at
        else:
            c.passed += 1
            c.retried += 1
            retried += 1
            stream.extend([True] * max(1, e.retries))
            stream.append(False)
            if e.at is not None:
                last_failure = e.at
    failures = sum(c.failed for c in commits.values())
    passes = len(history.executions) - failures
    ordered = list(commits.values())
    episodes, most, islands = _episodes(ordered)
    mixed = [c for c in ordered if c.mixed]
    fail_trials = sum(stream)
    mean, low, high = beta_interval(fail_trials, len(stream), prior, level)
    first_seen, last_seen = _times(history.executions)
    d = _decide(len(history.executions), failures, ordered, mixed, episodes, most, islands)
    return FlakyFinding(
        kind=history.kind,
        repository=history.repository,
        subject=history.subject,
        variant=history.variant,
        verdict=d.verdict,
        reason=d.reason,
        executions=len(history.executions),
        commits=len(ordered),
        passes=passes,
        failures=failures,
        retried=retried,
        flaky_commits=len(mixed),
        red_episodes=len(episodes),
        flip_rate=flip_rate(stream),
        ewma_flip_rate=ewma_flip_rate(stream, ewma_alpha),
        failure_probability=FailureEstimate(
            failures=fail_trials,
            trials=len(stream),
            prior_alpha=prior[0],
            prior_beta=prior[1],
            mean=mean,
            low=low,
            high=high,
            level=level,
        ),
        evidence=d.evidence[:MAX_EVIDENCE],
        rerun=d.rerun[:MAX_RERUNS],
        more_runs=d.more_runs,
        open_breakage=d.open_breakage,
        first_seen=first_seen,
        last_seen=last_seen,
        last_failure=last_failure,
    )


@dataclass(frozen=True)
class _Decision:
    verdict: Verdict
    reason: str
    evidence: tuple[FlakyEvidence, ...] = ()
    rerun: tuple[RerunRequest, ...] = ()
    more_runs: int | None = None
    open_breakage: bool = False


def _on(ep: _Episode) -> str:
    return f" on {ep.branch}" if ep.branch else ""


def _decide(
    n: int,
    failures: int,
    ordered: list[_Commit],
    mixed: list[_Commit],
    episodes: list[_Episode],
    most_on_a_branch: int,
    islands: list[_Commit],
) -> _Decision:
    """The rules of the module doc, in order."""
    if n == 0:
        return _Decision(Verdict.INSUFFICIENT, "no executions", more_runs=MIN_RUNS_HEALTHY)
    if len(mixed) >= MIN_FLAKY_COMMITS:
        evidence = tuple(_commit_evidence(c) for c in reversed(mixed))
        in_run = sum(1 for ev in evidence if ev.kind is EvidenceKind.IN_RUN_RETRY)
        how = f" ({in_run} by in-run retry)" if in_run else ""
        latest = mixed[-1]
        reason = (
            f"passed and failed on the same commit: {_plural(len(mixed), 'commit')}{how}; "
            f"latest {_short(latest.sha)} (runs {', '.join(_runs(latest.executions)[:4])})"
        )
        return _Decision(Verdict.FLAKY, reason, evidence)
    if failures == 0:
        if n >= MIN_RUNS_HEALTHY:
            return _Decision(
                Verdict.HEALTHY, f"{_plural(n, 'execution')} on {_plural(len(ordered), 'commit')}, all green"
            )
        more = MIN_RUNS_HEALTHY - n
        reason = f"{_plural(n, 'execution')}, all green: {more} more needed for a verdict"
        return _Decision(Verdict.INSUFFICIENT, reason, more_runs=more)
    if most_on_a_branch >= MIN_FLIP_EPISODES:
        reason = (
            f"red on {most_on_a_branch} separate stretches of commits of one branch with green in "
            "between (no re-run on one commit proved it: flaky by its flips)"
        )
        evidence = tuple(_episode_evidence(ep, EvidenceKind.FLIPS) for ep in reversed(episodes))
        return _Decision(Verdict.FLAKY, reason, evidence)
    confirmed = [ep for ep in episodes if ep.confirmed]
    unconfirmed = [ep for ep in episodes if not ep.confirmed]
    evidence = tuple(
        _episode_evidence(ep, EvidenceKind.BREAKAGE if ep.confirmed else EvidenceKind.UNCONFIRMED)
        for ep in reversed(episodes)
    )
    # targeted re-runs, most telling first: red commits never re-run, green commits between red
    # stretches, the last red commit of each breakage until it failed SOLID_BREAKAGE_FAILS times
    suspects = [c for ep in reversed(unconfirmed) for c in reversed(ep.commits)] + islands[::-1]
    suspects += [ep.commits[-1] for ep in reversed(confirmed) if ep.commits[-1].failed < SOLID_BREAKAGE_FAILS]
    rerun = tuple(
        RerunRequest(commit=c.sha, run=e.run, attempt=e.attempt, outcome=e.outcome)
        for c in suspects
        for e in c.executions[-1:]
    )
    if confirmed:
        still = [ep for ep in confirmed if ep.open]
        ep = still[-1] if still else confirmed[-1]
        fails = sum(c.failed for c in ep.commits)
        size = f"{_plural(len(ep.commits), 'commit')}, {_plural(fails, 'failure')}"
        if ep.open:
            reason = f"red since commit {_short(ep.commits[0].sha)}{_on(ep)} ({size}), still red"
        else:
            first, last = _short(ep.commits[0].sha), _short(ep.commits[-1].sha)
            span = f"commit {first}" if len(ep.commits) == 1 else f"commits {first}..{last}"
            reason = f"red on {span}{_on(ep)} ({size}), then green again"
        if len(confirmed) > 1:
            reason += f"; {len(confirmed)} breakages in the window"
        if unconfirmed:
            reason += f"; plus {_plural(len(unconfirmed), 'single failure')} never re-run"
        if islands:
            reason += (
                f"; green on {_plural(len(islands), 'commit')} between red stretches: re-run "
                f"{_short(islands[-1].sha)} to rule out flakiness"
            )
        return _Decision(Verdict.BROKEN, reason, evidence, rerun=rerun, open_breakage=bool(still))
    latest = unconfirmed[-1].commits[-1]
    where = "the latest commit" if unconfirmed[-1].open else f"commit {_short(latest.sha)}"
    runs = ", ".join(_runs(latest.executions)) or "unknown"
    reason = (
        f"failed once on {where}{_on(unconfirmed[-1])} (run {runs}) and was not re-run: a one-commit "
        "breakage and a flaky failure look the same; re-run it to tell"
    )
    if len(unconfirmed) > 1:
        reason += f" ({len(unconfirmed)} such commits)"
    return _Decision(Verdict.INSUFFICIENT, reason, evidence, rerun=rerun)


_ORDER = {Verdict.FLAKY: 0, Verdict.BROKEN: 1, Verdict.INSUFFICIENT: 2, Verdict.HEALTHY: 3}


def assess_all(
    histories: Iterable[OutcomeHistory], *, ewma_alpha: float = EWMA_ALPHA, level: float = CREDIBLE_LEVEL
) -> list[FlakyFinding]:
    """:func:`assess` on each history; sorted by verdict (flaky, broken, insufficient data,
    healthy), then most failures first, then kind and subject."""
    out = [assess(h, ewma_alpha=ewma_alpha, level=level) for h in histories]
    out.sort(key=lambda f: (_ORDER[f.verdict], -f.failures, f.kind.value, f.subject, f.variant))
    return out


def _observations(f: FlakyFinding) -> int:
    return f.flaky_commits if f.flaky_commits else f.red_episodes


def quarantine_candidates(
    findings: Iterable[FlakyFinding], quarantined: Iterable[str] = ()
) -> list[FlakyFinding]:
    """Flaky tests to propose for quarantine: verdict ``flaky`` with at least
    :data:`QUARANTINE_MIN_OBSERVATIONS` independent observations (commits with both outcomes,
    or red stretches for a verdict by flips), not already in ``quarantined`` (test ids). One
    finding per test id (the variant with the most observations); most observations first."""
    skip = set(quarantined)
    best: dict[str, FlakyFinding] = {}
    for f in findings:
        if f.kind is not SubjectKind.TEST or f.verdict is not Verdict.FLAKY or f.subject in skip:
            continue
        if _observations(f) < QUARANTINE_MIN_OBSERVATIONS:
            continue
        if f.subject not in best or _observations(f) > _observations(best[f.subject]):
            best[f.subject] = f
    return sorted(best.values(), key=lambda f: (-_observations(f), f.subject))


def unquarantine_proposal(
    entry: QuarantineEntry,
    executions: Sequence[Execution],
    *,
    now: datetime,
    stable_for: timedelta,
    min_runs: int = UNQUARANTINE_MIN_RUNS,
) -> UnquarantineProposal | None:
    """Should the quarantined test ``entry`` be released at ``now`` (aware UTC)?

    ``expired`` when the entry is past its ``expires_at``; ``stable`` when the test's
    ``executions`` (all variants) hold no failure (nor in-run retry) within ``stable_for`` before
    ``now`` and at least ``min_runs`` (Trunk's 10) executions in that window; otherwise ``None``.
    Removed entries give ``None``. Executions without a time are ignored.
    """
    if entry.removed_at is not None:
        return None
    days = stable_for.total_seconds() / 86400.0
    failures = [e.at for e in executions if e.at is not None and e.outcome is not Outcome.PASS]
    last_failure = max(failures) if failures else None
    start = now - stable_for
    recent = [e for e in executions if e.at is not None and start <= e.at <= now]
    if entry.expires_at is not None and entry.expires_at <= now:
        return UnquarantineProposal(
            entry=entry,
            why=f"expired on {entry.expires_at:%Y-%m-%d}",
            runs=len(recent),
            last_failure=last_failure,
            stable_days=days,
        )
    if len(recent) < min_runs or any(e.outcome is not Outcome.PASS for e in recent):
        return None
    return UnquarantineProposal(
        entry=entry,
        why=f"no failure in the last {days:g} days over {_plural(len(recent), 'execution')}",
        runs=len(recent),
        last_failure=last_failure,
        stable_days=days,
    )
