"""The routine runner of ``cimedic agent`` (and ``watch``, ``serve``) on a real store (SQLite and PostgreSQL): jobs run on
time, never overlap, survive a failing run, persist their schedule in the store across a
restart, and the process stops gracefully on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect

from cimedic.services.routines import Routine, RoutineRunner
from cimedic.store.repository import Store

pytestmark = pytest.mark.timeout(120)  # a `cimedic agent` subprocess stopped with SIGTERM


def test_jobs_run_never_overlap_and_survive_failures(store: Store) -> None:
    running = 0
    most = 0
    calls = {"slow": 0, "boom": 0}
    lock = threading.Lock()

    def slow() -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            calls["slow"] += 1
        time.sleep(0.5)  # longer than its interval: the next run must be skipped, not overlap
        with lock:
            running -= 1
        return "done"

    def boom() -> None:
        calls["boom"] += 1
        raise RuntimeError("kaputt")

    scheduler = RoutineRunner(
        store, [Routine("slow", slow, seconds=0.2), Routine("boom", boom, seconds=0.2)]
    )
    scheduler.start()
    try:
        deadline = time.monotonic() + 15
        while (calls["slow"] < 2 or calls["boom"] < 3) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    assert calls["slow"] >= 2 and calls["boom"] >= 3
    assert most == 1
    assert all(not r.ok and "kaputt" in (r.error or "") for r in scheduler.outcomes["boom"])
    assert all(r.ok for r in scheduler.outcomes["slow"])


def test_schedule_is_persisted_in_the_store_across_a_restart(store: Store) -> None:
    job = Routine("daily-report", lambda: None, cron="0 7 * * *")
    first = RoutineRunner(store, [job])
    first.start()
    planned = first.next_runs()["daily-report"]
    first.shutdown()
    assert "apscheduler_jobs" in inspect(store.engine).get_table_names()
    again = RoutineRunner(Store(store.url), [job])
    again.start()
    try:
        assert again.next_runs()["daily-report"] == planned
        assert planned is not None and (planned.hour, planned.minute) == (7, 0)
    finally:
        again.shutdown()


def test_agent_process_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "CIMEDIC_CONFIG": os.devnull, "CIMEDIC_DATA_DIR": str(tmp_path)}
    env.pop("CIMEDIC_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cimedic.interfaces.cli.app", "agent", "--db", str(tmp_path / "a.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "a.db").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    assert b"stopping" in err
