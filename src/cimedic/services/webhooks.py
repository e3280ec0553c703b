"""Use case: receive webhook deliveries of any CI provider, store them raw first, process them
after.

Receiving (:func:`receive`) only asks the provider's
:class:`~cimedic.model.providers.WebhookReceiver` to verify the delivery (GitHub:
``X-Hub-Signature-256``) and stores the body keyed by the provider's delivery id (a redelivery
with the same id is a no-op), so the endpoint answers well within the provider's timeout (we aim
for < 1 s; GitHub docs "Best practices for using webhooks": respond within 10 seconds, process
asynchronously, use the delivery id to guard against duplicates). Processing
(:class:`DeliveryWorker`) maps stored deliveries into runs and jobs with the same receiver,
fetches the logs of failed jobs and diagnoses them. Every delivery is processed in isolation: any
exception (a malformed body, a ``DataError`` of the database, a bug) marks that delivery
``failed`` with the reason, logs it and goes on with the next one. A failed delivery is tried
again with back-off (``min(2**tries minutes, 1 h)``) and dead-lettered (status ``dead``) after
:data:`~cimedic.store.pipeline.MAX_TRIES` tries; ``cimedic reprocess`` retries failed ones at
once and ``cimedic reprocess --failed`` lists the dead ones and retries them once. Raw deliveries
are stored with the source ``<provider id>-webhook``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from cimedic.model import RunAttempt, Status, WorkflowRun
from cimedic.model.providers import CIProvider, ProviderError, WebhookReceiver, WebhookRejected
from cimedic.store.base import now_utc
from cimedic.store.repository import Store

if TYPE_CHECKING:
    from cimedic.analysis.diagnosis import Diagnoser
    from cimedic.model.events import WebhookEvent
    from cimedic.services.collect import CollectOptions

log = logging.getLogger(__name__)


def source_of(provider: str) -> str:
    """The ``raw_events.source`` of a provider's deliveries (``github-webhook``)."""
    return f"{provider}-webhook"


@dataclass(frozen=True)
class Receipt:
    """The answer to a delivery: HTTP status code, a short message, the stored raw id."""

    status_code: int
    message: str
    raw_id: int | None = None
    duplicate: bool = False


def receive(store: Store, receiver: WebhookReceiver, headers: Mapping[str, str], body: bytes) -> Receipt:
    """Verify and store one delivery (``headers`` by any case). Never parses the body (that
    happens after the answer).

    Answers what the receiver's :class:`WebhookRejected` says (GitHub: 503 without a secret,
    400 without the event or delivery header, 401 for a bad signature), 202 when stored, 200 for
    a duplicate delivery or an event cimedic does not use (providers only need a 2xx).
    """
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        delivery = receiver.verify(lower, body)
    except WebhookRejected as exc:
        return Receipt(exc.status, exc.message)
    if delivery.event not in receiver.handled_events:
        return Receipt(200, f"event {delivery.event!r} ignored")
    raw_id, created = store.add_raw_event(
        source_of(receiver.provider), delivery.delivery_id, delivery.event, body
    )
    if not created:
        return Receipt(200, "duplicate delivery", raw_id, duplicate=True)
    return Receipt(202, "accepted", raw_id)


@dataclass
class ProcessReport:
    """Deliveries processed (done / failed with reasons; ``dead``: those of the failed that
    reached the last try), logs fetched and test reports stored."""

    done: int = 0
    failed: int = 0
    dead: int = 0
    logs_fetched: int = 0
    test_reports: int = 0
    problems: list[str] = field(default_factory=list)


def apply_event(store: Store, ev: WebhookEvent) -> tuple[str | None, bool]:
    """Store the run or job a parsed delivery carries. Returns ``(repository, failed_job)``."""
    if ev.repository is None:
        return None, False
    repo_id = store.upsert_repository(ev.repository)
    full_name = ev.repository.full_name
    if ev.run is not None:
        run = ev.run
        attempt = RunAttempt(
            run_provider_id=run.provider_id,
            attempt=run.run_attempt,
            status=run.status,
            conclusion=run.conclusion,
            started_at=run.run_started_at,
            updated_at=run.updated_at,
            actor=run.actor,
        )
        store.ingest_run(repo_id, run, (attempt,), ())
    if ev.job is not None and not ev.job.run_provider_id:
        # a check run without a link to its workflow run (GitHub's check_run example has none):
        # nothing to attach it to; the workflow_job delivery of the same job carries the run
        return full_name, False
    if ev.job is not None:
        job = ev.job
        run_id = store.run_id(repo_id, job.run_provider_id)
        if run_id is None:
            # workflow_job can arrive before workflow_run: a placeholder run, completed later
            placeholder = WorkflowRun(
                provider_id=job.run_provider_id,
                repository=full_name,
                workflow_name=job.workflow_name,
                run_attempt=job.run_attempt,
                branch=job.head_branch,
                head_sha=job.head_sha or "",
                status=Status.UNKNOWN,
            )
            run_id = store.upsert_run(repo_id, placeholder)
        store.upsert_jobs(repo_id, run_id, [job])
        return full_name, job.conclusion is not None and job.conclusion.is_failure
    return full_name, False


