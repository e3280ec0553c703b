"""How the agent refers to stored data: it never imports ``cimedic.store``, not even for type
hints (import-linter contract "agent reaches data through services, not the store").

* :data:`StoreHandle` — the history store as the agent holds it: an **opaque handle**. The
  interface passes it in (``chat_turn(store, ...)``, ``explain_job(store, ...)``,
  ``usage_summary(store, ...)``, ``load_memory(store, ...)``); the agent only forwards it, to its
  tools (through :func:`cimedic.agent.loop.run_agent` and ``Tool.run(store, ...)``) and to service
  functions (:mod:`cimedic.services.history`, :mod:`~cimedic.services.conversations`,
  :mod:`~cimedic.services.explanations`, :mod:`~cimedic.services.llm_usage`, ``failures``,
  ``stats``, ``flaky``). The agent calls no method and reads no attribute of it. The name is the services layer's
  (:data:`cimedic.services.history.StoreHandle`, the store's repository class), so mypy checks
  every hand-over to a service exactly.
* :class:`ConversationStore` — the conversations and turns that :mod:`cimedic.agent.memory` and
  :mod:`cimedic.agent.chat` read and write, as a protocol; the store's implementation is
  :class:`cimedic.services.conversations.StoreConversations` (memory logic can run over any
  implementation, e.g. an in-memory one in tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cimedic.services.conversations import ChatTurn, Conversation
    from cimedic.services.history import StoreHandle

__all__ = ["ConversationStore", "StoreHandle"]


class ConversationStore(Protocol):
    """Conversations and their turns (``seq`` from 1 per conversation; times aware UTC)."""

    def get(self, conversation_id: str) -> Conversation | None:
        """The conversation; None when unknown."""
        ...

    def create(self, title: str, *, now: datetime | None = None) -> Conversation:
        """A new, empty conversation titled ``title``."""
        ...

    def turns(self, conversation_id: str, *, after: int = 0) -> list[ChatTurn]:
        """The turns with ``seq > after``, in order."""
        ...

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
        """Append a turn (``role`` user or assistant; ``steps`` the tool steps as JSON objects,
        :meth:`cimedic.agent.events.StepRecord.to_json`). Raises ``LookupError`` for an unknown
        conversation."""
        ...

    def set_summary(self, conversation_id: str, summary: str, upto: int) -> None:
        """Store ``summary`` as covering the turns with ``seq <= upto``."""
        ...
