"""Culprit analysis on crafted histories: last green and first red of a job, the commits between
them (stored runs and the compare API), ranked suspects, and pull requests whose failure also
occurs on the base branch (then the pull request is not the cause)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cimedic.analysis.culprits import build_reports, failure_episodes, failure_tokens
from cimedic.model.anomalies import TimelineEntry
from cimedic.model.ci import CommitRef, Conclusion

T0 = datetime(2026, 3, 1, tzinfo=UTC)
REPO = "octo/app"
SIG = "e8584dd7b2aa0c6f1fd7b1b7a0d5c9e1"
OK, RED = Conclusion.SUCCESS, Conclusion.FAILURE


class History:
    """A tiny history: one workflow ``CI`` with one job ``lint``; each push is one run."""

    def __init__(self) -> None:
        self.runs: list[TimelineEntry] = []
        self.jobs: list[TimelineEntry] = []
        self.commits: dict[str, CommitRef] = {}

    def push(
        self,
        hour: float,
        sha: str,
        outcome: Conclusion,
        *,
        message: str = "",
        branch: str = "main",
        pr: int | None = None,
        signature: str | None = SIG,
        attempt: int = 1,
        summary: str = "ERROR: go.mod/go.sum are not up-to-date. Run 'go mod tidy'",
        category: str = "dependency",
    ) -> None:
        run_id = len(self.runs) + 1
        when = T0 + timedelta(hours=hour)
        event = "pull_request" if pr is not None else "push"
        base = "main" if pr is not None else None
        self.commits.setdefault(sha, CommitRef(sha=sha, message=message or f"commit {sha}", author="Ann"))
        self.runs.append(
            TimelineEntry(
                REPO, run_id, when, sha, "CI", branch, event, outcome, attempt, pr_number=pr, pr_base=base
            )
        )
        red = outcome.is_failure
        self.jobs.append(
            TimelineEntry(
                REPO, run_id, when, sha, "CI", branch, event, outcome, attempt, job="lint", job_id=100 + run_id,
                signature=signature if red else None, category=category if red else None,
                summary=summary if red else None, pr_number=pr, pr_base=base,
            )
        )  # fmt: skip

    def reports(self, **kw):  # type: ignore[no-untyped-def]
        compared = kw.pop("compared", None)
        episodes = failure_episodes(self.jobs, **kw)
        return build_reports(episodes, self.jobs, self.runs, self.commits, compared=compared)


def _main_history() -> History:
    h = History()
    h.push(1, "a1", OK)
    h.push(2, "a2", OK)
    h.push(3, "a3", OK, message="Update CHANGELOG.md")
    h.push(
        4,
        "b1",
        RED,
        message="Merge pull request #7 from octo/deps\n\nbuild(deps): bump github.com/acme/tfe to 1.2.0",
    )
    h.push(5, "b2", RED, message="website: fix a link")
    h.push(6, "b3", RED, message="Update CHANGELOG.md")
    h.push(7, "c1", OK, message="go mod tidy")
    h.push(8, "c2", OK)
    return h


def test_last_green_first_red_and_the_commit_between() -> None:
    (r,) = _main_history().reports(branch="main")
    assert r.last_green is not None and r.last_green.head_sha == "a3" and r.last_green.run_id == 3
    assert r.first_red.head_sha == "b1" and r.last_red.head_sha == "b3" and r.red_runs == 3
    assert r.fixed_by is not None and r.fixed_by.head_sha == "c1" and not r.ongoing
    assert [c.sha for c in r.commits] == ["b1"] and r.commits[0].pr_number == 7
    (top,) = r.suspects
    assert top.sha == "b1" and top.score == 1.0
    assert {"only_candidate", "first_red_head", "category_hint"} <= set(top.reasons)
    assert r.key.signature == SIG and r.key.job == "lint" and r.key.value == f"sig:{SIG}"
    assert not r.is_pull_request and r.also_fails_on_base is None and not r.pr_not_cause
    assert not r.intermittent and r.category == "dependency"


def test_several_commits_between_are_ranked() -> None:
    h = History()
    h.push(1, "a1", OK)
    h.push(2, "d1", Conclusion.CANCELLED, message="docs: typo")  # no verdict: between green and red
    h.push(3, "d2", Conclusion.CANCELLED, message="bump go.mod dependencies")
    h.push(4, "d3", RED, message="Update README")
    (r,) = h.reports(branch="main")
    assert [c.sha for c in r.commits] == ["d1", "d2", "d3"] and r.ongoing
    ranked = [s.sha for s in r.suspects]
    assert ranked[0] == "d3" and ranked[1] == "d2"  # first red head, then the one naming go.mod
    by_sha = {s.sha: s for s in r.suspects}
    assert "mentions_failure" in by_sha["d2"].reasons and "category_hint" in by_sha["d2"].reasons
    assert by_sha["d1"].reasons == () and by_sha["d1"].score < by_sha["d2"].score


def test_compare_api_commits_fill_the_gap() -> None:
    h = History()
    h.push(1, "a1", OK)
    h.push(2, "z9", RED, message="Merge branch 'feature'")
    episodes = failure_episodes(h.jobs, branch="main")
    assert episodes[0].compare_pair == ("a1", "z9")
    compared = {
        ("a1", "z9"): [
            CommitRef(sha="x1", message="cloud: read TF_CLOUD_ORGANIZATION", author="Bob"),
            CommitRef(sha="x2", message="go.sum: tidy after bump", author="Eve"),
            CommitRef(sha="z9", message="Merge branch 'feature'", author="Ann"),
        ]
    }
    (r,) = h.reports(branch="main", compared=compared)
    assert r.compare_used and [c.sha for c in r.commits] == ["x1", "x2", "z9"]
    assert [c.source for c in r.commits] == ["compare_api", "compare_api", "stored_run"]
    assert r.suspects[0].sha == "z9" and r.suspects[1].sha == "x2"


def test_pr_failure_also_on_base_is_not_caused_by_the_pr() -> None:
    h = _main_history()
    h.push(4.5, "p1", RED, branch="cloud-env-org", pr=9, message="cloud: read the org from env")
    h.push(8.5, "p2", OK, branch="cloud-env-org", pr=9, message="Rebase")
    reports = h.reports()
    pr = next(r for r in reports if r.branch == "cloud-env-org")
    assert pr.is_pull_request and pr.pr_number == 9 and pr.base_branch == "main"
    assert pr.also_fails_on_base is True and pr.pr_not_cause
    assert pr.base_red is not None and pr.base_red.branch == "main" and pr.base_red.head_sha in {"b1", "b2"}
    assert all("fails_on_base" in s.reasons and s.score <= 0.2 for s in pr.suspects)
    main = next(r for r in reports if r.branch == "main")
    assert main.suspects[0].sha == "b1" and not main.pr_not_cause


def test_pr_failure_only_on_the_pr_is_the_prs_and_marks_its_merge_suspect() -> None:
    h = History()
    h.push(1, "a1", OK)
    h.push(
        2, "p1", RED, branch="feat", pr=5, message="feat: new lint rule", signature="f" * 32, category="lint"
    )
    h.push(3, "a2", OK)
    h.push(4, "m1", RED, message="Merge pull request #5 from octo/feat\n\nfeat: new lint rule", signature="f" * 32,
           category="lint")  # fmt: skip
    reports = h.reports()
    pr = next(r for r in reports if r.branch == "feat")
    assert pr.also_fails_on_base is False and not pr.pr_not_cause
    assert pr.suspects[0].sha == "p1" and pr.suspects[0].score == 1.0
    main = next(r for r in reports if r.branch == "main")
    assert "pr_failed_same" in main.suspects[0].reasons and main.suspects[0].pr_number == 5


def test_rerun_green_on_the_same_commit_is_intermittent() -> None:
    h = History()
    h.push(1, "a1", OK)
    h.push(2, "a2", RED, signature="1" * 32, category="network", summary="dial tcp: i/o timeout")
    h.push(2.5, "a2", OK, attempt=2)
    (r,) = h.reports(branch="main")
    assert r.intermittent and r.fixed_by is not None and r.fixed_by.run_attempt == 2
    assert r.suspects[0].sha == "a2" and "failure_is_intermittent" in r.suspects[0].reasons
    assert r.suspects[0].score == 0.5


def test_same_commit_green_then_red_has_no_commits_between() -> None:
    h = History()
    h.push(1, "a1", OK)
    h.push(2, "a1", RED)
    (r,) = h.reports(branch="main")
    assert r.commits == () and r.suspects == () and r.intermittent
    assert failure_episodes(h.jobs)[0].compare_pair is None


def test_filters_and_cluster_keys() -> None:
    h = _main_history()
    h.push(9, "c3", RED, signature="9" * 32)
    assert len(h.reports(branch="main")) == 2
    assert len(h.reports(branch="main", signature=SIG[:8])) == 1
    assert h.reports(branch="main", signature="nope") == []
    assert len(h.reports(branch="main", since=T0 + timedelta(hours=8))) == 1
    clusters = {j.job_id: "C1" for j in h.jobs if j.job_id is not None}
    eps = failure_episodes(h.jobs, branch="main", cluster_of=clusters)
    assert [e.key.value for e in eps] == ["cluster:C1", "cluster:C1"]
    assert len(failure_episodes(h.jobs, branch="main", cluster_of=clusters, cluster_id="C2")) == 0
    unsigned = History()
    unsigned.push(1, "a1", OK)
    unsigned.push(2, "a2", RED, signature=None)
    (r,) = unsigned.reports()
    assert r.key.value == "job:lint"


def test_failure_tokens() -> None:
    toks = failure_tokens(
        "ERROR: go.mod/go.sum are not up-to-date in internal/cloud/backend.go; TestCloud_configWithEnvVars"
    )
    assert {
        "go.mod",
        "go.sum",
        "backend.go",
        "internal/cloud/backend.go",
        "testcloud_configwithenvvars",
    } <= toks
    assert "error" not in toks and failure_tokens(None) == set()
