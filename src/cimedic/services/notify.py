"""Use case: one notification pass (``cimedic notify``; the agent mode calls it every few minutes).

:func:`notify_pending` computes the events since the last pass from stored data (new failure
clusters and recurrences of known ones, repository health changes, new flaky tests, actions
taken), lets :mod:`cimedic.analysis.notify_policy` decide (dedup, digest, quiet hours),
renders each text from its Markdown template (:mod:`cimedic.inputs.templates`: the bundled
ones or a user's ``notify_templates_dir``), redacts every text with
:func:`cimedic.analysis.redact.redact` after rendering, sends through the
:class:`~cimedic.actions.notify.Notifier` s and records everything
(:mod:`cimedic.store.notify`). Rules: ``docs/notifications.md``.

Untrusted text (job, test, branch, workflow names, log lines, cluster titles) is escaped by
the templates (:mod:`cimedic.model.escape`); every link is built here from the provider's web
base URL (``web_base``) and ids (:func:`cimedic.model.escape.run_link`), never taken from a
payload's ``html_url``.

New failure clusters are selected by when they were stored (ingested), not by when the
failure happened, so a failure ingested late (after the pass that covered its time) is still
notified, once (its ``new_cluster:<id>`` key dedups it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.analysis.health import is_change
from cimedic.analysis.notify_policy import build_digest, digest_due, digest_selection, plan, render
from cimedic.inputs.templates import NotifyTemplates, load_templates
from cimedic.model.escape import GITHUB_WEB, run_link
from cimedic.model.notify import (
    EventKind,
    HealthState,
    HealthThresholds,
    Notification,
    NotificationEvent,
    NotifyOutcome,
    QuietHours,
    RepoHealth,
    SendResult,
    Severity,
)
from cimedic.services.health import current_health

if TYPE_CHECKING:
    from cimedic.actions.notify import Notifier
    from cimedic.model.clusters import FailureCluster
    from cimedic.model.remediation import Decision
    from cimedic.store.repository import Store

__all__ = [
    "FIRST_LOOKBACK",
    "LATE_INGEST_HORIZON",
    "collect_events",
    "current_health",
    "load_actions",
    "notify_pending",
    "redact_text",
]

FIRST_LOOKBACK = timedelta(hours=24)
"""Window of the first pass (no earlier pass recorded): older history is not news."""
LATE_INGEST_HORIZON = timedelta(days=7)
"""A cluster stored since the last pass is new news unless its first failure is older than
this before the last pass: that is a backfill of history (e.g. ``cimedic sync --since 90d``
after the agent started), listed by ``cimedic failures`` and the reports but not notified
one message per cluster. Product default: a week, the longest a late ingestion (pending
logs, webhook redeliveries) takes in practice."""
_SEVERITY = {
    HealthState.FAILING: Severity.CRITICAL,
    HealthState.DEGRADED: Severity.WARNING,
    HealthState.HEALTHY: Severity.INFO,
}


def redact_text(text: str) -> str:
    """``text`` with secrets replaced (:func:`cimedic.analysis.redact.redact`)."""
    from cimedic.analysis.redact import redact

    return redact(text).text


def load_actions(store: Store, *, since: datetime, repository: str | None = None) -> list[Decision] | None:
    """Audited remediation decisions since ``since`` (:mod:`cimedic.store.actions`), or None when
    the audit module is not available."""
    try:
        from cimedic.store.actions import list_decisions
    except ImportError:  # pragma: no cover - the audit ships with cimedic
        return None
    return list_decisions(store, since=since, repository=repository)


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def _late_clusters(store: Store, keys: Sequence[str], now: datetime) -> list[FailureCluster]:
    """The clusters of ``keys`` (stored since the last pass, without a failure in its window),
    each over its whole history."""
    from cimedic.services.failures import ClusterNotFound, cluster_detail

    out: list[FailureCluster] = []
    for key in keys:
        try:
            out.append(cluster_detail(store, key, now=now, occurrences=1).cluster)
        except ClusterNotFound:  # removed by a concurrent re-clustering
            continue
    return out


def _primary_line(store: Store, job_id: int, web_base: str) -> tuple[int | None, str | None]:
    """The primary error line of the stored job ``job_id`` (its strongest error line that is no
    bookkeeping: :func:`cimedic.model.evidence_lines.evidence_lines`) and the link to it on
    the job's log page (:func:`cimedic.services.explanations.log_line_links`); Nones when the
    job has no diagnosis or error line, a None link when it was not collected from GitHub."""
    from cimedic.model.evidence_lines import evidence_lines
    from cimedic.services.explanations import log_line_links

    diagnosis = store.get_diagnosis(job_id)
    lines = evidence_lines(diagnosis, 1) if diagnosis is not None else ()
    if not lines:
        return None, None
    return lines[0], log_line_links(store, job_id, lines, web_base).get(lines[0])


def collect_events(
    store: Store,
    since: datetime,
    now: datetime,
    *,
    thresholds: HealthThresholds | None = None,
    web_base: str = GITHUB_WEB,
    first_pass: bool = False,
) -> tuple[list[NotificationEvent], list[RepoHealth]]:
    """The events of ``[since, now)`` from stored data, and the current health of each
    repository (to be recorded) under ``thresholds`` (default :class:`HealthThresholds`: 24 h,
    0.2). Reads only.

    New failure clusters: those stored (ingested) in ``[since, now)`` (see
    :data:`LATE_INGEST_HORIZON`; on the ``first_pass`` only those first seen since ``since``)
    and those first seen in it; recurrences: known clusters with a failure in it. Links are
    built from ``web_base`` (the provider's web base URL, e.g. ``https://github.com`` or the
    GitHub Enterprise host: :func:`cimedic.model.escape.web_base_of`) and the run ids; a
    cluster event's facts ``line`` and ``line_url`` are the primary error line of its example
    job and the link to it on the job's log page (``…/job/JOB#step:N:L``; ``""`` when
    unknown or the job is not from GitHub)."""
    from cimedic.services.failures import list_clusters
    from cimedic.store import notify as db
    from cimedic.store.flaky import load_findings

    def actions_page(repository: str) -> str | None:
        return run_link(web_base, repository)

    events: list[NotificationEvent] = []
    clusters = list_clusters(store, since=since, now=now, top=10_000).clusters
    stored = db.clusters_stored_between(store, since, now)
    ingested, shown = set(stored), {c.id for c in clusters}
    late = _late_clusters(store, [k for k in stored if k not in shown], now)
    oldest = since if first_pass else since - LATE_INGEST_HORIZON
    for c in (*clusters, *late):
        stored_now = c.id in ingested and c.first_seen is not None and c.first_seen >= oldest
        if c.id not in shown and not stored_now:
            continue  # history being backfilled: not news
        ex = c.examples[0] if c.examples else None
        repo = ex.repository if ex else (c.repositories[0] if c.repositories else None)
        url = run_link(web_base, ex.repository, ex.run_id) if ex else (actions_page(repo) if repo else None)
        line, line_url = _primary_line(store, ex.job_id, web_base) if ex else (None, None)
        facts = (
            ("cluster_id", c.id),
            ("short_id", c.id[:8]),
            ("cluster_title", c.title),
            ("category", c.category),
            ("representative", c.representative[:300]),
            ("jobs", ", ".join(c.job_names[:3])),
            ("occurrences", str(c.occurrences)),
            ("total_occurrences", str(c.total_occurrences)),
            ("first_seen", _iso(c.first_seen)),
            ("last_seen", _iso(c.last_seen)),
            ("line", str(line) if line is not None else ""),
            ("line_url", line_url or ""),
        )
        if c.new or stored_now:
            events.append(
                NotificationEvent(
                    kind=EventKind.NEW_CLUSTER,
                    dedup_key=f"new_cluster:{c.id}",
                    repository=repo,
                    title=f"New CI failure: {c.title}",
                    url=url,
                    occurred_at=c.first_seen or now,
                    pull_requests=db.pull_requests_of_job(store, ex.job_id) if ex else (),
                    facts=facts,
                )
            )
        else:
            day = now.strftime("%Y-%m-%d")
            events.append(
                NotificationEvent(
                    kind=EventKind.NEW_CLUSTER,
                    dedup_key=f"recurrence:{c.id}:{day}",
                    repository=repo,
                    title=f"Known failure again: {c.title} ({c.occurrences}x)",
                    url=url,
                    severity=Severity.INFO,
                    occurred_at=c.last_seen or now,
                    recurrence=True,
                    facts=facts,
                )
            )
    th = thresholds or HealthThresholds()
    healths = current_health(store, now, window_seconds=th.window_seconds, degraded_rate=th.degraded_rate)
    window = f"{th.window_seconds / 3600:g} h"
    previous = db.health_states(store)
    for h in healths:
        before = previous.get(h.repository)
        if not is_change(before, h.state):
            continue
        rate = "-" if h.failure_rate is None else f"{h.failure_rate:.0%}"
        events.append(
            NotificationEvent(
                kind=EventKind.HEALTH_CHANGE,
                dedup_key=f"health:{h.repository}:{now.strftime('%Y-%m-%dT%H:%M')}:{h.state.value}",
                repository=h.repository,
                title=f"{h.repository} is {h.state.value}" + (f" (was {before.value})" if before else ""),
                url=actions_page(h.repository),
                severity=_SEVERITY.get(h.state, Severity.INFO),
                occurred_at=now,
                facts=(
                    ("old_state", before.value if before else ""),
                    ("new_state", h.state.value),
                    ("reason", h.reason),
                    ("failed", str(h.failed)),
                    ("runs", str(h.runs)),
                    ("failure_rate", rate),
                    ("window", window),
                ),
            )
        )
    from cimedic.model.flaky import SubjectKind, Verdict

    for f in load_findings(store, kind=SubjectKind.TEST, verdicts=[Verdict.FLAKY]):
        if f.last_seen is not None and f.last_seen < since:
            continue
        name = f.subject + (f" [{f.variant}]" if f.variant else "")
        events.append(
            NotificationEvent(
                kind=EventKind.NEW_FLAKY_TEST,
                dedup_key=f"flaky:{f.repository}:{f.subject}:{f.variant}",
                repository=f.repository,
                title=f"Flaky test: {name}",
                url=actions_page(f.repository),
                occurred_at=f.last_seen or now,
                facts=(
                    ("test", f.subject),
                    ("variant", f.variant),
                    ("test_name", name),
                    ("reason", f.reason),
                    ("failures", str(f.failures)),
                    ("passes", str(f.passes)),
                    ("commits", str(f.commits)),
                    ("executions", str(f.executions)),
                    ("flip_rate", "-" if f.flip_rate is None else f"{f.flip_rate:.0%}"),
                ),
            )
        )
    from cimedic.model.remediation import Verdict as ActionVerdict

    for d in load_actions(store, since=since) or []:
        if d.verdict is not ActionVerdict.RERUN:
            continue
        events.append(
            NotificationEvent(
                kind=EventKind.ACTION_TAKEN,
                dedup_key=f"action:{d.repository}:{d.run_id}:{d.run_attempt}:{d.action}",
                repository=d.repository,
                title=f"cimedic re-ran the failed jobs of run {d.run_id} ({d.workflow_name or 'workflow'})",
                url=run_link(web_base, d.repository, d.run_id),
                severity=Severity.INFO,
                occurred_at=d.decided_at,
                facts=(
                    ("action", d.action),
                    ("run_id", d.run_id),
                    ("attempt", str(d.run_attempt)),
                    ("workflow", d.workflow_name or ""),
                    ("branch", d.branch or ""),
                    ("reason", d.reason.value),
                    ("detail", d.detail),
                    ("result", d.result or "pending"),
                    ("error", d.error or ""),
                ),
            )
        )
    return events, healths


def _redacted(event: NotificationEvent, redactor: Callable[[str], str]) -> NotificationEvent:
    """``event`` with its title, body and facts redacted: before rendering, because the
    templates escape values as Markdown (``ghp_x`` becomes ``ghp\\_x``), which the secret
    patterns would no longer recognise."""
    return event.model_copy(
        update={
            "title": redactor(event.title),
            "body": redactor(event.body),
            "facts": tuple((name, redactor(value)) for name, value in event.facts),
        }
    )


def _render(
    templates: NotifyTemplates, event: NotificationEvent, redactor: Callable[[str], str]
) -> Notification:
    return render(clean := _redacted(event, redactor), templates.render_event(clean))


def _digest(
    templates: NotifyTemplates,
    events: Sequence[NotificationEvent],
    now: datetime,
    redactor: Callable[[str], str],
) -> Notification:
    clean = [_redacted(e, redactor) for e in events]
    shown, more = digest_selection(clean)
    return build_digest(clean, now, templates.render_digest(shown, more=more))


def _clean(n: Notification, redactor: Callable[[str], str]) -> Notification:
    return n.model_copy(update={"title": redactor(n.title), "body": redactor(n.body)})


def _deliver(notifiers: Sequence[Notifier], n: Notification) -> tuple[str, str, str | None]:
    results: list[SendResult] = []
    for sender in notifiers:
        try:
            results.append(sender.send(n))
        except Exception as exc:
            results.append(SendResult(channel=sender.channel, ok=False, error=f"{type(exc).__name__}: {exc}"))
    channel = ",".join(r.channel for r in results) or "none"
    errors = [f"{r.channel}: {r.error}" for r in results if not r.ok]
    return channel, "failed" if errors else "sent", "; ".join(errors) or None


def notify_pending(
    store: Store,
    notifiers: Sequence[Notifier],
    now: datetime | None = None,
    *,
    quiet: QuietHours | None = None,
    dry_run: bool = False,
    redactor: Callable[[str], str] = redact_text,
    thresholds: HealthThresholds | None = None,
    templates: NotifyTemplates | None = None,
    web_base: str = GITHUB_WEB,
) -> NotifyOutcome:
    """One pass at ``now`` (aware UTC, default the current time): events since the last pass
    (the first pass looks :data:`FIRST_LOOKBACK` back), dedup, digest, quiet hours, delivery.
    Repository health is computed under ``thresholds`` (default :class:`HealthThresholds`:
    24 h, 0.2; the ``health_*`` settings) and recorded unless ``dry_run``.

    Texts come from ``templates`` (default: the bundled ones; :func:`cimedic.inputs.templates.load_templates`
    with the ``notify_templates_dir`` setting); a user template that fails to render is logged
    and the bundled one used. Every event's texts go through ``redactor`` before rendering
    (the templates escape them, which would hide a secret from its pattern) and every
    notification's title and body again after rendering, before any sender sees them. Links point at ``web_base`` (the
    provider's web base URL; :func:`cimedic.model.escape.web_base_of` of ``github_api_url``).
    With ``dry_run`` nothing is sent nor written (the notifications are returned). A failed
    delivery is logged with status ``failed`` and not retried. SQLAlchemy errors propagate.
    """
    from cimedic.store import notify as db

    templates = templates or load_templates()
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    last = db.last_pass_at(store)
    since = last or now - FIRST_LOOKBACK
    events, healths = collect_events(
        store, since, now, thresholds=thresholds, web_base=web_base, first_pass=last is None
    )
    decided = plan(events, db.known_keys(store, (e.dedup_key for e in events)), now, quiet)
    out: list[Notification] = []
    sent = failed = 0
    for e in decided.send:
        n = _clean(_render(templates, e, redactor), redactor)
        out.append(n)
        if dry_run:
            continue
        channel, status, error = _deliver(notifiers, n)
        db.record_notification(store, n, channel=channel, status=status, error=error, now=now)
        sent += status == "sent"
        failed += status == "failed"
    pending = [] if dry_run else db.pending_digest(store)
    pending_keys = {e.dedup_key for e in pending}
    pending += [e for e in decided.digest if e.dedup_key not in pending_keys]
    digests = 0
    if digest_due(now, None if dry_run else db.last_digest_at(store), len(pending), quiet):
        d = _clean(_digest(templates, pending, now, redactor), redactor)
        out.append(d)
        digests = 1
    if not dry_run:
        db.queue_digest(store, list(decided.digest), now)
        if digests:
            channel, status, error = _deliver(notifiers, out[-1])
            db.record_notification(store, out[-1], channel=channel, status=status, error=error, now=now)
            db.mark_digested(store, [e.dedup_key for e in pending], now)
            sent += status == "sent"
            failed += status == "failed"
        db.save_health(store, [h for h in healths if h.state is not HealthState.UNKNOWN], now)
        db.record_pass(store, now, digest_sent=bool(digests))
    return NotifyOutcome(
        events=len(events),
        sent=sent,
        failed=failed,
        queued=len(decided.digest),
        skipped=len(decided.skip),
        digests=digests,
        dry_run=dry_run,
        quiet=quiet is not None and quiet.contains(now),
        notifications=tuple(out),
        health=tuple(healths),
    )
