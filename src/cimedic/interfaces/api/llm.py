"""``GET /api/v1/llm``: the LLM server's status, as ``cimedic llm check --format json``.

Reads ``app.state.llm`` (an LLM client or None) and ``app.state.llm_model``. ``probe=true`` makes
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

    state = request.app.state
    result = await run_in_threadpool(
        check_llm, getattr(state, "llm", None), model=getattr(state, "llm_model", None), probe=probe
    )
    return {"ok": result.ok, **asdict(result)}
