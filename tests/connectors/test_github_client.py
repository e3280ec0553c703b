"""GitHubClient against an ``httpx.MockTransport`` that answers like GitHub does.

Reply headers copy the shape of real recorded exchanges (octokit/fixtures
``paginate-issues/raw-fixture.json``); bodies are GitHub's documented response examples or the
webhook run/job objects (same schema). Nothing touches the network and nothing really sleeps:
``sleep`` and ``clock`` are injected.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cimedic.connectors.github_actions.auth import TokenAuth
from cimedic.connectors.github_actions.client import GitHubClient, PollResult
from cimedic.connectors.github_actions.http import GitHubError, MemoryEtagStore, RateLimitError
from cimedic.connectors.github_actions.mapping import map_job, map_run
from cimedic.connectors.github_actions.webhooks import parse_delivery
from cimedic.model.ci import Job, Status, WorkflowRun

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "github"
EXAMPLES = DATA / "rest_openapi_actions_subset" / "response_examples"
FIXTURES = DATA / "octokit_fixtures"
PAYLOADS = DATA / "payload-examples" / "api.github.com"
NO_DATA = f"GitHub reference material not found at {DATA} (../shared beside the repository)"

API = "https://api.github.com"
REPO = "octo-org/octo-repo"
NOW = 1_658_208_000.0  # 2022-07-19T05:20:00Z, just before the recorded X-RateLimit-Reset
TOKEN = "ghp_0000000000000000000000000000000000001"

# Response headers of a recorded GET (paginate-issues, page 1), minus Date/Content-Length/ETag/Link.
RECORDED_HEADERS: dict[str, str] = {
    "Server": "GitHub.com",
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "private, max-age=60, s-maxage=60",
    "Vary": "Accept, Authorization, Cookie, X-GitHub-OTP",
    "X-OAuth-Scopes": "repo, workflow",
    "X-Accepted-OAuth-Scopes": "repo",
    "X-GitHub-Media-Type": "github.v3; format=json",
    "X-RateLimit-Limit": "5000",
    "X-RateLimit-Remaining": "4922",
    "X-RateLimit-Reset": "1658208999",
    "X-RateLimit-Used": "78",
    "X-RateLimit-Resource": "core",
    "Access-Control-Expose-Headers": "ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, "
    "X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, "
    "X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, "
    "Deprecation, Sunset",
    "X-GitHub-Request-Id": "0683:13C7:1074B74:2631A8B:62D63574",
}
RATE_DOCS = "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
SECONDARY = {
    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID 0683:13C7:1074B74.",
    "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api"
    "#about-secondary-rate-limits",
}


def example(name: str) -> Any:
    if not DATA.is_dir():
        pytest.skip(NO_DATA)
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def reply(
    status: int = 200,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    """A GitHub-shaped response: the recorded headers plus ``headers``."""
    merged = {**RECORDED_HEADERS, **(headers or {})}
    if content is not None:
        return httpx.Response(status, headers=merged, content=content)
    if body is None:
        return httpx.Response(status, headers=merged)
    return httpx.Response(status, headers=merged, json=body)


class Sleeper:
    """Injected ``sleep`` + ``clock``: records waits and advances the fake clock."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
            self.now += seconds

    def clock(self) -> float:
        return self.now


Handler = Callable[[httpx.Request], httpx.Response]


def make_client(handler: Handler, sleeper: Sleeper | None = None, **kw: Any) -> tuple[GitHubClient, Sleeper]:
    sleeper = sleeper or Sleeper()
    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = GitHubClient(
        http, auth=kw.pop("auth", TokenAuth(TOKEN)), sleep=sleeper.sleep, clock=sleeper.clock, **kw
    )
    return client, sleeper


