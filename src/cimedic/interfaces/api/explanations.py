"""``GET /api/v1/jobs/{job_id}/explanation``: the explanation of a diagnosed failed job, as
``cimedic explain <job id>`` gives it (see ``docs/llm.md``).

Uses the context's store, LLM client (None: the deterministic explanation built from the
diagnosis is served, flagged ``deterministic``) and model name (the key of the explanation
cache).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel

from cimedic.model.explanations import Explanation

router = APIRouter()


class EvidenceLink(BaseModel):
    """A cited line and its link into the provider's log page (``url`` null when unknown)."""

    line: int
    url: str | None


class ExplanationOut(Explanation):
    """An :class:`~cimedic.model.explanations.Explanation` plus ``deterministic``: true when it
    was built from the diagnosis alone (no LLM, LLM unavailable, or its answer rejected;
    ``fallback_reason`` says which), and ``evidence_links``: each of ``evidence_lines`` with
    its link to the job's log page at that line (GitHub: ``…/job/JOB#step:N:L``), as
    ``cimedic explain --format json`` gives them."""

    deterministic: bool
    evidence_links: tuple[EvidenceLink, ...] = ()


@router.get("/api/v1/jobs/{job_id}/explanation", response_model=ExplanationOut)
def job_explanation(
    request: Request,
    job_id: int = Path(ge=1, le=2**63 - 1, description="The store's job id (1 to 2^63-1)."),
    cache: bool = Query(
        True,
        description="false (ask the model again) is refused with 403 until the API authenticates callers; "
        "use `cimedic explain --no-cache`.",
    ),
) -> Any:
    """Explain the stored diagnosis of job ``job_id`` (the store's job id, as ``cimedic
    explain`` takes it). An accepted LLM answer is cached by diagnosis signature, engine version
    and model, and served from the cache next time (``source`` ``cache``). 404 when the job is
    unknown or has no diagnosis (only failed jobs are diagnosed); 422 for a ``job_id`` outside
    1..2^63-1 (the store's integer range); 403 problem details for ``cache=false``, which would
    let anyone who reaches the port spend the model's time (until ``serve`` authenticates)."""
    from cimedic.agent.explain import ExplainError, explain_job
    from cimedic.interfaces.api.app import context_of
    from cimedic.interfaces.api.problems import problem
    from cimedic.services.explanations import job_repository, log_line_links

    if not cache:
        return problem(
            403,
            "Uncached explanation refused",
            "cache=false makes model calls; use `cimedic explain --no-cache`",
        )
    ctx = context_of(request)
    if job_repository(ctx.store, job_id) is None:
        raise HTTPException(404, f"no stored job with id {job_id}")
    try:
        result = explain_job(ctx.store, job_id, ctx.llm, model=ctx.llm_model, use_cache=cache)
    except ExplainError as exc:
        raise HTTPException(404, f"{exc}: only diagnosed failed jobs can be explained") from exc
    links = log_line_links(ctx.store, job_id, result.evidence_lines, ctx.web_base)
    return ExplanationOut(
        **result.model_dump(),
        deterministic=result.source == "deterministic",
        evidence_links=tuple(EvidenceLink(line=n, url=links.get(n)) for n in result.evidence_lines),
    )
