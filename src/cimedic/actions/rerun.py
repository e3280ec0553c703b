"""The side effect of self-healing: ask the CI provider to re-run a run's failed jobs.

Only :mod:`cimedic.services.remediate` calls it, after the policy allowed it and the decision
was recorded (at most once per run attempt). The GitHub implementation is
:class:`cimedic.connectors.github_actions.client.GitHubClient` itself: its
``rerun_failed_jobs(full_name, run_id)`` (``POST .../actions/runs/{id}/rerun-failed-jobs``)
satisfies this protocol, so the interfaces pass the client (``cimedic.actions`` may not import
the connectors: they are sibling layers).
"""

from __future__ import annotations

from typing import Protocol


class RerunAction(Protocol):
    """Re-runs the failed jobs (and their dependents) of one workflow run (``run_id``: the
    provider's run id). Raises an exception (any; its message is audited) on refusal."""

    def rerun_failed_jobs(self, full_name: str, run_id: str) -> None: ...


class RecordingRerun:
    """A :class:`RerunAction` that only records the calls (for previews and tests)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def rerun_failed_jobs(self, full_name: str, run_id: str) -> None:
        self.calls.append((full_name, run_id))