def minimal_run(run_id: int, created: datetime) -> dict[str, Any]:
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": run_id,
        "name": "CI",
        "head_branch": "main",
        "head_sha": f"{run_id:040x}",
        "path": ".github/workflows/ci.yml",
        "run_number": run_id,
        "run_attempt": 1,
        "event": "push",
        "status": "completed",
        "conclusion": "success",
        "workflow_id": 159038,
        "created_at": stamp,
        "updated_at": stamp,
        "run_started_at": stamp,
        "html_url": f"https://github.com/{REPO}/actions/runs/{run_id}",
        "pull_requests": [],
        "head_commit": None,
        "repository": {"id": 1296269, "full_name": REPO},
    }


# --------------------------------------------------------------------------- basics


def test_recorded_header_shape_matches_the_fixture() -> None:
    path = FIXTURES / "paginate-issues" / "raw-fixture.json"
    if not path.exists():
        pytest.skip(NO_DATA)
    raw = json.loads(path.read_text())[14]["rawHeaders"]
    recorded = {raw[i].lower(): raw[i + 1] for i in range(0, len(raw), 2)}
    for name in ("X-RateLimit-Limit", "X-RateLimit-Reset", "X-RateLimit-Resource", "X-GitHub-Media-Type"):
        assert recorded[name.lower()] == RECORDED_HEADERS[name]
    assert 'rel="next"' in recorded["link"]


def test_request_headers_and_recorded_repository() -> None:
    path = FIXTURES / "get-repository" / "raw-fixture.json"
    if not path.exists():
        pytest.skip(NO_DATA)
    exchange = json.loads(path.read_text())[0]
    raw = exchange["rawHeaders"]
    recorded = [(raw[i], raw[i + 1]) for i in range(0, len(raw), 2) if raw[i].lower() != "content-length"]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.url.path == exchange["path"]
        return httpx.Response(200, headers=recorded, json=exchange["response"])

    client, _ = make_client(handler)
    repo = client.get_repository("octokit-fixture-org/hello-world")
    assert (repo.full_name, repo.default_branch) == ("octokit-fixture-org/hello-world", "master")
    headers = seen[0].headers
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert headers["user-agent"] == "cimedic"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    rate = client.rate_limit
    assert (rate.limit, rate.remaining, rate.reset, rate.used, rate.resource) == (
        5000,
        4962,
        1658208999,
        38,
        "core",
    )
    assert client.stats.primary_cost == 1 and client.stats.by_status == Counter({200: 1})


def test_rest_examples_through_the_client() -> None:
    run_obj = example("actions__get-workflow-run.200.default.json")
    job_obj = example("actions__get-job-for-workflow-run.200.default.json")
    workflows = example("actions__list-repo-workflows.200.default.json")
    artifacts = example("actions__list-workflow-run-artifacts.200.default.json")
    repo_artifacts = example("actions__list-artifacts-for-repo.200.default.json")

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        routes = {
            f"/repos/{REPO}/actions/runs/30433642": run_obj,
            f"/repos/{REPO}/actions/jobs/399444496": job_obj,
            f"/repos/{REPO}/actions/workflows": workflows,
            f"/repos/{REPO}/actions/runs/30433642/artifacts": artifacts,
            f"/repos/{REPO}/actions/artifacts": repo_artifacts,
        }
        return reply(200, routes[path]) if path in routes else reply(404, {"message": "Not Found"})

    client, _ = make_client(handler)
    assert client.get_run(REPO, 30433642) == map_run(run_obj)
    assert client.get_job(REPO, "399444496") == map_job(job_obj)
    assert [w.name for w in client.list_workflows(REPO)] == ["CI", "Linter"]
    arts = client.list_artifacts(REPO, 30433642)
    assert [(a.id, a.name, a.size_in_bytes, a.expired, a.run_id) for a in arts] == [
        ("11", "Rails", 556, False, "2332938"),
        ("13", "Test output", 453, False, "2332942"),
    ]
    assert [a.id for a in client.list_repo_artifacts(REPO)] == ["11", "13"]


