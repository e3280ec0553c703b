"""The webhook endpoint over real HTTP (uvicorn on loopback) into a real store: every GitHub
webhook example and every demo delivery goes through it; signatures are verified, deliveries
are stored raw first and idempotent, processing happens after the answer and survives a
restart."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from cimedic.bootstrap import build
from cimedic.interfaces.api.app import create_app
from cimedic.settings import Settings
from cimedic.store import schema as t
from cimedic.store.repository import Store
from cimedic.testing.demo_history import build_demo_history
from cimedic.testing.replay_webhooks import webhook_deliveries
from served import ServedApp as _Server

pytestmark = pytest.mark.timeout(120)  # uvicorn on loopback

SECRET = "It's a Secret to Everybody"
EXAMPLES = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "github"
    / "payload-examples"
    / "api.github.com"
)


def _sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def served(store: Store) -> Iterator[tuple[str, object]]:
    app = create_app(build(Settings(github_webhook_secret=SECRET), store=store, llm=None))
    with _Server(app) as url:
        yield url, app.state.worker


def _post(
    url: str, event: str, body: bytes, *, delivery: str | None = None, signature: str | None = "sign"
) -> httpx.Response:
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/abc123",
    }
    if signature == "sign":
        headers["X-Hub-Signature-256"] = _sign(body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return httpx.post(f"{url}/webhooks/github", content=body, headers=headers, timeout=10)


def _examples() -> list[Path]:
    if not EXAMPLES.is_dir():
        return []
    return sorted(
        p for ev in ("workflow_run", "workflow_job", "check_run") for p in (EXAMPLES / ev).glob("*.json")
    )


@pytest.mark.skipif(
    not EXAMPLES.is_dir(), reason=f"GitHub webhook examples not found at {EXAMPLES} (../shared)"
)
def test_every_github_webhook_example_is_accepted_and_processed(store: Store, served) -> None:  # type: ignore[no-untyped-def]
    url, worker = served
    examples = _examples()
    assert len(examples) >= 15
    for path in examples:
        body = path.read_bytes()
        response = _post(url, path.parent.name, body, delivery=f"ex-{path.parent.name}-{path.stem}")
        assert response.status_code == 202, (path, response.text)
    assert worker.wait_idle(30)
    failed = store.raw_events(status=("failed",))
    assert failed == [], [r.key for r in failed]
    counts = store.counts()
    assert counts["raw_events"] == len(examples)
    assert counts["workflow_runs"] >= 1 and counts["jobs"] >= 1
    # job 289782451 arrives completed (failure, then success), then in_progress and queued (file
    # order): the later, older states must not overwrite the completed one
    with store.engine.connect() as conn:
        job = conn.execute(select(t.jobs).where(t.jobs.c.provider_id == "289782451")).one()
    assert (job.status, job.conclusion) == ("completed", "success")


def test_demo_deliveries_build_the_same_runs_as_polling(store: Store, served) -> None:  # type: ignore[no-untyped-def]
    url, worker = served
    history = build_demo_history(now=datetime(2026, 11, 20, tzinfo=UTC))
    deliveries = webhook_deliveries(history)
    # workflow_job before workflow_run for some runs: order must not matter
    for d in sorted(deliveries, key=lambda d: d.event != "workflow_job"):
        response = httpx.post(f"{url}/webhooks/github", content=d.body, headers=d.headers(SECRET), timeout=10)
        assert response.status_code == 202
    assert worker.wait_idle(60)
    assert store.raw_events(status=("failed", "pending")) == []
    counts = store.counts()
    runs_with_webhooks = {
        json.loads(d.body)["workflow_run"]["id"] for d in deliveries if d.event == "workflow_run"
    }
    assert counts["workflow_runs"] >= len(runs_with_webhooks)
    with store.engine.connect() as conn:
        unknown = conn.execute(select(t.workflow_runs).where(t.workflow_runs.c.status == "unknown")).all()
    assert unknown == [], "every placeholder run was completed by its workflow_run delivery"


def test_signature_headers_and_duplicates(store: Store, served) -> None:  # type: ignore[no-untyped-def]
    url, worker = served
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    assert _post(url, "ping", body, signature=None).status_code == 401
    assert _post(url, "ping", body, signature="sha256=" + "0" * 64).status_code == 401
    assert _post(url, "ping", body, signature=_sign(body, "wrong secret")).status_code == 401
    assert _post(url, "ping", body + b" ").status_code == 202  # signed over the exact bytes
    first = _post(url, "ping", body, delivery="same-id")
    again = _post(url, "ping", body, delivery="same-id")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["duplicate"] is True
    assert _post(url, "issues", body).status_code == 200  # valid but unused event: not stored
    missing = httpx.post(f"{url}/webhooks/github", content=body, headers={"X-Hub-Signature-256": _sign(body)})
    assert missing.status_code == 400
    assert worker.wait_idle(10)
    assert store.counts()["raw_events"] == 2


def test_malformed_delivery_is_kept_as_failed_with_the_reason(store: Store, served) -> None:  # type: ignore[no-untyped-def]
    url, worker = served
    body = b'{"action": "completed", "workflow_run": {"id": "not a run"'
    assert _post(url, "workflow_run", body, delivery="broken-1").status_code == 202
    assert worker.wait_idle(10)
    (failed,) = store.raw_events(status=("failed",))
    assert failed.key == "broken-1" and failed.payload == body


def test_no_secret_configured_answers_503(store: Store) -> None:
    app = create_app(build(Settings(github_webhook_secret=None), store=store, llm=None))
    with _Server(app) as url:
        assert _post(url, "ping", b"{}").status_code == 503
    assert store.counts()["raw_events"] == 0


def test_pending_deliveries_left_by_a_crash_are_processed_at_start(store: Store) -> None:
    payload = EXAMPLES / "workflow_run" / "completed.payload.json"
    if not payload.is_file():
        history = build_demo_history(now=datetime(2026, 11, 20, tzinfo=UTC))
        body = next(d.body for d in webhook_deliveries(history) if d.event == "workflow_run")
    else:
        body = payload.read_bytes()
    store.add_raw_event("github-webhook", "before-crash", "workflow_run", body)
    app = create_app(build(Settings(github_webhook_secret=SECRET), store=store, llm=None))
    with _Server(app):
        assert app.state.worker.wait_idle(10)
    assert store.raw_events(status=("pending",)) == []
    assert store.counts()["workflow_runs"] == 1
