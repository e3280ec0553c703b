"""Notification tables on both backends: log dedup, digest queue, health states, passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cimedic.model.ci import Repository
from cimedic.model.notify import EventKind, HealthState, Notification, NotificationEvent, RepoHealth
from cimedic.store import notify as db
from cimedic.store.repository import Store

NOW = datetime(2024, 5, 2, 12, tzinfo=UTC)


def test_log_digest_health_passes(store: Store) -> None:
    n = Notification(kind=EventKind.NEW_CLUSTER, title="t", body="b", dedup_key="k1", repository="o/r")
    db.record_notification(store, n, channel="apprise", status="failed", error="boom", now=NOW)
    db.record_notification(store, n, channel="apprise", status="sent", error=None, now=NOW)
    [entry] = db.log_entries(store)
    assert entry.status == "sent" and entry.sent_at == NOW and entry.error is None
    e = NotificationEvent(
        kind=EventKind.NEW_CLUSTER, dedup_key="r1", title="again", occurred_at=NOW, recurrence=True
    )
    assert db.queue_digest(store, [e, e.model_copy()], NOW) == 2  # the second is ignored by the key
    assert [x.dedup_key for x in db.pending_digest(store)] == ["r1"]
    assert db.known_keys(store, ["k1", "r1", "zz"]) == {"k1", "r1"}
    db.mark_digested(store, ["r1"], NOW)
    assert db.pending_digest(store) == []

    store.upsert_repository(Repository(owner="o", name="r", default_branch="main"))
    db.save_health(
        store, [RepoHealth(repository="o/r", state=HealthState.FAILING, runs=2, failed=2, reason="red")], NOW
    )
    db.save_health(store, [RepoHealth(repository="unknown/x", state=HealthState.FAILING)], NOW)
    assert db.health_states(store) == {"o/r": HealthState.FAILING}

    assert db.last_pass_at(store) is None and db.last_digest_at(store) is None
    db.record_pass(store, NOW, digest_sent=True)
    db.record_pass(store, NOW + timedelta(minutes=5), digest_sent=False)
    assert db.last_pass_at(store) == NOW + timedelta(minutes=5) and db.last_digest_at(store) == NOW
