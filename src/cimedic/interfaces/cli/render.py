"""Rendering shared by commands: a Diagnosis as JSON (the documented contract), Markdown or rich
text; explanations as text, JSON or Markdown."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cimedic.model import Diagnosis

if TYPE_CHECKING:
    from rich.console import Console

    from cimedic.model.explanations import Explanation
    from cimedic.model.findings import FindingsSummary
    from cimedic.model.metrics import FailingItem, GroupStats, PipelineStats


def contract(d: Diagnosis) -> dict[str, Any]:
    """The JSON object of ``docs/analyze-json.md`` (exactly these keys)."""
    return {
        "log": {
            "path": d.log.path,
            "format": d.log.format.value,
            "lines": d.log.lines,
            "bytes": d.log.bytes,
            "lf_lines": d.log.lf_lines,
        },
        "failed_step": (
            {
                "name": d.failed_step.name,
                "start_line": d.failed_step.start_line,
                "end_line": d.failed_step.end_line,
                "lf_start_line": d.failed_step.lf_start_line,
                "lf_end_line": d.failed_step.lf_end_line,
            }
            if d.failed_step
            else None
        ),
        "error_lines": [
            {"line": e.line, "lf_line": e.lf_line, "text": e.text, "score": e.score} for e in d.error_lines
        ],
        "excerpt": {
            "start_line": d.excerpt.start_line,
            "end_line": d.excerpt.end_line,
            "lf_start_line": d.excerpt.lf_start_line,
            "lf_end_line": d.excerpt.lf_end_line,
        }
        if d.excerpt
        else None,
        "category": d.category.value,
        "transient": d.transient,
        "confidence": d.confidence,
        "signature": d.signature,
        "cause": {"id": d.cause.id, "name": d.cause.name, "fix": d.cause.fix} if d.cause else None,
        "summary": d.summary,
        "elapsed_ms": d.elapsed_ms,
    }


def to_json(d: Diagnosis) -> str:
    """One-line JSON of :func:`contract`."""
    return json.dumps(contract(d), ensure_ascii=False)


def _lf(lf_line: int | None, line: int) -> int:
    """The LF line number people see (editors, CI log pages); the contract number when the
    diagnosis has none (stored before LF numbers existed)."""
    return line if lf_line is None else lf_line


def _excerpt_rows(d: Diagnosis) -> list[tuple[int, int, str]]:
    """``(contract line, LF line, text)`` of the excerpt lines."""
    lf = d.excerpt_lf_lines
    if len(lf) != len(d.excerpt_lines):
        lf = (None,) * len(d.excerpt_lines)
    return [(n, _lf(m, n), t) for (n, t), m in zip(d.excerpt_lines, lf, strict=True)]


def to_markdown(d: Diagnosis) -> str:
    """A Markdown report (for issues, PR comments, chat). Line numbers are LF lines (as an
    editor or the CI's log page numbers them), not the contract numbers of the JSON."""
    out = [f"## cimedic diagnosis: `{d.log.path}`", ""]
    out.append(f"**{d.summary}**")
    out.append("")
    out.append(
        f"- Category: `{d.category.value}` | transient: **{'yes' if d.transient else 'no'}** | confidence {d.confidence:.2f}"
    )
    if d.failed_step:
        fs = d.failed_step
        out.append(
            f"- Failed step: `{fs.name}` (lines {_lf(fs.lf_start_line, fs.start_line)}-{_lf(fs.lf_end_line, fs.end_line)})"
        )
    if d.cause:
        out.append(f"- Cause: **{d.cause.name}** (`{d.cause.id}`)")
        if d.cause.fix:
            out.append(f"- Fix: {d.cause.fix}")
    if d.signature:
        out.append(f"- Signature: `{d.signature}`")
    out.append(f"- Log: {d.log.format.value}, {_lf(d.log.lf_lines, d.log.lines)} lines, {d.log.bytes} bytes")
    if d.excerpt:
        x = d.excerpt
        span = f"{_lf(x.lf_start_line, x.start_line)}-{_lf(x.lf_end_line, x.end_line)}"
        out += ["", f"### Excerpt (lines {span})", "", "```text"]
        out += [f"{m:>6} | {t}" for _, m, t in _excerpt_rows(d)]
        out.append("```")
    if d.error_lines:
        out += ["", "### Top error lines", ""]
        out += [
            f"- line {_lf(e.lf_line, e.line)} (score {e.score:.1f}): `{e.text[:200]}`"
            for e in d.error_lines[:10]
        ]
    return "\n".join(out) + "\n"


def print_text(d: Diagnosis) -> None:
    """A readable terminal report with rich (error lines highlighted in the excerpt); line
    numbers are LF lines, as in :func:`to_markdown`."""
    from rich.console import Console
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=False)
    if d.excerpt is None:
        console.print(
            f"[green]No failure found[/green] in {escape(d.log.path)} ({d.log.format.value}, {_lf(d.log.lf_lines, d.log.lines)} lines)."
        )
        return
    head = Table.grid(padding=(0, 2))
    head.add_row(
        "[bold]Log[/bold]",
        escape(
            f"{d.log.path} ({d.log.format.value}, {_lf(d.log.lf_lines, d.log.lines)} lines, {d.log.bytes} bytes)"
        ),
    )
    if d.failed_step:
        fs = d.failed_step
        head.add_row(
            "[bold]Failed step[/bold]",
            escape(
                f"{fs.name}  (lines {_lf(fs.lf_start_line, fs.start_line)}-{_lf(fs.lf_end_line, fs.end_line)})"
            ),
        )
    head.add_row("[bold]Category[/bold]", f"[magenta]{d.category.value}[/magenta]")
    head.add_row(
        "[bold]Transient[/bold]",
        "[yellow]yes - a re-run is likely to pass[/yellow]"
        if d.transient
        else "no - a re-run will not fix it",
    )
    if d.cause:
        head.add_row("[bold]Cause[/bold]", escape(f"{d.cause.name} [{d.cause.id}]"))
        if d.cause.fix:
            head.add_row("[bold]Fix[/bold]", escape(d.cause.fix))
    head.add_row("[bold]Signature[/bold]", d.signature)
    head.add_row("[bold]Confidence[/bold]", f"{d.confidence:.2f}")
    console.print(
        Panel(head, title="[bold red]cimedic diagnosis[/bold red]", subtitle=escape(d.summary[:100]))
    )
    errors = {e.line for e in d.error_lines}
    x = d.excerpt
    span = f"{_lf(x.lf_start_line, x.start_line)}-{_lf(x.lf_end_line, x.end_line)}"
    console.print(f"[bold]Excerpt[/bold] (lines {span}):")
    for n, m, text in _excerpt_rows(d):
        style = "bold red" if n in errors else "dim"
        console.print(f"[{style}]{m:>7} | {escape(text)}[/{style}]")
    others = [e for e in d.error_lines if not (x.start_line <= e.line <= x.end_line)][:5]
    if others:
        console.print("[bold]Other error lines:[/bold]")
        for e in others:
            console.print(f"  [red]{_lf(e.lf_line, e.line):>7}[/red] {escape(e.text[:160])}")


