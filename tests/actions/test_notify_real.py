"""Real deliveries: a real SMTP server (aiosmtpd, plain SMTP on loopback) and a local HTTP
webhook receiver (apprise ``json://``); the service end to end on the demo store, with a secret
planted in a failure text that must not reach any channel; GitHub issues through the replay."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from cimedic.actions.notify import (
    AppriseNotifier,
    GitHubIssueNotifier,
    GitHubPRCommentNotifier,
    RecordingNotifier,
)
from cimedic.model.notify import EventKind, Notification, Severity
from cimedic.services.notify import notify_pending
from cimedic.store import notify as db
from cimedic.store.repository import Store

if TYPE_CHECKING:
    from conftest import DemoDB

pytestmark = pytest.mark.timeout(180)  # SMTP, webhook receiver and the GitHub replay on loopback

SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, list[bytes]]]:
    from aiosmtpd.controller import Controller
    from apprise.plugins.email.base import NotifyEmail

    # apprise waits 5.5 s between two mails to one server (``request_rate_per_sec``), politeness
    # towards a real mail server that made the demo test wait ~40 s on this local one
    monkeypatch.setattr(NotifyEmail, "request_rate_per_sec", 0)
    received: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope.content)
            return "250 OK"

    import socket

    with socket.socket() as probe:  # a free port (the Controller cannot self-check port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


@pytest.fixture
def webhook() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(
                {"path": self.path, "body": json.loads(self.rfile.read(int(self.headers["Content-Length"])))}
            )
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


def _mail_text(raw: bytes) -> str:
    msg = message_from_bytes(raw)
    parts = [p.get_payload(decode=True) for p in msg.walk() if not p.is_multipart()]
    return str(msg["Subject"]) + "\n" + "\n".join(p.decode("utf-8", "replace") for p in parts if p)


def test_email_and_webhook_receive_the_notification(smtp, webhook) -> None:  # type: ignore[no-untyped-def]
    port, mails = smtp
    hport, hooks = webhook
    sender = AppriseNotifier(
        [
            f"mailto://127.0.0.1:{port}?from=cimedic@example.com&to=dev@example.com",
            f"json://127.0.0.1:{hport}/hook",
        ]
    )
    n = Notification(
        kind=EventKind.NEW_CLUSTER, title="New CI failure: go mod tidy", body="**go.mod** is not tidy",
        url="https://github.com/o/r/actions/runs/1", severity=Severity.WARNING, dedup_key="k",
    )  # fmt: skip
    result = sender.send(
        n.model_copy(update={"body": n.body + "\n\n[Open the run](https://github.com/o/r/actions/runs/1)"})
    )
    assert result.ok, result.error
    assert len(mails) == 1 and "go mod tidy" in _mail_text(mails[0])
    assert "https://github.com/o/r/actions/runs/1" in _mail_text(mails[0])
    [hook] = hooks
    assert hook["path"] == "/hook" and hook["body"]["title"] == "New CI failure: go mod tidy"
    assert "go.mod" in hook["body"]["message"] and hook["body"]["type"] == "warning"


def test_refused_delivery_is_reported_not_raised() -> None:
    result = AppriseNotifier(["json://127.0.0.1:9/hook"]).send(
        Notification(kind=EventKind.DIGEST, title="t", body="b", dedup_key="k")
    )
    assert not result.ok and result.error


@pytest.fixture
def demo_now(live_demo_now: datetime) -> datetime:
    """The demo ends at the wall clock's now, as ``cimedic demo`` builds it."""
    return live_demo_now


@pytest.fixture
def demo(demo_copy: DemoDB, demo_store: Store) -> tuple[Store, datetime]:
    """A private copy of the demo store (SQLite and PostgreSQL) with a planted secret, and its now."""
    store, now = demo_store, demo_copy.now
    with store.engine.begin() as conn:  # plant a secret in a stored failure line
        from sqlalchemy import text

        conn.execute(text("UPDATE diagnoses SET summary = summary || ' token=" + SECRET + "'"))
        conn.execute(text("UPDATE failure_clusters SET representative = representative || ' " + SECRET + "'"))
    return store, now


def test_service_end_to_end_on_the_demo(demo, smtp, webhook) -> None:  # type: ignore[no-untyped-def]
    store, now = demo
    port, mails = smtp
    hport, hooks = webhook
    sender = AppriseNotifier(
        [f"mailto://127.0.0.1:{port}?from=c@example.com&to=d@example.com", f"json://127.0.0.1:{hport}/h"]
    )
    dry = notify_pending(store, [RecordingNotifier()], now + timedelta(minutes=1), dry_run=True)
    assert dry.notifications and db.log_entries(store) == []  # a dry run writes nothing
    db.record_pass(store, now - timedelta(days=30), digest_sent=False)  # the whole demo is news
    first = notify_pending(store, [sender], now + timedelta(minutes=1))
    assert first.sent >= 1 and first.failed == 0
    kinds = {n.kind for n in first.notifications}
    assert EventKind.NEW_CLUSTER in kinds
    texts = [_mail_text(m) for m in mails] + [json.dumps(h["body"]) for h in hooks]
    assert texts and all(SECRET not in t for t in texts)
    assert any("REDACTED" in t for t in texts)  # the planted secret was there, and redacted
    assert any("https://" in t for t in texts)
    again = notify_pending(store, [sender], now + timedelta(minutes=2))
    assert again.sent == 0  # nothing new since the last pass: no repeat


