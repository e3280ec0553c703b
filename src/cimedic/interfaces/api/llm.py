"""``GET /api/v1/llm``: the LLM server's status, as ``cimedic llm check --format json``.

Uses the context's LLM client (or None) and model name. ``probe=true`` makes
two tiny model calls (see :mod:`cimedic.agent.llm.check`), so keep it out of liveness probes.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

router = APIRouter()


@router.get("/api/v1/llm")
async def llm_status(
    request: Request,
    probe: bool = Query(
        False, description="Also make two tiny model calls (structured output, native tools)."
    ),
) -> dict[str, Any]:
    """``{"ok", "configured", "base_url", "model", "reachable", "models", "model_served",
    "protocol", "native_tools", "seconds", "tokens", "message", "problems"}``; always 200 (the
    LLM is optional: ``ok`` says whether it is usable)."""
    from cimedic.agent.llm.check import check_llm
    from cimedic.interfaces.api.app import context_of

    ctx = context_of(request)
    result = await run_in_threadpool(check_llm, ctx.llm, model=ctx.llm_model, probe=probe)
    return {"ok": result.ok, **asdict(result)}
