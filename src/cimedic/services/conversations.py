"""Chat conversations and their turns, for the agent and the chat interfaces.

Functions over the store for the interfaces (``cimedic chat``, ``POST /api/v1/chat``):
:func:`get_conversation`, :func:`latest_conversation_id`, :func:`list_conversations`.
:class:`StoreConversations` binds them to one store for the agent: it implements the agent's
:class:`cimedic.agent.ports.ConversationStore` protocol (structurally; services do not import the
agent), delegating to :mod:`cimedic.store.chat`.

:class:`Conversation` and :class:`ChatTurn` are the store's frozen records, re-exported so the
layers above need not import ``cimedic.store``. Times are aware UTC; turn ``seq`` numbers start
at 1 per conversation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cimedic.store import chat as db
from cimedic.store.chat import ChatTurn, Conversation
from cimedic.store.repository import Store

__all__ = [
    "ChatTurn",
    "Conversation",
    "StoreConversations",
    "get_conversation",
    "latest_conversation_id",
    "list_conversations",
]


def get_conversation(store: Store, conversation_id: str) -> Conversation | None:
    """The conversation ``conversation_id``; None when there is none."""
    return db.get_conversation(store, conversation_id)


def latest_conversation_id(store: Store) -> str | None:
    """The id of the most recently updated conversation; None when there is none."""
    latest = db.list_conversations(store, limit=1)
    return latest[0].id if latest else None


def list_conversations(store: Store, limit: int = 20) -> list[Conversation]:
    """At most ``limit`` conversations, the most recently updated first."""
    return db.list_conversations(store, limit=limit)


class StoreConversations:
    """The conversations of one store, as the agent's ``ConversationStore`` port."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, conversation_id: str) -> Conversation | None:
        """The conversation; None when unknown."""
        return db.get_conversation(self.store, conversation_id)

    def create(self, title: str, *, now: datetime | None = None) -> Conversation:
        """A new, empty conversation titled ``title`` (cut to 255 characters)."""
        return db.create_conversation(self.store, title, now=now)

    def turns(self, conversation_id: str, *, after: int = 0) -> list[ChatTurn]:
        """The turns with ``seq > after``, in order."""
        return db.turns(self.store, conversation_id, after=after)

    def append(
        self,
        conversation_id: str,
        role: str,
        content: str,
        *,
        steps: Sequence[Mapping[str, Any]] = (),
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        now: datetime | None = None,
    ) -> ChatTurn:
        """Append a turn (next ``seq``; ``steps`` are the tool steps as JSON objects) and touch the
        conversation. Raises ``LookupError`` for an unknown conversation."""
        return db.append_turn(
            self.store,
            conversation_id,
            role,
            content,
            steps=[dict(s) for s in steps],
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            now=now,
        )

    def set_summary(self, conversation_id: str, summary: str, upto: int) -> None:
        """Store ``summary`` as covering the turns with ``seq <= upto``."""
        db.set_summary(self.store, conversation_id, summary, upto)
