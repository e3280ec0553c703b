"""``serve`` fetches test reports too (issue 11, section 3): after the webhook worker stored
completed runs, the repositories where runs completed get their test-report artifacts listed and
the missing ones downloaded within ``test_report_budget``, as ``watch`` and ``agent`` do after a
poll; a GitHub client talking real HTTP to the replay over loopback, SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select

from cimedic.bootstrap import StoreEtags
from cimedic.connectors.github_actions.auth import TokenAuth
from cimedic.connectors.github_actions.client import GitHubClient
from cimedic.connectors.github_actions.provider import GitHubWebhooks
from cimedic.inputs.junit import reports_from_zip
from cimedic.services.collect import CollectOptions
from cimedic.services.webhooks import process_pending, receive
from cimedic.store import schema as t
from cimedic.store.repository import Store
from cimedic.testing.demo_history import build_demo_history
from cimedic.testing.github_replay import GitHubReplay
from cimedic.testing.replay_webhooks import webhook_deliveries

pytestmark = pytest.mark.timeout(180)  # the GitHub replay on loopback

TOKEN = "ghp_testtoken"
SECRET = "reports-secret"
NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def _deliver(store: Store, receiver: GitHubWebhooks, history) -> int:  # type: ignore[no-untyped-def]
    n = 0
    for d in webhook_deliveries(history):
        sig = "sha256=" + hmac.new(SECRET.encode(), d.body, hashlib.sha256).hexdigest()
        headers = {"X-GitHub-Event": d.event, "X-GitHub-Delivery": d.delivery_id, "X-Hub-Signature-256": sig}
        assert receive(store, receiver, headers, d.body).status_code == 202
        n += 1
    return n


def _reports(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.test_reports)).scalar_one())


def test_the_webhook_worker_fetches_the_test_reports_of_completed_runs(store: Store) -> None:
    history = build_demo_history(now=NOW)
    replay = GitHubReplay(history, token=TOKEN)
    receiver = GitHubWebhooks(SECRET)
    delivered = _deliver(store, receiver, history)
    expected = sum(len(reports_from_zip(a.zip_bytes(), f"{a.name}.zip")) for a in history.artifacts)
    assert expected > 0
    with replay.serve() as server:
        client = GitHubClient(
            httpx.Client(timeout=10),
            base_url=server.url,
            auth=TokenAuth(TOKEN),
            etags=StoreEtags(store),
            sleep=lambda _s: None,
        )
        # without collection options (the old call): logs only, no report
        report = process_pending(store, {"github": receiver}, providers={"github": client}, due_only=False)
        assert report.done == delivered
        assert report.test_reports == 0 and _reports(store) == 0

        # serve's call: the stored deliveries are done, so replay them as new ones
        with store.engine.begin() as conn:
            conn.execute(t.raw_events.update().values(status="pending"))
        options = CollectOptions(fetch_logs=False, test_report_budget=10_000)
        report = process_pending(
            store, {"github": receiver}, providers={"github": client}, options=options, due_only=False
        )
        assert report.problems == []
        assert report.test_reports == _reports(store) == expected
        zips = [p for (_m, p, _s) in replay.requests if p.split("?")[0].endswith("/zip")]
        assert len(zips) == len(history.artifacts)

        # nothing fetched twice when the same runs complete again
        with store.engine.begin() as conn:
            conn.execute(t.raw_events.update().values(status="pending"))
        again = process_pending(
            store, {"github": receiver}, providers={"github": client}, options=options, due_only=False
        )
        assert again.test_reports == 0 and _reports(store) == expected
