"""``GET /api/v1/health``: repository health (see ``docs/notifications.md``, "Repository health").

The thresholds are the context's (settings ``health_window_hours``, ``health_degraded_rate``).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request

from cimedic.model.notify import RepoHealthStatus

router = APIRouter()


@router.get("/api/v1/health", response_model=list[RepoHealthStatus])
def health(
    request: Request,
    repo: str | None = Query(None, description="Only this repository (owner/name or provider:full_name)."),
) -> list[RepoHealthStatus]:
    """The health now of every repository the store knows (or of ``repo``; an empty list when
    the store does not know it), sorted by name, as ``cimedic health --format json``."""
    from cimedic.interfaces.api.app import context_of
    from cimedic.services.health import health_view

    ctx = context_of(request)
    try:
        repository = ctx.repo_ref(repo).full_name if repo else None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return health_view(ctx.store, None, repository, thresholds=ctx.health_thresholds)