def print_explanations(
    results: Sequence[Explanation], output: str, links: Mapping[int, Mapping[int, str]] | None = None
) -> None:
    """Explanations in ``output`` (text, json, markdown) on stdout; one JSON object for one.
    ``links``: store job id -> evidence line -> its log page link
    (:func:`cimedic.services.explanations.log_line_links`); JSON gives each explanation
    ``evidence_links`` (``[{"line", "url"}]``, ``url`` null when unknown), text and Markdown
    print the link after each line."""
    links = links or {}

    def of(r: Explanation) -> Mapping[int, str]:
        return links.get(r.job_id, {}) if r.job_id is not None else {}

    if output == "json":
        payload = [
            {
                **r.model_dump(mode="json"),
                "evidence_links": [{"line": n, "url": of(r).get(n)} for n in r.evidence_lines],
            }
            for r in results
        ]
        sys.stdout.write(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2) + "\n")
        return
    for r in results:
        sys.stdout.write(_markdown(r, of(r)) if output == "markdown" else _text(r, of(r)))


def _origin(r: Explanation) -> str:
    if r.source == "deterministic":
        return f"deterministic ({r.fallback_reason})"
    cost = (
        "" if r.source == "cache" else f", {r.prompt_tokens}+{r.completion_tokens} tokens, {r.seconds:.1f} s"
    )
    return f"{r.source}: {r.model or '?'}{cost}"


