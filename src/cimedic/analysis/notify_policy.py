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

Texts: the Markdown of a notification comes from a template
(:mod:`cimedic.inputs.templates`); :func:`render` and :func:`build_digest` turn that text into
the :class:`~cimedic.model.notify.Notification` (an optional first line ``title: ...`` replaces
the computed title; the run's link is appended when the text lacks it). Without a text they
compose a plain fallback from the event's stored body or facts.

Untrusted text (names and lines from logs and payloads) is escaped as Markdown
(:mod:`cimedic.model.escape`) in the fallbacks as in the templates, and in the title (which
some channels show inside the Markdown body); a link is only an ``http(s)`` URL
(:func:`cimedic.model.escape.http_link`), anything else is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from cimedic.model.escape import http_link, markdown
from cimedic.model.notify import (
    EventKind,
    Notification,
    NotificationEvent,
    NotifyPlan,
    QuietHours,
    Severity,
)

__all__ = [
    "DIGEST_INTERVAL_SECONDS",
    "DIGEST_LIMIT",
    "build_digest",
    "digest_due",
    "digest_selection",
    "plan",
    "render",
    "split_title",
]

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


_TITLE_PREFIX = "title:"


def split_title(text: str) -> tuple[str | None, str]:
    """Split a rendered template into ``(title, body)``: when the first line starts with
    ``title:`` its rest (stripped) is the title and the following lines the body (leading blank
    lines dropped); otherwise ``(None, text)``. The body is right-stripped."""
    first, _, rest = text.partition("\n")
    if first.strip().lower().startswith(_TITLE_PREFIX):
        title = first.strip()[len(_TITLE_PREFIX) :].strip()
        return (title or None), rest.lstrip("\n").rstrip()
    return None, text.rstrip()


def _plain_body(event: NotificationEvent) -> str:
    if event.body.strip():
        return event.body.rstrip()
    return "\n".join(f"- {name}: {markdown(value)}" for name, value in event.facts if value)


def render(event: NotificationEvent, text: str | None = None) -> Notification:
    """The notification of one event.

    ``text``: the Markdown its template rendered (see :func:`split_title` for the optional title
    line); the link ``[Open the run](<url>)`` is appended when the event has a URL the text does
    not contain, so every notification links to its run. Without ``text`` (the fallback when no
    template could render) the body is the event's stored ``body``, else its facts as a list,
    followed by the link. A URL that is not ``http(s)`` (:func:`http_link`) is never linked:
    the notification then has no ``url``. The title is Markdown text like the body: a title
    line of the template as rendered (its values are escaped), else the event's title escaped.
    """
    title: str | None = None
    url = http_link(event.url)
    body = _plain_body(event) if text is None else ""
    if text is not None:
        title, body = split_title(text)
    if url and url not in body:
        link = f"[Open the run]({url})"
        body = f"{body}\n\n{link}" if body else link
    return Notification(
        kind=event.kind,
        title=title or markdown(event.title),
        body=body,
        url=url,
        severity=event.severity,
        dedup_key=event.dedup_key,
        repository=event.repository,
        pull_requests=event.pull_requests,
    )


def digest_selection(events: Sequence[NotificationEvent]) -> tuple[list[NotificationEvent], int]:
    """The events a digest lists (oldest first, then by key; at most :data:`DIGEST_LIMIT`) and
    how many more it only counts."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.dedup_key))
    return ordered[:DIGEST_LIMIT], max(0, len(ordered) - DIGEST_LIMIT)


def build_digest(events: Sequence[NotificationEvent], now: datetime, text: str | None = None) -> Notification:
    """One digest notification about ``events``; its dedup key is the minute it was built
    (``digest:YYYY-MM-DDTHH:MM``, UTC) and its title ``cimedic digest: <n> events`` unless
    ``text`` (the rendered ``digest`` template) starts with a ``title:`` line. Without ``text``
    the body lists :func:`digest_selection` (each line with its link) and counts the rest."""
    n = len(events)
    title: str | None = None
    if text is None:
        shown, more = digest_selection(events)
        lines = []
        for e in shown:
            where = f" ({markdown(e.repository)})" if e.repository else ""
            url = http_link(e.url)
            link = f" - [run]({url})" if url else ""
            lines.append(f"- {markdown(e.title)}{where}{link}")
        if more:
            lines.append(f"- ... and {more} more")
        body = "\n".join(lines)
    else:
        title, body = split_title(text)
    return Notification(
        kind=EventKind.DIGEST,
        title=title or f"cimedic digest: {n} event{'s' if n != 1 else ''}",
        body=body,
        url=None,
        severity=Severity.INFO,
        dedup_key=f"digest:{now.strftime('%Y-%m-%dT%H:%M')}",
    )
