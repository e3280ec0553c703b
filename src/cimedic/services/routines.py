"""The one runner of background routines, used by ``cimedic watch``, ``cimedic serve`` and
``cimedic agent``: polls, the findings refresh, housekeeping, self-healing passes,
notifications and reports. A poller is a poller and a scheduler a scheduler: "agent" names
the LLM loop only (``cimedic.agent``); ``cimedic agent`` stays the command's name.

A :class:`Routine` has an ``id``, an ``interval`` (seconds) or a ``cron`` (5-field crontab,
UTC), and ``run()`` returning a one-line summary. :class:`RoutineRunner` runs them:

* :meth:`RoutineRunner.run_once` runs one routine in the calling thread and never raises: a
  failure becomes an outcome with ``ok`` False and its error, one ``cimedic: error:`` line goes
  to ``report_error`` (stderr by default; redacted), the traceback only to the DEBUG log;
* every outcome is stored (table ``routine_runs``, the last one per routine), so ``/healthz``
  and the next process see what failed last;
* :meth:`RoutineRunner.start` schedules them with APScheduler (APScheduler 3 docs, "User guide:
  Limiting the number of concurrently executing instances of a job", "Missed job executions and
  coalescing"): no overlapping runs of a routine (``max_instances=1``), missed runs coalesced
  into one; the schedule lives in the store (``SQLAlchemyJobStore``, table ``apscheduler_jobs``)
  so a restart continues with each routine's next run time; :meth:`RoutineRunner.shutdown`
  waits for running routines (called on SIGTERM / SIGINT).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from cimedic.model.routines import RoutineOutcome
from cimedic.store.repository import Store

__all__ = ["Routine", "RoutineRunner", "routine_status", "run_registered"]

log = logging.getLogger("cimedic.routines")

#: Outcomes kept in memory per routine (the store keeps the last one).
KEEP_IN_MEMORY = 50


@dataclass(frozen=True)
class Routine:
    """A background routine: ``id`` (stable: it keys the persisted schedule and the stored
    outcome), ``run()`` returning a summary (or None), and either ``seconds`` (interval) or
    ``cron`` (a 5-field crontab in UTC)."""

    id: str
    run: Callable[[], object]
    seconds: float | None = None
    cron: str | None = None
    description: str = ""


def _stderr_error(message: str) -> None:
    sys.stderr.write(f"cimedic: error: {message}\n")
    sys.stderr.flush()


@dataclass
class RoutineRunner:
    """Runs ``routines`` over ``store``. Scheduled routines are looked up by id in this
    process's registry (``_REGISTRY``), so the persisted job store holds only references, never
    pickled closures. ``report_error(message)`` receives one line per failed run,
    ``report_outcome(outcome)`` (optional) every outcome. ``persist`` False keeps the schedule
    in memory (``cimedic serve``, so it never shares schedule rows with an ``agent`` on the same
    store)."""

    store: Store
    routines: Sequence[Routine]
    report_error: Callable[[str], None] = _stderr_error
    report_outcome: Callable[[RoutineOutcome], None] | None = None
    persist: bool = True
    outcomes: dict[str, list[RoutineOutcome]] = field(default_factory=dict)
    _scheduler: object | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run_once(self, routine: Routine) -> RoutineOutcome:
        """Run ``routine`` now in this thread; store and return its outcome (never raises)."""
        from cimedic.analysis.redact import redact

        started = datetime.now(UTC)
        t0 = time.monotonic()
        ok, summary, error = True, "", None
        try:
            result = routine.run()
            summary = str(result)[:300] if result is not None else ""
        except Exception as exc:  # a failing routine must not stop the others
            ok = False
            first = (str(exc).strip().splitlines() or [""])[0]
            error = str(redact(f"{type(exc).__name__}: {first}"[:1000]).text)
            log.debug("routine %s failed", routine.id, exc_info=True)
            self.report_error(f"routine {routine.id} failed: {error}")
        outcome = RoutineOutcome(
            routine_id=routine.id,
            ok=ok,
            ran_at=started,
            seconds=round(time.monotonic() - t0, 3),
            summary=summary,
            error=error,
        )
        with self._lock:
            kept = self.outcomes.setdefault(routine.id, [])
            kept.append(outcome)
            del kept[:-KEEP_IN_MEMORY]
        if self.report_outcome is not None:
            self.report_outcome(outcome)
        try:
            from cimedic.store.routines import save_outcome

            save_outcome(self.store, outcome)
        except Exception:  # the store may be down: the outcome is still kept in memory
            log.warning("routine %s: outcome not stored", routine.id, exc_info=True)
        return outcome

    def run_all_once(self) -> list[RoutineOutcome]:
        """Every routine once, in order (``--once``)."""
        return [self.run_once(r) for r in self.routines]

    def start(self) -> None:
        """Create the persisted job store, (re)register every routine and start running them.
        Raises ``ValueError`` for a routine with neither ``seconds`` nor ``cron``."""
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        stores = {"default": SQLAlchemyJobStore(engine=self.store.engine, tablename="apscheduler_jobs")}
        scheduler = BackgroundScheduler(
            jobstores=stores if self.persist else {},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone=UTC,
        )
        for routine in self.routines:
            _REGISTRY[routine.id] = partial(self.run_once, routine)
            if routine.cron:
                trigger: object = CronTrigger.from_crontab(routine.cron, timezone=UTC)
            elif routine.seconds:
                trigger = IntervalTrigger(seconds=routine.seconds, timezone=UTC)
            else:
                raise ValueError(f"routine {routine.id}: give seconds or cron")
            scheduler.add_job(
                run_registered,
                trigger=trigger,
                args=[routine.id],
                id=routine.id,
                name=routine.description or routine.id,
                replace_existing=True,
            )
        scheduler.start()
        self._scheduler = scheduler

    def next_runs(self) -> dict[str, datetime | None]:
        """Next run time (UTC) of every scheduled routine."""
        if self._scheduler is None:
            return {}
        return {j.id: j.next_run_time for j in self._scheduler.get_jobs()}  # type: ignore[attr-defined]

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling and wait for running routines (graceful on SIGTERM)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=wait)  # type: ignore[attr-defined]
            self._scheduler = None


_REGISTRY: dict[str, Callable[[], object]] = {}


def run_registered(routine_id: str) -> None:
    """Entry point stored in the job store: look the routine up in this process and run it."""
    func = _REGISTRY.get(routine_id)
    if func is None:
        log.warning("routine %s is not registered in this process; skipped", routine_id)
        return
    func()


def routine_status(store: Store) -> dict[str, dict[str, object]]:
    """The last stored outcome of every routine, for ``/healthz``: ``{routine id: {"ok": bool,
    "at": ISO-8601 UTC, "error": str | None}}`` (empty before any routine ran)."""
    from cimedic.store.routines import load_outcomes

    return {
        o.routine_id: {"ok": o.ok, "at": o.ran_at.isoformat(), "error": o.error} for o in load_outcomes(store)
    }
