"""Which notification events go out now, which wait for the digest, which are dropped (pure).

Rules (``docs/notifications.md``):

1. **Dedup**: an event whose ``dedup_key`` was already sent or queued (``known``), or repeats
   an earlier event of the same batch, is skipped.
2. **Repeats go to the digest**: an event flagged ``recurrence`` (a known failure seen again)
   is never sent alone; it is queued for the next digest.
3. **Quiet hours** (a daily UTC interval): only ``critical`` events are sent; the others are
   queued for the digest.
4. Everything else is sent now.

A digest (one message listing the queued events) goes out when events are queued, quiet hours
are over, and :data:`DIGEST_INTERVAL_SECONDS` have passed since the last digest. The
interval is a product default: one digest a day, the rhythm of a daily report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from cimedic.model.notify import (
    EventKind,
    Notification,
    NotificationEvent,
    NotifyPlan,
    QuietHours,
    Severity,
)

__all__ = ["DIGEST_INTERVAL_SECONDS", "DIGEST_LIMIT", "build_digest", "digest_due", "plan", "render"]

DIGEST_INTERVAL_SECONDS = 86400.0
"""At most one digest per day (product default)."""
DIGEST_LIMIT = 50
"""Lines listed in one digest; the rest are counted (keeps a message within chat limits)."""


def plan(
    events: Iterable[NotificationEvent],
    known: set[str],
    now: datetime,
    quiet: QuietHours | None = None,
) -> NotifyPlan:
    """Split ``events`` into send / digest / skip by the rules above; ``now`` is aware UTC."""
    seen = set(known)
    send: list[NotificationEvent] = []
    digest: list[NotificationEvent] = []
    skip: list[NotificationEvent] = []
    in_quiet = quiet is not None and quiet.contains(now)
    for e in events:
        if e.dedup_key in seen:
            skip.append(e)
            continue
        seen.add(e.dedup_key)
        if e.recurrence or e.kind is EventKind.DIGEST or (in_quiet and e.severity is not Severity.CRITICAL):
            digest.append(e)
        else:
            send.append(e)
    return NotifyPlan(send=tuple(send), digest=tuple(digest), skip=tuple(skip))


def digest_due(
    now: datetime,
    last_digest_at: datetime | None,
    pending: int,
    quiet: QuietHours | None = None,
    *,
    interval_seconds: float = DIGEST_INTERVAL_SECONDS,
) -> bool:
    """True when a digest should go out now: something is queued, ``now`` is outside quiet hours,
    and the last digest is at least ``interval_seconds`` old (or there was none)."""
    if pending <= 0 or (quiet is not None and quiet.contains(now)):
        return False
    return last_digest_at is None or now - last_digest_at >= timedelta(seconds=interval_seconds)


def render(event: NotificationEvent) -> Notification:
    """The notification of one event: its title, its Markdown body followed by the link."""
    body = event.body.rstrip()
    if event.url:
        body = f"{body}\n\n[Open the run]({event.url})" if body else f"[Open the run]({event.url})"
    return Notification(
        kind=event.kind,
        title=event.title,
        body=body,
        url=event.url,
        severity=event.severity,
        dedup_key=event.dedup_key,
        repository=event.repository,
        pull_requests=event.pull_requests,
    )


def build_digest(events: Sequence[NotificationEvent], now: datetime) -> Notification:
    """One digest notification listing ``events`` (oldest first, at most :data:`DIGEST_LIMIT`
    lines, each with its link); its dedup key is the minute it was built."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.dedup_key))
    lines = []
    for e in ordered[:DIGEST_LIMIT]:
        where = f" ({e.repository})" if e.repository else ""
        link = f" - [run]({e.url})" if e.url else ""
        lines.append(f"- {e.title}{where}{link}")
    if len(ordered) > DIGEST_LIMIT:
        lines.append(f"- ... and {len(ordered) - DIGEST_LIMIT} more")
    n = len(ordered)
    return Notification(
        kind=EventKind.DIGEST,
        title=f"cimedic digest: {n} event{'s' if n != 1 else ''}",
        body="\n".join(lines),
        url=None,
        severity=Severity.INFO,
        dedup_key=f"digest:{now.strftime('%Y-%m-%dT%H:%M')}",
    )
