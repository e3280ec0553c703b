"""Size and speed of the history store: bulk ingest, the real ingest path, and ``cimedic stats``.

Usage::

    .venv/bin/python bench/store_bench.py [--jobs 1000000] [--data DIR] [--days 365]
        [--postgres URL] [--keep PATH] [--ingest-runs 2000] [--repeat 5] [--explain]

For SQLite (always) and PostgreSQL (with ``--postgres URL``, a server URL: a database
``cimedic_bench_<hex>`` is created there and dropped afterwards):

1. **Bulk ingest**: a store of ``--jobs`` jobs (~3 per run, ~5 steps per job, plus run
   attempts, head commits and diagnoses of most failed jobs) spread over ``--days`` days up to
   now, inserted in batches through the Store's SQLAlchemy engine (``insert()`` executemany on
   the schema tables, one transaction per batch). Run durations and outcomes are drawn jointly
   from the real Jenkins builds of LRTS (``build_duration`` seconds and ``build_result`` of
   ``<data>/builds/*/*.csv``; SUCCESS -> success, FAILURE and UNSTABLE -> failure, ABORTED ->
   cancelled, NOT_BUILT -> skipped). Queue times (exponential, mean 20 s), the split of a run
   into jobs and steps, re-runs (10% of failed runs) and the branch mix are synthetic.
   Reported: jobs/s over the whole generation + insert, and over the database calls alone.
2. **Real ingest path**: ``Store.ingest_run`` (one transaction per run, the upserts the
   collector uses) on ``--ingest-runs`` runs built as ``WorkflowRun``/``Job``/``Step`` models,
   into a second, empty store. Only the ``ingest_run`` calls are timed.
3. **``cimedic stats``**: ``pipeline_stats(store)`` with the defaults (no filter, the last 7
   days), in a child process, ``--repeat`` times: min and median seconds, the runs and jobs in
   the window, and the child's peak RSS. ``--explain`` prints the query plans of the
   three store queries for that window.

Also printed: the peak RSS of this process and the store size. The SQLite file lives in a
temporary folder (deleted) unless ``--keep PATH``. JSON results go to
``bench/out/store_bench.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "build_histories_lrts"
OUT_JSON = REPO / "bench" / "out" / "store_bench.json"

RESULTS = {
    "SUCCESS": "success",
    "FAILURE": "failure",
    "UNSTABLE": "failure",
    "ABORTED": "cancelled",
    "NOT_BUILT": "skipped",
}
REPOS = [f"bench/service-{i}" for i in range(8)]
# (workflow file, name, share of runs, job names)
WORKFLOWS = [
    ("ci.yml", "CI", 0.55, ["build", "unit-tests", "integration-tests", "lint", "package"]),
    ("e2e.yml", "E2E", 0.15, ["e2e-chrome", "e2e-firefox", "report"]),
    ("docs.yml", "Docs", 0.10, ["build-docs", "link-check"]),
    ("nightly.yml", "Nightly", 0.12, ["matrix-py311", "matrix-py312", "matrix-py313", "coverage"]),
    ("deploy.yml", "Deploy", 0.08, ["deploy-staging", "smoke-test", "deploy-production"]),
]
STEP_NAMES = ["Set up job", "Checkout", "Install dependencies", "Run {main}", "Post Checkout"]
STEP_WEIGHTS = (0.02, 0.03, 0.25, 0.68, 0.02)
CATEGORIES = (
    ["test"] * 8
    + ["compilation"] * 3
    + ["dependency"] * 2
    + ["network"] * 2
    + ["lint", "timeout", "runner_lost", "oom", "infrastructure", "unknown"]
)


# --------------------------------------------------------------------------- input


def load_builds(data: Path) -> list[tuple[float, str]]:
    """``(build_duration seconds, conclusion)`` of every LRTS build row with a duration."""
    files = sorted(data.glob("builds/*/*.csv"))
    if not files:
        sys.exit(
            f"store_bench: no LRTS build files (builds/*/*.csv) under {data}; "
            "pass --data DIR (the build_histories_lrts folder of the shared data)"
        )
    out = []
    for f in files:
        with f.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                try:
                    d = float(row["build_duration"])
                except (KeyError, ValueError):
                    continue
                res = RESULTS.get((row.get("build_result") or "").strip().upper())
                if res is not None and d >= 0:
                    out.append((d, res))
    if not out:
        sys.exit(f"store_bench: the LRTS files under {data} hold no usable rows")
    return out


# --------------------------------------------------------------------------- synthetic history


@dataclass
class Batch:
    commits: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    attempts: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    diagnoses: list[dict[str, Any]]


DIAG_RESULT: dict[str, Any] = {}


def _diag_result() -> dict[str, Any]:
    """One realistic stored diagnosis JSON (the same for every row; stats never read it)."""
    global DIAG_RESULT
    if not DIAG_RESULT:
        from cimedic.model import Category, Diagnosis, ErrorLine, Excerpt, FailedStep, LogFormat, LogInfo

        DIAG_RESULT = Diagnosis(
            log=LogInfo(path="job.log", format=LogFormat.GITHUB_ACTIONS, lines=5000, bytes=400_000),
            failed_step=FailedStep(name="Run tests", start_line=1200, end_line=4900),
            error_lines=(
                ErrorLine(
                    line=4800, text="FAILED tests/test_api.py::test_create - AssertionError", score=9.5
                ),
            ),
            excerpt=Excerpt(start_line=4790, end_line=4810),
            category=Category.TEST,
            transient=False,
            confidence=0.9,
            signature="5f" * 16,
            cause=None,
            summary="test failure: tests/test_api.py::test_create",
        ).model_dump(mode="json")
    return DIAG_RESULT


def generate(
    n_jobs: int,
    days: int,
    builds: list[tuple[float, str]],
    now: datetime,
    seed: int,
    batch_jobs: int,
    repo_ids: list[int],
    workflow_ids: dict[tuple[int, str], int],
) -> Iterator[Batch]:
    """Batches of rows (about ``batch_jobs`` jobs each) of a history of exactly ``n_jobs`` jobs,
    runs in creation order over the ``days`` days before ``now`` (naive UTC, as stored)."""
    rng = random.Random(seed)
    start = now - timedelta(days=days)
    span = days * 86400.0
    run_id = job_id = 0
    made = 0
    weights = [w[2] for w in WORKFLOWS]
    b = Batch([], [], [], [], [], [])
    diag = _diag_result()
    while made < n_jobs:
        # runs are created in time order, spread by job count: the same number of jobs every day
        created = start + timedelta(seconds=span * min(1.0, (made + rng.random() * 3) / n_jobs))
        run_id += 1
        repo_idx = rng.randrange(len(REPOS))
        repo = repo_ids[repo_idx]
        wf_file, wf_name, _, job_names = rng.choices(WORKFLOWS, weights)[0]
        duration, conclusion = builds[rng.randrange(len(builds))]
        branch = (
            "main"
            if wf_name in ("Deploy", "Nightly") or rng.random() < 0.45
            else f"feature/{rng.randrange(400)}"
        )
        sha = f"{rng.getrandbits(160):040x}"
        rerun = conclusion == "failure" and rng.random() < 0.10
        attempts = 2 if rerun else 1
        n_run_jobs = min(len(job_names), max(1, round(rng.triangular(1, 5, 3))))
        names = job_names[:n_run_jobs]
        left = n_jobs - made
        if n_run_jobs * attempts > left:
            attempts = 1
            names = names[:left]
        queue0 = rng.expovariate(1 / 20.0)
        b.commits.append(
            {
                "repo_id": repo,
                "sha": sha,
                "message": "change",
                "author": "dev",
                "timestamp": created - timedelta(seconds=rng.uniform(60, 7200)),
            }
        )
        final_conclusion = conclusion
        attempt_start = created + timedelta(seconds=queue0)
        attempt_end = attempt_start
        for attempt in range(1, attempts + 1):
            a_concl = conclusion
            if attempt == 2:
                a_concl = "success" if rng.random() < 0.7 else "failure"
                final_conclusion = a_concl
                attempt_start = attempt_end + timedelta(seconds=rng.uniform(60, 3600))
            a_dur = duration if attempt == 1 else duration * rng.uniform(0.8, 1.2)
            attempt_end = attempt_start + timedelta(seconds=a_dur)
            b.attempts.append(
                {
                    "run_id": run_id,
                    "attempt": attempt,
                    "status": "completed",
                    "conclusion": a_concl,
                    "started_at": attempt_start,
                    "updated_at": attempt_end,
                    "actor": "dev",
                }
            )
            bad = rng.randrange(len(names))
            for k, name in enumerate(names):
                job_id += 1
                made += 1
                j_concl = "success"
                if a_concl == "failure" and k == bad:
                    j_concl = "failure"
                elif a_concl == "cancelled" and k == bad:
                    j_concl = "cancelled"
                elif a_concl == "skipped":
                    j_concl = "skipped"
                q = rng.expovariate(1 / 20.0)
                j_start = attempt_start + timedelta(seconds=q)
                j_dur = a_dur if k == 0 else a_dur * rng.uniform(0.3, 1.0)
                j_end = j_start + timedelta(seconds=j_dur)
                b.jobs.append(
                    {
                        "id": job_id,
                        "repo_id": repo,
                        "run_id": run_id,
                        "provider_id": str(job_id),
                        "run_attempt": attempt,
                        "name": name,
                        "workflow_name": wf_name,
                        "head_sha": sha,
                        "head_branch": branch,
                        "status": "completed",
                        "conclusion": j_concl,
                        "created_at": attempt_start,
                        "started_at": j_start,
                        "completed_at": j_end,
                        "queue_s": q,
                        "duration_s": j_dur,
                        "runner_name": f"runner-{rng.randrange(50)}",
                        "runner_group": "Default",
                        "labels": ["ubuntu-latest"],
                        "html_url": None,
                        "log_state": "pending" if j_concl == "failure" else "none",
                        "log_error": None,
                    }
                )
                s_at = j_start
                for n, (s_name, w) in enumerate(zip(STEP_NAMES, STEP_WEIGHTS, strict=True), start=1):
                    s_dur = j_dur * w
                    s_concl = "success"
                    if j_concl == "failure" and n >= 4:
                        s_concl = "failure" if n == 4 else "skipped"
                    elif j_concl in ("cancelled", "skipped") and n >= 4:
                        s_concl = j_concl
                    b.steps.append(
                        {
                            "job_id": job_id,
                            "number": n,
                            "name": s_name.format(main=name),
                            "status": "completed",
                            "conclusion": s_concl,
                            "started_at": s_at,
                            "completed_at": s_at + timedelta(seconds=s_dur),
                            "duration_s": s_dur,
                        }
                    )
                    s_at += timedelta(seconds=s_dur)
                if j_concl == "failure" and rng.random() < 0.7:
                    b.diagnoses.append(
                        {
                            "job_id": job_id,
                            "category": rng.choice(CATEGORIES),
                            "signature": f"{rng.getrandbits(128):032x}",
                            "summary": "failure",
                            "transient": False,
                            "cause_id": None,
                            "step_name": name,
                            "line": 4800,
                            "engine_version": "bench",
                            "analyzed_at": now,
                            "result": diag,
                        }
                    )
        b.runs.append(
            {
                "id": run_id,
                "repo_id": repo,
                "workflow_id": workflow_ids[(repo, wf_file)],
                "provider_id": str(run_id),
                "workflow_name": wf_name,
                "workflow_path": f".github/workflows/{wf_file}",
                "run_number": run_id,
                "run_attempt": attempts,
                "name": wf_name,
                "display_title": "change",
                "event": "push",
                "branch": branch,
                "head_sha": sha,
                "actor": "dev",
                "status": "completed",
                "conclusion": final_conclusion,
                "created_at": created,
                "run_started_at": attempt_start,
                "updated_at": attempt_end,
                "duration_s": (attempt_end - attempt_start).total_seconds(),
                "html_url": None,
            }
        )
        if len(b.jobs) >= batch_jobs or made >= n_jobs:
            yield b
            b = Batch([], [], [], [], [], [])


# --------------------------------------------------------------------------- stores


def create_pg_database(server_url: str, prefix: str) -> tuple[str, Any]:
    """Create ``<prefix>_<hex>`` on the server; returns its URL and the admin engine."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from cimedic.store.engine import normalize_url

    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False), admin