def test_webhook_and_polling_build_the_same_job_and_run() -> None:
    if not PAYLOADS.is_dir():
        pytest.skip(NO_DATA)
    job_body = (PAYLOADS / "workflow_job" / "completed.failure.with-organization.payload.json").read_bytes()
    run_body = (PAYLOADS / "workflow_run" / "completed.with-pull-requests.payload.json").read_bytes()
    job_obj, run_obj = json.loads(job_body)["workflow_job"], json.loads(run_body)["workflow_run"]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(f"/actions/jobs/{job_obj['id']}"):
            return reply(200, job_obj)
        return reply(200, run_obj)

    client, _ = make_client(handler)
    assert client.get_job(REPO, job_obj["id"]) == parse_delivery("workflow_job", job_body).job
    hook_run = parse_delivery("workflow_run", run_body).run
    assert hook_run is not None
    # the webhook also names the workflow (its run "name" is empty); everything else is equal
    assert client.get_run(REPO, run_obj["id"]) == hook_run.model_copy(update={"workflow_name": None})


# --------------------------------------------------------------------------- pagination, ETags


def test_link_pagination_replays_recorded_link_headers() -> None:
    path = FIXTURES / "paginate-issues" / "raw-fixture.json"
    if not path.exists():
        pytest.skip(NO_DATA)
    exchanges = [x for x in json.loads(path.read_text()) if x["method"] == "get"]
    run_path = f"/repos/{REPO}/actions/runs/555/jobs"
    recorded_base = "https://api.github.com/repositories/515435940/issues"
    job_id = iter(range(1000, 2000))
    pages: dict[str, httpx.Response] = {}
    for index, exchange in enumerate(exchanges, start=1):
        raw = exchange["rawHeaders"]
        headers = [(raw[i], raw[i + 1]) for i in range(0, len(raw), 2) if raw[i].lower() != "content-length"]
        headers = [(k, v.replace(recorded_base, API + run_path)) for k, v in headers]
        objs = [
            {"id": next(job_id), "run_id": 555, "name": "test", "status": "completed"}
            for _ in exchange["response"]
        ]
        pages[str(index)] = httpx.Response(200, headers=headers, json={"total_count": 13, "jobs": objs})
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        assert request.url.path == run_path
        return pages[request.url.params.get("page", "1")]

    client, _ = make_client(handler)
    jobs = client.list_jobs(REPO, 555)
    assert len(jobs) == 13 == len({j.provider_id for j in jobs})
    assert len(seen) == 5 and (seen[0].params["per_page"], seen[0].params["filter"]) == ("100", "all")
    # the following pages are exactly the recorded rel="next" targets
    assert [u.params.get("page") for u in seen] == [None, "2", "3", "4", "5"]
    assert client.stats.requests == 5


def test_poll_runs_uses_etag_and_304_costs_nothing() -> None:
    body = {"total_count": 1, "workflow_runs": [minimal_run(7, datetime(2024, 1, 1, tzinfo=UTC))]}
    etag = '"33b993150c346057e2d21c5333d4bc506287037296cc0ec3f450bafe9b4bdc72"'
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("if-none-match"))
        if request.headers.get("if-none-match") == etag:
            return reply(304, headers={"ETag": etag})
        return reply(200, body, headers={"ETag": etag})

    store = MemoryEtagStore()
    client, _ = make_client(handler, etags=store)
    first = client.poll_runs(REPO)
    assert first.changed and [r.provider_id for r in first.runs] == ["7"]
    assert client.poll_runs(REPO) == PollResult(changed=False, runs=[])
    assert seen == [None, etag]
    assert store.get(f"{API}/repos/{REPO}/actions/runs?per_page=100") == etag
    stats = client.stats
    assert (stats.requests, stats.not_modified, stats.primary_cost) == (2, 1, 1)
    assert stats.by_status == Counter({200: 1, 304: 1})


# --------------------------------------------------------------------------- logs, artifacts

BLOB = "https://productionresultssa1.blob.core.windows.net/actions-results/7a3f/logs/job/job-logs.txt"


