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

Usage: ``.venv/bin/python bench/github_requests.py [--extra-runs 1500] [--hours 24] [--runs-per-hour 6]``.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from cimedic.bootstrap import StoreEtags
from cimedic.connectors.github_actions.auth import TokenAuth
from cimedic.connectors.github_actions.client import GitHubClient
from cimedic.services.collect import CollectOptions, Collector
from cimedic.services.diagnose import make_diagnoser
from cimedic.store.repository import Store
from cimedic.testing.demo_history import build_demo_history
from cimedic.testing.github_replay import GitHubReplay

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
    args = ap.parse_args()
    diagnoser = make_diagnoser()[0]
    result: dict[str, object] = {}

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
