"""``GET /api/v1/health``: repository health (see ``docs/notifications.md``, "Repository health").

The router reads ``app.state.store`` and ``app.state.health_thresholds`` (a
:class:`~cimedic.model.notify.HealthThresholds`; the defaults, 24 h and 0.2, when missing).
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from cimedic.model.notify import HealthThresholds, RepoHealthStatus

router = APIRouter()


@router.get("/api/v1/health", response_model=list[RepoHealthStatus])
def health(
    request: Request,
    repo: str | None = Query(None, description="Only this repository (owner/name)."),
) -> list[RepoHealthStatus]:
    """The health now of every repository the store knows (or of ``repo``; an empty list when
    the store does not know it), sorted by name, as ``cimedic health --format json``."""
    from cimedic.services.health import health_view

    state = request.app.state
    thresholds = getattr(state, "health_thresholds", None) or HealthThresholds()
    return health_view(state.store, None, repo, thresholds=thresholds)
