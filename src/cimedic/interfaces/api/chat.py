"""``POST /api/v1/chat``: one chat turn over HTTP (see ``docs/agent.md``).

The router reads ``app.state.store`` (set by ``create_app``), ``app.state.llm`` (an
``LLMClient``; missing or None → 503) and ``app.state.agent_budgets`` (a
:class:`~cimedic.agent.loop.Budgets`, which also carries the model's ``context_tokens`` and the
``tool_protocol``; ``cimedic serve`` builds it from the settings with
:func:`cimedic.interfaces.cli.chat.budgets_from`; default when missing).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

router = APIRouter()


class ChatRequest(BaseModel):
    """``conversation_id`` to continue (omitted: a new conversation) and the ``message``."""

    conversation_id: str | None = None
    message: str = Field(min_length=1, max_length=4000)


@router.post("/api/v1/chat")
async def chat(body: ChatRequest, request: Request) -> dict[str, Any]:
    """The answer with its citations, tool steps, tokens and seconds (``ChatAnswer.to_json``).
    404 for an unknown conversation, 503 when no LLM is configured or reachable."""
    from cimedic.agent.chat import chat_turn
    from cimedic.agent.llm.base import LLMUnavailable
    from cimedic.agent.loop import Budgets
    from cimedic.store import chat as chat_store

    state = request.app.state
    llm = getattr(state, "llm", None)
    if llm is None:
        raise HTTPException(503, "chat needs an LLM: set llm_base_url")
    store = state.store
    budgets = getattr(state, "agent_budgets", None) or Budgets()
    if body.conversation_id and chat_store.get_conversation(store, body.conversation_id) is None:
        raise HTTPException(404, f"no conversation {body.conversation_id!r}")
    try:
        answer = await run_in_threadpool(chat_turn, store, llm, body.conversation_id, body.message, budgets)
    except LLMUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    return answer.to_json()
