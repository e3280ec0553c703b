"""The 24/7 agent as a user runs it, one pass of every job in a real process (`cimedic agent
OWNER/REPO --once`), against the GitHub replay over loopback HTTP, with a real local webhook
receiver as the notification channel (apprise `json://`) and a re-run policy that is not
dry-run: the history is collected and diagnosed, findings refreshed, transient failures re-run
through `rerun-failed-jobs` (the replay records the new attempt), every decision audited, a
notification delivered for each action taken and for the new flaky test, and the reports written. A second pass neither
re-runs nor notifies again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cimedic.testing.demo_history import build_demo_history
from cimedic.testing.github_replay import GitHubReplay

# `cimedic` subprocesses, the GitHub replay and a webhook receiver on loopback (~70 s at load 7)
pytestmark = pytest.mark.timeout(300)

POLICY = """\
version: "1"
dry_run: false
repositories: ["*"]
branches: ["*"]
workflows: ["*"]
categories: [network, registry, rate_limit, runner_lost, infrastructure]
max_attempts: 2
cooldown_s: 300
max_per_repo_per_hour: 5
max_age_s: 2592000
"""


@pytest.fixture
def receiver() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], got
    finally:
        server.shutdown()
        server.server_close()


def _cimedic(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cimedic.interfaces.cli.app", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def test_one_agent_pass_end_to_end(tmp_path: Path, receiver: tuple[int, list[dict[str, Any]]]) -> None:
    port, notifications = receiver
    history = build_demo_history()
    replay = GitHubReplay(history)
    repo = history.repos[0].full_name
    attempts_before = {r.id: len(r.attempts) for r in history.runs}
    (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
    db = str(tmp_path / "agent.db")
    with replay.serve() as served:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CIMEDIC_")},
            "CIMEDIC_CONFIG": os.devnull,
            "CIMEDIC_DATA_DIR": str(tmp_path / "data"),
            "CIMEDIC_GITHUB_API_URL": served.url,
            "CIMEDIC_GITHUB_TOKEN": "ghp_" + "e2e0" * 9,
            "CIMEDIC_REMEDIATION_POLICY": str(tmp_path / "policy.yaml"),
            "CIMEDIC_NOTIFY_URLS": json.dumps([f"json://127.0.0.1:{port}/hook"]),
        }
        first = _cimedic(env, "agent", repo, "--once", "--db", db)
        assert first.returncode == 0, first.stderr
        lines = dict(line.split(": ", 1) for line in first.stdout.splitlines() if ": " in line)
        for job in ("poll", "findings", "heal", "notify", "report-daily", "report-weekly", "housekeeping"):
            assert lines.get(job, "").startswith("ok"), (job, first.stdout, first.stderr)
        assert "ghp_e2e0" not in first.stdout + first.stderr  # the token is in no output

        rerun = [r for r in history.runs if len(r.attempts) > attempts_before.get(r.id, 0)]
        audit = json.loads(_cimedic(env, "actions", "--db", db, "--format", "json", "--since", "60d").stdout)
        taken = [a for a in audit if a["verdict"] == "rerun"]
        assert rerun and len(taken) == len(rerun)  # every re-run the replay saw is audited, and only those
        assert {str(r.id) for r in rerun} == {a["run_id"] for a in taken}
        assert all(a["result"] == "ok" and a["dry_run"] is False for a in taken)
        assert any(a["verdict"] == "skipped" and a["reason"] == "not_transient" for a in audit)

        assert notifications, "no notification reached the receiver"
        bodies = json.dumps(notifications)
        titles = [n["title"] for n in notifications]
        for r in rerun:  # every action taken is announced, with the link to its run
            assert any(f"re-ran the failed jobs of run {r.id}" in t for t in titles), titles
            assert f"/actions/runs/{r.id}" in bodies
        assert any(t.startswith("Flaky test:") for t in titles)  # the new flaky test of the last day
        assert list((tmp_path / "data" / "reports").glob("daily-*.html"))

        sent = len(notifications)
        again = _cimedic(env, "agent", repo, "--once", "--db", db)
        assert again.returncode == 0, again.stderr
        assert [r for r in history.runs if len(r.attempts) > attempts_before.get(r.id, 0)] == rerun
        assert all(len(r.attempts) == attempts_before[r.id] + 1 for r in rerun)  # no second re-run
        audit2 = json.loads(_cimedic(env, "actions", "--db", db, "--format", "json", "--since", "60d").stdout)
        assert len([a for a in audit2 if a["verdict"] == "rerun"]) == len(taken)  # no repeat
        assert len(notifications) == sent  # nothing new since the first pass: nothing sent again
