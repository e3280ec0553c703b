"""Reads and writes of chat conversations and their turns (tables of :mod:`cimedic.store.schema_chat`).

Times are aware UTC on the way out. Turn ``seq`` numbers start at 1 per conversation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from cimedic.store.base import StoreBase, from_db, now_utc, to_db
from cimedic.store.schema_chat import chat_turns, conversations


@dataclass(frozen=True)
class Conversation:
    """A conversation; ``summary`` covers the turns with ``seq <= summary_upto``."""

    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    summary: str | None = None
    summary_upto: int = 0


@dataclass(frozen=True)
class ChatTurn:
    """One stored turn: ``role`` user or assistant; ``steps`` the tool steps (JSON objects)."""

    conversation_id: str
    seq: int
    role: str
    content: str
    steps: tuple[dict[str, Any], ...]
    prompt_tokens: int
    completion_tokens: int
    created_at: datetime


def _conversation(row: Any) -> Conversation:
    return Conversation(
        id=row.id,
        title=row.title,
        created_at=from_db(row.created_at),  # type: ignore[arg-type]
        updated_at=from_db(row.updated_at),  # type: ignore[arg-type]
        summary=row.summary,
        summary_upto=int(row.summary_upto or 0),
    )


def create_conversation(store: StoreBase, title: str, *, now: datetime | None = None) -> Conversation:
    """A new, empty conversation titled ``title`` (cut to 255 characters)."""
    at = to_db(now or now_utc())
    cid = uuid.uuid4().hex
    with store.engine.begin() as conn:
        conn.execute(
            conversations.insert().values(
                id=cid, title=title[:255] or "chat", created_at=at, updated_at=at, summary_upto=0
            )
        )
    found = get_conversation(store, cid)
    assert found is not None
    return found


def get_conversation(store: StoreBase, conversation_id: str) -> Conversation | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(conversations).where(conversations.c.id == conversation_id)).first()
    return _conversation(row) if row is not None else None


def list_conversations(store: StoreBase, limit: int = 20) -> list[Conversation]:
    """The most recently updated conversations first."""
    q = select(conversations).order_by(conversations.c.updated_at.desc(), conversations.c.id).limit(limit)
    with store.engine.connect() as conn:
        return [_conversation(r) for r in conn.execute(q).all()]


def append_turn(
    store: StoreBase,
    conversation_id: str,
    role: str,
    content: str,
    *,
    steps: list[dict[str, Any]] | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    now: datetime | None = None,
) -> ChatTurn:
    """Append a turn (next ``seq``) and touch the conversation's ``updated_at``. Raises
    ``LookupError`` for an unknown conversation."""
    at = to_db(now or now_utc())
    with store.engine.begin() as conn:
        touched = conn.execute(
            update(conversations).where(conversations.c.id == conversation_id).values(updated_at=at)
        )
        if touched.rowcount == 0:
            raise LookupError(f"no conversation {conversation_id!r}")
        seq = (
            int(
                conn.execute(
                    select(func.coalesce(func.max(chat_turns.c.seq), 0)).where(
                        chat_turns.c.conversation_id == conversation_id
                    )
                ).scalar_one()
            )
            + 1
        )
        conn.execute(
            chat_turns.insert().values(
                conversation_id=conversation_id,
                seq=seq,
                role=role,
                content=content,
                steps=steps or [],
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                created_at=at,
            )
        )
    return ChatTurn(
        conversation_id,
        seq,
        role,
        content,
        tuple(steps or ()),
        prompt_tokens,
        completion_tokens,
        from_db(at),  # type: ignore[arg-type]
    )


def turns(store: StoreBase, conversation_id: str, *, after: int = 0) -> list[ChatTurn]:
    """The turns with ``seq > after``, in order."""
    c = chat_turns.c
    q = select(chat_turns).where(c.conversation_id == conversation_id, c.seq > after).order_by(c.seq)
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return [
        ChatTurn(
            conversation_id=r.conversation_id,
            seq=int(r.seq),
            role=r.role,
            content=r.content,
            steps=tuple(r.steps or ()),
            prompt_tokens=int(r.prompt_tokens or 0),
            completion_tokens=int(r.completion_tokens or 0),
            created_at=from_db(r.created_at),  # type: ignore[arg-type]
        )
        for r in rows
    ]


def set_summary(store: StoreBase, conversation_id: str, summary: str, upto: int) -> None:
    """Store ``summary`` as covering the turns with ``seq <= upto``."""
    with store.engine.begin() as conn:
        conn.execute(
            update(conversations)
            .where(conversations.c.id == conversation_id)
            .values(summary=summary, summary_upto=upto)
        )
