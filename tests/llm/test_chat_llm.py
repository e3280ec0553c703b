"""Chat with the real test model on the demo store: a turn that uses a tool and answers within
its budgets, and a second turn in the same conversation whose prompt carries the first. Asserts
structure, not wisdom."""

from __future__ import annotations

from pathlib import Path

import pytest

from cimedic.agent.chat import chat_turn
from cimedic.agent.llm.openai_compat import OpenAICompatClient
from cimedic.agent.loop import Budgets
from cimedic.store import chat as chat_store
from cimedic.store.engine import sqlite_url
from cimedic.store.repository import Store

pytestmark = pytest.mark.llm

BUDGETS = Budgets(max_steps=3, max_tokens=12000, max_seconds=600, context_tokens=4096, step_tokens=120)


def test_chat_uses_a_tool_and_remembers_the_conversation(llm_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cimedic.services.demo import run_demo
    from cimedic.services.diagnose import make_diagnoser

    store = Store(sqlite_url(tmp_path / "demo.db"))
    try:
        run_demo(store, make_diagnoser()[0])
        llm = OpenAICompatClient(llm_server.base_url, llm_server.model, timeout=300)
        first = chat_turn(store, llm, None, "Which CI runs failed recently?", BUDGETS)
        assert len(first.steps) >= 1 and first.steps[0].tool
        assert first.answer and first.calls <= BUDGETS.max_steps
        assert first.prompt_tokens + first.completion_tokens <= BUDGETS.max_tokens
        assert all(s.tool != "rerun" or s.status == "refused" for s in first.steps)
        # auto (the default) tried native tool calls first; llama.cpp's server gives the 0.5B
        # model's call as JSON text instead of tool_calls, so the turn went on in JSON and the
        # client remembers that (field notes); a server with proper tool_calls stays native
        assert llm.tools_supported is not None
        assert first.protocol == ("native" if llm.tools_supported else "json")

        second = chat_turn(store, llm, first.conversation_id, "And what about yesterday?", BUDGETS)
        contents = [m.content for m in second.prompt]
        assert "Which CI runs failed recently?" in contents and first.answer in contents
        assert second.history_turns == 2 and second.answer
        if llm.tools_supported is False:  # the second turn went straight to JSON
            assert all(s.protocol == "json" for s in second.steps) and second.protocol == "json"
        stored = chat_store.turns(store, first.conversation_id)
        assert [t.role for t in stored] == ["user", "assistant"] * 2
        assert stored[1].steps and stored[1].prompt_tokens > 0
    finally:
        store.close()
