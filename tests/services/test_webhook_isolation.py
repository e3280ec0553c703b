"""One stored webhook delivery never stops the processing of the others (issue 11, section 1):
a signed 200,000-deep JSON body, a 300-character branch name or a NUL character (``DataError`` on
PostgreSQL), or any exception of the parser or the store marks that delivery ``failed`` with
the reason, to be retried with back-off and dead-lettered after five tries, while the deliveries
after it are processed. Delivery ids that are not short tokens are refused over HTTP with 400."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from cimedic.connectors.github_actions.provider import GitHubWebhooks
from cimedic.connectors.github_actions.webhooks import MAX_JSON_DEPTH, json_depth_exceeds
from cimedic.model.events import WebhookEvent
from cimedic.services.webhooks import DeliveryWorker, process_pending, receive
from cimedic.store import schema as t
from cimedic.store.pipeline import MAX_TRIES, retry_delay
from cimedic.store.repository import Store
from cimedic.testing.demo_history import build_demo_history
from cimedic.testing.replay_webhooks import Delivery, webhook_deliveries
from served import ServedApp as _Server

pytestmark = pytest.mark.timeout(120)  # uvicorn on loopback in one test

SECRET = "isolation-secret"


def _headers(event: str, body: bytes, delivery: str | None = None) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }


def _valid_runs(n: int) -> list[Delivery]:
    history = build_demo_history(now=datetime(2026, 11, 20, tzinfo=UTC))
    runs = [d for d in webhook_deliveries(history) if d.event == "workflow_run"]
    return runs[:n]


def _store(store: Store, receiver: GitHubWebhooks, event: str, body: bytes, delivery: str) -> int:
    receipt = receive(store, receiver, _headers(event, body, delivery), body)
    assert receipt.status_code == 202, receipt
    assert receipt.raw_id is not None
    return receipt.raw_id


def _status(store: Store, raw_id: int) -> tuple[str, str | None, int]:
    with store.engine.connect() as conn:
        row = conn.execute(select(t.raw_events).where(t.raw_events.c.id == raw_id)).one()
    return row.status, row.error, row.attempts


def _run_worker(store: Store, receivers: dict[str, Any]) -> DeliveryWorker:
    worker = DeliveryWorker(lambda: process_pending(store, receivers))
    worker.start()
    try:
        assert worker.wait_idle(60)
        assert worker._thread.is_alive()  # the worker goes on
    finally:
        worker.stop()
    return worker


def test_a_deeply_nested_delivery_between_valid_ones_fails_alone(store: Store) -> None:
    receiver = GitHubWebhooks(SECRET)
    first, *rest = _valid_runs(4)
    deep = b'{"action": "completed", "workflow_run": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    ids = [_store(store, receiver, first.event, first.body, "valid-0")]
    poison = _store(store, receiver, "workflow_run", deep, "poison-deep")
    ids += [_store(store, receiver, d.event, d.body, f"valid-{i}") for i, d in enumerate(rest, 1)]

    worker = _run_worker(store, {"github": receiver})

    assert worker.errors == []
    assert worker.last_report is not None and worker.last_report.done == 4
    assert [_status(store, i)[0] for i in ids] == ["done"] * 4
    status, error, tries = _status(store, poison)
    assert (status, tries) == ("failed", 1)
    assert error is not None and "poison-deep" in error and f"deeper than {MAX_JSON_DEPTH} levels" in error
    assert store.counts()["workflow_runs"] == 4


def test_json_depth_is_bounded_before_parsing() -> None:
    assert json_depth_exceeds(b"[" * 200_000 + b"]" * 200_000)
    assert json_depth_exceeds(b"[" * 200_000)  # unclosed: the parser would recurse as deep
    assert not json_depth_exceeds(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert json_depth_exceeds(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))
    assert not json_depth_exceeds(b'{"a": "' + b"[" * 500 + b'\\"' + b'"}')  # brackets in strings
    assert not json_depth_exceeds(b"{not json")  # the parser reports it


def _mutated(delivery: Delivery, change: dict[str, Any]) -> bytes:
    payload = json.loads(delivery.body)
    payload[delivery.event].update(change)
    return json.dumps(payload).encode()


def test_long_names_and_nul_characters_are_stored_on_both_backends(store: Store) -> None:
    # regression: on PostgreSQL a 300-character branch (VARCHAR(255)) or a NUL character was a
    # DataError that stopped the worker for good; SQLite accepted both
    receiver = GitHubWebhooks(SECRET)
    history = build_demo_history(now=datetime(2026, 11, 20, tzinfo=UTC))
    deliveries = webhook_deliveries(history)
    run = next(d for d in deliveries if d.event == "workflow_run")
    job = next(d for d in deliveries if d.event == "workflow_job")
    branch = "feature/" + "b" * 292
    long_branch = _store(
        store, receiver, "workflow_run", _mutated(run, {"head_branch": branch}), "long-branch"
    )
    nul_name = _store(
        store, receiver, "workflow_job", _mutated(job, {"workflow_name": "Build\x00 and test"}), "nul-name"
    )
    after = _valid_runs(3)[-1]
    valid = _store(store, receiver, after.event, after.body, "after")

    worker = _run_worker(store, {"github": receiver})

    assert worker.errors == []
    assert [_status(store, i)[0] for i in (long_branch, nul_name, valid)] == ["done"] * 3
    with store.engine.connect() as conn:
        branches = set(conn.execute(select(t.workflow_runs.c.branch)).scalars())
        names = set(conn.execute(select(t.jobs.c.workflow_name)).scalars())
    assert branch in branches
    assert "Build and test" in names


class _Exploding:
    """A receiver whose parse raises an error no parser would (a bug) for one delivery."""

    provider = "github"
    handled_events = frozenset({"workflow_run"})

    def __init__(self, inner: GitHubWebhooks, poison: bytes) -> None:
        self._inner, self._poison = inner, poison

    def verify(self, headers: Any, body: bytes) -> Any:
        return self._inner.verify(headers, body)

    def parse(self, event: str, body: bytes) -> WebhookEvent:
        if body == self._poison:
            raise RuntimeError("boom \x00 in a bug")
        return self._inner.parse(event, body)


def test_any_exception_fails_the_delivery_with_back_off_then_dead_letters_it(store: Store) -> None:
    a, b = _valid_runs(2)
    receiver = _Exploding(GitHubWebhooks(SECRET), a.body)
    bad = _store(store, receiver._inner, a.event, a.body, "bad")
    good = _store(store, receiver._inner, b.event, b.body, "good")
    receivers: dict[str, Any] = {"github": receiver}

    before = datetime.now(UTC)
    report = process_pending(store, receivers)
    assert (report.done, report.failed, report.dead) == (1, 1, 0)
    assert _status(store, good)[0] == "done"
    status, error, tries = _status(store, bad)
    assert (status, tries) == ("failed", 1)
    assert error is not None and error.startswith("delivery bad (workflow_run): RuntimeError: boom")
    assert "\x00" not in error
    (failed,) = store.raw_events(status=("failed",))
    assert failed.next_attempt_at is not None
    assert before + timedelta(minutes=2) <= failed.next_attempt_at <= datetime.now(UTC) + timedelta(minutes=2)

    # not due yet: the worker leaves it alone
    assert process_pending(store, receivers).failed == 0
    assert _status(store, bad)[2] == 1

    for expected_tries in range(2, MAX_TRIES + 1):
        with store.engine.begin() as conn:  # the back-off has passed
            conn.execute(
                update(t.raw_events)
                .where(t.raw_events.c.id == bad)
                .values(next_attempt_at=datetime(2000, 1, 1))
            )
        report = process_pending(store, receivers)
        assert report.failed == 1
        status, _, tries = _status(store, bad)
        assert tries == expected_tries
        assert status == ("dead" if expected_tries == MAX_TRIES else "failed")
    assert report.dead == 1
    assert "dead-lettered after 5 tries" in report.problems[-1]
    # dead: never picked again by the worker
    assert process_pending(store, receivers).failed == 0


def test_back_off_doubles_up_to_an_hour() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4, 5, 6, 7, 40)] == [
        timedelta(minutes=m) for m in (2, 4, 8, 16, 32, 60, 60, 60)
    ]


def test_a_delivery_id_that_is_not_a_short_token_is_refused_over_http(store: Store) -> None:
    # regression: a 300-character X-GitHub-Delivery gave PostgreSQL a 500 and the delivery was lost
    from cimedic.bootstrap import build
    from cimedic.interfaces.api.app import create_app
    from cimedic.settings import Settings

    (run,) = _valid_runs(1)
    app = create_app(build(Settings(github_webhook_secret=SECRET), store=store, llm=None))
    with _Server(app) as url:
        for bad in ("a" * 300, "../../etc/passwd", "id with spaces", "-leading-dash"):
            headers = _headers(run.event, run.body, bad)
            response = httpx.post(f"{url}/webhooks/github", content=run.body, headers=headers, timeout=10)
            assert response.status_code == 400, (bad, response.text)
            assert "X-GitHub-Delivery" in response.text
        ok = httpx.post(
            f"{url}/webhooks/github", content=run.body, headers=_headers(run.event, run.body), timeout=10
        )
        assert ok.status_code == 202
        assert app.state.worker.wait_idle(30)
    assert store.counts()["raw_events"] == 1
