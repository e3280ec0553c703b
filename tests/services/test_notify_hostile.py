"""Notifications and reports cannot be steered by a log or a payload (issue "step 2 of 10", §5).

* A job, branch and cluster named ``<!channel> @everyone [click](https://evil.example)`` reach a
  real local webhook receiver (apprise ``json://`` over loopback) as inert text: no mention,
  no link but the run's, built from the provider's web base URL and ids.
* A ``javascript:`` ``html_url`` stored from a payload never becomes a link: not in the
  notification, not in the Markdown nor the HTML report.
* A failure cluster first seen before the last notification pass but stored (ingested) after
  it is notified, exactly once; one whose history is a backfill older than a week is not.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from markdown_it import MarkdownIt
from sqlalchemy import text

from cimedic.actions.notify import AppriseNotifier, RecordingNotifier
from cimedic.model.notify import EventKind
from cimedic.services.notify import notify_pending
from cimedic.store import notify as db
from cimedic.store.repository import Store

pytestmark = pytest.mark.timeout(240)  # a webhook receiver on loopback, the demo store on two backends

HOSTILE = "<!channel> @everyone [click](https://evil.example)"
EVIL_URL = "javascript:alert(1)"
SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture
def webhook() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], got
    finally:
        server.shutdown()
        server.server_close()


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _plant_hostile(store: Store) -> None:
    """Names, lines and payload URLs as an attacker who controls a workflow file writes them."""
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE jobs SET name = :n, head_branch = :b, html_url = :u"),
            {"n": HOSTILE, "b": HOSTILE, "u": EVIL_URL},
        )
        conn.execute(text("UPDATE workflow_runs SET html_url = :u"), {"u": EVIL_URL})
        conn.execute(text("UPDATE repositories SET html_url = :u"), {"u": EVIL_URL})
        conn.execute(
            text("UPDATE failure_clusters SET title = :t, example = :e, representative = :r"),
            {"t": f"test: {HOSTILE} token={SECRET}", "e": f"test: {HOSTILE} token={SECRET}", "r": HOSTILE},
        )
        conn.execute(text("UPDATE diagnoses SET summary = :t"), {"t": f"{HOSTILE} token={SECRET}"})


def _assert_inert(body: str) -> None:
    """No mention, no secret, and, rendered as CommonMark, no element but text and the
    provider's links."""
    for raw in ("<!channel>", "@everyone", "[click](", "javascript:"):
        assert raw not in body, (raw, body)
    assert SECRET not in body and SECRET.replace("_", "\\_") not in body  # redacted before escaping
    rendered = MarkdownIt("commonmark").render(body)
    hrefs = re.findall(r'href="([^"]*)"', rendered)
    assert all(h.startswith("https://github.com/") for h in hrefs), (hrefs, body)
    assert "<img" not in rendered and "<script" not in rendered


def test_a_hostile_job_name_reaches_a_webhook_neutralised(
    demo_store: Store,
    demo_copy: Any,
    webhook: tuple[int, list[dict[str, Any]]],
) -> None:
    store, now = demo_store, demo_copy.now
    port, hooks = webhook
    _plant_hostile(store)
    db.record_pass(store, now - timedelta(days=30), digest_sent=False)  # the whole demo is news
    outcome = notify_pending(
        store, [AppriseNotifier([f"json://127.0.0.1:{port}/h"])], now + timedelta(minutes=1)
    )
    assert outcome.failed == 0 and outcome.sent == len(hooks) >= 2
    clusters = [n for n in outcome.notifications if n.kind is EventKind.NEW_CLUSTER]
    assert clusters and all(n.url and n.url.startswith("https://github.com/") for n in clusters)
    for hook in hooks:
        _assert_inert(hook["title"])
        _assert_inert(hook["message"])
    messages = "\n".join(h["message"] for h in hooks)
    assert "@\u200beveryone" in messages  # the job name did arrive: as text
    assert "[Open the run](https://github.com/" in messages
    assert all(n.url is None or n.url.startswith("https://github.com/") for n in outcome.notifications)


def test_a_javascript_url_never_becomes_a_report_link(demo_store: Store, demo_copy: Any) -> None:
    from cimedic.services.reports import build_report, render_html, render_markdown

    store, now = demo_store, demo_copy.now
    _plant_hostile(store)
    report = build_report(store, "weekly", now=now)
    assert report.clusters and all(c.url and c.url.startswith("https://github.com/") for c in report.clusters)
    md, page = render_markdown(report), render_html(report)
    assert "javascript:" not in md and "javascript:" not in page
    _assert_inert(md)
    assert "<!channel>" not in page and "href='https://evil" not in page and 'href="https://evil' not in page
    assert "&lt;!\u200bchannel&gt;" in page  # printed, as text
    hrefs = re.findall(r"href='([^']*)'", page)
    assert hrefs and all(h.startswith("https://github.com/") for h in hrefs)
    # a report given a stored javascript: link (e.g. built by an older version) prints no link
    bad = report.model_copy(
        update={"clusters": tuple(c.model_copy(update={"url": EVIL_URL}) for c in report.clusters)}
    )
    assert "javascript:" not in render_markdown(bad) and "javascript:" not in render_html(bad)


def test_a_cluster_ingested_after_the_last_pass_is_notified_once(demo_store: Store, demo_copy: Any) -> None:
    store = demo_store
    last_pass = demo_copy.now + timedelta(minutes=1)  # after every demo job
    now = last_pass + timedelta(hours=1)
    with store.engine.connect() as conn:
        keys = [r[0] for r in conn.execute(text("SELECT key FROM failure_clusters ORDER BY key"))]
    assert len(keys) >= 2
    late, backfill = keys[0], keys[1]
    members = (
        "UPDATE jobs SET created_at = :at WHERE id IN (SELECT cm.job_id FROM cluster_members cm "
        "JOIN failure_clusters fc ON fc.id = cm.cluster_id WHERE fc.key = :k)"
    )
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE failure_clusters SET created_at = :at"),
            {"at": _naive(last_pass - timedelta(days=40))},
        )
        # ``late``: failed 3 h before the last pass, stored 10 min after it (a late webhook, a pending log)
        conn.execute(text(members), {"at": _naive(last_pass - timedelta(hours=3)), "k": late})
        # ``backfill``: failed 30 days ago, stored after the pass (``sync --since 90d``): history, not news
        conn.execute(text(members), {"at": _naive(last_pass - timedelta(days=30)), "k": backfill})
        conn.execute(
            text("UPDATE failure_clusters SET created_at = :at WHERE key IN (:a, :b)"),
            {"at": _naive(last_pass + timedelta(minutes=10)), "a": late, "b": backfill},
        )
    db.record_pass(store, last_pass, digest_sent=False)
    sender = RecordingNotifier()
    first = notify_pending(store, [sender], now)
    new = [n.dedup_key for n in first.notifications if n.kind is EventKind.NEW_CLUSTER]
    assert new == [f"new_cluster:{late}"]
    assert first.failed == 0
    again = notify_pending(store, [sender], now + timedelta(minutes=5))
    assert [n for n in again.notifications if n.kind is EventKind.NEW_CLUSTER] == []
    assert [n.dedup_key for n in sender.sent].count(f"new_cluster:{late}") == 1
