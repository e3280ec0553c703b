"""GitHub Actions REST client: repositories, workflows, runs, jobs, logs, artifacts.

The transport is the injected :class:`httpx.Client` (tests pass one with an
``httpx.MockTransport``); headers, rate limits, retries, ETags and redirect downloads are in
:mod:`cimedic.connectors.github_actions.http`, JSON mapping in
:mod:`cimedic.connectors.github_actions.mapping`. All methods return domain types.

GitHub docs: "Using pagination in the REST API" (``Link: <...>; rel="next"``, ``per_page`` at
most 100), "Workflow runs" ("This endpoint will return up to 1,000 results for each search when
using the following parameters: actor, branch, check_suite_id, created, event, head_sha,
status"), "Workflow jobs", "Artifacts", "Commits" (pull requests of a commit, compare two commits).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from cimedic.connectors.github_actions.auth import AppAuth, Auth
from cimedic.connectors.github_actions.http import (
    EtagStore,
    GitHubError,
    LogDownload,
    MemoryEtagStore,
    RateLimit,
    RateLimitError,
    Stats,
    Transport,
)
from cimedic.connectors.github_actions.mapping import (
    ArtifactRef,
    MappingError,
    map_artifacts_page,
    map_compare,
    map_job,
    map_jobs_page,
    map_pull_requests,
    map_repository,
    map_run,
    map_runs_page,
    map_workflows_page,
)
from cimedic.model.ci import CommitRef, Job, PullRequestRef, Repository, RunAttempt, Workflow, WorkflowRun
from cimedic.model.providers import PollResult

log = logging.getLogger(__name__)

PER_PAGE = 100
"""Items per page (GitHub's maximum)."""
SEARCH_CAP = 1000
"""GitHub returns at most this many runs for a filtered ``/actions/runs`` query."""
EARLIEST = datetime(2018, 1, 1, tzinfo=UTC)
"""Start of an open ``created`` window (GitHub Actions did not run before 2018)."""

_T = TypeVar("_T")
WindowCallback = Callable[[datetime, datetime, int], None]


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() // 1)


class GitHubClient:
    """Client of the GitHub Actions REST API for one account (token, app or anonymous).

    ``sleep(seconds)`` and ``clock() -> epoch seconds`` are injectable; ``max_retries`` bounds
    the retries of one request, ``max_wait`` (seconds) the longest rate-limit wait accepted.
    Thread-safe. An :class:`AppAuth` without installation id is bound, per repository, to the
    installation found with ``GET /repos/{owner}/{repo}/installation``.
    Methods raise :class:`GitHubError` (4xx, exhausted 5xx retries, invalid JSON, malformed
    objects; 404 from the installation lookup when the app is not installed), :class:`RateLimitError` (rate limited beyond ``max_wait``) and
    :class:`ValueError` for a ``full_name`` that is not ``owner/name``.
    """

    def __init__(
        self,
        http: httpx.Client,
        base_url: str = "https://api.github.com",
        auth: Auth | None = None,
        etags: EtagStore | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_retries: int = 5,
        max_wait: float = 900.0,
    ) -> None:
        self._t = Transport(http, base_url, auth, etags, sleep, clock, max_retries, max_wait)
        self._clock = clock
        self._auth = auth
        self._bound: dict[str, Auth] = {}
        self._lock = threading.Lock()

    id = "github"
    """The registry id (:class:`cimedic.model.providers.CIProvider`)."""

    @property
    def requests(self) -> int:
        """API requests answered so far (every status)."""
        return self._t.stats.requests

    def run_attempts(self, run: WorkflowRun, jobs: list[Job]) -> tuple[RunAttempt, ...]:
        """The attempts of ``run``, derived from its jobs of every attempt (no request)."""
        from cimedic.connectors.github_actions.attempts import attempts_from_jobs

        return attempts_from_jobs(run, jobs)

    @property
    def rate_limit(self) -> RateLimit:
        """Snapshot of the last ``X-RateLimit-*`` headers seen."""
        return self._t.rate_limit

    @property
    def stats(self) -> Stats:
        """Snapshot of the request counters."""
        return self._t.stats

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _repo(full_name: str) -> str:
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"repository must be 'owner/name', got {full_name!r}")
        return f"/repos/{quote(owner)}/{quote(name)}"

    def _auth_for(self, full_name: str) -> Auth | None:
        """The auth for requests about ``full_name``: an :class:`AppAuth` without installation id
        is bound to the repository's installation (looked up once per repository)."""
        auth = self._auth
        if not isinstance(auth, AppAuth) or auth.installation_id is not None:
            return auth
        with self._lock:
            bound = self._bound.get(full_name)
        if bound is None:
            bound = auth.for_repository(full_name)
            with self._lock:
                self._bound[full_name] = bound
        return bound

    def _map(self, response: httpx.Response, fn: Callable[[Any], _T]) -> _T:
        body = self._t.decode(response)
        try:
            return fn(body)
        except MappingError as err:
            raise GitHubError(response.status_code, str(response.request.url), str(err)) from None

    def _pages(
        self,
        path: str,
        params: Mapping[str, str | int],
        auth: Auth | None,
        max_pages: int | None = None,
    ) -> Generator[httpx.Response, None, None]:
        """Responses of ``path`` and the pages its ``Link: rel="next"`` headers lead to."""
        response = self._t.send("GET", path, params=params, auth=auth)
        pages = 1
        while True:
            yield response
            next_url = response.links.get("next", {}).get("url")
            if not next_url:
                return
            if max_pages is not None and pages >= max_pages:
                log.warning("%s: stopping after %d pages (GitHub's result cap)", path, pages)
                return
            response = self._t.send("GET", next_url, auth=auth)
            pages += 1

    # ------------------------------------------------------------------ repositories, workflows

    def get_repository(self, full_name: str) -> Repository:
        """``GET /repos/{owner}/{repo}``."""
        return self._map(
            self._t.send("GET", self._repo(full_name), auth=self._auth_for(full_name)), map_repository
        )

    def list_workflows(self, full_name: str) -> list[Workflow]:
        """All workflows of the repository (``GET /repos/{o}/{r}/actions/workflows``, paginated)."""
        out: list[Workflow] = []
        for response in self._pages(
            f"{self._repo(full_name)}/actions/workflows", {"per_page": PER_PAGE}, self._auth_for(full_name)
        ):
            out.extend(self._map(response, map_workflows_page)[1])
        return out

    # ------------------------------------------------------------------ runs

    def list_runs(
        self,
        full_name: str,
        *,
        created_from: datetime | None,
        created_to: datetime | None,
        workflow: str | int | None = None,
        branch: str | None = None,
        on_window: WindowCallback | None = None,
    ) -> Iterator[WorkflowRun]:
        """Workflow runs created in ``[created_from, created_to]`` (inclusive, 1-second precision,
        naive datetimes taken as UTC), each run once, newest windows first.

        Uses ``/actions/workflows/{workflow}/runs`` when ``workflow`` (id or file name) is given,
        else ``/actions/runs``. A filtered query returns at most 1,000 runs (page 11 answers
        422), so, like Apache DevLake's ``cicd_run_collector``, a window whose first page says
        ``total_count >= 1000`` is split in two halves, recursively, down to 1-second windows
        (beyond which at most 1,000 runs can be had: a warning is logged). No query pages past
        1,000 results. Without any window or branch, the unfiltered listing is paginated fully.
        ``on_window(from, to, total_count)`` is called for every window queried.
        """
        repo = self._repo(full_name)
        auth = self._auth_for(full_name)
        path = (
            f"{repo}/actions/workflows/{quote(str(workflow), safe='')}/runs"
            if workflow
            else f"{repo}/actions/runs"
        )
        base: dict[str, str | int] = {"per_page": PER_PAGE}
        if branch:
            base["branch"] = branch
        seen: set[str] = set()

        def fresh(runs: list[WorkflowRun]) -> Iterator[WorkflowRun]:
            for run in runs:
                if run.provider_id not in seen:
                    seen.add(run.provider_id)
                    yield run

        def page_runs(response: httpx.Response) -> tuple[int | None, list[WorkflowRun]]:
            return self._map(response, lambda body: map_runs_page(body, repository=full_name))

        if created_from is None and created_to is None and not branch:
            for response in self._pages(path, base, auth):
                yield from fresh(page_runs(response)[1])
            return

        low = _epoch(created_from or EARLIEST)
        high = _epoch(created_to) if created_to is not None else int(self._clock())
        stack = [(low, high)] if low <= high else []
        max_pages = SEARCH_CAP // PER_PAGE
        while stack:
            start, end = stack.pop()
            params = {**base, "created": f"{_iso(start)}..{_iso(end)}"}
            pages = self._pages(path, params, auth, max_pages=max_pages)
            first = next(pages)
            total, runs = page_runs(first)
            total = total if total is not None else len(runs)
            if on_window is not None:
                on_window(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC), total)
            if total >= SEARCH_CAP and start < end:
                pages.close()
                middle = start + (end - start) // 2
                stack.append((start, middle))  # older half, processed second
                stack.append((middle + 1, end))  # newer half, processed first
                continue
            if total >= SEARCH_CAP:
                log.warning(
                    "%s: %d runs created at %s; only %d can be listed", path, total, _iso(start), SEARCH_CAP
                )
            yield from fresh(runs)
            for response in pages:
                yield from fresh(page_runs(response)[1])

    def poll_runs(self, full_name: str, *, per_page: int = PER_PAGE) -> PollResult:
        """Cheap incremental poll: conditional GET of the first page of ``/actions/runs``.

        Sends the stored ETag in ``If-None-Match``; a 304 (nothing changed) gives
        ``PollResult(False, [])`` and does not count against the primary rate limit
        (GitHub docs "Use conditional requests").
        """
        response = self._t.send(
            "GET",
            f"{self._repo(full_name)}/actions/runs",
            params={"per_page": per_page},
            conditional=True,
            auth=self._auth_for(full_name),
        )
        if response.status_code == 304:
            return PollResult(changed=False, runs=[])
        runs = self._map(response, lambda body: map_runs_page(body, repository=full_name))[1]
        return PollResult(changed=True, runs=runs)

    def get_run(self, full_name: str, run_id: str | int) -> WorkflowRun:
        """``GET /repos/{o}/{r}/actions/runs/{run_id}`` (the run in its latest attempt)."""
        response = self._t.send(
            "GET", f"{self._repo(full_name)}/actions/runs/{run_id}", auth=self._auth_for(full_name)
        )
        return self._map(response, lambda body: map_run(body, repository=full_name))

    def rerun_failed_jobs(self, full_name: str, run_id: str | int) -> None:
        """``POST /repos/{o}/{r}/actions/runs/{run_id}/rerun-failed-jobs`` (201 Created): re-run
        the failed jobs of a run and their dependents, as a new attempt (GitHub REST, "Re-run
        failed jobs from a workflow run"; needs write access: ``actions: write``). Raises
        :class:`GitHubError` when GitHub refuses (e.g. 403: run still in progress or older than
        30 days)."""
        self._t.send(
            "POST",
            f"{self._repo(full_name)}/actions/runs/{run_id}/rerun-failed-jobs",
            auth=self._auth_for(full_name),
        )

    # ------------------------------------------------------------------ jobs, logs

    def list_jobs(self, full_name: str, run_id: str | int, filter: str = "all") -> list[Job]:
        """Jobs of a run: ``filter="all"`` gives the jobs of every attempt, ``"latest"`` only
        those of the latest attempt (``GET .../actions/runs/{id}/jobs``, paginated)."""
        out: list[Job] = []
        path = f"{self._repo(full_name)}/actions/runs/{run_id}/jobs"
        for response in self._pages(
            path, {"filter": filter, "per_page": PER_PAGE}, self._auth_for(full_name)
        ):
            out.extend(self._map(response, map_jobs_page)[1])
        return out

    def get_job(self, full_name: str, job_id: str | int) -> Job:
        """``GET /repos/{o}/{r}/actions/jobs/{job_id}``."""
        return self._map(
            self._t.send(
                "GET", f"{self._repo(full_name)}/actions/jobs/{job_id}", auth=self._auth_for(full_name)
            ),
            map_job,
        )

    def download_job_log(
        self, full_name: str, job_id: str | int, max_bytes: int | None = None
    ) -> LogDownload:
        """The plain-text log of a job (``GET .../actions/jobs/{id}/logs``).

        GitHub answers 302 to a URL valid for 1 minute on another host; it is fetched without
        ``Authorization`` and streamed, keeping only the last ``max_bytes`` bytes when given.
        Raises :class:`GitHubError` (404 / 410 Gone: log expired or deleted).
        """
        return self._t.download(
            f"{self._repo(full_name)}/actions/jobs/{job_id}/logs", max_bytes, auth=self._auth_for(full_name)
        )

    # ------------------------------------------------------------------ artifacts, pulls

    def list_artifacts(self, full_name: str, run_id: str | int) -> list[ArtifactRef]:
        """Artifacts of a run (``GET .../actions/runs/{id}/artifacts``, paginated)."""
        out: list[ArtifactRef] = []
        path = f"{self._repo(full_name)}/actions/runs/{run_id}/artifacts"
        for response in self._pages(path, {"per_page": PER_PAGE}, self._auth_for(full_name)):
            out.extend(self._map(response, map_artifacts_page)[1])
        return out

    def list_repo_artifacts(self, full_name: str, *, since: datetime | None = None) -> list[ArtifactRef]:
        """Artifacts of all runs of the repository, newest first
        (``GET /repos/{o}/{r}/actions/artifacts``, paginated, 100 per request).

        With ``since`` (aware UTC), paging stops after the first page holding an artifact created
        before it (GitHub lists artifacts newest first), so the result holds every artifact
        created at or after ``since`` and possibly some older ones."""
        out: list[ArtifactRef] = []
        for response in self._pages(
            f"{self._repo(full_name)}/actions/artifacts", {"per_page": PER_PAGE}, self._auth_for(full_name)
        ):
            page = self._map(response, map_artifacts_page)[1]
            out.extend(page)
            if since is not None and any(a.created_at is not None and a.created_at < since for a in page):
                break
        return out

    def download_artifact(self, full_name: str, artifact_id: str | int) -> bytes:
        """The zip archive of an artifact (``GET .../actions/artifacts/{id}/zip``: a 302 redirect
        like logs). Raises :class:`GitHubError` (410 Gone: expired)."""
        return self._t.download(
            f"{self._repo(full_name)}/actions/artifacts/{artifact_id}/zip", auth=self._auth_for(full_name)
        ).content

    def pulls_for_commit(self, full_name: str, sha: str) -> list[PullRequestRef]:
        """Pull requests that contain commit ``sha`` (``GET /repos/{o}/{r}/commits/{sha}/pulls``)."""
        out: list[PullRequestRef] = []
        for response in self._pages(
            f"{self._repo(full_name)}/commits/{sha}/pulls", {"per_page": PER_PAGE}, self._auth_for(full_name)
        ):
            out.extend(self._map(response, map_pull_requests))
        return out

    def compare_commits(self, full_name: str, base: str, head: str, *, max_pages: int = 3) -> list[CommitRef]:
        """Commits reachable from ``head`` and not from ``base`` (``git log base..head``), oldest
        first: ``GET /repos/{o}/{r}/compare/{base}...{head}`` (REST "Compare two commits"),
        ``per_page`` 100, following ``Link`` for at most ``max_pages`` pages. ``base`` and
        ``head`` are SHAs, branches or tags. Raises :class:`GitHubError` (404: unknown commit)."""
        path = f"{self._repo(full_name)}/compare/{quote(base, safe='')}...{quote(head, safe='')}"
        out: list[CommitRef] = []
        for response in self._pages(
            path, {"per_page": PER_PAGE}, self._auth_for(full_name), max_pages=max_pages
        ):
            out.extend(self._map(response, map_compare))
        return out

    # ------------------------------------------------------------------ issues

    def create_issue(self, full_name: str, title: str, body: str, labels: Sequence[str] = ()) -> str:
        """Open an issue: ``POST /repos/{o}/{r}/issues`` with ``{"title", "body", "labels"}``
        (GitHub REST "Create an issue": 201 Created; needs ``issues: write``). Returns the
        issue's web URL (``html_url``). Sent once, never retried (a retry could open a second
        issue). Raises :class:`GitHubError` for any other status (410: issues disabled, 422:
        validation failed, 403/404: no access) or a network error."""
        payload = {"title": title, "body": body, "labels": list(labels)}
        return self._create(full_name, "issues", payload, what="issue")

    def create_issue_comment(self, full_name: str, number: int, body: str) -> str:
        """Comment on issue or pull request ``number``: ``POST /repos/{o}/{r}/issues/{n}/comments``
        with ``{"body"}`` (GitHub REST "Create an issue comment"; every pull request is an issue
        for this endpoint; needs ``issues: write`` or ``pull_requests: write``). Returns the
        comment's ``html_url``. Sent once, never retried. Raises :class:`GitHubError` for any
        other status than 201 (403: locked or no access, 404: no such issue, 410: issues
        disabled, 422: validation failed) or a network error."""
        return self._create(full_name, f"issues/{int(number)}/comments", {"body": body}, what="comment")

    def _create(self, full_name: str, path: str, payload: Mapping[str, object], *, what: str) -> str:
        t = self._t
        url = t.url(f"{self._repo(full_name)}/{path}")
        request = t.http.build_request(
            "POST", url, json=payload, headers=t._headers(self._auth_for(full_name))
        )
        try:
            response = t.send_once(request)
        except httpx.TransportError as err:
            raise GitHubError(0, url, f"network error: {err!r}") from err
        if response.status_code != 201:
            raise GitHubError(response.status_code, url, t._message(response))
        data = t.decode(response)
        html_url = data.get("html_url") if isinstance(data, dict) else None
        if not isinstance(html_url, str):
            raise GitHubError(response.status_code, url, f"created {what} has no html_url")
        return html_url


__all__ = [
    "ArtifactRef",
    "EtagStore",
    "GitHubClient",
    "GitHubError",
    "LogDownload",
    "MemoryEtagStore",
    "PollResult",
    "RateLimit",
    "RateLimitError",
    "Stats",
]
