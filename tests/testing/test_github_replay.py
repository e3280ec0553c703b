"""The GitHub replay answers like api.github.com: object shapes (checked against the OpenAPI
description's required keys), pagination ``Link`` headers, the 1,000-result cap of filtered run
listings, ETag/304, the primary rate limit, 302s to short-lived blob URLs that need no token,
401/404 bodies, injected faults, and the same behaviour over real loopback HTTP.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cimedic.testing.demo_history import DemoHistory, build_demo_history
from cimedic.testing.github_replay import SECONDARY_RATE_LIMIT, GitHubReplay, webhook_deliveries
from cimedic.testing.replay_objects import template

pytestmark = pytest.mark.timeout(60)  # the replay on loopback

NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
TOKEN = "ghp_replay0000000000000000000000000000"
REPO = "/repos/hashicorp-demo/terraform"
_SUBSET = "data/github/rest_openapi_actions_subset/api.github.com.actions-checks-statuses.openapi.json"
# The team's shared data: /work/shared on a workstation, ../shared beside a CI clone.
OPENAPI = next(
    (
        p
        for p in (Path("/work/shared") / _SUBSET, Path(__file__).resolve().parents[3] / "shared" / _SUBSET)
        if p.exists()
    ),
    Path("/work/shared") / _SUBSET,
)


class Clock:
    """A settable epoch clock (seconds)."""

    def __init__(self) -> None:
        self.now = NOW.timestamp() + 600

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def history() -> DemoHistory:
    return build_demo_history(now=NOW)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def replay(history: DemoHistory, clock: Clock) -> GitHubReplay:
    return GitHubReplay(build_demo_history(now=NOW), token=TOKEN, clock=clock)


@pytest.fixture
def gh(replay: GitHubReplay) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.github+json"}
    with httpx.Client(
        transport=replay.transport(), base_url="https://api.github.com", headers=headers
    ) as client:
        yield client


def _links(resp: httpx.Response) -> dict[str, str]:
    return {m[2]: m[1] for m in re.finditer(r'<([^>]+)>; rel="(\w+)"', resp.headers.get("link", ""))}


# -- shapes --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    if not OPENAPI.exists():
        pytest.skip(f"{OPENAPI} not present: the OpenAPI description lives in the team's shared data")
    schemas: dict[str, Any] = json.loads(OPENAPI.read_text())["components"]["schemas"]
    return schemas


_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "array": list,
    "object": dict,
    "number": (int, float),
}


def _check(obj: dict[str, Any], schema: dict[str, Any], where: str) -> None:
    missing = [k for k in schema.get("required", []) if k not in obj]
    assert not missing, f"{where}: missing required keys {missing}"
    for key, prop in schema.get("properties", {}).items():
        if key in obj and "type" in prop:
            value = obj[key]
            assert (value is None and prop.get("nullable")) or isinstance(value, _JSON_TYPES[prop["type"]]), (
                f"{where}.{key}: {value!r} is not {prop['type']}"
            )


def test_objects_have_the_openapi_required_keys(
    gh: httpx.Client, history: DemoHistory, schemas: dict[str, Any]
) -> None:
    runs = gh.get(f"{REPO}/actions/runs", params={"per_page": 100}).json()["workflow_runs"]
    rerun = next(r for r in history.runs if r.run_attempt == 2)
    runs.append(gh.get(f"{REPO}/actions/runs/{rerun.id}/attempts/1").json())
    assert any(r["pull_requests"] for r in runs)
    for run in runs:
        _check(run, schemas["workflow-run"], f"run {run['id']}")
        _check(run["head_commit"], schemas["simple-commit"], "head_commit")
        _check(run["repository"], schemas["minimal-repository"], "repository")
        for pr in run["pull_requests"]:
            _check(pr, schemas["pull-request-minimal"], "pull_requests[]")
    jobs = gh.get(f"{REPO}/actions/runs/{rerun.id}/jobs", params={"filter": "all"}).json()["jobs"]
    for job in jobs:
        _check(job, schemas["job"], f"job {job['id']}")
    art = history.artifacts[0]
    for a in gh.get(f"{REPO}/actions/runs/{art.run_id}/artifacts").json()["artifacts"]:
        _check(a, schemas["artifact"], "artifact")
    for w in gh.get(f"{REPO}/actions/workflows").json()["workflows"]:
        _check(w, schemas["workflow"], "workflow")


def test_objects_keep_the_template_keys(gh: httpx.Client, history: DemoHistory) -> None:
    run = gh.get(f"{REPO}/actions/runs/{history.runs[0].id}").json()
    assert list(run) == list(template("actions__get-workflow-run.200.default.json"))
    job = gh.get(f"{REPO}/actions/jobs/{history.jobs[0].id}").json()
    assert set(job) == set(template("actions__get-job-for-workflow-run.200.default.json")) | {
        "run_attempt",
        "created_at",
    }
    repo = gh.get(REPO).json()
    assert set(repo) == set(template("octokit.get-repository.exchange.json")["response"])
    assert repo["full_name"] == "hashicorp-demo/terraform" and repo["default_branch"] == "main"
    assert (
        "octocat" not in json.dumps(run)
        and "Hello-World" not in json.dumps(run)
        and "octo-org" not in json.dumps(run)
    )


def test_run_and_job_values(gh: httpx.Client, history: DemoHistory) -> None:
    run = next(r for r in history.runs if r.event == "pull_request")
    body = gh.get(f"{REPO}/actions/runs/{run.id}").json()
    assert (
        body["head_sha"] == run.head_sha and body["pull_requests"][0]["number"] == run.pull_requests[0].number
    )
    assert body["created_at"] == run.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["jobs_url"] == f"https://api.github.com{REPO}/actions/runs/{run.id}/jobs"
    job = gh.get(body["jobs_url"]).json()["jobs"][0]
    assert job["run_id"] == run.id and job["steps"][0]["number"] == 1 and job["labels"] == ["ubuntu-latest"]


# -- listings ------------------------------------------------------------------------------
def test_pagination_links_like_github(gh: httpx.Client, history: DemoHistory) -> None:
    first = gh.get(f"{REPO}/actions/runs", params={"per_page": 10})
    total = first.json()["total_count"]
    assert total == len(history.runs)
    last = -(-total // 10)
    base = f"https://api.github.com/repositories/{history.repos[0].id}/actions/runs"
    assert first.headers["link"] == (
        f'<{base}?per_page=10&page=2>; rel="next", <{base}?per_page=10&page={last}>; rel="last"'
    )
    second = gh.get(_links(first)["next"])
    assert list(_links(second)) == ["prev", "next", "last", "first"]
    seen, url = [], f"{REPO}/actions/runs?per_page=10"
    while url:
        resp = gh.get(url)
        assert resp.status_code == 200
        seen += resp.json()["workflow_runs"]
        url = _links(resp).get("next", "")
    assert len(seen) == total == len({r["id"] for r in seen})
    created = [(r["created_at"], r["id"]) for r in seen]
    assert created == sorted(created, reverse=True)
    assert len(gh.get(f"{REPO}/actions/runs", params={"per_page": 500}).json()["workflow_runs"]) == 100
    assert len(gh.get(f"{REPO}/actions/runs").json()["workflow_runs"]) == 30


def test_filters(gh: httpx.Client, history: DemoHistory) -> None:
    def ids(**params: str) -> set[int]:
        resp = gh.get(f"{REPO}/actions/runs", params={"per_page": "100", **params})
        assert resp.status_code == 200, resp.text
        assert resp.json()["total_count"] <= 100
        return {r["id"] for r in resp.json()["workflow_runs"]}

    runs = history.runs
    assert ids(branch="main") == {r.id for r in runs if r.head_branch == "main"}
    assert ids(event="pull_request") == {r.id for r in runs if r.event == "pull_request"}
    assert ids(status="failure") == {r.id for r in runs if r.conclusion == "failure"}
    assert ids(status="cancelled") == {r.id for r in runs if r.conclusion == "cancelled"}
    sha = runs[5].head_sha
    assert ids(head_sha=sha) == {r.id for r in runs if r.head_sha == sha}
    day = (NOW - timedelta(days=3)).date()
    on_day = {r.id for r in runs if r.created_at.date() == day}
    assert on_day and ids(created=day.isoformat()) == on_day
    after = {r.id for r in runs if r.created_at.date() >= day}
    assert ids(created=f">={day}") == after and ids(created=f"{day}..*") == after
    assert ids(created=f">{day}") == {r.id for r in runs if r.created_at.date() > day}
    assert ids(created=f"<{day}", branch="main") == {
        r.id for r in runs if r.created_at.date() < day and r.head_branch == "main"
    }
    lo, hi = NOW - timedelta(days=2, hours=5), NOW - timedelta(days=1)
    window = f"{lo:%Y-%m-%dT%H:%M:%SZ}..{hi:%Y-%m-%dT%H:%M:%SZ}"
    assert ids(created=window) == {r.id for r in runs if lo <= r.created_at <= hi}
    bad = gh.get(f"{REPO}/actions/runs", params={"created": "yesterday"})
    assert bad.status_code == 422 and bad.json()["message"] == "Validation Failed"
    wf = gh.get(f"{REPO}/actions/workflows/checks.yml/runs", params={"per_page": 100}).json()
    assert {r["name"] for r in wf["workflow_runs"]} == {"Quick Checks"}
    wf_id = history.workflows[0].id
    by_id = gh.get(f"{REPO}/actions/workflows/{wf_id}/runs", params={"per_page": 100}).json()
    assert by_id["total_count"] == wf["total_count"]


def test_filtered_listing_is_capped_at_1000_results(gh: httpx.Client) -> None:
    capped = gh.get(f"{REPO}/actions/runs", params={"branch": "main", "per_page": 100, "page": 11})
    assert capped.status_code == 422
    assert capped.json() == {
        "message": "Only the first 1000 results are available.",
        "documentation_url": "https://docs.github.com/v3/#pagination",
        "status": "422",
    }
    assert (
        gh.get(f"{REPO}/actions/runs", params={"branch": "main", "per_page": 100, "page": 10}).status_code
        == 200
    )
    unfiltered = gh.get(f"{REPO}/actions/runs", params={"per_page": 100, "page": 11})
    assert unfiltered.status_code == 200 and unfiltered.json()["workflow_runs"] == []


def test_jobs_of_attempts(gh: httpx.Client, history: DemoHistory) -> None:
    run = next(r for r in history.runs if r.run_attempt == 2)
    latest = gh.get(f"{REPO}/actions/runs/{run.id}/jobs").json()
    every = gh.get(f"{REPO}/actions/runs/{run.id}/jobs", params={"filter": "all"}).json()
    assert {j["run_attempt"] for j in latest["jobs"]} == {2}
    assert {j["run_attempt"] for j in every["jobs"]} == {1, 2}
    assert every["total_count"] == len(every["jobs"]) == 2 * latest["total_count"]
    one = gh.get(f"{REPO}/actions/runs/{run.id}/attempts/1/jobs").json()
    assert {j["run_attempt"] for j in one["jobs"]} == {1} and any(
        j["conclusion"] == "failure" for j in one["jobs"]
    )
    att1 = gh.get(f"{REPO}/actions/runs/{run.id}/attempts/1").json()
    att2 = gh.get(f"{REPO}/actions/runs/{run.id}").json()
    assert (att1["run_attempt"], att1["conclusion"], att1["previous_attempt_url"]) == (1, "failure", None)
    assert (att2["run_attempt"], att2["conclusion"]) == (2, "success")
    assert att2["previous_attempt_url"].endswith(f"/actions/runs/{run.id}/attempts/1")
    assert att1["head_sha"] == att2["head_sha"]
    assert gh.get(f"{REPO}/actions/runs/{run.id}/attempts/3").status_code == 404
    page = gh.get(f"{REPO}/actions/runs/{run.id}/jobs", params={"filter": "all", "per_page": 1})
    assert len(page.json()["jobs"]) == 1 and "next" in _links(page)


def test_commit_pulls(gh: httpx.Client, history: DemoHistory) -> None:
    merged = next(p for p in history.pull_requests if p.merge_commit_sha)
    for sha in (merged.head_shas[0], merged.merge_commit_sha):
        (pr,) = gh.get(f"{REPO}/commits/{sha}/pulls").json()
        assert pr["number"] == merged.number and pr["state"] == "closed" and pr["merged_at"]
        assert pr["head"]["ref"] == merged.head_ref and pr["base"]["ref"] == "main"
    assert gh.get(f"{REPO}/commits/{'0' * 40}/pulls").status_code == 422
    every = "".join(gh.get(f"{REPO}/commits/{p.head_sha}/pulls").text for p in history.pull_requests)
    _assert_no_template_identity(every)


def _assert_no_template_identity(text: str) -> None:
    """The example accounts and repositories of GitHub's templates are all rewritten."""
    for name in ("octocat", "Codertocat", "octo-org", "Hello-World", "octokit-fixture-org", "Matthias"):
        assert name not in text


