"""Chat memory on both backends: history in the prompt, summarisation when it overflows (LLM or
deterministic digest), and continuation of a conversation in a later session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cimedic.agent.chat import chat_turn
from cimedic.agent.fake_llm import ScriptedLLM
from cimedic.agent.llm.base import LLMError
from cimedic.agent.loop import Budgets
from cimedic.agent.memory import KEEP_RECENT_TURNS, digest, estimate_tokens, load_memory
from cimedic.agent.tools import FunctionTool, ToolOutput, ToolRegistry
from cimedic.store import chat as cs
from cimedic.store.repository import Store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def answer(text: str, *citations: str) -> dict[str, Any]:
    return {"action": "answer", "text": text, "citations": list(citations)}


def tools() -> ToolRegistry:
    reg = ToolRegistry()
    reg.register(
        FunctionTool(
            "search_runs",
            "runs",
            {"type": "object", "properties": {"since": {"type": "string"}}},
            lambda store, **a: ToolOutput(f"run 4711 failed (since {a.get('since')})", ("run 4711",)),
        )
    )
    return reg


def fill(store: Store, conv_id: str, pairs: int, size: int = 400) -> None:
    for i in range(pairs):
        cs.append_turn(store, conv_id, "user", f"question {i} " + "q" * size)
        cs.append_turn(store, conv_id, "assistant", f"answer {i} " + "a" * size)


def test_second_session_sees_the_first_turn(store: Store) -> None:
    first = ScriptedLLM(
        [
            {"action": "call", "tool": "search_runs", "arguments": {"since": "1d"}},
            answer("Run 4711 failed today.", "run 4711"),
        ]
    )
    a = chat_turn(store, first, None, "Which terraform runs failed today?", Budgets(), tools(), now=NOW)
    assert a.answer == "Run 4711 failed today." and len(a.steps) == 1 and a.unverified == ()
    # a new session: a new client, only the conversation id carried over
    second = ScriptedLLM([answer("Nothing failed yesterday.")])
    b = chat_turn(store, second, a.conversation_id, "and what about yesterday?", Budgets(), tools(), now=NOW)
    prompt = second.json_calls[0].messages
    contents = [m.content for m in prompt]
    assert "Which terraform runs failed today?" in contents and "Run 4711 failed today." in contents
    assert prompt[-1].content == "and what about yesterday?" and b.history_turns == 2
    stored = cs.turns(store, a.conversation_id)
    assert [t.role for t in stored] == ["user", "assistant"] * 2
    assert stored[1].steps[0]["tool"] == "search_runs" and stored[1].prompt_tokens > 0


def test_overflowing_history_is_summarised_by_the_llm_and_stored(store: Store) -> None:
    conv = cs.create_conversation(store, "long")
    fill(store, conv.id, pairs=6)
    llm = ScriptedLLM([{"text": "User asked about terraform failures; run 4711 failed."}])
    view = load_memory(store, conv.id, budget_tokens=500, llm=llm)
    assert view.summarised and view.summary == "User asked about terraform failures; run 4711 failed."
    assert len(view.messages) == KEEP_RECENT_TURNS and view.messages[-1].content.startswith("answer 5")
    assert llm.calls[0].kind == "text" and "question 0" in llm.calls[0].messages[1].content
    stored = cs.get_conversation(store, conv.id)
    assert stored is not None and stored.summary == view.summary and stored.summary_upto == 8
    # the next load uses the stored summary and does not summarise again
    again = load_memory(store, conv.id, budget_tokens=500, llm=ScriptedLLM([]))
    assert not again.summarised and again.summary == view.summary and len(again.messages) == 4


def test_summary_falls_back_to_a_digest_without_a_model(store: Store) -> None:
    conv = cs.create_conversation(store, "long")
    fill(store, conv.id, pairs=5)
    view = load_memory(store, conv.id, budget_tokens=300, llm=ScriptedLLM([LLMError("down")]))
    assert view.summary is not None and "Q: question 0" in view.summary and "A: answer 2" in view.summary
    no_llm = cs.create_conversation(store, "other")
    fill(store, no_llm.id, pairs=5)
    assert load_memory(store, no_llm.id, budget_tokens=300).summary == view.summary


def test_summary_goes_into_the_system_prompt(store: Store) -> None:
    conv = cs.create_conversation(store, "long")
    fill(store, conv.id, pairs=6, size=2000)
    llm = ScriptedLLM([{"text": "Earlier: run 4711 failed on main."}, answer("ok")])
    chat_turn(store, llm, conv.id, "and now?", Budgets(), tools(), now=NOW)
    system = llm.json_calls[0].messages[0]
    assert system.role == "system" and "Earlier: run 4711 failed on main." in system.content
    assert "untrusted data" in system.content and "2026-03-02" in system.content


def test_digest_and_estimates() -> None:
    assert estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2 and estimate_tokens(None) == 0
    assert digest("old", []) == "old"


def test_each_model_call_of_a_turn_is_recorded_as_chat_usage(store: Store) -> None:
    from cimedic.agent.usage import usage_summary

    llm = ScriptedLLM([{"action": "call", "tool": "search_runs", "arguments": {}}, answer("ok")])
    chat_turn(store, llm, None, "what failed?", Budgets(), tools(), now=NOW)
    summary = usage_summary(store, feature="chat")
    assert sum(r.calls for r in summary.rows) == 2
    assert sum(r.prompt_tokens for r in summary.rows) == 200
