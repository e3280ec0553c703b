"""``GitHubClient.compare_commits`` (REST "Compare two commits") against the GitHub replay of the
demo history, and ``map_compare`` on the documented shape and on malformed answers."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

import cimedic.connectors.github_actions.client as client_mod
from cimedic.connectors.github_actions.auth import TokenAuth
from cimedic.connectors.github_actions.client import GitHubClient
from cimedic.connectors.github_actions.http import GitHubError
from cimedic.connectors.github_actions.mapping import MappingError, map_compare
from cimedic.testing import replay_objects as obj
from cimedic.testing.demo_history import build_demo_history
from cimedic.testing.demo_model import DemoHistory, DemoRun
from cimedic.testing.github_replay import GitHubReplay

TOKEN = "ghp_comparetoken"
NOW = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def history() -> DemoHistory:
    return build_demo_history(now=NOW)


def _client(replay: GitHubReplay) -> GitHubClient:
    return GitHubClient(
        httpx.Client(transport=replay.transport()), auth=TokenAuth(TOKEN), sleep=lambda _s: None
    )


def _main_line(h: DemoHistory) -> list[DemoRun]:
    seen: dict[str, DemoRun] = {}
    for r in sorted(h.runs, key=lambda r: (r.head_commit.timestamp, r.head_sha)):
        if r.head_branch == "main":
            seen.setdefault(r.head_sha, r)
    return list(seen.values())


def test_compare_lists_the_commits_between_oldest_first(history: DemoHistory) -> None:
    replay = GitHubReplay(history, token=TOKEN)
    line = _main_line(history)
    repo = history.repos[0].full_name
    got = _client(replay).compare_commits(repo, line[3].head_sha, line[9].head_sha)
    assert [c.sha for c in got] == [r.head_sha for r in line[4:10]]
    first = line[4].head_commit
    assert got[0].message == first.message and got[0].author == first.author.name
    assert got[0].timestamp == first.timestamp
    assert replay.requests[-1][1].startswith(f"/repos/{repo}/compare/{line[3].head_sha}...{line[9].head_sha}")
    # the next commit only, as between the last green and the first red run of a job
    (one,) = _client(replay).compare_commits(repo, line[6].head_sha[:12], line[7].head_sha)
    assert one.sha == line[7].head_sha
    assert _client(replay).compare_commits(repo, line[7].head_sha, line[7].head_sha) == []


def test_compare_follows_pages_up_to_max_pages(history: DemoHistory, monkeypatch: pytest.MonkeyPatch) -> None:
    replay = GitHubReplay(history, token=TOKEN)
    line = _main_line(history)
    repo = history.repos[0].full_name
    monkeypatch.setattr(client_mod, "PER_PAGE", 5)
    every = _client(replay).compare_commits(repo, line[0].head_sha, line[-1].head_sha, max_pages=20)
    assert [c.sha for c in every] == [r.head_sha for r in line[1:]]
    assert len(every) > 10
    capped = _client(replay).compare_commits(repo, line[0].head_sha, line[-1].head_sha, max_pages=2)
    assert capped == every[:10]


def test_compare_of_a_pull_request_branch_diverges(history: DemoHistory) -> None:
    replay = GitHubReplay(history, token=TOKEN)
    pr = next(p for p in history.pull_requests if len(p.head_shas) >= 2)
    repo = history.repos[0].full_name
    base = _main_line(history)[0].head_sha
    got = _client(replay).compare_commits(repo, base, pr.head_shas[-1])
    assert [c.sha for c in got] == pr.head_shas
    answer = httpx.Client(transport=replay.transport()).get(
        f"https://api.github.com/repos/{repo}/compare/{base}...{pr.head_shas[-1]}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    body = answer.json()
    assert body["status"] == "diverged" and body["total_commits"] == len(body["commits"])
    assert {"base_commit", "merge_base_commit", "ahead_by", "behind_by", "files", "html_url"} <= set(body)


def test_unknown_commit_is_a_404(history: DemoHistory) -> None:
    replay = GitHubReplay(history, token=TOKEN)
    repo = history.repos[0].full_name
    with pytest.raises(GitHubError) as err:
        _client(replay).compare_commits(repo, "0" * 40, _main_line(history)[1].head_sha)
    assert err.value.status == 404


def test_map_compare_reads_the_documented_shape_and_rejects_malformed(history: DemoHistory) -> None:
    repo = history.repos[0]
    line = _main_line(history)
    commits = [obj.commit(r.head_commit, None, repo) for r in line[:2]]
    body = obj.comparison(commits[0], commits[0], commits, status="ahead", ahead_by=2, behind_by=0,
                          basehead="a...b", repo=repo)  # fmt: skip
    got = map_compare(body)
    assert [c.sha for c in got] == [r.head_sha for r in line[:2]]
    body["commits"][1]["commit"]["author"] = None  # GitHub sends null for unknown git authors
    body["commits"][1]["author"] = {"login": "octocat", "id": 1}
    assert map_compare(body)[1].author == "octocat" and map_compare(body)[1].timestamp is None
    with pytest.raises(MappingError, match="commits"):
        map_compare({"status": "ahead"})
    broken = {"commits": [{"sha": 12, "commit": {}}]}
    with pytest.raises(MappingError, match=r"commits\[0\]"):
        map_compare(broken)