def log_handler(log: bytes, seen: list[httpx.Request], status: int = 200) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "api.github.com":
            location = f"{BLOB}?rsct=text%2Fplain&se=2024-06-01T12%3A01%3A00Z&sp=r&sv=2021-12-02&sig=SECRET"
            return reply(302, headers={"Location": location, "Content-Type": "text/html;charset=utf-8"})
        return httpx.Response(status, content=log, headers={"Content-Type": "text/plain"})

    return handler


def test_log_redirect_is_followed_without_authorization() -> None:
    log = b"".join(b"2024-06-01T12:00:%02d.0000000Z line %d\n" % (i % 60, i) for i in range(500))
    seen: list[httpx.Request] = []
    client, _ = make_client(log_handler(log, seen))
    result = client.download_job_log(REPO, 399444496)
    assert (result.content, result.size, result.truncated) == (log, len(log), False)
    api, blob = seen
    assert api.url.path == f"/repos/{REPO}/actions/jobs/399444496/logs"
    assert api.headers["authorization"] == f"Bearer {TOKEN}"
    assert blob.url.host == "productionresultssa1.blob.core.windows.net"
    assert "authorization" not in blob.headers
    assert blob.url.params["sig"] == "SECRET"
    assert client.stats.primary_cost == 1 and client.stats.downloads == 1


def test_log_keeps_only_the_last_max_bytes() -> None:
    log = bytes(range(256)) * 1000
    client, _ = make_client(log_handler(log, []))
    result = client.download_job_log(REPO, 1, max_bytes=1000)
    assert result.truncated and result.size == len(log)
    assert result.content == log[-1000:]
    small = client.download_job_log(REPO, 1, max_bytes=len(log))
    assert not small.truncated and small.content == log


@pytest.mark.parametrize("status", [404, 410])
def test_expired_log_raises_github_error(status: int) -> None:
    body = {
        "message": "Gone" if status == 410 else "Not Found",
        "documentation_url": "https://docs.github.com/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run",
    }
    client, sleeper = make_client(lambda request: reply(status, body))
    with pytest.raises(GitHubError) as info:
        client.download_job_log(REPO, 42)
    assert info.value.status == status
    assert info.value.url == f"{API}/repos/{REPO}/actions/jobs/42/logs"
    assert body["message"] in str(info.value) and "download-job-logs" in str(info.value)
    assert sleeper.waits == []


def test_failing_download_host_is_retried_and_signed_url_stays_out_of_errors() -> None:
    seen: list[httpx.Request] = []
    client, sleeper = make_client(log_handler(b"", seen, status=403))
    with pytest.raises(GitHubError) as info:
        client.download_job_log(REPO, 1)
    assert info.value.status == 403 and "SECRET" not in str(info.value)
    seen.clear()
    client, sleeper = make_client(log_handler(b"", seen, status=503))
    with pytest.raises(GitHubError):
        client.download_job_log(REPO, 1)
    assert sleeper.waits == [1.0, 2.0, 4.0]
    assert len(seen) == 8  # 4 x (API redirect + download)


def test_artifact_zip_redirect() -> None:
    seen: list[httpx.Request] = []
    zipped = b"PK\x03\x04" + b"\x00" * 100

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "api.github.com":
            return reply(
                302, headers={"Location": "https://pipelines.actions.githubusercontent.com/x/zip?sig=S"}
            )
        return httpx.Response(200, content=zipped, headers={"Content-Type": "application/zip"})

    client, _ = make_client(handler)
    assert client.download_artifact(REPO, 11) == zipped
    assert seen[0].url.path == f"/repos/{REPO}/actions/artifacts/11/zip"
    assert "authorization" not in seen[1].headers


