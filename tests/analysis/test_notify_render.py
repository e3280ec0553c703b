"""From rendered template text to a notification (pure): the optional ``title:`` line, the run's
link guaranteed once, and the plain fallback from a stored body or the facts."""

from __future__ import annotations

from datetime import UTC, datetime

from cimedic.analysis.notify_policy import build_digest, render, split_title
from cimedic.model.notify import EventKind, NotificationEvent, Severity

NOW = datetime(2024, 5, 2, 12, tzinfo=UTC)
URL = "https://github.com/o/r/actions/runs/7"


def ev(**update: object) -> NotificationEvent:
    base = NotificationEvent(
        kind=EventKind.HEALTH_CHANGE, dedup_key="health:o/r", repository="o/r", title="o/r is failing",
        url=URL, severity=Severity.CRITICAL, occurred_at=NOW, pull_requests=(3,),
        facts=(("new_state", "failing"), ("old_state", ""), ("reason", "latest run is red")),
    )  # fmt: skip
    return base.model_copy(update=update)


def test_split_title() -> None:
    assert split_title("title: Red!\n\nbody\n\n") == ("Red!", "body")
    assert split_title("Title:  spaced  \nbody") == ("spaced", "body")
    assert split_title("title:\nbody") == (None, "body")  # an empty title keeps the computed one
    assert split_title("no title here\ntitle: not first\n") == (None, "no title here\ntitle: not first")
    assert split_title("") == (None, "")


def test_render_takes_the_text_and_keeps_the_event_fields() -> None:
    n = render(ev(), f"title: [CI] o/r went red\n\nsee [the run]({URL})\n")
    assert n.title == "[CI] o/r went red" and n.body == f"see [the run]({URL})"  # link present: not repeated
    assert (n.kind, n.severity, n.dedup_key, n.repository, n.url, n.pull_requests) == (
        EventKind.HEALTH_CHANGE, Severity.CRITICAL, "health:o/r", "o/r", URL, (3,),
    )  # fmt: skip
    bare = render(ev(), "short text")
    assert bare.title == "o/r is failing" and bare.body == f"short text\n\n[Open the run]({URL})"
    assert render(ev(), "").body == f"[Open the run]({URL})"
    assert render(ev(url=None), "short text\n").body == "short text"


def test_render_without_text_uses_the_stored_body_else_the_facts() -> None:
    assert render(ev(body="stored **body**\n")).body == f"stored **body**\n\n[Open the run]({URL})"
    facts = render(ev(url=None)).body
    assert facts == "- new_state: failing\n- reason: latest run is red"  # empty values left out


def test_digest_title_line() -> None:
    events = [ev(dedup_key=f"k{i}") for i in range(2)]
    assert build_digest(events, NOW, "- a\n- b\n").title == "cimedic digest: 2 events"
    d = build_digest(events, NOW, "title: Nightly CI digest ({{ count }})\n- a\n")
    assert d.title == "Nightly CI digest ({{ count }})" and d.body == "- a"  # the text is used as given
    assert d.dedup_key == "digest:2024-05-02T12:00" and d.url is None
