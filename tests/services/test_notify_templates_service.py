"""Notification texts from templates through the service, on the demo store (SQLite and
PostgreSQL): the facts ``collect_events`` gives each kind are exactly what the bundled templates
need; a user template prints a fact holding a secret and the sender gets it redacted; digest rows
queued before templates (no facts) stay readable and are digested."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from cimedic.actions.notify import RecordingNotifier
from cimedic.inputs.templates import load_templates
from cimedic.model.notify import EventKind, HealthThresholds, NotificationEvent
from cimedic.model.remediation import Decision, Reason, Verdict
from cimedic.services.notify import collect_events, notify_pending
from cimedic.store import notify as db
from cimedic.store.actions import record_decision
from cimedic.store.repository import Store
from cimedic.store.schema_notify import notify_digest

NOW = datetime(2026, 11, 20, tzinfo=UTC)
REPO = "hashicorp-demo/terraform"
STRICT = HealthThresholds(window_seconds=7 * 86400.0, degraded_rate=0.05)
SECRET = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"


@pytest.fixture
def demo_now() -> datetime:
    return NOW


@pytest.fixture
def demo(demo_store: Store) -> Store:
    """A private copy of the demo store at NOW (SQLite and PostgreSQL) with one re-run decision."""
    store = demo_store
    record_decision(
        store,
        Decision(
            repository=REPO, run_id="9423378623", run_attempt=1, verdict=Verdict.RERUN, reason=Reason.ALLOWED,
            detail=f"network error, re-run allowed (token={SECRET})", policy_version="1", dry_run=False,
            decided_at=NOW - timedelta(hours=1), workflow_name="Quick Checks", branch="main", result="ok",
        ),
    )  # fmt: skip
    return store


def test_the_bundled_templates_get_every_fact_they_need(
    demo: Store, caplog: pytest.LogCaptureFixture
) -> None:
    events, _ = collect_events(demo, NOW - timedelta(days=30), NOW, thresholds=STRICT)
    kinds = {e.kind for e in events}
    assert kinds == {
        EventKind.NEW_CLUSTER,
        EventKind.HEALTH_CHANGE,
        EventKind.NEW_FLAKY_TEST,
        EventKind.ACTION_TAKEN,
    }
    assert all(e.body == "" and e.facts for e in events)  # data, not pre-baked text
    clusters = [e for e in events if e.kind is EventKind.NEW_CLUSTER]
    recurrences = [e.model_copy(update={"recurrence": True}) for e in clusters]  # same facts
    templates = load_templates()
    with caplog.at_level(logging.WARNING, logger="cimedic.inputs.templates"):
        texts = {e.dedup_key + str(e.recurrence): templates.render_event(e) for e in events + recurrences}
    assert caplog.records == [] and all(texts.values())  # StrictUndefined: no fact was missing
    action = next(e for e in events if e.kind is EventKind.ACTION_TAKEN)
    assert action.fact_map()["run_id"] == "9423378623" and action.fact_map()["result"] == "ok"
    health = next(e for e in events if e.kind is EventKind.HEALTH_CHANGE)
    assert health.fact_map()["new_state"] == "degraded" and health.fact_map()["window"] == "168 h"


def test_a_user_template_with_a_secret_fact_is_redacted_before_sending(demo: Store, tmp_path: Path) -> None:
    (tmp_path / "action_taken.md").write_text(
        "title: [CI] {{ workflow }} re-run ({{ result }})\n\nWhy: {{ detail }}\nRun {{ run_id }}#{{ attempt }}\n",
        encoding="utf-8",
    )
    db.record_pass(demo, NOW - timedelta(days=30), digest_sent=False)
    sender = RecordingNotifier()
    outcome = notify_pending(demo, [sender], NOW, thresholds=STRICT, templates=load_templates(tmp_path))
    assert outcome.failed == 0
    [sent] = [n for n in sender.sent if n.kind is EventKind.ACTION_TAKEN]
    assert sent.title == "[CI] Quick Checks re-run (ok)"
    assert (
        sent.body.startswith("Why: network error, re-run allowed (token=") and "Run 9423378623#1" in sent.body
    )
    assert SECRET not in sent.body and "REDACTED" in sent.body
    assert sent.body.endswith(f"[Open the run](https://github.com/{REPO}/actions/runs/9423378623)")
    others = [n for n in sender.sent if n.kind is EventKind.NEW_CLUSTER]
    assert others and all(n.body.startswith("New failure cluster **") for n in others)  # still bundled
    [logged] = [e for e in db.log_entries(demo) if e.dedup_key == sent.dedup_key]
    assert logged.status == "sent"


def test_digest_rows_queued_before_templates_stay_readable(demo: Store) -> None:
    old = {  # the JSON a digest row held before events had facts
        "kind": "new_cluster", "dedup_key": "recurrence:old:2026-11-18", "repository": REPO,
        "title": "Known failure again: old cluster (3x)", "body": "Recurring failure cluster old.",
        "url": f"https://github.com/{REPO}/actions/runs/1", "severity": "info",
        "occurred_at": "2026-11-18T10:00:00Z", "recurrence": True, "pull_requests": [],
    }  # fmt: skip
    with demo.engine.begin() as conn:
        conn.execute(
            notify_digest.insert().values(
                dedup_key=old["dedup_key"], event=json.dumps(old), queued_at=NOW - timedelta(days=2)
            )
        )
    new = NotificationEvent(
        kind=EventKind.NEW_CLUSTER, dedup_key="recurrence:new:2026-11-19", repository=REPO,
        title="Known failure again: new cluster (2x)", occurred_at=NOW - timedelta(days=1), recurrence=True,
        facts=(("short_id", "abcd1234"), ("occurrences", "2")),
    )  # fmt: skip
    db.queue_digest(demo, [new], NOW - timedelta(days=1))
    pending = db.pending_digest(demo)
    assert [e.dedup_key for e in pending] == [old["dedup_key"], new.dedup_key]
    assert pending[0].facts == () and pending[0].body == "Recurring failure cluster old."
    assert pending[1].fact_map() == {"short_id": "abcd1234", "occurrences": "2"}

    db.record_pass(demo, NOW - timedelta(minutes=5), digest_sent=False)
    sender = RecordingNotifier()
    outcome = notify_pending(demo, [sender], NOW)
    assert outcome.digests == 1
    [digest] = [n for n in sender.sent if n.kind is EventKind.DIGEST]
    assert digest.body.splitlines()[:2] == [
        f"- Known failure again: old cluster (3x) ({REPO}) - [run](https://github.com/{REPO}/actions/runs/1)",
        f"- Known failure again: new cluster (2x) ({REPO})",
    ]
    with demo.engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM notify_digest WHERE digested_at IS NULL")).scalar()
    assert left == 0
