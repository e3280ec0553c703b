"""Chat with the real test model on the demo store: a turn that uses a tool and answers within
its budgets, and a second turn in the same conversation whose prompt carries the first. Asserts
structure, not wisdom."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import pytest

from cimedic.agent.chat import chat_turn
from cimedic.agent.llm.openai_compat import OpenAICompatClient
from cimedic.agent.loop import Budgets
from cimedic.store import chat as chat_store
from cimedic.store.repository import Store

if TYPE_CHECKING:
    from conftest import DemoDB

# two turns of up to 3 model calls with ~1,400-token prompts: 45-48 s on an idle 2-core machine
pytestmark = [pytest.mark.llm, pytest.mark.timeout(600, func_only=True)]

BUDGETS = Budgets(max_steps=3, max_tokens=12000, max_seconds=600, context_tokens=4096, step_tokens=120)


@pytest.fixture
def demo_now(live_demo_now: datetime) -> datetime:
    """The demo ends at the wall clock's now, as ``cimedic demo`` builds it."""
    return live_demo_now


def test_chat_uses_a_tool_and_remembers_the_conversation(llm_server, demo_sqlite: DemoDB) -> None:  # type: ignore[no-untyped-def]
    store = Store(demo_sqlite.url)
    try:
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