def drop_pg_database(admin: Any, url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def setup_repos(store: Any) -> tuple[list[int], dict[tuple[int, str], int]]:
    from cimedic.model import Repository, Workflow

    repo_ids, wf_ids = [], {}
    for i, full in enumerate(REPOS):
        owner, name = full.split("/")
        rid = store.upsert_repository(
            Repository(owner=owner, name=name, default_branch="main", provider_id=str(i))
        )
        store.upsert_workflows(
            rid,
            [
                Workflow(provider_id=f"{rid}-{f}", name=n, path=f".github/workflows/{f}")
                for f, n, _, _ in WORKFLOWS
            ],
        )
        repo_ids.append(rid)
    from sqlalchemy import select

    from cimedic.store import schema as t

    with store.engine.connect() as conn:
        for rid, path, wid in conn.execute(
            select(t.workflows.c.repo_id, t.workflows.c.path, t.workflows.c.id)
        ):
            wf_ids[(rid, path.rsplit("/", 1)[-1])] = wid
    return repo_ids, wf_ids


def bulk_ingest(
    store: Any, args: argparse.Namespace, builds: list[tuple[float, str]], now: datetime, label: str
) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from cimedic.store import schema as t

    repo_ids, wf_ids = setup_repos(store)
    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    db_seconds = 0.0
    rows = dict.fromkeys(("commits", "runs", "attempts", "jobs", "steps", "diagnoses"), 0)
    t0 = time.perf_counter()
    with Progress(
        TextColumn(f"[bold]{label}[/bold] bulk ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("jobs"),
        TimeRemainingColumn(),
        transient=False,
    ) as progress:
        task = progress.add_task("ingest", total=args.jobs)
        for b in generate(args.jobs, args.days, builds, naive_now, args.seed, args.batch, repo_ids, wf_ids):
            d0 = time.perf_counter()
            with store.engine.begin() as conn:
                for table, data in (
                    (t.commits, b.commits),
                    (t.workflow_runs, b.runs),
                    (t.run_attempts, b.attempts),
                    (t.jobs, b.jobs),
                    (t.steps, b.steps),
                    (t.diagnoses, b.diagnoses),
                ):
                    if data:
                        conn.execute(table.insert(), data)
            db_seconds += time.perf_counter() - d0
            for key, data in (
                ("commits", b.commits),
                ("runs", b.runs),
                ("attempts", b.attempts),
                ("jobs", b.jobs),
                ("steps", b.steps),
                ("diagnoses", b.diagnoses),
            ):
                rows[key] += len(data)
            progress.update(task, advance=len(b.jobs))
    wall = time.perf_counter() - t0
    if store.dialect == "postgresql":
        from sqlalchemy import text

        with store.engine.begin() as conn:  # explicit ids bypassed the sequences
            for table in ("workflow_runs", "jobs", "steps", "run_attempts", "commits"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                    )
                )
        a0 = time.perf_counter()
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does shortly after a bulk load
        analyze = time.perf_counter() - a0
    else:
        analyze = 0.0
    return {
        "rows": rows,
        "wall_s": wall,
        "db_s": db_seconds,
        "jobs_per_s": args.jobs / wall,
        "db_jobs_per_s": args.jobs / db_seconds,
        "analyze_s": analyze,
    }


def real_ingest(url: str, n_runs: int, seed: int, builds: list[tuple[float, str]]) -> dict[str, Any]:
    """Time ``Store.ingest_run`` on ``n_runs`` model-built runs into the empty store at ``url``."""
    from cimedic.model import (
        CommitRef,
        Conclusion,
        Job,
        Repository,
        RunAttempt,
        Status,
        Step,
        WorkflowRun,
    )
    from cimedic.store.repository import Store

    rng = random.Random(seed)
    store = Store(url)
    repo_id = store.upsert_repository(Repository(owner="bench", name="ingest", default_branch="main"))
    now = datetime.now(UTC)
    items = []
    jobs_total = 0
    for i in range(n_runs):
        created = now - timedelta(days=30) + timedelta(seconds=i * 600)
        duration, conclusion = builds[rng.randrange(len(builds))]
        rid = str(10_000_000 + i)
        sha = secrets.token_hex(20)
        started = created + timedelta(seconds=20)
        end = started + timedelta(seconds=duration)
        wf_file, wf_name, _, job_names = WORKFLOWS[i % len(WORKFLOWS)]
        run = WorkflowRun(
            provider_id=rid,
            repository="bench/ingest",
            workflow_id=wf_file,
            workflow_name=wf_name,
            workflow_path=f".github/workflows/{wf_file}",
            run_number=i,
            run_attempt=1,
            event="push",
            branch="main",
            head_sha=sha,
            status=Status.COMPLETED,
            conclusion=Conclusion(conclusion),
            created_at=created,
            run_started_at=started,
            updated_at=end,
            head_commit=CommitRef(sha=sha, message="change", timestamp=created - timedelta(minutes=5)),
        )
        attempts = [
            RunAttempt(
                run_provider_id=rid,
                attempt=1,
                status=Status.COMPLETED,
                conclusion=Conclusion(conclusion),
                started_at=started,
                updated_at=end,
            )
        ]
        jobs = []
        for k, name in enumerate(job_names[: max(1, round(rng.triangular(1, 5, 3)))]):
            j_start = started + timedelta(seconds=rng.expovariate(1 / 20.0))
            j_dur = duration * (1.0 if k == 0 else rng.uniform(0.3, 1.0))
            at = j_start
            steps = []
            for n, w in enumerate(STEP_WEIGHTS, start=1):
                s_end = at + timedelta(seconds=j_dur * w)
                steps.append(
                    Step(
                        number=n,
                        name=STEP_NAMES[n - 1].format(main=name),
                        status=Status.COMPLETED,
                        conclusion=Conclusion.SUCCESS,
                        started_at=at,
                        completed_at=s_end,
                    )
                )
                at = s_end
            jobs.append(
                Job(
                    provider_id=f"{rid}-{k}",
                    run_provider_id=rid,
                    name=name,
                    workflow_name=wf_name,
                    head_sha=sha,
                    head_branch="main",
                    status=Status.COMPLETED,
                    conclusion=Conclusion.SUCCESS if k else Conclusion(conclusion),
                    created_at=started,
                    started_at=j_start,
                    completed_at=j_start + timedelta(seconds=j_dur),
                    labels=("ubuntu-latest",),
                    steps=tuple(steps),
                )
            )
        jobs_total += len(jobs)
        items.append((run, attempts, jobs))
    t0 = time.perf_counter()
    for run, attempts, jobs in items:
        store.ingest_run(repo_id, run, attempts, jobs)
    secs = time.perf_counter() - t0
    store.close()
    return {
        "runs": n_runs,
        "jobs": jobs_total,
        "seconds": secs,
        "runs_per_s": n_runs / secs,
        "jobs_per_s": jobs_total / secs,
    }


# --------------------------------------------------------------------------- stats (child process)


STATS_CHILD = r"""
import json, resource, statistics, sys, time
from cimedic.store.repository import Store
from cimedic.services.stats import pipeline_stats

url, repeat = sys.argv[1], int(sys.argv[2])
store = Store(url)
times = []
for _ in range(repeat):
    t0 = time.perf_counter()
    s = pipeline_stats(store)
    times.append(time.perf_counter() - t0)
# where the time goes (one more pass, split by query)
from datetime import UTC, datetime, timedelta
from cimedic.analysis.pipeline_metrics import compute_stats
from cimedic.model.history import HistoryFilter
from cimedic.store import queries
now = datetime.now(UTC)
f = HistoryFilter(since=now - timedelta(days=7), until=now)
split = {}
t0 = time.perf_counter(); runs = queries.run_facts(store.engine, f); split["run_facts"] = time.perf_counter() - t0
t0 = time.perf_counter(); jobs = queries.job_facts(store.engine, f); split["job_facts"] = time.perf_counter() - t0
t0 = time.perf_counter(); steps = queries.step_aggregates(store.engine, f); split["step_aggregates"] = time.perf_counter() - t0
t0 = time.perf_counter()
compute_stats(runs, jobs, steps, by=None, deployment_patterns=(), since=f.since, until=f.until)
split["compute_stats"] = time.perf_counter() - t0
# VmHWM: this process's own peak (ru_maxrss would keep the parent's peak across fork + exec)
try:
    with open("/proc/self/status") as fh:
        rss = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"times": times, "runs": s.runs.total, "jobs": s.runs.jobs, "step_groups": len(steps),
                  "split": split, "rss_kib": rss}))
"""


def bench_stats(url: str, repeat: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", STATS_CHILD, url, str(repeat)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if proc.returncode != 0:
        sys.exit(f"store_bench: the stats child failed:\n{proc.stderr}")
    r: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    r["min_s"] = min(r["times"])
    r["median_s"] = statistics.median(r["times"])
    return r


def explain(store: Any) -> None:
    """Print the query plans of the three store queries of the default 7-day window (SQLite's
    ``EXPLAIN QUERY PLAN``, PostgreSQL's ``EXPLAIN``), captured from a real run."""
    from sqlalchemy import event

    from cimedic.model.history import HistoryFilter
    from cimedic.store import queries

    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        captured.append((statement, parameters))

    now = datetime.now(UTC)
    f = HistoryFilter(since=now - timedelta(days=7), until=now)
    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        for fn in (queries.run_facts, queries.job_facts, queries.step_aggregates):
            fn(store.engine, f)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    prefix = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
    with store.engine.connect() as conn:
        for (sql, params), name in zip(captured, ("run_facts", "job_facts", "step_aggregates"), strict=True):
            print(f"--- {name}")
            for row in conn.exec_driver_sql(prefix + sql, params):
                print("   ", row[-1])


# --------------------------------------------------------------------------- main


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_backend(
    label: str,
    url: str,
    second_url: str,
    args: argparse.Namespace,
    builds: list[tuple[float, str]],
    size_of: Any,
) -> dict[str, Any]:
    from cimedic.store.repository import Store

    now = datetime.now(UTC).replace(microsecond=0)
    store = Store(url)
    bulk = bulk_ingest(store, args, builds, now, label)
    if args.explain:
        explain(store)
    store.close()
    print(f"{label}: timing stats ({args.repeat} runs, child process) ...", flush=True)
    stats = bench_stats(url, args.repeat)
    print(f"{label}: real ingest path on {args.ingest_runs} runs ...", flush=True)
    real = real_ingest(second_url, args.ingest_runs, args.seed + 1, builds)
    return {"backend": label, "bulk": bulk, "stats": stats, "real_ingest": real, "size_mib": size_of()}


def print_table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(
        title=f"cimedic store benchmark: {args.jobs:,} jobs over {args.days} days", title_justify="left"
    )
    t.add_column("figure")
    for r in results:
        t.add_column(r["backend"], justify="right")

    def row(name: str, fn: Any) -> None:
        t.add_row(name, *[fn(r) for r in results])

    row(
        "rows: runs / jobs / steps",
        lambda r: (
            f"{r['bulk']['rows']['runs']:,} / {r['bulk']['rows']['jobs']:,} / {r['bulk']['rows']['steps']:,}"
        ),
    )
    row(
        "bulk ingest, whole (jobs/s)",
        lambda r: f"{r['bulk']['jobs_per_s']:,.0f} ({r['bulk']['wall_s']:.0f} s)",
    )
    row(
        "bulk ingest, DB calls only (jobs/s)",
        lambda r: f"{r['bulk']['db_jobs_per_s']:,.0f} ({r['bulk']['db_s']:.0f} s)",
    )
    row(
        "Store.ingest_run (jobs/s)",
        lambda r: f"{r['real_ingest']['jobs_per_s']:,.0f} ({r['real_ingest']['runs_per_s']:,.0f} runs/s)",
    )
    row("stats 7d: min / median (s)", lambda r: f"{r['stats']['min_s']:.3f} / {r['stats']['median_s']:.3f}")
    row("stats 7d: runs / jobs in window", lambda r: f"{r['stats']['runs']:,} / {r['stats']['jobs']:,}")
    row(
        "stats split: runs/jobs/steps/compute (s)",
        lambda r: " / ".join(
            f"{r['stats']['split'][k]:.3f}"
            for k in ("run_facts", "job_facts", "step_aggregates", "compute_stats")
        ),
    )
    row("stats child peak RSS (MiB)", lambda r: f"{r['stats']['rss_kib'] / 1024:.0f}")
    row("store size (MiB)", lambda r: "-" if r["size_mib"] is None else f"{r['size_mib']:,.0f}")
    Console(width=max(Console().width, 110)).print(t)
    print(f"peak RSS of this process: {peak_rss_mib():.0f} MiB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=1_000_000, help="jobs in the generated store")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the build_histories_lrts folder")
    ap.add_argument("--days", type=int, default=365, help="days of history, ending now")
    ap.add_argument(
        "--postgres",
        metavar="URL",
        help="also bench PostgreSQL on this server (databases are created there and dropped)",
    )
    ap.add_argument("--keep", type=Path, metavar="PATH", help="write the SQLite store here and keep it")
    ap.add_argument("--ingest-runs", type=int, default=2000, help="runs for the Store.ingest_run measurement")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs of the stats computation")
    ap.add_argument("--batch", type=int, default=20_000, help="jobs per insert batch")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--explain", action="store_true", help="print the query plans of the stats queries")
    ap.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL")
    ap.add_argument("--json-out", type=Path, default=OUT_JSON)
    args = ap.parse_args()
    if args.jobs < 1 or args.days < 1 or args.repeat < 1:
        ap.error("--jobs, --days and --repeat must be positive")
    builds = load_builds(args.data)
    print(
        f"{len(builds):,} LRTS builds from {args.data}: median duration "
        f"{statistics.median(d for d, _ in builds) / 60:.0f} min, "
        + ", ".join(
            f"{k} {v / len(builds):.1%}"
            for k, v in sorted(
                {c: sum(1 for _, r in builds if r == c) for c in set(RESULTS.values())}.items()
            )
        )
    )
    from cimedic.store.engine import sqlite_url

    results = []
    with tempfile.TemporaryDirectory(prefix="cimedic-bench-") as tmp:
        if not args.no_sqlite:
            path = args.keep or Path(tmp) / "store.db"
            if path.exists():
                sys.exit(f"store_bench: {path} exists; remove it or choose another --keep path")
            results.append(
                run_backend(
                    "SQLite",
                    sqlite_url(path),
                    sqlite_url(Path(tmp) / "ingest.db"),
                    args,
                    builds,
                    lambda p=path: os.path.getsize(p) / (1 << 20),
                )
            )
        if args.postgres:
            url, admin = create_pg_database(args.postgres, "cimedic_bench")
            url2, admin2 = create_pg_database(args.postgres, "cimedic_bench_ingest")
            try:
                results.append(run_backend("PostgreSQL", url, url2, args, builds, lambda: _pg_size(url)))
            finally:
                drop_pg_database(admin, url)
                drop_pg_database(admin2, url2)
    print_table(results, args)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(
        json.dumps(
            {"jobs": args.jobs, "days": args.days, "results": results, "peak_rss_mib": peak_rss_mib()},
            indent=2,
        ),
        encoding="utf-8",
    )
    print(f"JSON: {args.json_out}")
    return 0


def _pg_size(url: str) -> float:
    from sqlalchemy import create_engine, text

    from cimedic.store.engine import normalize_url

    engine = create_engine(normalize_url(url))
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return float(size) / (1 << 20)


if __name__ == "__main__":
    sys.exit(main())
