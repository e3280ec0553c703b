"""Domain types of notifications (``cimedic notify``) and repository health.

An analyzer turns stored data into :class:`NotificationEvent` values; the policy
(:mod:`cimedic.analysis.notify_policy`) decides which are sent now, which wait for the digest
and which were already sent; a sender (:mod:`cimedic.actions.notify`) delivers a
:class:`Notification` and answers a :class:`SendResult`. Times are aware UTC ``datetime``
values. ``docs/notifications.md`` describes the rules.
"""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

HEALTH_WINDOW_SECONDS = 86400.0
"""Default window of repository health: the last 24 hours (the issue's definition of health)."""
HEALTH_DEGRADED_RATE = 0.2
"""Default failure rate at or above which a repository is degraded (product default: one red
run in five)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HealthState(StrEnum):
    """Health of one repository's default branch (rules in :mod:`cimedic.analysis.health`).

    ``unknown``: no completed run of the default branch in the window.
    """

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    FAILING = "failing"
    UNKNOWN = "unknown"


class HealthThresholds(_Frozen):
    """The thresholds of repository health: ``window_seconds`` (> 0) of default-branch runs
    looked at, and ``degraded_rate`` in (0, 1], the failure rate at or above which a repository
    is degraded. Defaults: :data:`HEALTH_WINDOW_SECONDS`, :data:`HEALTH_DEGRADED_RATE`; a
    deployment sets them with the ``health_window_hours`` and ``health_degraded_rate``
    settings. Raises ``pydantic.ValidationError`` for values out of range."""

    window_seconds: float = Field(default=HEALTH_WINDOW_SECONDS, gt=0)
    degraded_rate: float = Field(default=HEALTH_DEGRADED_RATE, gt=0, le=1)

    @classmethod
    def from_hours(cls, window_hours: float, degraded_rate: float) -> HealthThresholds:
        """Thresholds from a window in hours (as the settings give it) and a rate."""
        return cls(window_seconds=window_hours * 3600.0, degraded_rate=degraded_rate)


class RepoHealth(_Frozen):
    """The health of one repository at ``computed_at``: ``runs``/``failed`` completed runs of the
    default branch created in the window (``window_seconds`` back), ``failure_rate`` =
    failed / runs (``None`` without runs), ``latest_red``: the latest completed default-branch
    run is red (``None`` when there is none); ``reason`` says which rule decided.
    ``degraded_rate`` is the threshold used; ``latest_run_id`` (the provider's run id, e.g.
    GitHub's) and ``latest_run_at`` (its creation time) name the latest counted run."""

    repository: str
    state: HealthState
    runs: int = 0
    failed: int = 0
    failure_rate: float | None = None
    latest_red: bool | None = None
    window_seconds: float = HEALTH_WINDOW_SECONDS
    degraded_rate: float = HEALTH_DEGRADED_RATE
    reason: str = ""
    computed_at: datetime | None = None
    latest_run_id: str | None = None
    latest_run_at: datetime | None = None


class RepoHealthStatus(RepoHealth):
    """What ``cimedic health`` and ``GET /api/v1/health`` show for one repository: its
    :class:`RepoHealth` plus ``recorded_state`` (the state the last notification pass recorded,
    ``None`` when none was), ``since`` (when the recorded state began, given only when it equals
    the computed ``state`` and began no later than ``computed_at``) and ``latest_run_url`` (the
    latest counted run's web page, when the repository's web address is known)."""

    recorded_state: HealthState | None = None
    since: datetime | None = None
    latest_run_url: str | None = None


class EventKind(StrEnum):
    """What a notification is about."""

    NEW_CLUSTER = "new_cluster"
    HEALTH_CHANGE = "health_change"
    NEW_FLAKY_TEST = "new_flaky_test"
    ACTION_TAKEN = "action_taken"
    DIGEST = "digest"


class Severity(StrEnum):
    """``critical`` events are sent even in quiet hours; ``warning`` and ``info`` wait."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class NotificationEvent(_Frozen):
    """One thing worth telling people about.

    ``dedup_key`` identifies the event (e.g. ``new_cluster:<cluster id>``): an event whose key
    was already sent or queued is never sent again. ``recurrence``: a repeat of a known failure
    (goes to the digest, never alone). ``url`` links to the run (or the repository's Actions
    page). ``facts`` are the event's data as ``(name, value)`` string pairs (the variables of
    its Markdown template, ``docs/notifications.md#templates``); values may come from build
    logs and are untrusted data. ``body`` is an optional pre-composed Markdown body, kept for
    events stored before templates (the digest queue); new events leave it empty.
    """

    kind: EventKind
    dedup_key: str
    repository: str | None = None
    title: str
    body: str = ""
    url: str | None = None
    severity: Severity = Severity.WARNING
    occurred_at: datetime
    recurrence: bool = False
    pull_requests: tuple[int, ...] = ()
    """Numbers of the pull requests whose run the event is about (a PR comment goes there)."""
    facts: tuple[tuple[str, str], ...] = ()

    def fact_map(self) -> dict[str, str]:
        """``facts`` as a mapping (a later pair wins over an earlier one of the same name)."""
        return dict(self.facts)


class Notification(_Frozen):
    """What a sender delivers: a title, a Markdown body, a link, a severity, the dedup key, and
    the numbers of the pull requests concerned (empty for branch runs). ``title`` and ``body``
    are Markdown whose untrusted parts are escaped (:mod:`cimedic.model.escape`); ``url`` is
    an ``http(s)`` link on the provider's web host, or None."""

    kind: EventKind
    title: str
    body: str
    url: str | None = None
    severity: Severity = Severity.WARNING
    dedup_key: str
    repository: str | None = None
    pull_requests: tuple[int, ...] = ()


class SendResult(_Frozen):
    """The outcome of one delivery on one channel (``apprise``, ``github``, ...): ``ok``, the
    ``error`` text when not, and an optional ``reference`` (e.g. the created issue's URL)."""

    channel: str
    ok: bool
    error: str | None = None
    reference: str | None = None


class QuietHours(_Frozen):
    """A daily UTC interval ``[start, end)``; it wraps midnight when ``end <= start``
    (``22:00-07:00``)."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """Parse ``HH:MM-HH:MM`` (UTC). Raises ``ValueError`` for another shape."""
        try:
            a, b = (part.strip() for part in text.split("-"))
            return cls(start=time.fromisoformat(a), end=time.fromisoformat(b))
        except ValueError:
            raise ValueError(f"quiet hours must be HH:MM-HH:MM (UTC), got {text!r}") from None

    def contains(self, moment: datetime) -> bool:
        """True when ``moment`` (UTC) falls in the interval."""
        t = moment.time().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


class NotifyPlan(_Frozen):
    """The policy's decision: ``send`` now, queue for the ``digest``, or ``skip`` (already known)."""

    send: tuple[NotificationEvent, ...] = ()
    digest: tuple[NotificationEvent, ...] = ()
    skip: tuple[NotificationEvent, ...] = ()


class NotifyOutcome(_Frozen):
    """What :func:`cimedic.services.notify.notify_pending` did in one pass."""

    events: int = 0
    sent: int = 0
    failed: int = 0
    queued: int = 0
    skipped: int = 0
    digests: int = 0
    dry_run: bool = False
    quiet: bool = False
    notifications: tuple[Notification, ...] = ()
    health: tuple[RepoHealth, ...] = ()


__all__ = [
    "HEALTH_DEGRADED_RATE",
    "HEALTH_WINDOW_SECONDS",
    "EventKind",
    "HealthState",
    "HealthThresholds",
    "Notification",
    "NotificationEvent",
    "NotifyOutcome",
    "NotifyPlan",
    "QuietHours",
    "RepoHealth",
    "RepoHealthStatus",
    "SendResult",
    "Severity",
]
