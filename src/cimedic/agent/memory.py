"""Chat memory: the stored turns of a conversation as prompt messages, within a token budget.

When the turns not yet summarised exceed the budget, all but the newest
:data:`KEEP_RECENT_TURNS` are folded into the conversation's stored summary — written by the
LLM when one is given and answers, else a deterministic digest of the questions and answers —
so a later session (``cimedic chat --conversation ID``) still knows what "and what about
yesterday?" refers to. Token counts are estimates (:func:`estimate_tokens`).

The conversations are reached through the :class:`~cimedic.agent.ports.ConversationStore` port
(:func:`recall`); :func:`load_memory` takes the store handle and uses its implementation over
the store, :class:`cimedic.services.conversations.StoreConversations`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cimedic.agent.llm.base import LLMClient, LLMError, Message

if TYPE_CHECKING:
    from cimedic.agent.ports import ConversationStore, StoreHandle
    from cimedic.services.conversations import ChatTurn

#: Characters per token (OpenAI's rule of thumb for English text: ~4).
CHARS_PER_TOKEN = 4
#: Turns kept verbatim when older ones are summarised (the last two question/answer pairs).
KEEP_RECENT_TURNS = 4
#: Longest stored summary, characters (keeps it well under a small model's 4k context).
SUMMARY_MAX_CHARS = 1200
#: Completion limit of an LLM-written summary, tokens.
SUMMARY_TOKENS = 120

SUMMARY_PROMPT = (
    "Summarise this conversation about CI pipelines in at most 5 short lines. Keep repository "
    "names, run ids, job ids, numbers and dates exactly. Plain text."
)


def estimate_tokens(text: str | None) -> int:
    """Estimated tokens of ``text`` (ceil of characters / :data:`CHARS_PER_TOKEN`)."""
    return -(-len(text or "") // CHARS_PER_TOKEN)


@dataclass(frozen=True)
class MemoryView:
    """What a turn's prompt gets from the past: the stored ``summary`` (or None), the recent
    turns as ``messages`` (user/assistant), and whether this load ``summarised`` older turns."""

    summary: str | None
    messages: tuple[Message, ...]
    summarised: bool = False

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.summary) + sum(estimate_tokens(m.content) for m in self.messages)


def digest(previous: str | None, old: Sequence[ChatTurn]) -> str:
    """The deterministic summary: the previous summary, then ``Q: ...``/``A: ...`` lines of the
    ``old`` turns, keeping the newest :data:`SUMMARY_MAX_CHARS` characters."""
    lines = [previous] if previous else []
    for t in old:
        tag = "Q" if t.role == "user" else "A"
        text = " ".join(t.content.split())
        lines.append(f"{tag}: {text[: 100 if tag == 'Q' else 140]}")
    text = "\n".join(lines)
    return text[-SUMMARY_MAX_CHARS:]


def summarise(previous: str | None, old: Sequence[ChatTurn], llm: LLMClient | None) -> str:
    """A summary of ``previous`` plus the ``old`` turns: the LLM's when it answers with text,
    else :func:`digest`."""
    fallback = digest(previous, old)
    if llm is None:
        return fallback
    try:
        result = llm.complete_text(
            [Message("system", SUMMARY_PROMPT), Message("user", fallback)],
            max_tokens=SUMMARY_TOKENS,
            temperature=0.0,
        )
    except LLMError:
        return fallback
    text = result.text.strip()
    return text[:SUMMARY_MAX_CHARS] if text else fallback


def load_memory(
    store: StoreHandle, conversation_id: str, *, budget_tokens: int, llm: LLMClient | None = None
) -> MemoryView:
    """The memory of ``conversation_id`` in the store within ``budget_tokens`` (:func:`recall`
    over :class:`~cimedic.services.conversations.StoreConversations`). Raises ``LookupError`` for
    an unknown conversation."""
    from cimedic.services.conversations import StoreConversations

    return recall(StoreConversations(store), conversation_id, budget_tokens=budget_tokens, llm=llm)


def recall(
    conversations: ConversationStore,
    conversation_id: str,
    *,
    budget_tokens: int,
    llm: LLMClient | None = None,
) -> MemoryView:
    """The memory of ``conversation_id`` within ``budget_tokens``; summarises (and stores the
    summary) when the unsummarised turns exceed it. Raises ``LookupError`` for an unknown
    conversation."""
    conv = conversations.get(conversation_id)
    if conv is None:
        raise LookupError(f"no conversation {conversation_id!r}")
    recent = conversations.turns(conversation_id, after=conv.summary_upto)
    summary = conv.summary
    cost = estimate_tokens(summary) + sum(estimate_tokens(t.content) for t in recent)
    summarised = False
    if cost > budget_tokens and len(recent) > KEEP_RECENT_TURNS:
        old, recent = recent[:-KEEP_RECENT_TURNS], recent[-KEEP_RECENT_TURNS:]
        summary = summarise(summary, old, llm)
        conversations.set_summary(conversation_id, summary, old[-1].seq)
        summarised = True
    per_turn = max(200, budget_tokens * CHARS_PER_TOKEN // max(1, len(recent) + 1))
    messages = tuple(Message(t.role, t.content[:per_turn]) for t in recent)
    return MemoryView(summary, messages, summarised)
