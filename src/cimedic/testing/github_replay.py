"""A replay of GitHub's REST API (the Actions part cimedic reads), serving a :class:`DemoHistory`.

Use it as an ``httpx`` transport (``httpx.Client(transport=replay.transport())``, no network) or
over real loopback HTTP (``with replay.serve() as served: httpx.get(served.url + "/repos/...")``).

What it mimics, endpoint by endpoint (paths as in GitHub's REST API description):

- ``GET /repos/{owner}/{repo}``; ``/actions/workflows``, ``/actions/workflows/{id or file}``
  (https://docs.github.com/en/rest/actions/workflows).
- ``GET /actions/runs`` and ``/actions/workflows/{id or file}/runs``: newest first, ``per_page``
  (default 30, max 100), ``page``, ``total_count``, filters ``actor``, ``branch``, ``event``,
  ``status`` (a status or a conclusion), ``created``, ``head_sha``, ``check_suite_id``,
  ``exclude_pull_requests``; with a filter, results past the first 1,000 answer 422
  (https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-repository).
- ``GET /actions/runs/{id}``, ``/attempts/{n}``, ``/jobs?filter=latest|all`` (default latest),
  ``/attempts/{n}/jobs``, ``/actions/jobs/{id}`` (https://docs.github.com/en/rest/actions/workflow-jobs).
- ``GET /actions/jobs/{id}/logs`` and ``/actions/artifacts/{id}/zip``: 302 to a URL on another
  host that expires after 1 minute (403 after that) and needs no ``Authorization``
  (https://docs.github.com/en/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-job,
  https://docs.github.com/en/rest/actions/artifacts#download-an-artifact).
- ``GET /actions/runs/{id}/artifacts``, ``/actions/artifacts``, ``/actions/artifacts/{id}``;
  ``GET /commits/{sha}/pulls`` (https://docs.github.com/en/rest/commits/commits#list-pull-requests-associated-with-a-commit);
  ``GET /compare/{base}...{head}`` (https://docs.github.com/en/rest/commits/commits#compare-two-commits):
  the head commits of the history's runs, one linear history per branch (commits ordered by
  time); ``commits`` paginated by ``per_page`` (default 250) and ``page``, oldest first;
  ``GET /rate_limit``. ``/repositories/{repo_id}/...`` is an alias of ``/repos/{owner}/{repo}/...``
  (GitHub's ``Link`` headers use it).
- ``POST /repos/{owner}/{repo}/issues`` and ``/issues/{n}/comments``: 201 and the new issue or
  comment (kept in ``GitHubReplay.issues`` / ``.comments``; :mod:`cimedic.testing.replay_issues`).
- ``POST /actions/runs/{id}/rerun-failed-jobs``: 201 ``{}`` and a new ``queued`` attempt; 403
  while the run is not completed or when it is over 30 days old
  (https://docs.github.com/en/rest/actions/workflow-runs#re-run-failed-jobs-from-a-workflow-run).
- Conditional requests: a strong ``ETag`` (``"<sha256 of the body>"``) on every JSON 200; a
  matching ``If-None-Match`` gets 304 with no body and does not count against the rate limit
  (https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate).
- Primary rate limit: every other API response counts (``x-ratelimit-*`` headers, resource
  ``core``); at 0 remaining, 403 until ``x-ratelimit-reset`` (epoch seconds).
- ``token`` set: a request without ``Authorization: Bearer <token>`` or ``token <token>`` gets
  401 ``Bad credentials``. Unknown paths get 404 ``Not Found``.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import httpx

from cimedic.testing import replay_objects as obj
from cimedic.testing.demo_history import append_run
from cimedic.testing.demo_model import DemoAttempt, DemoHistory, DemoRepo, DemoRun
from cimedic.testing.replay_http import (
    BAD_CREDENTIALS,
    CAP_422,
    JSON_TYPE,
    NOT_FOUND,
    SECONDARY_RATE_LIMIT,
    created_filter,
    error_body,
    link_header,
    primary_rate_limit_body,
    recorded_headers,
    validation_failed,
)
from cimedic.testing.replay_issues import ISSUE_PATH, IssueDesk
from cimedic.testing.replay_webhooks import Delivery, webhook_deliveries

if TYPE_CHECKING:
    from cimedic.testing.replay_server import ServedReplay

__all__ = ["SECONDARY_RATE_LIMIT", "Delivery", "GitHubReplay", "webhook_deliveries"]

BLOB_HOST = "https://pipelinesghubeus.actions.githubusercontent.com"
_RUN_FILTERS = ("actor", "branch", "check_suite_id", "created", "event", "head_sha", "status")
_CONCLUSIONS = {"success", "failure", "cancelled", "skipped", "timed_out", "action_required", "neutral", "stale",
                "startup_failure"}  # fmt: skip
_RUNS_DOC = "https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-repository"
_BLOB_403 = (
    '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to '
    "authenticate the request. Make sure the value of Authorization header is formed correctly including the "
    "signature.</Message><AuthenticationErrorDetail>Signed expiry time [{se}] must be after signed start time "
    "[{now}]</AuthenticationErrorDetail></Error>"
)


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: bytes
    times: int | None


@dataclass
class _Answer:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] | None = None


class GitHubReplay:
    """Serve ``history`` the way api.github.com would (see the module docstring).

    ``base_url``: the API root the JSON objects and ``Link`` headers point to (a path prefix such
    as ``/api/v3`` is honoured); ``rate_limit``: requests per hour; ``clock``: epoch seconds.
    ``requests`` lists ``(method, path with query, status)`` of every request answered.
    """

    def __init__(
        self,
        history: DemoHistory,
        *,
        token: str | None = None,
        base_url: str = obj.GITHUB_API,
        rate_limit: int = 5000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.history = history
        self.token = token
        self.base_url = base_url.rstrip("/")
        self.rate_limit = rate_limit
        self.clock = clock
        self.blob_ttl = 60.0
        self.requests: list[tuple[str, str, int]] = []
        self._used = 0
        self._reset = int(clock()) + 3600
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._secret = hashlib.sha256(f"replay:{id(self)}".encode()).digest()
        self._counter = 0

    # -- public API ---------------------------------------------------------------------
    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (for ``httpx.MockTransport``); blobs are served on :data:`BLOB_HOST`."""
        return self.respond(request, self.base_url, BLOB_HOST)

    def transport(self) -> httpx.MockTransport:
        """An ``httpx`` transport that answers every request from this replay."""
        return httpx.MockTransport(self.handler)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> ServedReplay:
        """Serve this replay over loopback HTTP in a background thread (a context manager whose
        ``url`` is the bound ``http://host:port``; JSON URLs and blobs then point there)."""
        from cimedic.testing.replay_server import ServedReplay

        return ServedReplay(self, host, port)

    def inject(
        self,
        path_regex: str,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | str | dict[str, Any] | None = None,
        times: int | None = 1,
    ) -> None:
        """Answer the next ``times`` (``None``: all) requests whose path and query match
        ``path_regex`` (``re.search``) with ``status``, ``headers`` and ``body`` (a dict is sent as
        JSON; default: GitHub's error body for ``status``). Faults are matched before
        authentication and the rate limit, and count as a request. E.g.
        ``inject(r"/jobs", 429, headers={"Retry-After": "3"})`` or
        ``inject(r"/actions/runs", 403, body=SECONDARY_RATE_LIMIT)``."""
        if isinstance(body, dict):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = (
                body
                if body is not None
                else error_body(status, httpx.codes.get_reason_phrase(status) or "Error")
            )
        with self._lock:
            self._faults.append(_Fault(re.compile(path_regex), status, dict(headers or {}), data, times))

    def mutate_add_run(
        self,
        workflow: str = "Quick Checks",
        *,
        failure: str | None = None,
        created_at: datetime | None = None,
        seed: int = 0,
    ) -> DemoRun:
        """Append a new push run of ``workflow`` to the history (see :func:`append_run`) and return
        it; the listings that include it, and their ETags, change."""
        with self._lock:
            return append_run(self.history, workflow, failure=failure, created_at=created_at, seed=seed)

    @property
    def rate_remaining(self) -> int:
        """Requests left in the current rate-limit window."""
        with self._lock:
            self._roll_window()
            return self.rate_limit - self._used

    # -- plumbing -----------------------------------------------------------------------
    def _roll_window(self) -> None:
        if self.clock() >= self._reset:
            self._used, self._reset = 0, int(self.clock()) + 3600

    def _headers(self, request: httpx.Request) -> list[tuple[str, str]]:
        self._counter += 1
        n = self._counter
        rid = f"{0x0680 + n % 16:04X}:{(n * 7919) % 65536:04X}:{0x1E22F03 + n:X}:{0x626F1F6 + 3 * n:X}:{0x62D63512 + n:X}"
        version = request.headers.get("x-github-api-version", "2022-11-28")
        return [
            ("Server", "GitHub.com"),
            ("Date", email.utils.formatdate(self.clock(), usegmt=True)),
            *(kv for kv in recorded_headers() if kv[0] != "Server"),
            ("X-RateLimit-Limit", str(self.rate_limit)),
            ("X-RateLimit-Remaining", str(max(self.rate_limit - self._used, 0))),
            ("X-RateLimit-Reset", str(self._reset)),
            ("X-RateLimit-Used", str(self._used)),
            ("X-RateLimit-Resource", "core"),
            ("X-GitHub-Request-Id", rid),
            ("x-github-api-version-selected", version),
        ]

    def respond(self, request: httpx.Request, api: str, blob: str) -> httpx.Response:
        """Answer ``request`` with JSON URLs under ``api`` and blob redirects to ``blob``."""
        with self._lock:
            raw = request.url.raw_path.decode("ascii", "replace")
            answer = self._answer(request, api, blob)
            headers = answer.headers or []
            self.requests.append((request.method, raw, answer.status))
            return httpx.Response(answer.status, headers=headers, content=answer.body)

    def _answer(self, request: httpx.Request, api: str, blob: str) -> _Answer:
        path = request.url.path
        if path.startswith("/_blobs/") and (request.url.host == httpx.URL(blob).host):
            return self._blob(request)
        prefix = httpx.URL(api).path.rstrip("/")
        if prefix and path.startswith(prefix):
            path = path[len(prefix) :] or "/"
        raw_query = request.url.query.decode("ascii", "replace")
        target = path + (f"?{raw_query}" if raw_query else "")
        for fault in self._faults:
            if fault.pattern.search(target):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                self._used += 1
                headers = [
                    (k, v)
                    for k, v in self._headers(request)
                    if k.lower() not in {x.lower() for x in fault.headers}
                ]
                headers += [*fault.headers.items(), ("Content-Type", JSON_TYPE)]
                return _Answer(fault.status, fault.body, headers)
        if self.token is not None:
            auth = request.headers.get("authorization", "")
            if auth not in (f"Bearer {self.token}", f"token {self.token}", f"bearer {self.token}"):
                headers = [
                    (k, v) for k, v in self._headers(request) if not k.lower().startswith("x-ratelimit")
                ]
                return _Answer(401, BAD_CREDENTIALS, [*headers, ("Content-Type", JSON_TYPE)])
        self._roll_window()
        if path == "/rate_limit":
            return self._json(request, 200, self._rate_limit_body(), counted=False)
        if self._used >= self.rate_limit:
            user_id = next((r.owner.id for r in self.history.repos), 1)
            return self._json(request, 403, primary_rate_limit_body(user_id), counted=False)
        params = parse_qsl(raw_query, keep_blank_values=True)
        if request.method == "POST" and ISSUE_PATH.fullmatch(path):
            web = (
                obj.GITHUB_WEB
                if api == obj.GITHUB_API
                else str(httpx.URL(api).copy_with(path="/")).rstrip("/")
            )
            status, body, extra = self.desk.post(path, request.content, api, web)
            return self._json(request, status, body, extra=extra)
        if request.method == "POST":
            status, body, extra = self._post(path)
            return self._json(request, status, body, extra=extra)
        status, body, extra = self._route(path, dict(params), params, api, blob)
        if status == 302:
            self._used += 1
            return _Answer(
                302, b"", [*self._headers(request), *extra, ("Content-Type", "text/html;charset=utf-8")]
            )
        return self._json(request, status, body, extra=extra)

    def _json(self, request: httpx.Request, status: int, body: Any, *, extra: list[tuple[str, str]] | None = None,
              counted: bool = True) -> _Answer:  # fmt: skip
        data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        headers = list(extra or [])
        if status == 200:
            etag = f'"{hashlib.sha256(data).hexdigest()}"'
            headers.append(("ETag", etag))
            wanted = {
                t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")
            }
            if etag in wanted:
                return _Answer(304, b"", [*self._headers(request), ("ETag", etag)])
        if counted:
            self._used += 1
        return _Answer(status, data, [*self._headers(request), ("Content-Type", JSON_TYPE), *headers])

    def _rate_limit_body(self) -> dict[str, Any]:
        core = {"limit": self.rate_limit, "used": self._used, "remaining": max(self.rate_limit - self._used, 0),
                "reset": self._reset}  # fmt: skip
        return {"resources": {"core": core}, "rate": core}

    def _sign(self, kind: str, ident: int, blob: str) -> str:
        se = int(self.clock() + self.blob_ttl)
        sig = hmac.new(self._secret, f"{kind}/{ident}/{se}".encode(), hashlib.sha256).hexdigest()
        return f"{blob}/_blobs/{kind}/{ident}?{urlencode({'sig': sig, 'se': se})}"

    def _blob(self, request: httpx.Request) -> _Answer:
        m = re.fullmatch(r"/_blobs/(job-logs|artifacts)/(\d+)", request.url.path)
        q = dict(parse_qsl(request.url.query.decode("ascii", "replace")))
        if m is None:
            return _Answer(404, b"", [("Content-Type", "text/plain")])
        kind, ident, se = m[1], int(m[2]), q.get("se", "0")
        good = hmac.new(self._secret, f"{kind}/{ident}/{se}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(good, q.get("sig", "")) or not se.isdigit() or self.clock() > int(se):
            fmt = "%a, %d %b %Y %H:%M:%S GMT"
            body = _BLOB_403.format(se=time.strftime(fmt, time.gmtime(int(se) if se.isdigit() else 0)),
                                    now=time.strftime(fmt, time.gmtime(self.clock())))  # fmt: skip
            return _Answer(403, body.encode(), [("Content-Type", "application/xml")])
        if kind == "job-logs":
            log = self.history.logs.get(ident)
            if log is None:
                return _Answer(404, b"", [("Content-Type", "text/plain")])
            return _Answer(200, log.content(), [("Content-Type", "text/plain; charset=utf-8")])
        art = self.history.artifact(ident)
        if art is None:
            return _Answer(404, b"", [("Content-Type", "text/plain")])
        return _Answer(200, art.zip_bytes(), [("Content-Type", "application/zip")])

    # -- routes -------------------------------------------------------------------------
    def _route(
        self, path: str, q: dict[str, str], params: list[tuple[str, str]], api: str, blob: str
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        h = self.history
        html = (
            obj.GITHUB_WEB if api == obj.GITHUB_API else str(httpx.URL(api).copy_with(path="/")).rstrip("/")
        )
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path) or re.fullmatch(
            r"/repositories/(\d+)()(/.*)?", path
        )
        repo: DemoRepo | None = None
        if m is not None:
            repo = h.repo(f"{m[1]}/{m[2]}") if m[2] else next((r for r in h.repos if str(r.id) == m[1]), None)
        if m is None or repo is None:
            return 404, NOT_FOUND, []
        rest, full = m[3] or "", repo.full_name
        link_base = f"{api}/repositories/{repo.id}{rest}"

        def page(items: list[Any], key: str | None, build: Callable[[Any], Any], *, filtered: bool = False
                 ) -> tuple[int, Any, list[tuple[str, str]]]:  # fmt: skip
            per_page = min(max(_int(q.get("per_page"), 30), 1), 100)
            number = max(_int(q.get("page"), 1), 1)
            if filtered and number * per_page > 1000:
                return 422, CAP_422, []
            last = max(math.ceil(len(items) / per_page), 1)
            if filtered:
                last = min(last, max(1000 // per_page, 1))
            chunk = [build(x) for x in items[(number - 1) * per_page : number * per_page]]
            link = link_header(link_base, params, number, last)
            body = chunk if key is None else {"total_count": len(items), key: chunk}
            return 200, body, [("Link", link)] if link else []

        if rest == "":
            return 200, obj.repository(repo, api, html), []
        if rest == "/actions/workflows":
            wfs = [w for w in h.workflows if w.repo == full]
            return page(wfs, "workflows", lambda w: obj.workflow(w, repo, api, html))
        if mm := re.fullmatch(r"/actions/workflows/([^/]+)(/runs)?", rest):
            wf = h.workflow(full, mm[1])
            if wf is None:
                return 404, NOT_FOUND, []
            if not mm[2]:
                return 200, obj.workflow(wf, repo, api, html), []
            return self._runs(repo, q, page, api, html, workflow_id=wf.id)
        if rest == "/actions/runs":
            return self._runs(repo, q, page, api, html)
        if mm := re.fullmatch(r"/actions/runs/(\d+)(?:/attempts/(\d+))?(/jobs|/artifacts)?", rest):
            run = h.run(int(mm[1]))
            if run is None or run.repo != full:
                return 404, NOT_FOUND, []
            attempt = run.attempt(int(mm[2])) if mm[2] else None
            if mm[2] and (attempt is None or mm[3] == "/artifacts"):
                return 404, NOT_FOUND, []
            if mm[3] == "/artifacts":
                arts = [a for a in h.artifacts_of(run.id) if q.get("name") in (None, a.name)]
                return page(arts, "artifacts", lambda a: obj.artifact(a, api))
            if mm[3] == "/jobs":
                if attempt is not None:
                    jobs = h.jobs_of(run.id, attempt.number)
                else:
                    jobs = h.jobs_of(run.id, None if q.get("filter") == "all" else run.run_attempt)
                return page(jobs, "jobs", lambda j: obj.job(j, repo, api, html))
            return 200, obj.workflow_run(run, repo, attempt, api, html), []
        if mm := re.fullmatch(r"/actions/jobs/(\d+)(/logs)?", rest):
            job = h.job(int(mm[1]))
            if job is None or job.repo != full:
                return 404, NOT_FOUND, []
            if not mm[2]:
                return 200, obj.job(job, repo, api, html), []
            if job.id not in h.logs or job.status != "completed":
                return 404, NOT_FOUND, []
            return 302, b"", [("Location", self._sign("job-logs", job.id, blob))]
        if rest == "/actions/artifacts":
            arts = [a for a in h.artifacts if a.repo == full and q.get("name") in (None, a.name)]
            return page(sorted(arts, key=lambda a: -a.id), "artifacts", lambda a: obj.artifact(a, api))
        if mm := re.fullmatch(r"/actions/artifacts/(\d+)(?:/([^/]+))?", rest):
            art = h.artifact(int(mm[1]))
            if art is None or art.repo != full or mm[2] not in (None, "zip"):
                return 404, NOT_FOUND, []
            if mm[2] is None:
                return 200, obj.artifact(art, api), []
            return 302, b"", [("Location", self._sign("artifacts", art.id, blob))]
        if mm := re.fullmatch(r"/commits/([0-9a-fA-F]{7,40})/pulls", rest):
            sha = mm[1].lower()
            known = {r.head_sha for r in h.runs if r.repo == full} | {
                s for p in h.pull_requests for s in p.head_shas
            }
            if not any(k.startswith(sha) for k in known):
                doc = (
                    "https://docs.github.com/rest/commits/commits#list-pull-requests-associated-with-a-commit"
                )
                return 422, error_body(422, f"No commit found for SHA: {mm[1]}", doc), []
            full_sha = next(k for k in sorted(known) if k.startswith(sha))
            return page(
                h.pulls_for_commit(full, full_sha), None, lambda p: obj.pull_request(p, repo, api, html)
            )
        if mm := re.fullmatch(r"/compare/([^/]+?)\.\.\.([^/]+)", rest):
            return self._compare(repo, mm[1], mm[2], q, params, link_base, api, html)
        return 404, NOT_FOUND, []

    def _post(self, path: str) -> tuple[int, Any, list[tuple[str, str]]]:
        """``POST .../actions/runs/{id}/rerun-failed-jobs``: 201 ``{}`` and a new attempt of the
        run, ``queued`` with no jobs yet (what GitHub shows right after the request); 403 while
        the run is not completed or when it was created over 30 days ago (GitHub refuses both)."""
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/actions/runs/(\d+)/rerun-failed-jobs", path)
        run = self.history.run(int(m[3])) if m else None
        if m is None or run is None or run.repo.lower() != f"{m[1]}/{m[2]}".lower():
            return 404, NOT_FOUND, []
        last = run.attempts[-1]
        now = datetime.fromtimestamp(self.clock(), UTC).replace(microsecond=0)
        if last.status != "completed":
            return 403, error_body(403, "This workflow is already running"), []
        if now - run.created_at > timedelta(days=30):
            msg = "Unable to re-run this workflow run because it was created over a month ago"
            return 403, error_body(403, msg), []
        start = max(now, last.updated_at + timedelta(seconds=1))
        run.attempts.append(DemoAttempt(last.number + 1, start, start, "queued", None, last.triggering_actor))
        return 201, {}, []

    def _compare(self, repo: DemoRepo, base: str, head: str, q: dict[str, str], params: list[tuple[str, str]],
                 link_base: str, api: str, html: str) -> tuple[int, Any, list[tuple[str, str]]]:  # fmt: skip
        """Compare two commits of the demo history: each branch is the linear history of its runs'
        head commits; ``base`` on the head's branch gives ahead/behind/identical, elsewhere
        ``diverged`` with the head branch's commits newer than ``base``."""
        runs = [r for r in self.history.runs if r.repo == repo.full_name]
        by_sha = {r.head_sha: r for r in sorted(runs, key=lambda r: (r.created_at, r.id))}

        def find(ref: str) -> DemoRun | None:
            ref = ref.lower()
            return by_sha.get(ref) or next(
                (r for s, r in by_sha.items() if s.startswith(ref) and len(ref) >= 7), None
            )

        b, hd = find(base), find(head)
        if b is None or hd is None:
            return 404, NOT_FOUND, []
        line: list[DemoRun] = []
        for r in by_sha.values():
            if r.head_branch == hd.head_branch and all(x.head_sha != r.head_sha for x in line):
                line.append(r)
        line.sort(key=lambda r: (r.head_commit.timestamp, r.head_sha))
        shas = [r.head_sha for r in line]
        hi = shas.index(hd.head_sha)
        behind = 0
        if b.head_sha in shas:
            lo = shas.index(b.head_sha)
            chosen = line[lo + 1 : hi + 1]
            behind = max(lo - hi, 0)
            status = "identical" if lo == hi else ("ahead" if lo < hi else "behind")
        else:
            chosen = [r for r in line[: hi + 1] if r.head_commit.timestamp > b.head_commit.timestamp]
            status = "diverged"
        per_page = min(max(_int(q.get("per_page"), 250), 1), 250)
        number = max(_int(q.get("page"), 1), 1)
        last = max(math.ceil(len(chosen) / per_page), 1)
        parent = {r.head_sha: (shas[i - 1] if i else None) for i, r in enumerate(line)}
        page = [
            obj.commit(r.head_commit, parent.get(r.head_sha), repo, api, html)
            for r in chosen[(number - 1) * per_page : number * per_page]
        ]
        base_obj = obj.commit(b.head_commit, None, repo, api, html)
        body = obj.comparison(base_obj, base_obj, page, status=status, ahead_by=len(chosen), behind_by=behind,
                              basehead=f"{base}...{head}", repo=repo, api=api, html=html)  # fmt: skip
        link = link_header(link_base, params, number, last)
        return 200, body, [("Link", link)] if link else []

    def _runs(self, repo: DemoRepo, q: dict[str, str], page: Callable[..., Any], api: str, html: str,
              workflow_id: int | None = None) -> tuple[int, Any, list[tuple[str, str]]]:  # fmt: skip
        runs = [
            r for r in self.history.runs if r.repo == repo.full_name and workflow_id in (None, r.workflow_id)
        ]
        if "created" in q:
            pred = created_filter(q["created"])
            if pred is None:
                return 422, validation_failed("WorkflowRun", "created", _RUNS_DOC), []
            runs = [r for r in runs if pred(r.created_at)]
        tests: dict[str, Callable[[DemoRun, str], bool]] = {
            "actor": lambda r, v: r.actor.login.lower() == v.lower(),
            "branch": lambda r, v: r.head_branch == v,
            "event": lambda r, v: r.event == v,
            "head_sha": lambda r, v: r.head_sha == v.lower(),
            "check_suite_id": lambda r, v: str(r.check_suite_id) == v,
            "status": lambda r, v: (r.conclusion == v) if v in _CONCLUSIONS else (r.status == v),
        }
        for key, test in tests.items():
            if key in q:
                runs = [r for r in runs if test(r, q[key])]
        runs.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        strip_prs = q.get("exclude_pull_requests", "").lower() == "true"

        def build(r: DemoRun) -> Any:
            o = obj.workflow_run(r, repo, None, api, html)
            if strip_prs:
                o["pull_requests"] = []
            return o

        return page(runs, "workflow_runs", build, filtered=any(k in q for k in _RUN_FILTERS))  # type: ignore[no-any-return]

    # -- issues (cimedic notify) -------------------------------------------------------
    @property
    def desk(self) -> IssueDesk:
        """The issue endpoints' state (:mod:`cimedic.testing.replay_issues`)."""
        desk: IssueDesk = self.__dict__.setdefault("_desk", IssueDesk(self.history))
        return desk

    @property
    def issues(self) -> list[dict[str, Any]]:
        """Issues created through ``POST /repos/{o}/{r}/issues``, in order (GitHub's JSON)."""
        return self.desk.issues

    @property
    def comments(self) -> list[dict[str, Any]]:
        """Comments created through ``POST /repos/{o}/{r}/issues/{n}/comments``, in order."""
        return self.desk.comments


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
