"""Culprits: the commit (or pull request) that most likely started a failure on a branch.

Pure functions of :class:`~cimedic.model.anomalies.TimelineEntry` records. Two steps, so the
service can ask the provider's compare API in between:

1. :func:`failure_episodes`: for each job (workflow + job name) and branch, its outcomes in
   time order (every attempt). A failure opens an *episode* of its failure key (a cluster id
   when the caller maps jobs to clusters, else the diagnosis signature, else the job name) if
   none of that key is open; the job's next success closes every open episode (``fixed_by``).
   The episode's ``last_green`` is the job's last success before its first red. Failures with
   another key neither open nor close it.
2. :func:`build_reports`: the commits between last green and first red (head commits of the
   branch's stored runs created in ``(last_green, first_red]``, any workflow, plus the commits
   the compare API returned for ``last_green.head_sha...first_red.head_sha``), ranked by
   :func:`rank_suspects`; and, for pull-request branches, whether the base branch failed with
   the same key in the same period (then the pull request is not the cause).

Suspect scores (ordinal, documented in ``docs/anomalies.md``): a uniform prior ``1/n`` over
the ``n`` candidate commits, plus :data:`W_FIRST_RED_HEAD` for the head commit of the first
red run (the first tested state that failed), :data:`W_PR_FAILED_SAME` for a commit whose pull
request's own runs failed with the same key before it landed, :data:`W_MENTIONS_FAILURE` when
the commit message names a file, package or test that the diagnosis names, and
:data:`W_CATEGORY_HINT` when the message matches the failure category (a dependency bump for a
dependency failure, ...); capped at 1. The whole list is scaled by :data:`INTERMITTENT_FACTOR`
when the failure is intermittent, and by :data:`FAILS_ON_BASE_FACTOR` when a pull request's
failure also occurs on its base branch.

**Transient failures have no suspects.** When the diagnosis of the first red job calls the
failure transient (``transient`` true: network, registry, runner lost, ...), a re-run of the
same commit passes, so no commit caused it: the report lists the episode and the commits in
between, and ranks none of them (``suspects`` is empty, ``transient`` true).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cimedic.analysis.anomalies import commits_between, pr_of_message
from cimedic.model.anomalies import CommitInfo, TimelineEntry
from cimedic.model.ci import CommitRef, Conclusion
from cimedic.model.culprits import CulpritReport, FailureKey, JobOutcomeRef, Suspect

__all__ = [
    "BASE_PERIOD",
    "CATEGORY_HINTS",
    "FAILS_ON_BASE_FACTOR",
    "INTERMITTENT_FACTOR",
    "W_CATEGORY_HINT",
    "W_FIRST_RED_HEAD",
    "W_MENTIONS_FAILURE",
    "W_PR_FAILED_SAME",
    "Episode",
    "build_reports",
    "failure_episodes",
    "failure_tokens",
    "rank_suspects",
]

W_FIRST_RED_HEAD = 0.4
W_PR_FAILED_SAME = 0.3
W_MENTIONS_FAILURE = 0.2
W_CATEGORY_HINT = 0.1
INTERMITTENT_FACTOR = 0.5
FAILS_ON_BASE_FACTOR = 0.2
BASE_PERIOD = timedelta(hours=24)
"""How far around a pull request's red runs a red base-branch run with the same key counts as
"the same period" (Treeherder looks back 36 h of pushes to call a failure intermittent, field
notes; a day keeps the base branch's own episodes apart)."""

CATEGORY_HINTS: dict[str, re.Pattern[str]] = {
    "dependency": re.compile(
        r"\b(bump|deps?|dependenc\w*|upgrade|vendor|go\.(mod|sum)|go_modules|package(-lock)?\.json|"
        r"yarn\.lock|pnpm-lock|requirements|poetry|pom\.xml|gradle|cargo)\b",
        re.I,
    ),
    "compilation": re.compile(r"\b(refactor\w*|rename\w*|remove\w*|delete\w*|move\w*|api)\b", re.I),
    "type_check": re.compile(r"\b(refactor\w*|rename\w*|types?|typing|mypy|tsc)\b", re.I),
    "lint": re.compile(r"\b(lint\w*|fmt|format\w*|style|staticcheck|unused|vet)\b", re.I),
    "test": re.compile(r"\b(tests?|testing|spec|fixtures?)\b", re.I),
    "workflow_config": re.compile(r"(\.github/|\bworkflows?\b|\bci\b|\bactions?\b|\.ya?ml\b)", re.I),
    "secrets_env": re.compile(r"\b(secrets?|tokens?|env\w*|credentials?)\b", re.I),
    "permissions": re.compile(r"\b(permissions?|chmod|owner\w*|access)\b", re.I),
    "security_scan": re.compile(r"\b(cve-\d+|security|vuln\w*|scan\w*)\b", re.I),
}
"""Message keywords that fit a failure category (categories of :class:`cimedic.model.Category`;
infrastructure categories such as ``network`` have none: no commit causes them)."""

_TOKEN = re.compile(r"[A-Za-z0-9_][\w\-]*(?:[./][\w\-]+)+|\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+\w*|\bTest\w+")
_GENERIC = {"http", "https", "www", "github.com", "com", "org", "net", "io", "run", "error", "errors"}


@dataclass
class Episode:
    """One failure episode of one job on one branch (see the module docstring)."""

    key: FailureKey
    branch: str
    last_green: TimelineEntry | None
    first_red: TimelineEntry
    reds: list[TimelineEntry] = field(default_factory=list)
    fixed_by: TimelineEntry | None = None
    intermittent: bool = False

    @property
    def last_red(self) -> TimelineEntry:
        return self.reds[-1]

    @property
    def compare_pair(self) -> tuple[str, str] | None:
        """``(base, head)`` SHAs to ask the compare API for, ``None`` when there is nothing to ask."""
        if self.last_green is None or self.last_green.head_sha == self.first_red.head_sha:
            return None
        return self.last_green.head_sha, self.first_red.head_sha


def _key(e: TimelineEntry, cluster_of: Mapping[int, str] | None) -> FailureKey:
    job = e.job or ""
    cluster = cluster_of.get(e.job_id) if cluster_of is not None and e.job_id is not None else None
    if cluster:
        return FailureKey(workflow=e.workflow, job=job, cluster_id=cluster)
    return FailureKey(workflow=e.workflow, job=job, signature=e.signature)


def _ordered(entries: Iterable[TimelineEntry]) -> list[TimelineEntry]:
    return sorted(entries, key=lambda e: (e.created_at, e.run_attempt, e.job_id or 0, e.run_id))


def failure_episodes(
    outcomes: Iterable[TimelineEntry],
    *,
    branch: str | None = None,
    signature: str | None = None,
    cluster_of: Mapping[int, str] | None = None,
    cluster_id: str | None = None,
    job: str | None = None,
    since: datetime | None = None,
) -> list[Episode]:
    """Failure episodes of the job-level ``outcomes`` (entries with ``job`` set, steps ignored)
    on ``branch`` (``None``: every branch), oldest first.

    ``signature`` keeps the episodes of that diagnosis signature (a prefix of at least 6
    characters matches); ``cluster_of`` maps job ids to failure cluster ids (then the cluster
    is the key) and ``cluster_id`` keeps one cluster; ``job`` keeps one job name; ``since``
    keeps the episodes whose first red run was created at or after it."""
    timelines: dict[tuple[str | None, str, str], list[TimelineEntry]] = defaultdict(list)
    for e in outcomes:
        if e.job is None or e.step is not None or e.branch is None:
            continue
        if branch is not None and e.branch != branch:
            continue
        timelines[(e.workflow, e.job, e.branch)].append(e)
    found: list[Episode] = []
    for (_wf, _job, br), entries in timelines.items():
        ordered = _ordered(entries)
        green_shas = {e.head_sha for e in ordered if e.conclusion is Conclusion.SUCCESS}
        opened: dict[str, Episode] = {}
        last_green: TimelineEntry | None = None
        for e in ordered:
            if e.conclusion is Conclusion.SUCCESS:
                for closed in opened.values():
                    closed.fixed_by = e
                found.extend(opened.values())
                opened = {}
                last_green = e
            elif e.conclusion is not None and e.conclusion.is_failure:
                key = _key(e, cluster_of)
                current = opened.get(key.value)
                if current is None:
                    current = opened[key.value] = Episode(key, br, last_green, e)
                current.reds.append(e)
                current.intermittent = current.intermittent or e.head_sha in green_shas
        found.extend(opened.values())
    out = []
    for ep in found:
        k = ep.key
        if signature is not None and not (
            k.signature
            and (k.signature == signature or (len(signature) >= 6 and k.signature.startswith(signature)))
        ):
            continue
        if cluster_id is not None and k.cluster_id != cluster_id:
            continue
        if job is not None and k.job != job:
            continue
        if since is not None and ep.first_red.created_at < since:
            continue
        out.append(ep)
    out.sort(key=lambda ep: (ep.first_red.created_at, ep.key.value, ep.branch))
    return out


def failure_tokens(text: str | None) -> set[str]:
    """Names in a diagnosis text that a commit message may mention: paths and dotted names
    (``go.mod``, ``internal/cloud/backend.go``, ``com.acme.FooTest``), their last path component
    and the components that are file names, CamelCase identifiers and ``Test...`` names; lower
    case, at least 4 characters."""
    out: set[str] = set()
    for m in _TOKEN.finditer(text or ""):
        tok = m.group(0).strip("./-_").lower()
        parts = tok.split("/")
        for t in {tok, parts[-1], *(p for p in parts if "." in p)}:
            if len(t) >= 4 and t not in _GENERIC and not t.isdigit():
                out.add(t)
    return out


def rank_suspects(
    candidates: Sequence[CommitInfo],
    *,
    first_red_sha: str | None,
    failed_prs: set[int],
    tokens: set[str],
    category: str | None,
    factor: float = 1.0,
    extra_reasons: tuple[str, ...] = (),
) -> tuple[Suspect, ...]:
    """Score and rank ``candidates`` (module docstring: the weights). ``failed_prs`` are the pull
    requests whose own runs failed with the same key; ``tokens`` come from
    :func:`failure_tokens`; ``factor`` scales every score (intermittent, fails on base)."""
    if not candidates:
        return ()
    prior = 1.0 / len(candidates)
    hint = CATEGORY_HINTS.get(category or "")
    ranked: list[tuple[float, int, Suspect]] = []
    for pos, c in enumerate(candidates):
        score, reasons = prior, []
        if len(candidates) == 1:
            reasons.append("only_candidate")
        if first_red_sha is not None and c.sha == first_red_sha:
            score += W_FIRST_RED_HEAD
            reasons.append("first_red_head")
        if c.pr_number is not None and c.pr_number in failed_prs:
            score += W_PR_FAILED_SAME
            reasons.append("pr_failed_same")
        message = (c.message or "").lower()
        if tokens and any(t in message for t in tokens):
            score += W_MENTIONS_FAILURE
            reasons.append("mentions_failure")
        if hint is not None and hint.search(c.message or ""):
            score += W_CATEGORY_HINT
            reasons.append("category_hint")
        score = round(min(score, 1.0) * factor, 3)
        suspect = Suspect(
            sha=c.sha,
            message=c.message,
            author=c.author,
            pr_number=c.pr_number,
            score=score,
            reasons=(*reasons, *extra_reasons),
        )
        ranked.append((score, pos, suspect))
    ranked.sort(key=lambda t: (-t[0], -t[1]))
    return tuple(s for _, _, s in ranked)


def _ref(e: TimelineEntry | None) -> JobOutcomeRef | None:
    return None if e is None else _ref_of(e)


def _ref_of(e: TimelineEntry) -> JobOutcomeRef:
    return JobOutcomeRef(
        run_id=e.run_id,
        run_provider_id=e.run_provider_id,
        job_id=e.job_id,
        run_attempt=e.run_attempt,
        created_at=e.created_at,
        head_sha=e.head_sha,
        conclusion=e.conclusion,
        event=e.event,
        branch=e.branch,
        pr_number=e.pr_number,
    )


def _candidates(
    ep: Episode,
    runs: Sequence[TimelineEntry],
    commits: Mapping[str, CommitRef],
    compared: Sequence[CommitRef] | None,
) -> tuple[CommitInfo, ...]:
    red = ep.first_red
    if ep.last_green is not None and ep.last_green.head_sha == red.head_sha:
        return ()
    after = (
        ep.last_green.created_at if ep.last_green is not None else red.created_at - timedelta(microseconds=1)
    )
    stored = commits_between(
        runs, commits, after=after, upto=red.created_at, repository=red.repository, branch=ep.branch
    )
    if ep.last_green is not None:  # its head passed: not a candidate (other workflows may run it later)
        stored = tuple(c for c in stored if c.sha != ep.last_green.head_sha)
    if not any(c.sha == red.head_sha for c in stored):  # the run-level entry may be missing
        stored = (*stored, *commits_between([_as_run(red)], commits, after=None, upto=red.created_at,
                                            repository=red.repository))  # fmt: skip
    if not compared:
        return stored
    by_sha = {c.sha: c for c in stored}
    out: list[CommitInfo] = []
    for ref in compared:
        known = by_sha.pop(ref.sha, None)
        if known is not None:
            out.append(known)
            continue
        base = commits.get(ref.sha)
        out.append(
            CommitInfo(
                sha=ref.sha,
                message=ref.message or (base.message if base else None),
                author=ref.author or (base.author if base else None),
                timestamp=ref.timestamp,
                pr_number=pr_of_message(ref.message),
                source="compare_api",
            )
        )
    return (*out, *by_sha.values())


def _as_run(e: TimelineEntry) -> TimelineEntry:
    return TimelineEntry(
        repository=e.repository, run_id=e.run_id, created_at=e.created_at, head_sha=e.head_sha,
        workflow=e.workflow, branch=e.branch, event=e.event, conclusion=e.conclusion,
        pr_number=e.pr_number, pr_base=e.pr_base, run_provider_id=e.run_provider_id,
    )  # fmt: skip


def _same_key(e: TimelineEntry, key: FailureKey, cluster_of: Mapping[int, str] | None) -> bool:
    return (
        e.job == key.job
        and e.workflow == key.workflow
        and e.conclusion is not None
        and e.conclusion.is_failure
        and _key(e, cluster_of).value == key.value
    )


def _merged_from(message: str | None, pr: int | None) -> bool:
    """A merge (``Merge pull request #N ...``) or squash (``Title (#N)``) commit of pull request ``pr``."""
    if pr is None or not message:
        return False
    return pr_of_message(message) == pr


def _base_red(
    ep: Episode,
    outcomes: Sequence[TimelineEntry],
    commits: Mapping[str, CommitRef],
    cluster_of: Mapping[int, str] | None,
) -> TimelineEntry | None:
    """A red base-branch run with the same key in the same period (within :data:`BASE_PERIOD` of
    the pull request's red runs, and not after the pull request itself landed on the base), or
    the base branch's red state covering the pull request's first red run."""
    red, pr = ep.first_red, ep.first_red.pr_number
    lo, hi = red.created_at - BASE_PERIOD, ep.last_red.created_at + BASE_PERIOD
    on_base = _ordered(
        e
        for e in outcomes
        if e.branch == red.pr_base and e.job == ep.key.job and e.workflow == ep.key.workflow
    )
    landed = next(
        (e.created_at for e in on_base if e.created_at >= red.created_at
         and _merged_from(commits[e.head_sha].message if e.head_sha in commits else None, pr)),
        None,
    )  # fmt: skip
    reds = [
        e
        for e in on_base
        if _same_key(e, ep.key, cluster_of)
        and lo <= e.created_at <= hi
        and (landed is None or e.created_at < landed)
    ]
    if reds:
        return min(reds, key=lambda e: abs((e.created_at - red.created_at).total_seconds()))
    decisive = [
        e
        for e in on_base
        if e.created_at <= red.created_at
        and e.conclusion is not None
        and (e.conclusion is Conclusion.SUCCESS or e.conclusion.is_failure)
    ]
    if decisive and _same_key(decisive[-1], ep.key, cluster_of):
        return decisive[-1]
    return None


def build_reports(
    episodes: Iterable[Episode],
    outcomes: Sequence[TimelineEntry],
    runs: Sequence[TimelineEntry],
    commits: Mapping[str, CommitRef],
    *,
    compared: Mapping[tuple[str, str], Sequence[CommitRef]] | None = None,
    compare_errors: Mapping[tuple[str, str], str] | None = None,
    cluster_of: Mapping[int, str] | None = None,
) -> list[CulpritReport]:
    """One :class:`CulpritReport` per episode (same order). ``outcomes`` are the job-level
    entries of the repository (every branch: the pull requests' own runs and the base branch
    are looked up there), ``runs`` its run-level entries, ``commits`` sha → stored commit;
    ``compared`` maps :attr:`Episode.compare_pair` to the commits the compare API returned
    (oldest first) and ``compare_errors`` to why it could not be asked."""
    compared = compared or {}
    compare_errors = compare_errors or {}
    reports = []
    for ep in episodes:
        red = ep.first_red
        pair = ep.compare_pair
        cands = _candidates(ep, runs, commits, compared.get(pair) if pair else None)
        failed_prs = {
            e.pr_number for e in outcomes if e.pr_number is not None and e.event == "pull_request"
            and _same_key(e, ep.key, cluster_of) and e.created_at <= red.created_at
        }  # fmt: skip
        is_pr = red.event == "pull_request" or (red.pr_number is not None and red.branch != red.pr_base)
        base_red = _base_red(ep, outcomes, commits, cluster_of) if is_pr and red.pr_base else None
        also_on_base = (base_red is not None) if is_pr and red.pr_base else None
        factor, extra = 1.0, []
        if ep.intermittent:
            factor *= INTERMITTENT_FACTOR
            extra.append("failure_is_intermittent")
        if also_on_base:
            factor *= FAILS_ON_BASE_FACTOR
            extra.append("fails_on_base")
        # a transient failure (network, registry, runner lost, ...) passes when the same commit
        # is re-run, so no commit caused it: it has no suspects (the commits are still listed)
        suspects = (
            ()
            if red.transient
            else rank_suspects(
                cands,
                first_red_sha=red.head_sha,
                failed_prs={p for p in failed_prs if p is not None and p != red.pr_number},
                tokens=failure_tokens(" ".join(filter(None, (red.summary, red.cause_id)))),
                category=red.category,
                factor=factor,
                extra_reasons=tuple(extra),
            )
        )
        reports.append(
            CulpritReport(
                repository=red.repository,
                branch=ep.branch,
                key=ep.key,
                category=red.category,
                summary=red.summary,
                last_green=_ref(ep.last_green),
                first_red=_ref_of(red),
                last_red=_ref_of(ep.last_red),
                red_runs=len({e.run_id for e in ep.reds}),
                fixed_by=_ref(ep.fixed_by),
                ongoing=ep.fixed_by is None,
                commits=cands,
                compare_used=pair is not None and pair in compared,
                compare_error=compare_errors.get(pair) if pair else None,
                suspects=suspects,
                intermittent=ep.intermittent,
                transient=red.transient,
                is_pull_request=is_pr,
                pr_number=red.pr_number if is_pr else None,
                base_branch=red.pr_base if is_pr else None,
                also_fails_on_base=also_on_base,
                base_red=_ref(base_red),
                pr_not_cause=bool(also_on_base),
            )
        )
    return reports