def test_pulls_for_commit() -> None:
    pr = {
        "url": f"{API}/repos/{REPO}/pulls/1347",
        "number": 1347,
        "state": "open",
        "head": {"ref": "new-topic", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
        "base": {"ref": "master", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/repos/{REPO}/commits/abc123/pulls"
        return reply(200, [pr])

    client, _ = make_client(handler)
    (got,) = client.pulls_for_commit(REPO, "abc123")
    assert (got.number, got.head_ref, got.base_ref) == (1347, "new-topic", "master")


# --------------------------------------------------------------------------- rate limits, retries


def sequence(*responses: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    return handler, seen


def ok_job() -> httpx.Response:
    return reply(200, {"id": 5, "run_id": 6, "name": "build", "status": "completed", "conclusion": "success"})


def test_primary_rate_limit_waits_until_reset() -> None:
    reset = int(NOW) + 120
    limited = reply(
        403,
        {"message": "API rate limit exceeded for installation ID 1.", "documentation_url": RATE_DOCS},
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Used": "5000", "X-RateLimit-Reset": str(reset)},
    )
    handler, seen = sequence(limited, ok_job())
    client, sleeper = make_client(handler)
    assert client.get_job(REPO, 5).name == "build"
    assert sleeper.waits == [121.0]  # until X-RateLimit-Reset, plus 1 s for clock skew
    assert client.stats.waited_seconds == 121.0 and len(seen) == 2
    assert client.rate_limit.remaining == 4922


def test_429_with_retry_after() -> None:
    handler, _ = sequence(reply(429, SECONDARY, headers={"Retry-After": "30"}), ok_job())
    client, sleeper = make_client(handler)
    client.get_job(REPO, 5)
    assert sleeper.waits == [30.0]


def test_secondary_rate_limit_backs_off_exponentially_from_a_minute() -> None:
    handler, _ = sequence(reply(403, SECONDARY), reply(403, SECONDARY), reply(403, SECONDARY), ok_job())
    client, sleeper = make_client(handler)
    client.get_job(REPO, 5)
    assert sleeper.waits == [60.0, 120.0, 240.0]
    assert client.stats.by_status == Counter({403: 3, 200: 1})


def test_wait_longer_than_max_wait_raises_without_sleeping() -> None:
    limited = reply(
        403,
        {"message": "API rate limit exceeded"},
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 3600)},
    )
    client, sleeper = make_client(sequence(limited)[0], max_wait=900.0)
    with pytest.raises(RateLimitError) as info:
        client.get_job(REPO, 5)
    assert sleeper.waits == [] and info.value.wait == 3601.0 and info.value.status == 403


def test_rate_limit_retries_are_bounded() -> None:
    handler, seen = sequence(*[reply(429, {"message": "Too many"}, headers={"Retry-After": "1"})] * 10)
    client, sleeper = make_client(handler, max_retries=3)
    with pytest.raises(RateLimitError, match="after 3 retries"):
        client.get_job(REPO, 5)
    assert sleeper.waits == [1.0, 1.0, 1.0] and len(seen) == 4


def test_plain_403_is_an_error_not_a_rate_limit() -> None:
    body = {
        "message": "Resource not accessible by integration",
        "documentation_url": "https://docs.github.com/rest",
    }
    client, sleeper = make_client(sequence(reply(403, body))[0])
    with pytest.raises(GitHubError, match="Resource not accessible by integration") as info:
        client.get_job(REPO, 5)
    assert not isinstance(info.value, RateLimitError) and sleeper.waits == []


def test_server_errors_are_retried_with_short_backoff() -> None:
    handler, _ = sequence(reply(502, content=b"<html>Bad Gateway</html>"), reply(503), ok_job())
    client, sleeper = make_client(handler)
    assert client.get_job(REPO, 5).provider_id == "5"
    assert sleeper.waits == [1.0, 2.0]


def test_server_errors_give_up_after_three_retries() -> None:
    handler, seen = sequence(*[reply(500, {"message": "Server Error"})] * 5)
    client, sleeper = make_client(handler)
    with pytest.raises(GitHubError, match="Server Error") as info:
        client.get_job(REPO, 5)
    assert info.value.status == 500 and sleeper.waits == [1.0, 2.0, 4.0] and len(seen) == 4


def test_network_errors_are_retried() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("connection reset", request=request)
        return ok_job()

    client, sleeper = make_client(handler)
    assert client.get_job(REPO, 5).name == "build" and sleeper.waits == [1.0]


def test_404_message_comes_from_github() -> None:
    body = {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run",
        "status": "404",
    }
    client, _ = make_client(sequence(reply(404, body))[0])
    with pytest.raises(GitHubError) as info:
        client.get_run(REPO, 1)
    err = info.value
    assert (err.status, err.url) == (404, f"{API}/repos/{REPO}/actions/runs/1")
    assert err.message == "Not Found (https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run)"


def test_invalid_json_names_the_url() -> None:
    client, _ = make_client(sequence(reply(200, content=b"<!DOCTYPE html><title>Unicorn!</title>"))[0])
    with pytest.raises(GitHubError, match=rf"{API}/repos/{REPO}/actions/runs/9: response is not valid JSON"):
        client.get_run(REPO, 9)


def test_malformed_object_names_url_and_field() -> None:
    client, _ = make_client(sequence(reply(200, {"id": 9, "head_sha": 3}))[0])
    with pytest.raises(GitHubError, match=r"actions/runs/9: GitHub workflow run 9: field 'head_sha'"):
        client.get_run(REPO, 9)


def test_bad_repository_name() -> None:
    client, _ = make_client(sequence()[0])
    with pytest.raises(ValueError, match="owner/name"):
        client.get_run("just-a-name", 1)


def test_thread_pool_counts_every_request() -> None:
    client, _ = make_client(lambda request: ok_job())
    with ThreadPoolExecutor(max_workers=8) as pool:
        jobs = list(pool.map(lambda i: client.get_job(REPO, i), range(200)))
    assert all(isinstance(j, Job) for j in jobs)
    assert client.stats.requests == 200 == client.stats.primary_cost


# --------------------------------------------------------------------------- 1,000-result cap


class RunSearch:
    """``/actions/runs`` like GitHub: filters by ``created=A..B``, pages of ``per_page`` (<= 100),
    ``Link`` headers, and 422 for anything past the first 1,000 results of a filtered query."""

    def __init__(self, runs: list[dict[str, Any]]) -> None:
        self.runs = sorted(runs, key=lambda r: (r["created_at"], r["id"]), reverse=True)
        self.served: Counter[int] = Counter()
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.queries.append(params)
        per_page = int(params.get("per_page", "30"))
        page = int(params.get("page", "1"))
        assert per_page <= 100
        found = self.runs
        if "created" in params:
            low, high = params["created"].split("..")
            found = [r for r in found if low <= r["created_at"] <= high]
        if "branch" in params:
            found = [r for r in found if r["head_branch"] == params["branch"]]
        filtered = bool({"created", "branch"} & params.keys())
        if filtered and (page - 1) * per_page >= 1000:
            return reply(
                422,
                {
                    "message": "Only the first 1000 search results are available",
                    "documentation_url": "https://docs.github.com/v3/search/",
                },
            )
        chunk = found[(page - 1) * per_page : page * per_page]
        self.served.update(r["id"] for r in chunk)
        last = max(1, -(-min(len(found), 1000 if filtered else len(found)) // per_page))
        links = []
        if page < last:
            query = {**params, "page": str(page + 1)}
            links.append(f'<{request.url.copy_with(params=query)}>; rel="next"')
            links.append(f'<{request.url.copy_with(params={**params, "page": str(last)})}>; rel="last"')
        headers = {"Link": ", ".join(links)} if links else {}
        return reply(200, {"total_count": len(found), "workflow_runs": chunk}, headers=headers)


def month_of_runs(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    runs = []
    for i in range(count):
        # a third of the runs crowd into one busy afternoon, the rest spread over January
        if i % 3 == 0:
            created = datetime(2024, 1, 15, 14, tzinfo=UTC) + timedelta(seconds=rng.randrange(3 * 3600))
        else:
            created = start + timedelta(seconds=rng.randrange(31 * 86400))
        runs.append(minimal_run(100_000 + i, created))
    return runs


def test_bisection_fetches_every_run_exactly_once_and_never_hits_422() -> None:
    search = RunSearch(month_of_runs(2500))
    client, _ = make_client(search)
    windows: list[tuple[datetime, datetime, int]] = []
    runs = list(
        client.list_runs(
            REPO,
            created_from=datetime(2024, 1, 1, tzinfo=UTC),
            created_to=datetime(2024, 1, 31, 23, 59, 59, tzinfo=UTC),
            on_window=lambda a, b, n: windows.append((a, b, n)),
        )
    )
    ids = [r.provider_id for r in runs]
    assert len(ids) == len(set(ids)) == 2500
    assert set(ids) == {str(r["id"]) for r in search.runs}
    assert all(isinstance(r, WorkflowRun) for r in runs)
    assert 422 not in client.stats.by_status
    assert all(int(q.get("page", "1")) <= 10 for q in search.queries)
    assert windows[0][2] == 2500 and len(windows) > 3
    leaves = [w for w in windows if w[2] < 1000]
    assert sum(n for _, _, n in leaves) == 2500  # the leaf windows partition the month
    # only the first page of an oversized window is thrown away
    oversized = [w for w in windows if w[2] >= 1000]
    assert sum(search.served.values()) == 2500 + 100 * len(oversized)


def test_small_window_is_one_query_with_iso_created_range() -> None:
    search = RunSearch(month_of_runs(40))
    client, _ = make_client(search)
    runs = list(
        client.list_runs(
            REPO,
            created_from=datetime(2024, 1, 1, tzinfo=UTC),
            created_to=datetime(2024, 1, 31, 23, 59, 59, 999999, tzinfo=UTC),
            branch="main",
        )
    )
    assert len(runs) == 40
    assert search.queries == [
        {"per_page": "100", "branch": "main", "created": "2024-01-01T00:00:00Z..2024-01-31T23:59:59Z"}
    ]


def test_one_second_window_over_the_cap_stops_at_ten_pages() -> None:
    moment = datetime(2024, 1, 15, 12, tzinfo=UTC)
    search = RunSearch([minimal_run(i, moment) for i in range(1, 1201)])
    client, _ = make_client(search)
    runs = list(client.list_runs(REPO, created_from=moment, created_to=moment))
    assert len(runs) == 1000 and 422 not in client.stats.by_status


def test_workflow_runs_path_and_unfiltered_listing() -> None:
    search = RunSearch(month_of_runs(1500))
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return search(request)

    client, _ = make_client(handler)
    everything = list(client.list_runs(REPO, created_from=None, created_to=None))
    assert len(everything) == 1500  # no filter: no cap, plain pagination (15 pages)
    assert all("created" not in q for q in search.queries)
    paths.clear()
    list(
        client.list_runs(
            REPO, created_from=datetime(2024, 1, 1), created_to=datetime(2024, 1, 2), workflow="ci.yml"
        )
    )
    assert set(paths) == {f"/repos/{REPO}/actions/workflows/ci.yml/runs"}


def test_runs_are_mapped_with_the_repository() -> None:
    search = RunSearch([minimal_run(1, datetime(2022, 7, 18, tzinfo=UTC))])
    client, _ = make_client(search)
    # created_to=None means "up to now" (the injected clock: 2022-07-19)
    (run,) = client.list_runs(REPO, created_from=datetime(2022, 7, 1, tzinfo=UTC), created_to=None)
    assert run.repository == REPO and run.status is Status.COMPLETED


def test_moved_repository_redirect_is_followed() -> None:
    moved = {
        "message": "Moved Permanently",
        "url": f"{API}/repositories/1296269/actions/runs/5",
        "documentation_url": "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects",
    }
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.startswith("/repositories/"):
            return reply(200, minimal_run(5, datetime(2024, 1, 1, tzinfo=UTC)))
        return reply(301, moved, headers={"Location": moved["url"]})

    client, _ = make_client(handler)
    assert client.get_run("old-org/old-name", 5).provider_id == "5"
    assert seen[1].url.path == "/repositories/1296269/actions/runs/5"
    assert seen[1].headers["authorization"] == f"Bearer {TOKEN}"  # same host: still authenticated
