"""``GET /api/v1/llm``: the LLM server's status, as ``cimedic llm check --format json``.

Uses the context's LLM client (or None) and model name. ``probe=true`` would make two tiny model
calls (see :mod:`cimedic.agent.llm.check`): until ``serve`` authenticates its callers it is
refused with 403, so nobody who reaches the port spends the model's time (``cimedic llm check
--probe`` works locally). The server URL is answered without its password.
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
        False, description="Refused (403) until the API authenticates callers: use `cimedic llm check --probe`."
    ),
) -> Any:
    """``{"ok", "configured", "base_url", "model", "reachable", "models", "model_served",
    "protocol", "native_tools", "seconds", "tokens", "message", "problems"}``; 200 (the LLM is
    optional: ``ok`` says whether it is usable); 403 problem+json for ``probe=true``."""
    from cimedic.agent.llm.check import check_llm
    from cimedic.analysis.redact import redact
    from cimedic.interfaces.api.app import context_of
    from cimedic.interfaces.api.problems import problem

    if probe:
        return problem(403, "Probe refused", "probe=true makes model calls; use `cimedic llm check --probe`")
    ctx = context_of(request)
    result = await run_in_threadpool(check_llm, ctx.llm, model=ctx.llm_model, probe=False)
    raw, masked = result.base_url or "", mask_password(result.base_url) or ""

    def clean(text: str) -> str:
        return str(redact(text.replace(raw, masked) if raw else text).text)

    data = {"ok": result.ok, **asdict(result)}
    data.update(base_url=mask_password(result.base_url), message=clean(result.message))
    data["problems"] = [clean(p) for p in result.problems]
    return data


def mask_password(url: str | None) -> str | None:
    """``url`` with the password of its user info replaced by ``***`` (None stays None)."""
    if not url:
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
