"""GitHub request budget of cimedic's collection, measured against the replay of GitHub's REST API.

Prints (and writes to ``bench/out/github_requests.json``):

1. **Backfill**: requests per synced run (listing + jobs) and per failed job (log), for the demo
   history plus ``--extra-runs`` runs appended inside one week, so that a filtered listing holds
   more than GitHub's 1,000-result cap and the created-window bisection is exercised. Target:
   <= 1.05 requests per run + 1 per failed-job log. Baseline in the same run: the number of
   requests a collector needs that, like Apache DevLake's, pages the unfiltered listing and
   reads the jobs of every attempt (``/attempts/{n}/jobs``) plus the attempt itself.
2. **Re-sync** of the same window: requests (only the listing; stored completed runs cost nothing).
3. **Polling** at a 60 s interval for ``--hours`` simulated hours, for an unchanged repository and
   for one with ``--runs-per-hour`` new runs: primary-rate-limit cost per hour (304 answers are
   free), against a poller without ETags (the baseline, 1 request per poll), and how many such
   repositories one token (5,000 requests/h) can watch; GitHub's secondary limit of 900 points per
   minute per endpoint bounds the 304 polls too.
4. **Webhook answer time** of ``POST /webhooks/github`` over loopback (uvicorn, SQLite store):
   p50/p95/max in ms for the demo's deliveries (target < 1 s).
5. **Busy repository** (issue 11's target, :mod:`cimedic.testing.replay_busy`): ``--busy-runs``
   runs (default 2,500) over 29 days, three jobs and three artifacts each (one a JUnit
   ``test-results``), synced as ``cimedic sync OWNER/REPO --since 30d`` does with default
   settings (the client and options of :mod:`cimedic.bootstrap`). Targets, each PASS/FAIL:
   every run and job stored; at most 1.05 requests per run plus one per failed-job log on
   everything but test-report artifacts; at most ``test_report_budget`` requests on those
   (the sync runs in well under the hour); a second sync of the unchanged repository costs at
   most 2 % of the runs in primary quota (304 answers are free); no request answered
   "rate limit exceeded", also when a token with a smaller quota runs out during the sync
   while the local clock is an hour ahead of GitHub's. Baseline in the same run: collecting
   every test report at once, and a re-sync that re-reads every run's jobs.

Usage: ``.venv/bin/python bench/github_requests.py [--extra-runs 1500] [--hours 24] [--runs-per-hour 6]
[--busy-runs 2500] [--only busy]``.
No network: the replay is bundled (``cimedic.testing``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from cimedic.bootstrap import StoreEtags
from cimedic.connectors.github_actions.auth import TokenAuth
from cimedic.connectors.github_actions.client import GitHubClient
from cimedic.model.providers import ProviderError
from cimedic.services.collect import CollectOptions, Collector
from cimedic.services.diagnose import make_diagnoser
from cimedic.store.repository import Store
from cimedic.testing.demo_history import build_demo_history
from cimedic.testing.github_replay import GitHubReplay
from cimedic.testing.replay_busy import ARTIFACTS_PER_RUN, TEST_ARTIFACT, build_busy_history

TOKEN = "ghp_bench"
REPO = "hashicorp-demo/terraform"
OUT = Path(__file__).resolve().parent / "out"


def _kind(path: str) -> str:
    p = path.split("?")[0]
    if p.endswith("/actions/runs"):
        return "list runs"
    if p.endswith("/jobs"):
        return "jobs"
    if p.endswith("/logs"):
        return "job log"
    if p.endswith("/artifacts"):
        return "list artifacts"
    if p.endswith("/zip"):
        return "artifact download"
    if "/_blobs/" in p:
        return "redirected download (no API cost)"
    return "other (repository, workflows, pulls)"


class _NoEtags:
    """The baseline: a poller that never sends ``If-None-Match``."""

    def get(self, url: str) -> str | None:
        return None

    def put(self, url: str, etag: str) -> None:
        return None


def _client(store: Store, replay: GitHubReplay, *, etags: bool = True) -> GitHubClient:
    return GitHubClient(
        httpx.Client(transport=replay.transport()),
        base_url="https://api.github.com",
        auth=TokenAuth(TOKEN),
        etags=StoreEtags(store) if etags else _NoEtags(),
        sleep=lambda _s: None,
    )


def backfill(extra_runs: int, diagnoser) -> dict[str, object]:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    replay = GitHubReplay(build_demo_history(now=now - timedelta(days=8)), token=TOKEN)
    # extra runs inside one week, newest last, so one filtered week holds > 1,000 runs
    start = now - timedelta(days=7)
    for i in range(extra_runs):
        failure = "unit-env" if i % 25 == 0 else None
        replay.mutate_add_run(
            "Quick Checks",
            failure=failure,
            created_at=start + timedelta(seconds=i * (6 * 86400 / max(extra_runs, 1))),
            seed=i,
        )
    history = replay.history
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        collector = Collector(store, _client(store, replay), diagnoser, CollectOptions(max_workers=4))
        t0 = time.perf_counter()
        report = collector.sync(REPO, since=now - timedelta(days=30), until=now + timedelta(minutes=1))
        elapsed = time.perf_counter() - t0
        kinds: dict[str, int] = {}
        for _m, path, _s in replay.requests:
            kinds[_kind(path)] = kinds.get(_kind(path), 0) + 1
        statuses = sorted({s for (_m, _p, s) in replay.requests})
        n_before = len(replay.requests)
        again = collector.sync(REPO, since=now - timedelta(days=30), until=now + timedelta(minutes=1))
        resync = len(replay.requests) - n_before
        store.close()
    runs = len(history.runs)
    failed = sum(1 for j in history.jobs if j.conclusion in ("failure", "timed_out"))
    attempts = sum(len(r.attempts) for r in history.runs)
    pages = kinds.get("list runs", 0)
    # baseline: a collector that re-reads the jobs of every run it lists on each collection
    # (no ETags, no skipping of stored completed runs), as Apache DevLake's collector does
    rescan_baseline = pages + runs
    return {
        "runs": runs,
        "jobs": len(history.jobs),
        "attempts": attempts,
        "failed_jobs": failed,
        "requests_by_kind": kinds,
        "http_statuses_seen": statuses,
        "per_run_listing_plus_jobs": (kinds.get("list runs", 0) + kinds.get("jobs", 0)) / runs,
        "per_failed_job_log": kinds.get("job log", 0) / max(failed, 1),
        "api_requests_total": sum(v for k, v in kinds.items() if not k.startswith("redirected")),
        "resync_baseline_rescan": rescan_baseline,
        "sync_seconds": round(elapsed, 2),
        "resync_requests": resync,
        "resync_runs_ingested": again.runs_ingested,
        "problems": report.problems[:5],
    }


LISTING, JOBS, LOGS = "listing (runs, repository, workflows)", "jobs", "logs (302)"
ART_LIST, REPORTS, OTHER_ARTIFACTS = (
    "artifacts: listing",
    "artifacts: test-report zips (302)",
    "artifacts: other",
)
LOG_BLOBS, REPORT_BLOBS = "logs: redirected downloads", "artifacts: redirected downloads"


def _busy_kind(path: str, test_artifacts: set[int]) -> str:
    """What one request of the busy sync was for (the artifact listing only serves test reports)."""
    p = path.split("?")[0]
    if "/_blobs/" in p:
        return LOG_BLOBS if "/job-logs/" in p else REPORT_BLOBS
    if p.endswith("/jobs"):
        return JOBS
    if p.endswith("/logs"):
        return LOGS
    if p.endswith("/zip"):
        ident = p.rsplit("/", 2)[-2]
        return REPORTS if ident.isdigit() and int(ident) in test_artifacts else OTHER_ARTIFACTS
    if "/artifacts" in p:
        return ART_LIST
    return LISTING


@dataclass
class BusySync:
    """One first sync (and, unless rate limited, one re-sync) of the busy history."""

    runs: int
    jobs: int
    artifacts: int
    failed_jobs: int
    options: dict[str, object]
    seconds: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)
    runs_stored: int = 0
    jobs_stored: int = 0
    logs_stored: int = 0
    runs_with_report: int = 0
    deferred: int | None = None
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    exhausted_answers: int = 0
    resync_by_kind: dict[str, int] = field(default_factory=dict)
    resync_not_modified: int = 0
    resync_primary_cost: int | None = None
    resync_runs_ingested: int = 0


def _busy_sync(runs: int, diagnoser: object, *, rate_limit: int = 5000, skew: float = 0.0) -> BusySync:
    """Sync the busy history with the default client and options (``build(Settings(...))``, as
    ``cimedic sync OWNER/REPO --since 30d`` does); ``rate_limit``: the token's requests per
    hour; ``skew``: seconds GitHub's clock is behind the local one. With the full 5,000 it
    syncs a second time."""
    from sqlalchemy import text

    from cimedic.bootstrap import build
    from cimedic.settings import Settings

    now = datetime.now(UTC)
    history = build_busy_history(runs, now=now)
    replay = GitHubReplay(history, token=TOKEN, rate_limit=rate_limit, clock=lambda: time.time() - skew)
    test_ids = {a.id for a in history.artifacts if a.name == TEST_ARTIFACT}
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/busy.db")
        ctx = build(Settings(github_token=TOKEN, data_dir=Path(tmp)), store=store, llm=None,
                    transport=replay.transport())  # fmt: skip
        options = ctx.collect_options()
        out = BusySync(
            runs=len(history.runs), jobs=len(history.jobs), artifacts=len(history.artifacts),
            failed_jobs=sum(1 for j in history.jobs if j.conclusion in ("failure", "timed_out")),
            options={k: getattr(options, k, "(absent)") for k in ("max_workers", "test_report_budget")},
        )  # fmt: skip
        collector = Collector(store, ctx.provider("github"), diagnoser, options)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        try:
            report = collector.sync(REPO, since=now - timedelta(days=30))
            out.problems, out.deferred = report.problems, getattr(report, "test_reports_deferred", None)
        except ProviderError as exc:  # rate limited beyond max_wait while listing
            out.error = str(exc)
        out.seconds = round(time.perf_counter() - t0, 1)
        first = len(replay.requests)
        out.by_kind = dict(Counter(_busy_kind(path, test_ids) for _m, path, _s in replay.requests))
        counts = store.counts()
        out.runs_stored, out.jobs_stored, out.logs_stored = (
            counts["workflow_runs"], counts["jobs"], counts["job_logs"],
        )  # fmt: skip
        with store.engine.connect() as conn:
            out.runs_with_report = conn.execute(
                text("SELECT COUNT(DISTINCT run_id) FROM test_reports")
            ).scalar_one()
        if rate_limit >= 5000 and out.error is None:
            remaining = replay.rate_remaining
            again = collector.sync(REPO, since=datetime.now(UTC) - timedelta(days=30))
            second = replay.requests[first:]
            out.resync_by_kind = dict(Counter(_busy_kind(path, test_ids) for _m, path, _s in second))
            out.resync_not_modified = sum(1 for (_m, _p, st) in second if st == 304)
            out.resync_primary_cost = remaining - replay.rate_remaining
            out.resync_runs_ingested = again.runs_ingested
        store.close()
    out.exhausted_answers = sum(1 for (_m, _p, st) in replay.requests if st == 403)
    return out


def _report_budget(options: dict[str, object]) -> int:
    """``test_report_budget`` of the options, or its default (a fifth of 5,000 requests/h)."""
    budget = options.get("test_report_budget")
    if isinstance(budget, int):
        return budget
    try:
        from cimedic.services.collect_reports import hourly_budget

        return hourly_budget(None, 5000)
    except ImportError:  # issue 11: 1,000 requests per hour by default
        return 1000


def busy(runs: int, diagnoser: object) -> dict[str, object]:
    """Section 5 (see the module docstring): prints the figures and PASS/FAIL per target."""
    b = _busy_sync(runs, diagnoser)
    small = max(runs // 2, 100)
    x = _busy_sync(runs, diagnoser, rate_limit=small, skew=3600.0)
    budget = _report_budget(b.options)
    n, k = b.runs, Counter(b.by_kind)
    core = k[LISTING] + k[JOBS]
    print(
        f"Busy repository: {n} runs, {b.jobs} jobs, {b.artifacts} artifacts ({ARTIFACTS_PER_RUN} per run), "
        f"{b.failed_jobs} failed jobs; first sync with default settings {b.options} in {b.seconds} s"
    )
    for kind, count in sorted(k.items()):
        print(f"  {kind:44s} {count:6d}  ({count / n:.3f} per run)")
    print(f"  stored: {b.runs_stored}/{n} runs, {b.jobs_stored}/{b.jobs} jobs, {b.logs_stored}/{b.failed_jobs} "
          f"failed-job logs, {b.runs_with_report}/{n} runs with a test report ({b.deferred} deferred); "
          f"{len(b.problems)} problems")  # fmt: skip
    spent = k[REPORTS] + k[REPORT_BLOBS]
    print(f"  listing + jobs: {core} = {core / n:.3f} per run (target <= 1.05); logs: {k[LOGS]} for "
          f"{b.failed_jobs} failed jobs (target 1 each); test reports: {spent} requests on downloads "
          f"(zip + redirected fetch; budget {budget}/h) + {k[ART_LIST]} listing pages")  # fmt: skip
    print(f"  baseline, same run: every test report at once = {n} downloads + {-(-b.artifacts // 100)} listing "
          f"pages; a re-sync re-reading every run's jobs = {k[LISTING] + n} requests")  # fmt: skip
    print(f"  re-sync: {sum(b.resync_by_kind.values())} requests ({b.resync_by_kind}), "
          f"{b.resync_not_modified} x 304, primary cost {b.resync_primary_cost} "
          f"({(b.resync_primary_cost or 0) / n:.2%} of the runs), {b.resync_runs_ingested} runs re-read")  # fmt: skip
    print(f"  token of {small}/h running out, local clock 1 h ahead of GitHub's: {sum(x.by_kind.values())} "
          f"requests, {x.exhausted_answers} answered 'rate limit exceeded', {x.runs_stored} runs stored; "
          f"{x.error or (x.problems[0] if x.problems else '')}")  # fmt: skip
    targets = {
        "every run and job stored": b.runs_stored == n and b.jobs_stored == b.jobs,
        "listing + jobs <= 1.05 per run, logs <= 1 per failed job": core <= 1.05 * n
        and k[LOGS] <= b.failed_jobs,
        f"test-report downloads (zip + redirected fetch) <= test_report_budget {budget}/h": spent <= budget,
        "re-sync primary cost <= 2% of the runs": (b.resync_primary_cost or 10**9) <= 0.02 * n,
        "no request sent while exhausted": b.exhausted_answers == 0 and x.exhausted_answers == 0,
    }
    for name, ok in targets.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return {"sync": asdict(b), "exhausted_token": asdict(x), "budget": budget, "targets": targets}


def polling(hours: int, runs_per_hour: int) -> dict[str, object]:
    now = datetime.now(UTC)
    out: dict[str, object] = {}
    for label, rate in (("unchanged", 0), ("active", runs_per_hour)):
        for etags in (True, False):
            replay = GitHubReplay(build_demo_history(now=now), token=TOKEN)
            with tempfile.TemporaryDirectory() as tmp:
                store = Store(f"sqlite:///{tmp}/poll.db")
                collector = Collector(
                    store, _client(store, replay, etags=etags), None, CollectOptions(fetch_test_reports=False)
                )
                collector.sync(REPO, since=now - timedelta(days=30), until=now + timedelta(minutes=1))
                collector.poll(REPO)  # first poll stores the ETag
                remaining = replay.rate_remaining
                n_requests = len(replay.requests)
                polls = hours * 60
                every = 60 // rate if rate else None
                for minute in range(polls):
                    if every and minute % every == 0:
                        replay.mutate_add_run(
                            "Quick Checks",
                            failure="unit-env" if minute % (every * 10) == 0 else None,
                            created_at=now + timedelta(minutes=minute),
                            seed=minute,
                        )
                    collector.poll(REPO)
                cost = remaining - replay.rate_remaining
                store.close()
            key = f"{label}_{'etag' if etags else 'no_etag_baseline'}"
            out[key] = {
                "polls": polls,
                "requests": len(replay.requests) - n_requests,
                "primary_cost_per_hour": cost / hours,
                "not_modified": sum(1 for (_m, _p, s) in replay.requests[n_requests:] if s == 304),
            }
    for value in out.values():
        per_hour = value["primary_cost_per_hour"]  # type: ignore[index]
        # 5,000/h primary limit; 304s are free but each poll is still a GET on the same endpoint,
        # bounded by the secondary limit of 900 points per minute (1 poll per repository per minute)
        by_primary = float("inf") if per_hour == 0 else 5000 / per_hour
        value["repos_per_token_at_60s"] = int(min(by_primary, 900))  # type: ignore[index]
    return out


def webhook_latency(n: int) -> dict[str, object]:
    import uvicorn

    from cimedic.bootstrap import build
    from cimedic.interfaces.api.app import create_app
    from cimedic.settings import Settings
    from cimedic.testing.replay_webhooks import webhook_deliveries

    secret = "bench-secret"
    deliveries = webhook_deliveries(build_demo_history(now=datetime.now(UTC)))[:n]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/hooks.db")
        app = create_app(build(Settings(github_webhook_secret=secret), store=store, llm=None))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        times = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            for d in deliveries:
                t0 = time.perf_counter()
                r = http.post("/webhooks/github", content=d.body, headers=d.headers(secret))
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 202, r.text
        app.state.worker.wait_idle(60)
        server.should_exit = True
        thread.join(10)
        store.close()
    times.sort()
    return {
        "deliveries": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
        "max_ms": round(times[-1], 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--extra-runs", type=int, default=1500, help="runs appended inside one week (default 1500)"
    )
    ap.add_argument("--hours", type=int, default=24, help="simulated hours of polling at 60 s (default 24)")
    ap.add_argument("--runs-per-hour", type=int, default=6, help="new runs per hour of the active repository")
    ap.add_argument("--webhooks", type=int, default=300, help="deliveries timed (default 300)")
    ap.add_argument("--busy-runs", type=int, default=2500, help="runs of the busy repository (default 2500)")
    ap.add_argument("--only", choices=["busy"], help="run only this section")
    args = ap.parse_args()
    diagnoser = make_diagnoser()[0]
    result: dict[str, object] = {}
    if args.only == "busy":
        result["busy"] = busy(args.busy_runs, diagnoser)
        OUT.mkdir(exist_ok=True)
        (OUT / "github_requests_busy.json").write_text(json.dumps(result, indent=2, default=str))
        return 0

    b = result["backfill"] = backfill(args.extra_runs, diagnoser)
    print(
        f"Backfill of {b['runs']} runs ({b['jobs']} jobs, {b['attempts']} attempts, {b['failed_jobs']} failed jobs) "
        f"in {b['sync_seconds']} s"
    )
    for kind, count in sorted(b["requests_by_kind"].items()):  # type: ignore[union-attr]
        print(f"  {kind:40s} {count:6d}")
    print(f"  requests per run (listing + jobs): {b['per_run_listing_plus_jobs']:.3f}   (target <= 1.05)")
    print(f"  requests per failed job (log):     {b['per_failed_job_log']:.3f}   (target 1)")
    arts = b["requests_by_kind"].get("artifact download", 0)  # type: ignore[union-attr]
    print(
        f"  test-report artifacts: {arts} downloads for {b['runs']} runs ({arts / b['runs']:.3f} per run; "
        f"setting test_artifact_patterns, [] turns them off)"
    )
    print(f"  API requests in all: {b['api_requests_total']}")
    print(f"  statuses seen: {b['http_statuses_seen']}")
    print(
        f"Re-sync of the same window: {b['resync_requests']} requests, {b['resync_runs_ingested']} runs re-read; "
        f"baseline re-reading every run's jobs: {b['resync_baseline_rescan']} requests "
        f"({b['resync_baseline_rescan'] / max(b['resync_requests'], 1):.0f}x)"
    )

    p = result["polling"] = polling(args.hours, args.runs_per_hour)
    print(f"Polling every 60 s for {args.hours} h:")
    for key, v in p.items():
        print(
            f"  {key:28s} {v['requests']:6d} requests, {v['not_modified']:6d} x 304, "  # type: ignore[index]
            f"primary cost {v['primary_cost_per_hour']:7.1f}/h, repositories per token {v['repos_per_token_at_60s']}"
        )  # type: ignore[index]

    result["busy"] = busy(args.busy_runs, diagnoser)

    w = result["webhooks"] = webhook_latency(args.webhooks)
    print(
        f"Webhook answer time over loopback ({w['deliveries']} deliveries): p50 {w['p50_ms']} ms, "
        f"p95 {w['p95_ms']} ms, max {w['max_ms']} ms (target < 1000 ms)"
    )
    OUT.mkdir(exist_ok=True)
    (OUT / "github_requests.json").write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
