"""Test reports of collected runs: find test-report artifacts, attribute each to a run attempt,
and download them by priority within a request budget (part of
:class:`cimedic.services.collect.Collector`).

Steps, each committed before the next so a killed process loses nothing:

1. **Listing** (``GET /actions/artifacts``, newest first, 100 per request): a sync lists the
   artifacts created since the start of its window (only back to one hour before the last
   listing when the listings since that start left no gap: a re-sync of an unchanged
   repository costs one page, not one per 100 artifacts); a poll lists only when runs were ingested
   or changed since the last listing, and only back to one hour before it
   (:data:`LISTING_MARGIN`). Every artifact whose name matches ``test_artifact_patterns`` and
   whose run is stored is recorded ``pending`` in ``test_report_artifacts`` (expired ones
   ``skipped``), with the attempt it belongs to (:func:`artifact_attempt`).
2. **Downloads** by priority (:func:`fetch_order`): artifacts of failed attempts and of re-run
   runs first (what flaky detection needs: a failure and a pass on one commit), newest first;
   then those of passing runs, in a stable pseudo-random order (a uniform sample over time).
   Each download costs :data:`ARTIFACT_REQUESTS` requests (the API request answered ``302``
   and the fetch of the signed URL it points to; GitHub docs, "Download an artifact"). Within
   the budget of ``test_report_budget`` requests per rolling hour (spent requests are read
   back from the table, so a sync and later polls share one budget), the rest waits for a
   later poll (``cimedic watch``, ``agent``, ``serve``) or ``cimedic sync --reports``.
3. **Store**: an artifact's reports and its ``fetched`` mark are one transaction. A download
   that fails is tried again on later polls, :data:`MAX_TRIES` times at most; 404 / 410 (gone,
   expired) and archives that are not zip files are ``skipped`` for good.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.model.providers import ArtifactRef, CIProvider, ProviderError
from cimedic.services.redacted_reports import redact_report
from cimedic.store.artifacts import ArtifactFound, AttemptStart, PendingArtifact
from cimedic.store.repository import Store

if TYPE_CHECKING:
    from cimedic.services.collect import CollectOptions, CollectReport

__all__ = [
    "ARTIFACT_REQUESTS",
    "DEFAULT_RATE_LIMIT",
    "LISTING_MARGIN",
    "MAX_TRIES",
    "ReportFetcher",
    "artifact_attempt",
    "fetch_order",
    "hourly_budget",
]

ARTIFACT_REQUESTS = 2
"""Requests one artifact download costs: ``GET .../artifacts/{id}/zip`` (answered ``302``) and
the fetch of the signed URL it redirects to."""
MAX_TRIES = 3
"""Failed downloads of one artifact after which it is skipped for good."""
LISTING_MARGIN = timedelta(hours=1)
"""How far before the last listing a poll lists again (artifacts appear in the listing late,
and a run may be stored after the listing that showed its artifacts)."""
DEFAULT_RATE_LIMIT = 5000
"""Requests per hour assumed when the provider has not said (GitHub's limit for a token;
GitHub docs, "Rate limits for the REST API")."""
BUDGET_SHARE = 5
"""The default budget is one fifth of the provider's hourly rate limit (1,000 of 5,000)."""


def hourly_budget(configured: int | None, rate_limit: int | None) -> int:
    """Requests per hour test reports may spend: ``configured`` (the ``test_report_budget``
    setting) when set, else a fifth of ``rate_limit`` (the provider's requests per hour, from
    ``X-RateLimit-Limit``; :data:`DEFAULT_RATE_LIMIT` when unknown)."""
    if configured is not None:
        return configured
    return (rate_limit or DEFAULT_RATE_LIMIT) // BUDGET_SHARE


def artifact_attempt(created_at: datetime | None, attempts: Sequence[AttemptStart]) -> int | None:
    """The run attempt that uploaded an artifact created at ``created_at``.

    GitHub's artifact object names its run but not the attempt, so the attempt is derived from
    times: the latest attempt that started at or before the artifact was created (an attempt
    uploads its artifacts while it runs, after it started; a later attempt starts when the
    re-run is requested, after the earlier one finished). A run with one stored attempt owns
    every artifact; an artifact created before every known start (clock skew) belongs to the
    first attempt; with several attempts and no ``created_at`` the attempt is unknown (None).
    ``attempts``: the run's stored attempts with their ``started_at`` (aware UTC).
    """
    if not attempts:
        return None
    if len(attempts) == 1:
        return attempts[0].attempt
    if created_at is None:
        return None
    started = [a.attempt for a in attempts if a.started_at is not None and a.started_at <= created_at]
    return max(started) if started else min(a.attempt for a in attempts)


def _sample_key(artifact_id: str) -> str:
    return hashlib.sha256(artifact_id.encode()).hexdigest()


def fetch_order(pending: Sequence[PendingArtifact]) -> list[PendingArtifact]:
    """``pending`` in download order: artifacts of failed attempts or re-run runs first, newest
    first; then the others in a stable pseudo-random order (SHA-256 of the artifact id), so a
    budget that cannot fetch them all takes a sample spread over the whole window."""
    oldest = datetime.min.replace(tzinfo=UTC)
    first = sorted(
        (p for p in pending if p.failed or p.rerun),
        key=lambda p: (p.created_at or oldest, p.id),
        reverse=True,
    )
    rest = sorted((p for p in pending if not (p.failed or p.rerun)), key=lambda p: _sample_key(p.artifact_id))
    return first + rest


