"""Conversations and turns in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cimedic.store import chat as cs
from cimedic.store.repository import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_conversation_turns_and_summary_round_trip(store: Store) -> None:
    conv = cs.create_conversation(store, "why did ci fail?", now=T0)
    assert len(conv.id) == 32 and conv.created_at == T0 and conv.summary is None and conv.summary_upto == 0
    cs.append_turn(store, conv.id, "user", "why did ci fail?", now=T0)
    steps = [
        {"step": 1, "tool": "search_runs", "arguments": {"repository": "o/r"}, "status": "ok", "output": "x"}
    ]
    turn = cs.append_turn(
        store, conv.id, "assistant", "run 42", steps=steps, prompt_tokens=300, completion_tokens=40, now=T0
    )
    assert turn.seq == 2
    got = cs.turns(store, conv.id)
    assert [(t.seq, t.role, t.content) for t in got] == [
        (1, "user", "why did ci fail?"),
        (2, "assistant", "run 42"),
    ]
    assert got[1].steps == tuple(steps) and got[1].prompt_tokens == 300 and got[1].created_at == T0
    assert [t.seq for t in cs.turns(store, conv.id, after=1)] == [2]
    cs.set_summary(store, conv.id, "Q: why did ci fail?", 1)
    again = cs.get_conversation(store, conv.id)
    assert again is not None and again.summary == "Q: why did ci fail?" and again.summary_upto == 1


def test_latest_conversation_first_and_unknown_ids(store: Store) -> None:
    a = cs.create_conversation(store, "a", now=T0)
    b = cs.create_conversation(store, "b", now=T0 + timedelta(minutes=1))
    cs.append_turn(store, a.id, "user", "again", now=T0 + timedelta(minutes=5))
    assert [c.id for c in cs.list_conversations(store)] == [a.id, b.id]
    assert cs.get_conversation(store, "0" * 32) is None
    with pytest.raises(LookupError):
        cs.append_turn(store, "0" * 32, "user", "x")