def _text(r: Explanation, links: Mapping[int, str]) -> str:
    head = f"Job {r.job_id}" if r.job_id is not None else "Explanation"
    lines = [
        f"{head} [{_origin(r)}]",
        f"  Root cause: {r.root_cause}",
        f"  Evidence lines: {', '.join(map(str, r.evidence_lines)) or '-'}",
        *(f"    line {n}: {links[n]}" for n in r.evidence_lines if n in links),
        f"  Fix: {r.fix or '-'}",
        f"  Confidence: {r.confidence:.2f}",
    ]
    if r.redactions:
        lines.append(f"  Secrets redacted before the model: {r.redactions}")
    return "\n".join(lines) + "\n\n"


def _markdown(r: Explanation, links: Mapping[int, str]) -> str:
    head = f"Job {r.job_id}" if r.job_id is not None else "Explanation"
    evidence = ", ".join(f"[L{n}]({links[n]})" if n in links else f"L{n}" for n in r.evidence_lines) or "-"
    return (
        f"### {head}\n\n*{_origin(r)}*\n\n**Root cause:** {r.root_cause}\n\n"
        f"**Evidence:** {evidence}\n\n**Fix:** {r.fix or '-'}\n\n**Confidence:** {r.confidence:.2f}\n\n"
    )


# ------------------------------------------------------------------ pipeline statistics (cimedic stats, demo)


