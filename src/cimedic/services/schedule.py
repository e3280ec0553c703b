"""The scheduler behind ``cimedic agent``: one long-running process that runs the watchers and
the periodic jobs (APScheduler), not an "agent" itself.

Guarantees (APScheduler 3 docs, "User guide: Limiting the number of concurrently executing
instances of a job", "Missed job executions and coalescing"):

* no overlapping runs of a job (``max_instances=1``); a run that is still going when the next
  is due is skipped, and missed runs are coalesced into one;
* the schedule lives in the store (``SQLAlchemyJobStore`` on the store's engine, table
  ``apscheduler_jobs``), so a restart continues with each job's next run time instead of
  repeating or forgetting it; what a job *did* is recorded by the job itself (the action
  audit never repeats a re-run of the same run attempt, notifications are de-duplicated);
* :meth:`AgentScheduler.shutdown` waits for running jobs (called on SIGTERM / SIGINT).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cimedic.store.repository import Store

log = logging.getLogger("cimedic.agent")


@dataclass(frozen=True)
class ScheduledJob:
    """A periodic job: ``id`` (stable: it keys the persisted schedule), a callable without
    arguments, and either ``seconds`` (interval) or ``cron`` (a 5-field crontab in UTC)."""

    id: str
    func: Callable[[], object]
    seconds: float | None = None
    cron: str | None = None
    description: str = ""


@dataclass
class JobRun:
    """The outcome of one run of a job (kept in memory for ``status``; the last 50 per job)."""

    job_id: str
    started_at: datetime
    seconds: float
    ok: bool
    summary: str = ""


@dataclass
class AgentScheduler:
    """APScheduler wrapper over the store's engine. Jobs are registered by id; their callables
    are looked up in this process's registry (``_REGISTRY``), so the persisted job store holds
    only references, never pickled closures."""

    store: Store
    jobs: list[ScheduledJob]
    runs: dict[str, list[JobRun]] = field(default_factory=dict)
    _scheduler: object | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """Create the persisted job store, (re)register every job and start running them."""
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.store.engine, tablename="apscheduler_jobs")},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone=UTC,
        )
        for job in self.jobs:
            _REGISTRY[job.id] = self._wrap(job)
            if job.cron:
                trigger: object = CronTrigger.from_crontab(job.cron, timezone=UTC)
            elif job.seconds:
                trigger = IntervalTrigger(seconds=job.seconds, timezone=UTC)
            else:
                raise ValueError(f"job {job.id}: give seconds or cron")
            scheduler.add_job(
                run_registered,
                trigger=trigger,
                args=[job.id],
                id=job.id,
                name=job.description or job.id,
                replace_existing=True,
            )
        scheduler.start()
        self._scheduler = scheduler

    def _wrap(self, job: ScheduledJob) -> Callable[[], None]:
        def run() -> None:
            started = datetime.now(UTC)
            ok, summary = True, ""
            try:
                result = job.func()
                summary = str(result)[:300] if result is not None else ""
            except Exception as exc:  # a failing job must not stop the scheduler
                ok, summary = False, f"{type(exc).__name__}: {exc}"
                log.exception("job %s failed", job.id)
            seconds = (datetime.now(UTC) - started).total_seconds()
            with self._lock:
                self.runs.setdefault(job.id, []).append(JobRun(job.id, started, seconds, ok, summary))
                del self.runs[job.id][:-50]

        return run

    def run_now(self, job_id: str) -> None:
        """Run one registered job in the calling thread (``cimedic agent --once``, tests)."""
        _REGISTRY[job_id]()

    def next_runs(self) -> dict[str, datetime | None]:
        """Next run time (UTC) of every job."""
        if self._scheduler is None:
            return {}
        return {j.id: j.next_run_time for j in self._scheduler.get_jobs()}  # type: ignore[attr-defined]

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling and wait for running jobs (graceful on SIGTERM)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=wait)  # type: ignore[attr-defined]
            self._scheduler = None


_REGISTRY: dict[str, Callable[[], None]] = {}


def run_registered(job_id: str) -> None:
    """Entry point stored in the job store: look the job up in this process and run it."""
    func = _REGISTRY.get(job_id)
    if func is None:
        log.warning("job %s is not registered in this process; skipped", job_id)
        return
    func()
