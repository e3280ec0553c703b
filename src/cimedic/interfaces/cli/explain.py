"""``cimedic explain`` (LLM explanations of diagnosed failures) and ``cimedic usage`` (LLM
usage by feature and day); see ``docs/llm.md``."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from cimedic.interfaces.cli.common import CREATE_HELP, DB_HELP, ListFormat, context, fail, since_option

if TYPE_CHECKING:
    from cimedic.model.explanations import Explanation


class ExplainFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def explain(
    target: str = typer.Argument(
        ...,
        help="What to explain: a store job id (42), 'run:<provider run id>' (every failed job of the run) "
        "or 'job:<provider job id>' (a bare number that is no store job id is tried as a provider job id).",
    ),
    output: ExplainFormat = typer.Option(ExplainFormat.text, "--format", "-f", help="Output format."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Ask the model again even when an explanation is cached."
    ),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """Explain diagnosed failures with the configured LLM (redacted excerpt in, checked JSON out).

    Without an LLM (no llm_base_url) or when it is unreachable, prints the deterministic
    explanation built from the diagnosis and says why. For a job collected from GitHub each
    evidence line links to the job's log page at that line (.../job/JOB#step:N:L; the job
    page when no step matches), under the web host of github_api_url. Exit status 0; 2 when the target is
    malformed (a store job id outside 1..2^63-1, a provider id that is not 1 to 64 of
    A-Z a-z 0-9 . _ : -), unknown or has no diagnosis, or the settings or store are unusable.
    """
    from cimedic.agent.explain import ExplainError, explain_job
    from cimedic.services.explanations import log_line_links, resolve_jobs

    ctx = context(db, create=create)
    st = ctx.store
    try:
        try:
            job_ids = resolve_jobs(st, target)
        except ValueError as exc:
            fail(str(exc))
        if not job_ids:
            fail(f"no stored job matches {target!r}")
        llm = ctx.llm
        web_base = ctx.web_base
        results: list[Explanation] = []
        links: dict[int, dict[int, str]] = {}
        for job_id in job_ids:
            try:
                results.append(explain_job(st, job_id, llm, model=ctx.llm_model, use_cache=not no_cache))
            except ExplainError as exc:
                if len(job_ids) == 1:
                    fail(str(exc))
                sys.stderr.write(f"cimedic: warning: {exc}\n")
                continue
            links[job_id] = log_line_links(st, job_id, results[-1].evidence_lines, web_base)
    finally:
        st.close()
    from cimedic.interfaces.cli.render import print_explanations

    print_explanations(results, output.value, links)


def usage(
    since: str = typer.Option(
        "7d", "--since", help="Window start: 12h, 7d, 2w back from now, or an ISO date (UTC)."
    ),
    output: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """LLM usage by feature and UTC day: calls, cache hits, errors, prompt and completion tokens,
    seconds. Exit status 0; 2 when the options, the settings or the store are unusable."""
    from cimedic.agent.usage import usage_summary

    start = since_option(since)
    st = context(db, create=create).store
    try:
        summary = usage_summary(st, since=start)
    finally:
        st.close()
    if output is ListFormat.json:
        sys.stdout.write(summary.model_dump_json(indent=2) + "\n")
        return
    header = f"{'day':<10}  {'feature':<12} {'calls':>6} {'cached':>6} {'errors':>6} {'prompt':>8} {'output':>7} {'seconds':>8}"
    out = [header]
    for r in summary.rows:
        out.append(
            f"{r.day:<10}  {r.feature:<12} {r.calls:>6} {r.cached:>6} {r.errors:>6} "
            f"{r.prompt_tokens:>8} {r.completion_tokens:>7} {r.seconds:>8.1f}"
        )
    out.append(
        f"{'total':<10}  {'':<12} {summary.calls:>6} {summary.cached:>6} {summary.errors:>6} "
        f"{summary.prompt_tokens:>8} {summary.completion_tokens:>7} {summary.seconds:>8.1f}"
    )
    sys.stdout.write("\n".join(out) + "\n")