class ReportFetcher:
    """Finds and downloads the test-report artifacts of one provider's repositories into ``store``
    (see the module doc). ``clock()`` is the current aware UTC time."""

    def __init__(
        self,
        store: Store,
        provider: CIProvider,
        options: CollectOptions,
        progress: Callable[[str, int, int | None], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.provider = provider
        self.options = options
        self.progress = progress
        self.clock = clock

    # ------------------------------------------------------------------ budget
    def budget_left(self) -> int | None:
        """Requests test reports may still spend in this rolling hour (None: no limit, with
        ``fetch_all_reports``)."""
        if self.options.fetch_all_reports:
            return None
        rate = getattr(self.provider, "rate_limit", None)
        budget = hourly_budget(self.options.test_report_budget, getattr(rate, "limit", None))
        spent = self.store.test_artifact_requests_since(self.provider.id, self.clock() - timedelta(hours=1))
        return max(0, budget - spent)

    # ------------------------------------------------------------------ the whole step
    def collect(
        self, full_name: str, report: CollectReport, *, since: datetime | None = None, changed: bool = False
    ) -> None:
        """List (when needed, see the module doc) and download within the budget. ``since``: the
        start of a sync's window (the listing goes back to it); ``changed``: runs were ingested."""
        repo_id = self.store.repository_id(full_name, self.provider.id)
        if repo_id is None:
            return
        start = self._listing_start(repo_id, since, changed)
        if start is not None:
            self.discover(full_name, repo_id, report, start)
        self.fetch(full_name, repo_id, report)

    def _listing_start(self, repo_id: int, since: datetime | None, changed: bool) -> datetime | None:
        if since is not None:
            # a re-sync lists only what is newer than the last listing when the listings since
            # ``since`` left no gap (the artifacts before were recorded then): a second sync of an
            # unchanged repository costs one listing page, not one per 100 artifacts
            covered_from, listed_at = self.store.artifacts_listing(repo_id)
            if covered_from is not None and listed_at is not None and covered_from <= since:
                return max(since, listed_at - LISTING_MARGIN)
            return since
        listed = self.store.artifacts_listed_at(repo_id)
        oldest, newest = self.store.run_time_span(repo_id)
        if oldest is None:
            return None
        if listed is None:
            return oldest
        if changed or (newest is not None and newest > listed):
            return max(oldest, listed - LISTING_MARGIN)
        return None

    # ------------------------------------------------------------------ listing
    def discover(self, full_name: str, repo_id: int, report: CollectReport, since: datetime) -> None:
        """List the artifacts created since ``since`` and record the test-report ones of stored runs."""
        listed_at = self.clock()
        self.progress("listing artifacts", 0, None)
        try:
            artifacts = self.provider.list_repo_artifacts(full_name, since=since)
        except ProviderError as exc:
            report.problems.append(f"artifacts not listed: {exc}")
            return
        patterns = self.options.test_artifact_patterns
        wanted = [
            a
            for a in artifacts
            if a.run_id is not None and any(fnmatch.fnmatch(a.name.lower(), p) for p in patterns)
        ]
        runs = self.store.run_ids_by_provider_id(repo_id, {a.run_id for a in wanted if a.run_id is not None})
        attempts = self.store.attempt_starts(runs.values())
        found = [
            self._found(a, runs[a.run_id], attempts[runs[a.run_id]])
            for a in wanted
            if a.run_id is not None and a.run_id in runs
        ]
        self.store.record_test_artifacts(repo_id, found, listed_at=listed_at, listed_from=since)

    @staticmethod
    def _found(a: ArtifactRef, run_id: int, attempts: Sequence[AttemptStart]) -> ArtifactFound:
        return ArtifactFound(
            run_id=run_id,
            artifact_id=a.id,
            name=a.name,
            run_attempt=artifact_attempt(a.created_at, attempts),
            created_at=a.created_at,
            size_in_bytes=a.size_in_bytes,
            status="skipped" if a.expired else "pending",
            error="expired" if a.expired else None,
        )

    # ------------------------------------------------------------------ downloads
    def fetch(self, full_name: str, repo_id: int, report: CollectReport) -> None:
        """Download pending artifacts by priority within the budget; the rest stays pending."""
        from cimedic.inputs.junit import TestReportError, reports_from_zip

        pending = fetch_order(self.store.pending_test_artifacts(repo_id, max_tries=MAX_TRIES))
        if not pending:
            return
        left = self.budget_left()
        todo = pending if left is None else pending[: left // ARTIFACT_REQUESTS]
        report.test_reports_deferred = len(pending) - len(todo)
        if not todo:
            return

        def download(item: PendingArtifact) -> tuple[PendingArtifact, bytes | None, ProviderError | None]:
            try:
                return item, self.provider.download_artifact(full_name, item.artifact_id), None
            except ProviderError as exc:
                return item, None, exc

        done = 0
        with ThreadPoolExecutor(max_workers=self.options.max_workers) as pool:
            for item, data, exc in pool.map(download, todo):
                done += 1
                self.progress("fetching test reports", done, len(todo))
                where = f"artifact {item.name} ({item.artifact_id}) of run {item.run_provider_id}"
                if exc is not None:
                    gone = exc.status in (404, 410)
                    status = "skipped" if gone or item.tries + 1 >= MAX_TRIES else "failed"
                    self.store.mark_test_artifact(item.id, status, str(exc), requests=1)
                    report.problems.append(f"{where}: {exc}")
                    continue
                assert data is not None
                try:
                    reports = [redact_report(r) for r in reports_from_zip(data, f"{item.name}.zip")]
                except TestReportError as err:
                    self.store.mark_test_artifact(item.id, "skipped", str(err), requests=ARTIFACT_REQUESTS)
                    report.problems.append(f"{where}: {err}")
                    continue
                self.store.save_artifact_reports(
                    item.id, item.run_id, item.run_attempt, reports, requests=ARTIFACT_REQUESTS
                )
                report.test_reports += len(reports)
                report.problems.extend(f"{r.source}: {p}" for r in reports for p in r.problems)
