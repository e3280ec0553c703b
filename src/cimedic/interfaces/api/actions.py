"""``GET /api/v1/actions``: the audit of self-healing decisions (see ``docs/remediation.md``).

Reads the context's store.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from cimedic.model.remediation import Decision

router = APIRouter()


@router.get("/api/v1/actions", response_model=list[Decision])
def actions(
    request: Request,
    repo: str | None = Query(None, description="Only this repository (owner/name)."),
    since: str | None = Query(None, description="7d, 12h, 2w or an ISO date (UTC); default: the whole audit"),
    limit: int = Query(100, ge=1, le=1000, description="Most decisions returned (newest first)."),
) -> list[Decision] | JSONResponse:
    """The recorded re-run decisions (taken or not, and why), newest first, as ``cimedic
    actions --format json``. 422 for an unusable ``since`` (problem details, e.g. a window
    longer than 36500d or starting before 1970-01-01T00:00Z) or ``limit``."""
    from cimedic.interfaces.api.problems import problem
    from cimedic.services.remediate import list_actions
    from cimedic.services.timewindow import parse_since, resolve_since

    start = None
    if since is not None:
        try:
            start = resolve_since(parse_since(since))
        except ValueError as exc:
            return problem(422, "Unusable since", f"since: {exc}")
    from cimedic.interfaces.api.app import context_of

    ctx = context_of(request)
    try:
        repository = ctx.repo_ref(repo).full_name if repo else None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return list_actions(ctx.store, since=start, repository=repository)[:limit]
