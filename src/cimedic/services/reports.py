"""Use case: the daily / weekly report (``cimedic report``), as Markdown or HTML with charts.

:func:`build_report` computes every figure from stored data (``pipeline_stats`` for the
current and the previous period, failure clusters, flaky verdict changes, anomalies, actions,
health); :func:`render_markdown` and :func:`render_html` only format it. Definitions:
``docs/reports.md``.

Names, titles and lines in a report come from logs and payloads: the renderers escape them
(:mod:`cimedic.model.escape`: inert Markdown text, HTML by markupsafe, chat mentions
neutralised), and every link is built from the provider's web base URL and the run id
(``web_base``), never a payload's ``html_url``; a link that is not ``http(s)`` is not printed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.model.escape import GITHUB_WEB, http_link, markdown, run_link
from cimedic.model.escape import html as html_text
from cimedic.model.history import HistoryFilter
from cimedic.model.metrics import PipelineStats
from cimedic.model.notify import HealthThresholds
from cimedic.model.reports import (
    ActionLine,
    AnomalyLine,
    ClusterLine,
    FlakyLine,
    Period,
    PeriodFigures,
    Report,
    SeriesPoint,
    relative_change,
)

if TYPE_CHECKING:
    from cimedic.store.repository import Store

__all__ = ["FLAKY_WINDOW", "PERIODS", "TOP_CLUSTERS", "build_report", "render_html", "render_markdown"]

PERIODS = {
    Period.DAILY: (timedelta(days=1), timedelta(hours=1)),
    Period.WEEKLY: (timedelta(days=7), timedelta(days=1)),
}
"""Length of each period and of one chart bucket."""
TOP_CLUSTERS = 10
FLAKY_WINDOW = timedelta(days=30)
"""History the flaky verdicts are computed on (the default of ``cimedic flaky``)."""


def _figures(s: PipelineStats, since: datetime, until: datetime) -> PeriodFigures:
    r = s.runs
    return PeriodFigures(
        since=since,
        until=until,
        runs=r.total,
        completed=r.completed,
        succeeded=r.succeeded,
        failed=r.failed,
        cancelled=r.cancelled,
        success_rate=r.success_rate,
        failure_rate=r.failure_rate,
        duration_mean_seconds=s.duration.mean_seconds,
        duration_p50_seconds=s.duration.p50_seconds,
        duration_p95_seconds=s.duration.p95_seconds,
        queue_p50_seconds=s.queue.p50_seconds,
        queue_p95_seconds=s.queue.p95_seconds,
        step_mean_seconds=s.steps.mean_seconds,
        reruns=s.reruns.reruns,
    )


def _flaky_changes(store: Store, repo: str | None, since: datetime, until: datetime) -> list[FlakyLine]:
    """``new``: flaky at ``until`` (verdict over the 30 days before it), not at ``since``;
    ``fixed``: flaky at ``since``, not at ``until``. Findings are not saved."""
    from cimedic.model.flaky import Verdict
    from cimedic.services.flaky import analyze_flaky

    def flaky_at(end: datetime) -> dict[tuple[str, str, str], str]:
        found = analyze_flaky(store, repo, FLAKY_WINDOW, now=end, save=False)
        return {
            (f.repository, f.subject, f.kind.value): f.kind.value for f in found if f.verdict is Verdict.FLAKY
        }

    before, after = flaky_at(since), flaky_at(until)
    out = [
        FlakyLine(repository=k[0], subject=k[1], kind=k[2], status="new")
        for k in sorted(after.keys() - before.keys())
    ]
    out += [
        FlakyLine(repository=k[0], subject=k[1], kind=k[2], status="fixed")
        for k in sorted(before.keys() - after.keys())
    ]
    return out


def _series(
    store: Store, repo: str | None, since: datetime, until: datetime, bucket: timedelta
) -> list[SeriesPoint]:
    from cimedic.store import queries

    n = max(1, round((until - since) / bucket))
    counts = [[0, 0, 0, 0.0, 0] for _ in range(n)]
    for r in queries.run_facts(store.engine, HistoryFilter(repository=repo, since=since, until=until)):
        if r.created_at is None:
            continue
        i = min(n - 1, int((r.created_at - since) / bucket))
        c = counts[i]
        if r.conclusion is not None and r.conclusion.value == "success":
            c[0] += 1
        elif r.conclusion is not None and r.conclusion.is_failure:
            c[1] += 1
        else:
            c[2] += 1
        if r.duration is not None:
            c[3] += r.duration
            c[4] += 1
    return [
        SeriesPoint(
            start=since + bucket * i,
            succeeded=int(c[0]),
            failed=int(c[1]),
            other=int(c[2]),
            duration_mean_seconds=c[3] / c[4] if c[4] else None,
        )
        for i, c in enumerate(counts)
    ]


def build_report(
    store: Store,
    period: str | Period = Period.DAILY,
    now: datetime | None = None,
    repo: str | None = None,
    *,
    deployment_patterns: tuple[str, ...] = (),
    thresholds: HealthThresholds | None = None,
    web_base: str = GITHUB_WEB,
) -> Report:
    """The report of the period ending at ``now`` (aware UTC, default the current time):
    ``daily`` = the last 24 h, ``weekly`` = the last 7 days, compared with the period before.
    The health section uses ``thresholds`` (default :class:`HealthThresholds`: 24 h, 0.2; the
    ``health_*`` settings). A cluster's link is its example run's page under ``web_base``
    (the provider's web base URL: :func:`cimedic.model.escape.web_base_of`).

    Raises ``ValueError`` for another period; SQLAlchemy errors propagate.
    """
    from cimedic.services.failures import list_clusters
    from cimedic.services.findings import findings_summary
    from cimedic.services.health import current_health
    from cimedic.services.notify import load_actions
    from cimedic.services.stats import pipeline_stats
    from cimedic.store.anomalies import load_anomalies

    p = Period(period)
    th = thresholds or HealthThresholds()
    until = now or datetime.now(UTC)
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    length, bucket = PERIODS[p]
    since, prev_since = until - length, until - 2 * length
    kw = {"repository": repo, "deployment_patterns": deployment_patterns, "findings": False}
    cur = _figures(pipeline_stats(store, since=since, now=until, **kw), since, until)  # type: ignore[arg-type]
    prev = _figures(pipeline_stats(store, since=prev_since, now=since, **kw), prev_since, since)  # type: ignore[arg-type]
    clusters = list_clusters(store, since=since, now=until, repository=repo, top=1000).clusters
    lines = tuple(
        ClusterLine(
            id=c.id,
            title=c.title,
            category=c.category,
            occurrences=c.occurrences,
            new=c.new,
            url=run_link(web_base, c.examples[0].repository, c.examples[0].run_id) if c.examples else None,
        )
        for c in clusters[:TOP_CLUSTERS]
    )
    anomalies = tuple(
        AnomalyLine(
            kind=a.kind.value, scope=a.scope.label, summary=a.summary, onset_at=a.onset_at, ongoing=a.ongoing
        )
        for a in load_anomalies(store, repository=repo, since=since)
        if a.onset_at < until
    )
    decisions = load_actions(store, since=since, repository=repo)
    actions = tuple(
        ActionLine(
            at=d.decided_at,
            kind=d.action,
            target=f"{d.repository} run {d.run_id}#{d.run_attempt}",
            status=d.verdict.value,
        )
        for d in decisions or []
        if d.decided_at < until
    )
    return Report(
        period=p,
        repository=repo,
        generated_at=until,
        current=cur,
        previous=prev,
        clusters=lines,
        new_clusters=sum(1 for c in clusters if c.new),
        recurring_clusters=sum(1 for c in clusters if not c.new),
        flaky=tuple(_flaky_changes(store, repo, since, until)),
        anomalies=anomalies,
        findings=findings_summary(store, repository=repo, since=since, now=until),
        actions=actions,
        actions_available=decisions is not None,
        health=tuple(
            current_health(
                store, until, repo, window_seconds=th.window_seconds, degraded_rate=th.degraded_rate
            )
        ),
        series=tuple(_series(store, repo, since, until, bucket)),
        bucket_seconds=bucket.total_seconds(),
    )


# ------------------------------------------------------------------------------ rendering
def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def _secs(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}s" if x < 60 else f"{x / 60:.1f} min"


def _chg(a: float | None, b: float | None) -> str:
    c = relative_change(a, b)
    return "-" if c is None else f"{c * 100:+.1f}%"


def _rows(r: Report) -> list[tuple[str, str, str, str]]:
    c, p = r.current, r.previous
    return [
        ("runs", str(c.runs), str(p.runs), _chg(c.runs, p.runs)),
        ("succeeded", str(c.succeeded), str(p.succeeded), _chg(c.succeeded, p.succeeded)),
        ("failed", str(c.failed), str(p.failed), _chg(c.failed, p.failed)),
        ("success rate", _pct(c.success_rate), _pct(p.success_rate), ""),
        ("failure rate", _pct(c.failure_rate), _pct(p.failure_rate), ""),
        (
            "mean run duration",
            _secs(c.duration_mean_seconds),
            _secs(p.duration_mean_seconds),
            _chg(c.duration_mean_seconds, p.duration_mean_seconds),
        ),
        (
            "p95 run duration",
            _secs(c.duration_p95_seconds),
            _secs(p.duration_p95_seconds),
            _chg(c.duration_p95_seconds, p.duration_p95_seconds),
        ),
        (
            "median queue time",
            _secs(c.queue_p50_seconds),
            _secs(p.queue_p50_seconds),
            _chg(c.queue_p50_seconds, p.queue_p50_seconds),
        ),
        (
            "p95 queue time",
            _secs(c.queue_p95_seconds),
            _secs(p.queue_p95_seconds),
            _chg(c.queue_p95_seconds, p.queue_p95_seconds),
        ),
        (
            "mean step time",
            _secs(c.step_mean_seconds),
            _secs(p.step_mean_seconds),
            _chg(c.step_mean_seconds, p.step_mean_seconds),
        ),
        ("re-runs", str(c.reruns), str(p.reruns), ""),
    ]


def _when(d: datetime) -> str:
    return d.strftime("%Y-%m-%d %H:%M UTC")


def _findings_lines(r: Report, e: Callable[[str], str]) -> list[str]:
    """One line per findings section (as ``cimedic stats`` shows it), then the problems;
    ``e`` escapes text for the output format."""
    f = r.findings
    if f is None:
        return []
    out = [f"- {e(s.title)}: {e(s.text or 'none')} ({e(s.command)})" for s in f.sections]
    return out + [f"- problem: {e(p)}" for p in f.problems]


def render_markdown(r: Report) -> str:
    """The report as Markdown (sections: Summary, Failure clusters, Flaky tests, Anomalies,
    Findings (every analyzer, plug-ins included), Actions, Health, and Narrative when one was
    kept). Stored names and texts are escaped (:func:`cimedic.model.escape.markdown`); a
    cluster's link is printed only when it is an ``http(s)`` URL."""
    m = markdown
    scope = f" of {m(r.repository)}" if r.repository else ""
    out = [
        f"# cimedic {r.period.value} report{scope}",
        "",
        f"{_when(r.current.since)} .. {_when(r.current.until)}, compared with the {r.period.value} period before.",
        "",
    ]
    if r.narrative:
        out += ["## Narrative", "", r.narrative, ""]
    out += ["## Summary", "", "| figure | this period | previous | change |", "|---|---:|---:|---:|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _rows(r)]
    out += ["", "## Failure clusters", ""]
    if r.clusters:
        out += [f"{r.new_clusters} new, {r.recurring_clusters} recurring.", ""]
        for c in r.clusters:
            url = http_link(c.url)
            link = f" ([run]({url}))" if url else ""
            out.append(
                f"- {'**new** ' if c.new else ''}{m(c.title)} ({m(c.category)}): {c.occurrences} occurrences{link}"
            )
    else:
        out.append("No failure cluster in the period.")
    out += ["", "## Flaky tests", ""]
    out += [f"- {f.status}: {m(f.subject)} ({m(f.kind)}, {m(f.repository)})" for f in r.flaky] or [
        "No flaky verdict changed."
    ]
    out += ["", "## Anomalies", ""]
    out += [
        f"- {m(a.kind)} {m(a.scope)}: {m(a.summary)}{' (ongoing)' if a.ongoing else ''}" for a in r.anomalies
    ] or ["No anomaly."]
    out += ["", "## Findings", ""]
    # analyzers' titles and counts are written by code, not read from logs: printed as given
    out += _findings_lines(r, lambda text: text) or ["No findings summary."]
    out += ["", "## Actions", ""]
    if not r.actions:
        out.append(
            "No actions." if r.actions_available else "No actions (the action audit is not available)."
        )
    out += [f"- {a.at:%Y-%m-%d %H:%M} {m(a.kind)} {m(a.target)}: {m(a.status)}" for a in r.actions if a.at]
    out += ["", "## Health", ""]
    out += [f"- {m(h.repository)}: **{h.state.value}** ({m(h.reason)})" for h in r.health] or [
        "No default-branch run in the health window."
    ]
    return "\n".join(out) + "\n"


def _chart(r: Report) -> str:
    """Runs per bucket (stacked success / red / other) and mean duration, as an inline PNG."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = list(range(len(r.series)))
    ok = [p.succeeded for p in r.series]
    red = [p.failed for p in r.series]
    other = [p.other for p in r.series]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    ax1.bar(xs, ok, color="#2da44e", label="success")
    ax1.bar(xs, red, bottom=ok, color="#cf222e", label="failure")
    ax1.bar(xs, other, bottom=[a + b for a, b in zip(ok, red, strict=True)], color="#8c959f", label="other")
    ax1.set_ylabel("runs")
    ax1.legend(loc="upper left", fontsize=8)
    ax2.plot(xs, [p.duration_mean_seconds or float("nan") for p in r.series], marker="o", color="#0969da")
    ax2.set_ylabel("mean duration (s)")
    fmt = "%H:%M" if r.period is Period.DAILY else "%m-%d"
    step = max(1, len(xs) // 8)
    ax2.set_xticks(xs[::step], [p.start.strftime(fmt) for p in r.series][::step])
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="runs and mean duration per bucket" src="data:image/png;base64,{data}">'


def render_html(r: Report) -> str:
    """The report as one self-contained HTML page: the Markdown sections as HTML tables and
    lists, plus a chart (matplotlib Agg, inline base64 PNG). Stored names and texts are
    escaped (:func:`cimedic.model.escape.html`); a cluster's link is printed only when it is an
    ``http(s)`` URL."""
    e = html_text
    scope = f" of {e(r.repository)}" if r.repository else ""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>cimedic {r.period.value} report</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px}td.n{text-align:right}</style></head><body>",
        f"<h1>cimedic {r.period.value} report{scope}</h1>",
        f"<p>{_when(r.current.since)} .. {_when(r.current.until)}</p>",
    ]
    if r.narrative:
        parts.append(f"<h2>Narrative</h2><p>{e(r.narrative)}</p>")
    parts.append(
        "<h2>Summary</h2><table><tr><th>figure</th><th>this period</th><th>previous</th><th>change</th></tr>"
    )
    parts += [
        f"<tr><td>{e(a)}</td><td class=n>{b}</td><td class=n>{c}</td><td class=n>{d}</td></tr>"
        for a, b, c, d in _rows(r)
    ]
    parts.append("</table>")
    parts.append(_chart(r))

    def ul(title: str, items: list[str], empty: str) -> None:
        parts.append(f"<h2>{title}</h2>")
        parts.append(
            "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>" if items else f"<p>{empty}</p>"
        )

    ul(
        "Failure clusters",
        [
            f"{'<b>new</b> ' if c.new else ''}{e(c.title)} ({e(c.category)}): {c.occurrences} occurrences"
            + (f" (<a href='{e(url)}'>run</a>)" if (url := http_link(c.url)) else "")
            for c in r.clusters
        ],
        "No failure cluster in the period.",
    )
    ul(
        "Flaky tests",
        [f"{f.status}: {e(f.subject)} ({f.kind})" for f in r.flaky],
        "No flaky verdict changed.",
    )
    ul("Anomalies", [f"{e(a.kind)} {e(a.scope)}: {e(a.summary)}" for a in r.anomalies], "No anomaly.")
    ul("Findings", [line.removeprefix("- ") for line in _findings_lines(r, e)], "No findings summary.")
    ul("Actions", [f"{e(a.kind)} {e(a.target)}: {e(a.status)}" for a in r.actions], "No actions.")
    ul(
        "Health",
        [f"{e(h.repository)}: <b>{h.state.value}</b> ({e(h.reason)})" for h in r.health],
        "No default-branch run in the health window.",
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