def test_user_templates_end_to_end_to_a_webhook(demo, webhook, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A user's template folder (``notify_templates_dir``) replaces the new-cluster text; the
    custom text reaches a real webhook receiver (apprise ``json://``) with the secret the
    template prints from the failing line redacted; the other kinds keep the bundled text."""
    from cimedic.inputs.templates import load_templates

    store, now = demo
    hport, hooks = webhook
    (tmp_path / "new_cluster.md").write_text(
        "title: CUSTOM {{ category }} failure in {{ repository }}\n\n"
        "Our pipeline broke: {{ cluster_title }}\n\n```\n{{ representative }}\n```\n"
        "Jobs: {{ jobs }}. Seen {{ occurrences }} times since {{ first_seen }}.\n",
        encoding="utf-8",
    )
    templates = load_templates(tmp_path)
    db.record_pass(store, now - timedelta(days=30), digest_sent=False)
    sender = AppriseNotifier([f"json://127.0.0.1:{hport}/h"])
    outcome = notify_pending(store, [sender], now + timedelta(minutes=1), templates=templates)
    assert outcome.failed == 0 and outcome.sent == len(hooks) >= 2
    custom = [h["body"] for h in hooks if h["body"]["title"].startswith("CUSTOM ")]
    clusters = [n for n in outcome.notifications if n.kind is EventKind.NEW_CLUSTER]
    assert len(custom) == len(clusters) >= 1
    for body in custom:
        assert "Our pipeline broke: " in body["message"] and "Seen " in body["message"]
        assert "[Open the run](https://github.com/" in body["message"]  # appended: the template has none
    assert any("REDACTED" in b["message"] for b in custom)  # the planted secret was printed, and redacted
    assert all(SECRET not in json.dumps(h["body"]) for h in hooks)
    rest = [h["body"] for h in hooks if not h["body"]["title"].startswith("CUSTOM ")]
    assert rest and all("Our pipeline broke" not in b["message"] for b in rest)


def test_github_issue_through_the_replay() -> None:
    from cimedic.connectors.github_actions.client import GitHubClient
    from cimedic.testing.demo_history import build_demo_history
    from cimedic.testing.github_replay import GitHubReplay

    replay = GitHubReplay(build_demo_history())
    client = GitHubClient(httpx.Client(transport=replay.transport()))
    repo = replay.history.repos[0].full_name
    notifier = GitHubIssueNotifier(client)
    n = Notification(
        kind=EventKind.NEW_CLUSTER,
        title="New CI failure",
        body="b",
        dedup_key="new_cluster:x",
        repository=repo,
    )
    result = notifier.send(n)
    number = replay.issues[0]["number"]  # issues and pull requests share one sequence
    assert number > max(p.number for p in replay.history.pull_requests)
    assert result.ok and result.reference and result.reference.endswith(f"/issues/{number}")
    assert (
        replay.issues[0]["title"] == "New CI failure" and "cimedic:new_cluster:x" in replay.issues[0]["body"]
    )
    assert (
        notifier.send(n.model_copy(update={"kind": EventKind.DIGEST})).reference is None
    )  # not an issue kind
    bad = notifier.send(n.model_copy(update={"repository": "no/such"}))
    assert not bad.ok and "404" in (bad.error or "")


def test_pull_request_comments_through_the_replay_over_loopback(demo) -> None:  # type: ignore[no-untyped-def]
    """A new failure cluster first seen on a pull request's run is commented on that pull request
    (REST "Create an issue comment" on the replay, real HTTP); branch-run clusters are not."""
    from cimedic.connectors.github_actions.client import GitHubClient
    from cimedic.testing.demo_history import build_demo_history
    from cimedic.testing.github_replay import GitHubReplay

    store, now = demo
    replay = GitHubReplay(build_demo_history(now=now))
    db.record_pass(store, now - timedelta(days=30), digest_sent=False)
    with replay.serve() as served, httpx.Client() as http:
        client = GitHubClient(http, base_url=served.url)
        outcome = notify_pending(store, [GitHubPRCommentNotifier(client)], now + timedelta(minutes=1))
    on_prs = [n for n in outcome.notifications if n.pull_requests]
    assert on_prs and outcome.failed == 0
    known = {p.number for p in replay.history.pull_requests}
    commented = sorted(c["number"] for c in replay.comments)
    assert commented == sorted(n for x in on_prs for n in x.pull_requests)
    assert set(commented) <= known
    for c in replay.comments:
        assert c["html_url"].endswith(f"/pull/{c['number']}#issuecomment-{c['id']}")
        assert "cimedic:new_cluster:" in c["body"] and SECRET not in c["body"]
    assert all(n.kind is EventKind.NEW_CLUSTER for n in on_prs)


def test_pull_request_comment_refused_is_reported() -> None:
    from cimedic.connectors.github_actions.client import GitHubClient
    from cimedic.testing.demo_history import build_demo_history
    from cimedic.testing.github_replay import GitHubReplay

    replay = GitHubReplay(build_demo_history())
    client = GitHubClient(httpx.Client(transport=replay.transport()))
    repo = replay.history.repos[0].full_name
    pr = replay.history.pull_requests[0].number
    n = Notification(
        kind=EventKind.NEW_CLUSTER,
        title="t",
        body="b",
        dedup_key="k",
        repository=repo,
        pull_requests=(pr, 999_999),
    )
    result = GitHubPRCommentNotifier(client).send(n)
    assert not result.ok and "#999999" in (result.error or "") and "404" in (result.error or "")
    assert [c["number"] for c in replay.comments] == [pr]  # the good one still went out
    assert result.reference and f"/pull/{pr}#issuecomment-" in result.reference
    assert GitHubPRCommentNotifier(client).send(n.model_copy(update={"pull_requests": ()})).reference is None