def process_pending(
    store: Store,
    receivers: Mapping[str, WebhookReceiver],
    *,
    providers: Mapping[str, CIProvider] | None = None,
    diagnoser: Diagnoser | None = None,
    statuses: tuple[str, ...] = ("pending", "failed"),
    since: datetime | None = None,
    log_max_bytes: int = 20 * 1024 * 1024,
    due_only: bool = True,
    options: CollectOptions | None = None,
) -> ProcessReport:
    """Process stored deliveries in ``statuses`` (oldest first) of every provider in
    ``receivers`` (provider id → receiver); fetch and diagnose failed-job logs through
    ``providers`` (provider id → client; a provider without one leaves its logs pending for
    ``watch``/``sync``).

    Each delivery is processed on its own: whatever it raises (``WebhookError``, a database
    ``DataError``, ``RecursionError`` ...) marks it ``failed`` with the reason (logged at WARNING,
    listed in the report's ``problems``), to be tried again after the back-off of
    :meth:`~cimedic.store.pipeline.PipelineMixin.fail_raw_event`, or ``dead`` after the last try;
    the next delivery is processed all the same. With ``due_only`` (the worker), ``failed``
    deliveries are taken only when their next try is due; without (``cimedic reprocess``), at
    once. Never raises for a delivery; a broken store still raises.

    With ``options`` (``serve``: :meth:`~cimedic.bootstrap.AppContext.collect_options`), the
    collection knobs replace ``log_max_bytes``, and each repository where a run completed also
    gets its test reports: new artifacts listed, missing ones downloaded by priority within
    ``test_report_budget`` (what ``watch`` and ``agent`` do after each poll), so reports a crash
    or the budget left behind are fetched later too."""
    report = ProcessReport()
    repos_with_failures: set[tuple[str, str]] = set()
    repos_with_completed_runs: dict[tuple[str, str], int] = {}
    due_at = now_utc() if due_only else None
    for provider, receiver in receivers.items():
        after_id = 0
        while True:
            batch = store.raw_events(
                status=statuses,
                source=source_of(provider),
                since=since,
                limit=500,
                after_id=after_id,
                due_at=due_at,
            )
            if not batch:
                break
            for raw in batch:
                after_id = raw.id
                try:
                    ev = receiver.parse(raw.event, raw.payload)
                    repo, failed_job = apply_event(store, ev)
                except Exception as exc:  # isolation: one delivery never stops the others
                    _record_failure(
                        store, raw.id, f"delivery {raw.key} ({raw.event}): {_describe(exc)}", report
                    )
                    continue
                store.mark_raw_event(raw.id, "done")
                report.done += 1
                if failed_job and repo:
                    repos_with_failures.add((provider, repo))
                if repo and ev.run is not None and ev.run.status == Status.COMPLETED:
                    key = (provider, repo)
                    repos_with_completed_runs[key] = repos_with_completed_runs.get(key, 0) + 1
    if providers:
        from cimedic.services.collect import CollectOptions

        _collect_after(
            store,
            providers,
            diagnoser,
            options or CollectOptions(log_max_bytes=log_max_bytes, fetch_test_reports=False),
            repos_with_failures,
            repos_with_completed_runs if options is not None else {},
            report,
        )
    return report


def _collect_after(
    store: Store,
    providers: Mapping[str, CIProvider],
    diagnoser: Diagnoser | None,
    options: CollectOptions,
    repos_with_failures: set[tuple[str, str]],
    repos_with_completed_runs: Mapping[tuple[str, str], int],
    report: ProcessReport,
) -> None:
    """Failed-job logs of the repositories with failures, then test reports of those where runs
    completed, through each provider's client (a provider without one is left to ``watch``)."""
    from cimedic.services.collect import Collector, CollectReport

    for provider, repo in sorted(repos_with_failures | set(repos_with_completed_runs)):
        client = providers.get(provider)
        if client is None:
            continue
        collector = Collector(store, client, diagnoser, options)
        sub = CollectReport(repo)
        try:
            if (provider, repo) in repos_with_failures:
                collector.fetch_logs(repo, sub)
            completed = repos_with_completed_runs.get((provider, repo), 0)
            if completed and options.fetch_test_reports:
                sub.runs_ingested = completed  # runs changed: list artifacts since the last listing
                collector.fetch_test_reports(repo, sub)
        except ProviderError as exc:  # the deliveries are stored; logs and reports come later
            sub.problems.append(f"{repo}: {exc}")
        report.logs_fetched += sub.logs_fetched
        report.test_reports += sub.test_reports
        report.problems.extend(sub.problems)


def _describe(exc: BaseException) -> str:
    """One line for a failure reason: the exception's type (unless it is a ``ValueError``, which
    the parsers raise with a full message) and its message, cut to 500 characters (a database
    error quotes the whole statement and its parameters)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > 500:
        text = text[:497] + "..."
    return text if isinstance(exc, ValueError) else f"{type(exc).__name__}: {text}"


def _record_failure(store: Store, raw_id: int, reason: str, report: ProcessReport) -> None:
    state = store.fail_raw_event(raw_id, reason)
    report.failed += 1
    if state.status == "dead":
        report.dead += 1
        log.warning("webhook %s; dead-lettered after %d tries", reason, state.tries)
        report.problems.append(f"{reason} (dead-lettered after {state.tries} tries)")
    else:
        log.warning("webhook %s; try %d failed, next at %s", reason, state.tries, state.next_attempt_at)
        report.problems.append(reason)


class DeliveryWorker:
    """A background thread that processes stored deliveries whenever :meth:`wake` is called
    (and once at start, to finish what a crash left pending). Not an agent: a worker."""

    def __init__(self, process: Callable[[], ProcessReport]) -> None:
        self._process = process
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cimedic-deliveries", daemon=True)
        self.last_report: ProcessReport | None = None
        self.errors: list[str] = []

    def start(self) -> None:
        self._wake.set()
        self._thread.start()

    def wake(self) -> None:
        self._idle.clear()
        self._wake.set()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until the worker has processed everything it was woken for (for tests)."""
        return self._idle.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=30)
            if self._stop.is_set():
                break
            self._wake.clear()
            try:
                self.last_report = self._process()
            except Exception as exc:  # keep serving; the delivery stays pending for the next wake
                self.errors.append(repr(exc))
            if not self._wake.is_set():
                self._idle.set()
