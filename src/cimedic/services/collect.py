"""Use case: collect a CI provider's history into the store (backfill ``sync``, incremental
``poll``), then fetch failed-job logs and diagnose them. The provider is any
:class:`~cimedic.model.providers.CIProvider` (GitHub Actions today).

Request budget (GitHub) (what ``bench/github_requests.py`` measures): listing runs costs one request
per 100 runs; each run that is new or changed costs one jobs request (``filter=all`` returns
the jobs of every attempt, so attempts need no extra request); a completed run already stored
with the same attempt and update time costs nothing; each failed job costs one log download.
Test reports (:mod:`cimedic.services.collect_reports`) come from a paginated listing of the
repository's artifacts plus two requests per downloaded artifact (the ``302`` and its target),
fetched by priority within ``test_report_budget`` requests per hour; the rest is deferred to
later polls. A poll of an unchanged repository is one conditional request answered
``304 Not Modified``, which GitHub does not count against the primary rate limit (GitHub docs,
"Best practices for using the REST API": conditional requests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.model import Job, WorkflowRun
from cimedic.model.providers import CIProvider, ProviderError
from cimedic.store.repository import Store

if TYPE_CHECKING:
    from cimedic.analysis.diagnosis import Diagnoser

ProgressFn = Callable[[str, int, int | None], None]
"""``progress(phase, done, total)``: called as work advances (``total`` None when unknown)."""

DEFAULT_TEST_ARTIFACTS = ("*test*", "*junit*", "*report*", "*results*", "*surefire*")


@dataclass
class CollectReport:
    """What a sync or poll did: counts of records and of GitHub requests."""

    repository: str
    runs_seen: int = 0
    runs_ingested: int = 0
    runs_unchanged: int = 0
    jobs: int = 0
    logs_fetched: int = 0
    logs_failed: int = 0
    diagnosed: int = 0
    test_reports: int = 0
    test_reports_deferred: int = 0
    not_modified: bool = False
    requests: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class CollectOptions:
    """Knobs of collection. ``log_max_bytes``: cap per stored log (bytes; the tail is kept).
    ``test_report_budget``: requests per rolling hour test-report artifacts may cost (None: a
    fifth of the provider's hourly rate limit, see
    :func:`cimedic.services.collect_reports.hourly_budget`); ``fetch_all_reports``: download
    every missing test report now, ignoring the budget (``cimedic sync --reports``)."""

    log_max_bytes: int = 20 * 1024 * 1024
    max_workers: int = 4
    fetch_logs: bool = True
    test_artifact_patterns: Sequence[str] = DEFAULT_TEST_ARTIFACTS
    fetch_test_reports: bool = True
    test_report_budget: int | None = None
    fetch_all_reports: bool = False


class Collector:
    """Collects one provider's history into ``store`` through ``provider`` (its client).

    ``diagnoser`` diagnoses each fetched failed-job log (``None``: logs are stored, diagnosis
    is left for ``cimedic reprocess``).
    """

    def __init__(
        self,
        store: Store,
        provider: CIProvider,
        diagnoser: Diagnoser | None = None,
        options: CollectOptions | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        self.store = store
        self.provider = provider
        self.diagnoser = diagnoser
        self.options = options or CollectOptions()
        self.progress = progress or (lambda _phase, _done, _total: None)

    # ------------------------------------------------------------------ backfill
    def sync(
        self,
        full_name: str,
        *,
        since: datetime,
        until: datetime | None = None,
        workflow: str | None = None,
    ) -> CollectReport:
        """Backfill runs created in ``[since, until)`` (UTC) with their jobs, logs and reports.

        Raises :class:`ProviderError` when the repository cannot be read at all; per-run problems
        are reported in ``CollectReport.problems`` and the rest is still stored.
        """
        report = CollectReport(full_name)
        start_requests = self.provider.requests
        repo_id = self._repository(full_name)
        until = until or datetime.now(UTC)
        runs: dict[str, WorkflowRun] = {}

        def on_window(_frm: datetime, _to: datetime, total: int) -> None:
            self.progress("listing runs", len(runs), None)

        for run in self.provider.list_runs(
            full_name, created_from=since, created_to=until, workflow=workflow, on_window=on_window
        ):
            runs[run.provider_id] = run
            self.progress("listing runs", len(runs), None)
        report.runs_seen = len(runs)
        self._ingest_runs(repo_id, full_name, list(runs.values()), report)
        self.after_ingest(full_name, report, since=since)
        self.store.mark_synced(repo_id)
        report.requests = self.provider.requests - start_requests
        return report

    # ------------------------------------------------------------------ incremental poll
    def poll(self, full_name: str) -> CollectReport:
        """One conditional poll of the newest runs; a 304 costs no primary rate limit.

        When every run on the first page is new (more than 100 runs since the last poll),
        falls back to a backfill since the newest stored run.
        """
        report = CollectReport(full_name)
        start_requests = self.provider.requests
        repo_id = self.store.repository_id(full_name, self.provider.id)
        if repo_id is None:
            repo_id = self._repository(full_name)
        result = self.provider.poll_runs(full_name)
        if not result.changed:
            report.not_modified = True
            self.store.mark_synced(repo_id, poll=True)
            # logs still pending (e.g. a webhook arrived without a client) are fetched anyway
            self.after_ingest(full_name, report)
            report.requests = self.provider.requests - start_requests
            return report
        report.runs_seen = len(result.runs)
        known = self.store.known_run_states(repo_id, [r.provider_id for r in result.runs])
        if result.runs and len(result.runs) >= 100 and not any(r.provider_id in known for r in result.runs):
            oldest = min((r.created_at for r in result.runs if r.created_at), default=None)
            if oldest is not None:
                sub = self.sync(full_name, since=oldest - timedelta(days=1))
                sub.requests += 1
                return sub
        self._ingest_runs(repo_id, full_name, result.runs, report)
        self.after_ingest(full_name, report)
        self.store.mark_synced(repo_id, poll=True)
        report.requests = self.provider.requests - start_requests
        return report

    # ------------------------------------------------------------------ shared steps
    def _repository(self, full_name: str) -> int:
        repo = self.provider.get_repository(full_name)
        repo_id = self.store.upsert_repository(repo)
        try:
            self.store.upsert_workflows(repo_id, self.provider.list_workflows(full_name))
        except ProviderError as exc:  # workflows are a nicety (names for runs carry them too)
            if exc.status not in (403, 404):
                raise
        return repo_id

    def _needs_jobs(self, run: WorkflowRun, known: dict[str, tuple[str, int, datetime | None, bool]]) -> bool:
        state = known.get(run.provider_id)
        if state is None:
            return True
        status, attempt, updated, has_jobs = state
        if status != "completed" or attempt != run.run_attempt or not has_jobs:
            return True
        return updated is None or run.updated_at is None or run.updated_at > updated

    def _ingest_runs(
        self, repo_id: int, full_name: str, runs: list[WorkflowRun], report: CollectReport
    ) -> None:
        known = self.store.known_run_states(repo_id, [r.provider_id for r in runs])
        todo = [r for r in runs if self._needs_jobs(r, known)]
        report.runs_unchanged = len(runs) - len(todo)

        def fetch(run: WorkflowRun) -> tuple[WorkflowRun, list[Job] | None, str | None]:
            try:
                return run, self.provider.list_jobs(full_name, run.provider_id), None
            except ProviderError as exc:
                return run, None, f"run {run.provider_id}: jobs not read: {exc}"

        done = 0
        with ThreadPoolExecutor(max_workers=self.options.max_workers) as pool:
            for run, jobs, problem in pool.map(fetch, todo):
                done += 1
                self.progress("reading jobs", done, len(todo))
                if problem is not None:
                    report.problems.append(problem)
                    # the run itself is still stored, its jobs on the next sync
                    self.store.ingest_run(repo_id, run, (), ())
                    continue
                assert jobs is not None
                run = self._with_pull_requests(full_name, run)
                self.store.ingest_run(repo_id, run, self.provider.run_attempts(run, jobs), jobs)
                report.runs_ingested += 1
                report.jobs += len(jobs)

    def _with_pull_requests(self, full_name: str, run: WorkflowRun) -> WorkflowRun:
        """Runs of fork PRs come with an empty ``pull_requests``: ask ``/commits/{sha}/pulls``."""
        if run.pull_requests or run.event not in ("pull_request", "pull_request_target"):
            return run
        try:
            prs = self.provider.pulls_for_commit(full_name, run.head_sha)
        except ProviderError:
            return run
        return run.model_copy(update={"pull_requests": tuple(prs)}) if prs else run

    def after_ingest(self, full_name: str, report: CollectReport, since: datetime | None = None) -> None:
        """Fetch pending failed-job logs, diagnose them, then test reports: new artifacts are
        listed (a sync: since ``since``; a poll: when runs changed) and pending ones downloaded
        within the budget, so reports an interrupted sync missed are fetched by later polls."""
        if self.options.fetch_logs:
            self.fetch_logs(full_name, report)
        if self.options.fetch_test_reports:
            self.fetch_test_reports(full_name, report, since=since)

    def fetch_logs(self, full_name: str, report: CollectReport) -> None:
        """Download every pending failed-job log of ``full_name`` (tail-capped), store, diagnose;
        then diagnose any stored log left without a diagnosis (a process killed in between)."""
        from cimedic.services.analyze_jobs import diagnose_job

        pending = self.store.jobs_needing_log(full_name)

        def fetch(key):  # type: ignore[no-untyped-def]
            try:
                return (
                    key,
                    self.provider.download_job_log(
                        full_name, key.provider_id, max_bytes=self.options.log_max_bytes
                    ),
                    None,
                )
            except ProviderError as exc:
                return key, None, exc

        done = 0
        with ThreadPoolExecutor(max_workers=self.options.max_workers) as pool:
            for key, log, exc in pool.map(fetch, pending):
                done += 1
                self.progress("fetching logs", done, len(pending))
                if exc is not None:
                    state = "expired" if exc.status in (404, 410) else "error"
                    self.store.mark_log(key.job_id, state, str(exc))
                    report.logs_failed += 1
                    report.problems.append(f"job {key.provider_id} ({key.name}): log not fetched: {exc}")
                    continue
                self.store.save_log(key.job_id, log.content, original_size=log.size, truncated=log.truncated)
                report.logs_fetched += 1
                if self.diagnoser is not None:
                    diagnose_job(
                        self.store, self.diagnoser, key.job_id, f"{full_name}/jobs/{key.provider_id}"
                    )
                    report.diagnosed += 1
        if self.diagnoser is not None:
            # logs stored by a process killed before it diagnosed them (kill -9 between the two)
            for key in self.store.jobs_with_logs(repository=full_name, undiagnosed_only=True):
                diagnose_job(self.store, self.diagnoser, key.job_id, f"{full_name}/jobs/{key.provider_id}")
                report.diagnosed += 1

    def fetch_test_reports(
        self, full_name: str, report: CollectReport, *, since: datetime | None = None
    ) -> None:
        """Find test-report artifacts and download the missing ones by priority within the
        request budget (:class:`cimedic.services.collect_reports.ReportFetcher`)."""
        from cimedic.services.collect_reports import ReportFetcher

        fetcher = ReportFetcher(self.store, self.provider, self.options, self.progress)
        fetcher.collect(full_name, report, since=since, changed=report.runs_ingested > 0)
