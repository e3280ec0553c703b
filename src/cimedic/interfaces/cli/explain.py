"""``cimedic explain`` (LLM explanations of diagnosed failures) and ``cimedic usage`` (LLM
usage by feature and day); see ``docs/llm.md``."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from cimedic.interfaces.cli.common import DB_HELP, ListFormat, fail, settings, since_option, store

if TYPE_CHECKING:
    from cimedic.agent.llm.base import LLMClient
    from cimedic.model.diagnosis import Diagnosis
    from cimedic.model.explanations import Explanation
    from cimedic.settings import Settings


class ExplainFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def make_llm(cfg: Settings) -> LLMClient | None:
    """The configured LLM client (:func:`cimedic.bootstrap.llm_client`); None without ``llm_base_url``. Tests replace this."""
    from cimedic.bootstrap import llm_client

    return llm_client(cfg)  # type: ignore[no-any-return]


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
) -> None:
    """Explain diagnosed failures with the configured LLM (redacted excerpt in, checked JSON out).

    Without an LLM (no llm_base_url) or when it is unreachable, prints the deterministic
    explanation built from the diagnosis and says why. Exit status 0; 2 when the target is
    unknown or has no diagnosis, or the settings or store are unusable.
    """
    from cimedic.agent.explain import ExplainError, explain_job
    from cimedic.store.llm import resolve_jobs

    cfg = settings()
    st = store(cfg, db)
    try:
        job_ids = resolve_jobs(st, target)
        if not job_ids:
            fail(f"no stored job matches {target!r}")
        llm = make_llm(cfg)
        results: list[Explanation] = []
        for job_id in job_ids:
            try:
                results.append(explain_job(st, job_id, llm, model=cfg.llm_model, use_cache=not no_cache))
            except ExplainError as exc:
                if len(job_ids) == 1:
                    fail(str(exc))
                sys.stderr.write(f"cimedic: warning: {exc}\n")
    finally:
        st.close()
    _print(results, output)


def analyze_explanation(diagnosis: Diagnosis) -> Explanation:
    """``cimedic analyze --explain``: explain a diagnosis of a local file with the configured
    LLM (no store, no cache); a one-line note on stderr when the answer is deterministic."""
    from cimedic.agent.explain import ExplainContext, explain_diagnosis

    cfg = settings()
    result = explain_diagnosis(diagnosis, None, ExplainContext(), make_llm(cfg), model=cfg.llm_model)
    if result.source == "deterministic":
        sys.stderr.write(f"cimedic: note: deterministic explanation ({result.fallback_reason})\n")
    return result


def print_explanation(result: Explanation, output: str) -> None:
    """Print one explanation in ``output`` (text, json, markdown)."""
    _print([result], ExplainFormat(output))


def _print(results: list[Explanation], output: ExplainFormat) -> None:
    if output is ExplainFormat.json:
        payload = [r.model_dump(mode="json") for r in results]
        sys.stdout.write(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2) + "\n")
        return
    for r in results:
        sys.stdout.write(_markdown(r) if output is ExplainFormat.markdown else _text(r))


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


def usage(
    since: str = typer.Option(
        "7d", "--since", help="Window start: 12h, 7d, 2w back from now, or an ISO date (UTC)."
    ),
    output: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """LLM usage by feature and UTC day: calls, cache hits, errors, prompt and completion tokens,
    seconds. Exit status 0; 2 when the options, the settings or the store are unusable."""
    from cimedic.agent.usage import usage_summary

    start = since_option(since)
    cfg = settings()
    st = store(cfg, db)
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
