"""The agent reaches stored data only through services: the import-linter contract holds, and
chat memory runs over any :class:`~cimedic.agent.ports.ConversationStore` (here an in-memory
one, no database)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cimedic.agent.fake_llm import ScriptedLLM
from cimedic.agent.memory import KEEP_RECENT_TURNS, recall
from cimedic.agent.ports import ConversationStore
from cimedic.services.conversations import ChatTurn, Conversation

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_agent_imports_nothing_of_the_store() -> None:
    """Contract ``agent-via-services`` in pyproject.toml (type-only imports count)."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "lint-imports"),
            "--no-cache",
            "--no-logo",
            "--contract",
            "agent-via-services",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "agent reaches data through services, not the store KEPT" in result.stdout


class MemoryConversations:
    """A :class:`ConversationStore` in a dict."""

    def __init__(self) -> None:
        self.conversations: dict[str, Conversation] = {}
        self.stored: dict[str, list[ChatTurn]] = {}

    def get(self, conversation_id: str) -> Conversation | None:
        return self.conversations.get(conversation_id)

    def create(self, title: str, *, now: datetime | None = None) -> Conversation:
        conv = Conversation(f"c{len(self.conversations) + 1}", title, now or NOW, now or NOW)
        self.conversations[conv.id] = conv
        self.stored[conv.id] = []
        return conv

    def turns(self, conversation_id: str, *, after: int = 0) -> list[ChatTurn]:
        return [t for t in self.stored[conversation_id] if t.seq > after]

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
        if conversation_id not in self.conversations:
            raise LookupError(conversation_id)
        seq = len(self.stored[conversation_id]) + 1
        turn = ChatTurn(
            conversation_id,
            seq,
            role,
            content,
            tuple(dict(s) for s in steps),
            prompt_tokens,
            completion_tokens,
            now or NOW,
        )
        self.stored[conversation_id].append(turn)
        return turn

    def set_summary(self, conversation_id: str, summary: str, upto: int) -> None:
        conv = self.conversations[conversation_id]
        self.conversations[conversation_id] = replace(conv, summary=summary, summary_upto=upto)


def test_recall_summarises_through_the_port() -> None:
    port: ConversationStore = MemoryConversations()
    conv = port.create("long")
    for i in range(6):
        port.append(conv.id, "user", f"question {i} " + "q" * 400)
        port.append(conv.id, "assistant", f"answer {i} " + "a" * 400)
    llm = ScriptedLLM([{"text": "Asked about failures six times."}])
    view = recall(port, conv.id, budget_tokens=500, llm=llm)
    assert view.summarised and view.summary == "Asked about failures six times."
    assert len(view.messages) == KEEP_RECENT_TURNS and view.messages[-1].content.startswith("answer 5")
    stored = port.get(conv.id)
    assert (
        stored is not None
        and stored.summary == view.summary
        and stored.summary_upto == 12 - KEEP_RECENT_TURNS
    )
    again = recall(port, conv.id, budget_tokens=500, llm=ScriptedLLM([]))
    assert not again.summarised and again.summary == view.summary and len(again.messages) == KEEP_RECENT_TURNS


def test_recall_of_an_unknown_conversation_raises() -> None:
    with pytest.raises(LookupError, match="nope"):
        recall(MemoryConversations(), "nope", budget_tokens=500)