def seconds_text(value: float | None) -> str:
    """A duration for people: ``-`` when unknown, ``42.0s``, ``3m 07s``, ``2h 05m``, ``3d 04h 10m``."""
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f}s"
    s = round(value)
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h {s % 3600 // 60:02d}m"


def rate_text(value: float | None) -> str:
    """A fraction as a percentage with one decimal, ``-`` when unknown."""
    return "-" if value is None else f"{value * 100:.1f}%"


def _when(value: object) -> str:
    from datetime import datetime

    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "the beginning"


def _name(workflow: str | None, job: str, step: str | None = None) -> str:
    parts = [workflow or "(no workflow)", job] + ([step] if step else [])
    return " / ".join(parts)


def print_stats(s: PipelineStats, location: str) -> None:
    """The text report of ``cimedic stats`` (rich tables on stdout)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    filters = [f"{k}={v}" for k, v in s.filters.model_dump().items() if v]
    scope = f"{_when(s.since)} .. {_when(s.until)}" + (f" ({', '.join(filters)})" if filters else "")
    if s.is_empty:
        console.print(f"No runs in the window {escape(scope)} of {escape(location)}.")
        return
    console.print(f"[bold]Pipeline statistics[/bold] {escape(scope)}")

    r, rr = s.runs, s.reruns
    t = Table("", "count", "rate", title="Runs", title_justify="left")
    t.add_row("runs (latest attempt)", f"{r.total:,}", "")
    t.add_row("completed", f"{r.completed:,}", "")
    t.add_row("success", f"{r.succeeded:,}", rate_text(r.success_rate))
    t.add_row("failure", f"{r.failed:,}", rate_text(r.failure_rate))
    t.add_row("cancelled", f"{r.cancelled:,}", rate_text(r.cancelled_rate))
    t.add_row("re-run (attempt > 1)", f"{rr.reruns:,}", rate_text(rr.rerun_rate))
    t.add_row(
        "re-run, then green",
        f"{rr.rerun_succeeded:,} of {rr.rerun_completed:,}",
        rate_text(rr.rerun_success_rate),
    )
    t.add_row("jobs (every attempt)", f"{r.jobs:,}", "")
    console.print(t)

    d, q, m = s.duration, s.queue, s.mttr
    t = Table(title="Durations", title_justify="left")
    t.add_column("", no_wrap=True)
    for head in ("p50", "p90", "p95", "mean", "count"):
        t.add_column(head, justify="right")
    t.add_row(
        "run duration",
        seconds_text(d.p50_seconds),
        seconds_text(d.p90_seconds),
        seconds_text(d.p95_seconds),
        seconds_text(d.mean_seconds),
        f"{d.count:,} runs",
    )
    t.add_row(
        "job queue time",
        seconds_text(q.p50_seconds),
        "",
        seconds_text(q.p95_seconds),
        "",
        f"{q.count:,} jobs",
    )
    t.add_row("one step", "", "", "", seconds_text(s.steps.mean_seconds), f"{s.steps.executions:,} steps")
    console.print(t)
    t = Table(title="MTTR, default branch", title_justify="left")
    for head in ("median", "mean", "incidents", "open"):
        t.add_column(head, justify="right")
    t.add_row(
        seconds_text(m.median_seconds),
        seconds_text(m.mean_seconds),
        f"{m.incidents:,}",
        f"{m.open_incidents:,}",
    )
    console.print(t)

    if s.groups:
        _print_groups(console, s.groups, s.by.value if s.by else "")

    if s.steps.slowest:
        t = Table("step", "mean", "max", "count", title="Slowest steps", title_justify="left")
        for st in s.steps.slowest:
            t.add_row(
                escape(_name(st.workflow, st.job, st.step)),
                seconds_text(st.mean_seconds),
                seconds_text(st.max_seconds),
                f"{st.count:,}",
            )
        console.print(t)
    for title, items in (("Most failing jobs", s.failing_jobs), ("Most failing steps", s.failing_steps)):
        if items:
            _print_failing(console, title, items)

    if s.categories:
        t = Table("category", "jobs", "share", title="Failure categories", title_justify="left")
        for c in s.categories:
            t.add_row(c.category, f"{c.count:,}", rate_text(c.share))
        console.print(t)

    if s.dora is not None:
        k = s.dora
        t = Table(
            title=f"DORA metrics ({escape(', '.join(k.workflows))})", title_justify="left", show_header=False
        )
        freq = (
            "-"
            if k.deployments_per_day is None
            else f"{k.deployments_per_day:.2f}/day, {k.deployments_per_week or 0:.1f}/week"
        )
        t.add_row("deployment frequency", freq, f"{k.successful_deployments} successful of {k.deployments}")
        t.add_row(
            "lead time for changes",
            f"median {seconds_text(k.lead_time_median_seconds)}",
            f"p90 {seconds_text(k.lead_time_p90_seconds)}",
        )
        t.add_row("change failure rate", rate_text(k.change_failure_rate), f"{k.failed_deployments} failed")
        t.add_row(
            "time to restore service",
            f"median {seconds_text(k.time_to_restore_median_seconds)}",
            f"{k.restores} restored, {k.unrestored} not yet",
        )
        console.print(t)

    if s.findings is not None:
        _print_findings(console, s.findings)


def _print_groups(console: Console, groups: tuple[GroupStats, ...], by: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    t = Table(by, "count", "failure", "p50", "p95", "mean", title=f"By {by}", title_justify="left")
    for g in groups:
        t.add_row(
            escape(g.key),
            f"{g.count:,}",
            rate_text(g.failure_rate),
            seconds_text(g.p50_seconds),
            seconds_text(g.p95_seconds),
            seconds_text(g.mean_seconds),
        )
    console.print(t)


def _print_failing(console: Console, title: str, items: tuple[FailingItem, ...]) -> None:
    from rich.markup import escape
    from rich.table import Table

    t = Table("name", "failures", "of", "rate", title=title, title_justify="left")
    for i in items:
        t.add_row(
            escape(_name(i.workflow, i.job, i.step)), f"{i.failures:,}", f"{i.count:,}", rate_text(i.rate)
        )
    console.print(t)


def _print_findings(console: Console, f: FindingsSummary) -> None:
    """The stored findings, one row per section (failure clusters, then each analyzer, plug-ins
    included) with the command that shows more, then the top lines and any problem."""
    from rich.markup import escape
    from rich.table import Table

    t = Table(title="Findings", title_justify="left", show_header=False)
    for section in f.sections:
        t.add_row(escape(section.title), escape(section.text or "none"), escape(section.command))
    console.print(t)
    for line in f.top:
        short = line.detail if len(line.detail) <= 60 else line.detail[:59] + "…"
        detail = f" [dim]({escape(short)})[/dim]" if short else ""
        console.print(f"  [bold]{escape(line.kind)}[/bold]: {escape(line.title)}{detail}")
    for problem in f.problems:
        console.print(f"  [yellow]problem[/yellow]: {escape(problem)}")