# -- conditional requests and the rate limit -----------------------------------------------
def test_etag_304_does_not_count(gh: httpx.Client, replay: GitHubReplay) -> None:
    first = gh.get(f"{REPO}/actions/runs")
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{64}"', etag)
    remaining = int(first.headers["x-ratelimit-remaining"])
    again = gh.get(f"{REPO}/actions/runs", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert int(again.headers["x-ratelimit-remaining"]) == remaining == replay.rate_remaining
    assert gh.get(f"{REPO}/actions/runs", headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    replay.mutate_add_run("Quick Checks")
    changed = gh.get(f"{REPO}/actions/runs", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert int(changed.headers["x-ratelimit-remaining"]) == remaining - 1
    assert changed.json()["workflow_runs"][0]["id"] == replay.history.runs[-1].id


def test_primary_rate_limit(history: DemoHistory, clock: Clock) -> None:
    replay = GitHubReplay(history, rate_limit=3, clock=clock)
    client = httpx.Client(transport=replay.transport(), base_url="https://api.github.com")
    answers = [client.get(f"{REPO}/actions/workflows") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 403]
    assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert (
        answers[0].headers["x-ratelimit-limit"] == "3"
        and answers[0].headers["x-ratelimit-resource"] == "core"
    )
    assert answers[3].json()["message"].startswith("API rate limit exceeded for ")
    reset = int(answers[3].headers["x-ratelimit-reset"])
    assert reset > clock.now
    clock.now = reset + 1
    assert client.get(f"{REPO}/actions/workflows").status_code == 200


def test_headers_are_githubs(gh: httpx.Client) -> None:
    resp = gh.get(REPO, headers={"X-GitHub-Api-Version": "2022-11-28"})
    h = resp.headers
    assert h["content-type"] == "application/json; charset=utf-8" and h["server"] == "GitHub.com"
    assert h["x-github-api-version-selected"] == "2022-11-28"
    assert re.fullmatch(r"[0-9A-F]{4}:[0-9A-F]{4}:[0-9A-F]+:[0-9A-F]+:[0-9A-F]+", h["x-github-request-id"])
    for name in (
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-used",
        "etag",
        "date",
    ):
        assert name in h
    assert "ETag, Link, Location, Retry-After" in h["access-control-expose-headers"]


# -- auth and errors -----------------------------------------------------------------------
def test_auth_and_not_found(replay: GitHubReplay) -> None:
    client = httpx.Client(transport=replay.transport(), base_url="https://api.github.com")
    assert client.get(REPO).status_code == 401
    bad = client.get(REPO, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    assert client.get(REPO, headers={"Authorization": f"token {TOKEN}"}).status_code == 200
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for path in (
        "/repos/hashicorp-demo/nope",
        f"{REPO}/actions/runs/1",
        f"{REPO}/actions/jobs/1/logs",
        f"{REPO}/nope",
    ):
        resp = client.get(path, headers=auth)
        assert resp.status_code == 404 and resp.json()["message"] == "Not Found", path


def test_repository_id_alias(gh: httpx.Client, history: DemoHistory) -> None:
    resp = gh.get(f"/repositories/{history.repos[0].id}/actions/runs", params={"per_page": 5, "page": 2})
    assert resp.status_code == 200 and len(resp.json()["workflow_runs"]) == 5


# -- redirects to blobs ----------------------------------------------------------------------
def test_job_log_redirect_blob_and_expiry(
    gh: httpx.Client, replay: GitHubReplay, clock: Clock, history: DemoHistory
) -> None:
    job = next(j for j in history.jobs if j.conclusion == "failure")
    resp = gh.get(f"{REPO}/actions/jobs/{job.id}/logs")
    assert resp.status_code == 302
    location = httpx.URL(resp.headers["location"])
    assert location.host == "pipelinesghubeus.actions.githubusercontent.com"
    assert location.params["se"] == str(int(clock.now + 60)) and location.params["sig"]
    anonymous = httpx.Client(transport=replay.transport())
    blob = anonymous.get(location)
    assert blob.status_code == 200 and blob.headers["content-type"].startswith("text/plain")
    assert blob.content == history.logs[job.id].content()
    assert b"##[error]" in blob.content
    followed = gh.get(f"{REPO}/actions/jobs/{job.id}/logs", follow_redirects=True)
    assert followed.status_code == 200 and followed.content == blob.content
    assert "authorization" not in followed.request.headers, "httpx drops the token on the cross-host redirect"
    tampered = location.copy_merge_params({"sig": "0" * 64})
    assert anonymous.get(tampered).status_code == 403
    clock.now += 61
    expired = anonymous.get(location)
    assert expired.status_code == 403 and b"AuthenticationFailed" in expired.content


def test_artifact_zip_redirect(gh: httpx.Client, history: DemoHistory) -> None:
    art = next(a for a in history.artifacts if any(b"flakyFailure" in v for v in a.files.values()))
    listing = gh.get(f"{REPO}/actions/runs/{art.run_id}/artifacts").json()
    (entry,) = listing["artifacts"]
    assert entry["name"] == "test-results" and entry["size_in_bytes"] == art.size_in_bytes
    resp = gh.get(entry["archive_download_url"], follow_redirects=True)
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
        assert any(b"<flakyFailure" in zf.read(n) for n in zf.namelist())
    assert gh.get(f"{REPO}/actions/artifacts/{art.id}/tar").status_code == 404


# -- fault injection -----------------------------------------------------------------------
def test_inject_faults(gh: httpx.Client, replay: GitHubReplay, history: DemoHistory) -> None:
    run = history.runs[0]
    replay.inject(r"/actions/runs/\d+/jobs", 429, headers={"Retry-After": "3"})
    throttled = gh.get(f"{REPO}/actions/runs/{run.id}/jobs")
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "3"
    assert gh.get(f"{REPO}/actions/runs/{run.id}/jobs").status_code == 200
    replay.inject(r"/actions/runs\?", 403, body=SECONDARY_RATE_LIMIT, times=2)
    for _ in range(2):
        resp = gh.get(f"{REPO}/actions/runs", params={"per_page": 5})
        assert resp.status_code == 403 and "secondary rate limit" in resp.json()["message"]
    assert gh.get(f"{REPO}/actions/runs", params={"per_page": 5}).status_code == 200
    replay.inject(r"^/repos/[^/]+/[^/]+$", 500, body={"message": "Server Error"})
    assert gh.get(REPO).status_code == 500
    assert gh.get(REPO).status_code == 200
    assert ("GET", f"{REPO}/actions/runs/{run.id}/jobs", 429) in replay.requests
    assert [s for _, _, s in replay.requests].count(200) == 3


# -- loopback ------------------------------------------------------------------------------
def test_served_over_loopback(history: DemoHistory) -> None:
    replay = GitHubReplay(history, token=TOKEN)
    with replay.serve() as served:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", served.url)
        with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            resp = client.get(f"{REPO}/actions/runs", params={"per_page": 3})
            assert resp.status_code == 200 and resp.headers["etag"]
            assert _links(resp)["next"].startswith(f"{served.url}/repositories/")
            run = resp.json()["workflow_runs"][0]
            assert run["url"].startswith(served.url)
            jobs = client.get(run["jobs_url"]).json()["jobs"]
            logs = client.get(f"{REPO}/actions/jobs/{jobs[0]['id']}/logs")
            assert logs.status_code == 302 and logs.headers["location"].startswith(
                f"{served.url}/_blobs/job-logs/"
            )
            blob = httpx.get(logs.headers["location"])
            assert blob.status_code == 200 and blob.content.startswith(b"20")
            assert (
                client.get(
                    f"{REPO}/actions/runs",
                    headers={"If-None-Match": resp.headers["etag"]},
                    params={"per_page": 3},
                ).status_code
                == 304
            )
            assert httpx.get(f"{served.url}{REPO}").status_code == 401
    assert replay.requests[-1][2] == 401
    with pytest.raises(httpx.ConnectError):
        httpx.get(served.url + REPO, timeout=2)


def test_enterprise_base_url(history: DemoHistory) -> None:
    replay = GitHubReplay(history, base_url="https://ghe.example.com/api/v3")
    client = httpx.Client(transport=replay.transport(), base_url="https://ghe.example.com/api/v3")
    resp = client.get(f"{REPO}/actions/runs", params={"per_page": 2})
    assert resp.status_code == 200
    assert resp.json()["workflow_runs"][0]["url"].startswith("https://ghe.example.com/api/v3/repos/")
    assert _links(resp)["next"].startswith("https://ghe.example.com/api/v3/repositories/")


# -- webhooks ------------------------------------------------------------------------------
def test_webhook_deliveries(history: DemoHistory) -> None:
    deliveries = webhook_deliveries(history)
    runs = [d for d in deliveries if d.event == "workflow_run"]
    jobs = [d for d in deliveries if d.event == "workflow_job"]
    assert len(runs) == sum(len(r.attempts) for r in history.runs)
    assert len(jobs) == len(history.jobs)
    assert len({d.delivery_id for d in deliveries}) == len(deliveries)
    run_tmpl = template("workflow_run.completed.with-pull-requests.payload.json")
    body = json.loads(runs[0].body)
    assert set(body) == set(run_tmpl) and set(body["workflow_run"]) == set(run_tmpl["workflow_run"])
    assert body["action"] == "completed" and body["repository"]["full_name"] == "hashicorp-demo/terraform"
    job_tmpl = template("workflow_job.completed.failure.with-organization.payload.json")
    failed = next(json.loads(d.body) for d in jobs if b'"conclusion": "failure"' in d.body)
    assert set(failed) == set(job_tmpl) and set(failed["workflow_job"]) == set(job_tmpl["workflow_job"])
    headers = runs[0].headers(secret="s3cret")
    assert headers["X-GitHub-Event"] == "workflow_run" and headers["X-Hub-Signature-256"].startswith(
        "sha256="
    )
    assert webhook_deliveries(history)[0] == deliveries[0]
    _assert_no_template_identity("".join(d.body.decode() for d in deliveries))
