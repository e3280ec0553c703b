"""Rendering shared by commands: a Diagnosis as JSON (the documented contract), Markdown or rich
text; explanations as text, JSON or Markdown."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cimedic.model import Diagnosis

if TYPE_CHECKING:
    from cimedic.model.explanations import Explanation


def contract(d: Diagnosis) -> dict[str, Any]:
    """The JSON object of ``docs/analyze-json.md`` (exactly these keys)."""
    return {
        "log": {"path": d.log.path, "format": d.log.format.value, "lines": d.log.lines, "bytes": d.log.bytes},
        "failed_step": (
            {
                "name": d.failed_step.name,
                "start_line": d.failed_step.start_line,
                "end_line": d.failed_step.end_line,
            }
            if d.failed_step
            else None
        ),
        "error_lines": [{"line": e.line, "text": e.text, "score": e.score} for e in d.error_lines],
        "excerpt": {"start_line": d.excerpt.start_line, "end_line": d.excerpt.end_line}
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


def to_markdown(d: Diagnosis) -> str:
    """A Markdown report (for issues, PR comments, chat)."""
    out = [f"## cimedic diagnosis: `{d.log.path}`", ""]
    out.append(f"**{d.summary}**")
    out.append("")
    out.append(
        f"- Category: `{d.category.value}` | transient: **{'yes' if d.transient else 'no'}** | confidence {d.confidence:.2f}"
    )
    if d.failed_step:
        out.append(
            f"- Failed step: `{d.failed_step.name}` (lines {d.failed_step.start_line}-{d.failed_step.end_line})"
        )
    if d.cause:
        out.append(f"- Cause: **{d.cause.name}** (`{d.cause.id}`)")
        if d.cause.fix:
            out.append(f"- Fix: {d.cause.fix}")
    if d.signature:
        out.append(f"- Signature: `{d.signature}`")
    out.append(f"- Log: {d.log.format.value}, {d.log.lines} lines, {d.log.bytes} bytes")
    if d.excerpt:
        out += ["", f"### Excerpt (lines {d.excerpt.start_line}-{d.excerpt.end_line})", "", "```text"]
        out += [f"{n:>6} | {t}" for n, t in d.excerpt_lines]
        out.append("```")
    if d.error_lines:
        out += ["", "### Top error lines", ""]
        out += [f"- line {e.line} (score {e.score:.1f}): `{e.text[:200]}`" for e in d.error_lines[:10]]
    return "\n".join(out) + "\n"


def print_text(d: Diagnosis) -> None:
    """A readable terminal report with rich (error lines highlighted in the excerpt)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=False)
    if d.excerpt is None:
        console.print(
            f"[green]No failure found[/green] in {escape(d.log.path)} ({d.log.format.value}, {d.log.lines} lines)."
        )
        return
    head = Table.grid(padding=(0, 2))
    head.add_row(
        "[bold]Log[/bold]",
        escape(f"{d.log.path} ({d.log.format.value}, {d.log.lines} lines, {d.log.bytes} bytes)"),
    )
    if d.failed_step:
        head.add_row(
            "[bold]Failed step[/bold]",
            escape(f"{d.failed_step.name}  (lines {d.failed_step.start_line}-{d.failed_step.end_line})"),
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
    console.print(f"[bold]Excerpt[/bold] (lines {d.excerpt.start_line}-{d.excerpt.end_line}):")
    for n, text in d.excerpt_lines:
        style = "bold red" if n in errors else "dim"
        console.print(f"[{style}]{n:>7} | {escape(text)}[/{style}]")
    others = [e for e in d.error_lines if not (d.excerpt.start_line <= e.line <= d.excerpt.end_line)][:5]
    if others:
        console.print("[bold]Other error lines:[/bold]")
        for e in others:
            console.print(f"  [red]{e.line:>7}[/red] {escape(e.text[:160])}")


def print_explanations(results: Sequence[Explanation], output: str) -> None:
    """Explanations in ``output`` (text, json, markdown) on stdout; one JSON object for one."""
    if output == "json":
        payload = [r.model_dump(mode="json") for r in results]
        sys.stdout.write(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2) + "\n")
        return
    for r in results:
        sys.stdout.write(_markdown(r) if output == "markdown" else _text(r))


def _origin(r: Explanation) -> str:
    if r.source == "deterministic":
        return f"deterministic ({r.fallback_reason})"
    cost = (
        "" if r.source == "cache" else f", {r.prompt_tokens}+{r.completion_tokens} tokens, {r.seconds:.1f} s"
    )
    return f"{r.source}: {r.model or '?'}{cost}"


def _text(r: Explanation) -> str:
    head = f"Job {r.job_id}" if r.job_id is not None else "Explanation"
    lines = [
        f"{head} [{_origin(r)}]",
        f"  Root cause: {r.root_cause}",
        f"  Evidence lines: {', '.join(map(str, r.evidence_lines)) or '-'}",
        f"  Fix: {r.fix or '-'}",
        f"  Confidence: {r.confidence:.2f}",
    ]
    if r.redactions:
        lines.append(f"  Secrets redacted before the model: {r.redactions}")
    return "\n".join(lines) + "\n\n"


def _markdown(r: Explanation) -> str:
    head = f"Job {r.job_id}" if r.job_id is not None else "Explanation"
    evidence = ", ".join(f"L{n}" for n in r.evidence_lines) or "-"
    return (
        f"### {head}\n\n*{_origin(r)}*\n\n**Root cause:** {r.root_cause}\n\n"
        f"**Evidence:** {evidence}\n\n**Fix:** {r.fix or '-'}\n\n**Confidence:** {r.confidence:.2f}\n\n"
    )
