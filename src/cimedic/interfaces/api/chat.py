"""``POST /api/v1/chat``: one chat turn over HTTP (see ``docs/agent.md``), with the same tools,
approval gate and budgets as ``cimedic chat`` (all from the application context)."""

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
    from cimedic.interfaces.api.app import context_of
    from cimedic.services.conversations import get_conversation

    ctx = context_of(request)
    llm = ctx.llm
    if llm is None:
        raise HTTPException(503, "chat needs an LLM: set llm_base_url")
    if body.conversation_id and get_conversation(ctx.store, body.conversation_id) is None:
        raise HTTPException(404, f"no conversation {body.conversation_id!r}")
    try:
        answer = await run_in_threadpool(
            chat_turn,
            ctx.store,
            llm,
            body.conversation_id,
            body.message,
            ctx.budgets,
            ctx.tools,
            approve=ctx.approve_tool,
        )
    except LLMUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    return answer.to_json()
