"""Provider events pushed to cimedic (webhook deliveries), already mapped into domain types.

A connector's webhook parser turns one delivery into one :class:`WebhookEvent`; raw provider
JSON never leaves the connector.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cimedic.model.ci import Job, Repository, WorkflowRun


class WebhookEvent(BaseModel):
    """One webhook delivery.

    ``event`` is the provider's event name (GitHub ``X-GitHub-Event``: ``workflow_run``,
    ``workflow_job``, ``check_run``, ``ping``, ...), ``action`` the activity type
    (``requested``, ``in_progress``, ``completed``, ...; ``None`` for events without one).
    ``run`` is set for workflow-run events, ``job`` for job events (a GitHub Actions check run
    is a job); both are ``None`` for other events. ``installation_id`` is the GitHub App
    installation that received the delivery, when the hook belongs to an App.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event: str
    action: str | None = None
    repository: Repository | None = None
    run: WorkflowRun | None = None
    job: Job | None = None
    installation_id: str | None = None


__all__ = ["WebhookEvent"]
