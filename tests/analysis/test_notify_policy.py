"""Notification policy: dedup, repeats to the digest, quiet hours, digest timing and content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cimedic.analysis.notify_policy import DIGEST_LIMIT, build_digest, digest_due, plan, render
from cimedic.model.notify import EventKind, NotificationEvent, QuietHours, Severity

NOON = datetime(2024, 5, 2, 12, tzinfo=UTC)
NIGHT = datetime(2024, 5, 2, 23, 30, tzinfo=UTC)
QUIET = QuietHours.parse("22:00-07:00")


def ev(key: str, *, recurrence: bool = False, severity: Severity = Severity.WARNING) -> NotificationEvent:
    return NotificationEvent(
        kind=EventKind.NEW_CLUSTER, dedup_key=key, title=f"t {key}", body="b", url=f"https://x/{key}",
        occurred_at=NOON, recurrence=recurrence, severity=severity, repository="o/r",
    )  # fmt: skip


def test_dedup_known_and_within_batch() -> None:
    p = plan([ev("a"), ev("b"), ev("a")], known={"b"}, now=NOON)
    assert [e.dedup_key for e in p.send] == ["a"] and [e.dedup_key for e in p.skip] == ["b", "a"]


def test_repeats_go_to_the_digest() -> None:
    p = plan([ev("r", recurrence=True)], known=set(), now=NOON)
    assert not p.send and [e.dedup_key for e in p.digest] == ["r"]


def test_quiet_hours_hold_all_but_critical() -> None:
    p = plan([ev("w"), ev("c", severity=Severity.CRITICAL)], known=set(), now=NIGHT, quiet=QUIET)
    assert [e.dedup_key for e in p.send] == ["c"] and [e.dedup_key for e in p.digest] == ["w"]
    assert len(plan([ev("w")], known=set(), now=NOON, quiet=QUIET).send) == 1


def test_quiet_hours_parse_and_wrap() -> None:
    assert QUIET.contains(datetime(2024, 1, 1, 6, 59, tzinfo=UTC))
    assert not QUIET.contains(datetime(2024, 1, 1, 7, 0, tzinfo=UTC))
    assert QuietHours.parse("01:00-03:00").contains(datetime(2024, 1, 1, 2, tzinfo=UTC))
    with pytest.raises(ValueError):
        QuietHours.parse("late")


def test_digest_due() -> None:
    assert not digest_due(NOON, None, 0)
    assert digest_due(NOON, None, 1)
    assert not digest_due(NIGHT, None, 1, QUIET)
    assert not digest_due(NOON, NOON - timedelta(hours=2), 3)
    assert digest_due(NOON, NOON - timedelta(days=1), 3)


def test_render_and_digest_carry_links() -> None:
    n = render(ev("a"))
    assert n.dedup_key == "a" and "[Open the run](https://x/a)" in n.body
    d = build_digest([ev(str(i), recurrence=True) for i in range(DIGEST_LIMIT + 2)], NOON)
    assert d.kind is EventKind.DIGEST and "https://x/0" in d.body and "and 2 more" in d.body
    assert d.title == f"cimedic digest: {DIGEST_LIMIT + 2} events"
