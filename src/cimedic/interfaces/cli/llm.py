"""``cimedic llm check``: is the configured LLM server usable, and how (``docs/llm.md``).

Exit status: 0 when the server answers (and, with ``--probe``, structured output works); 1 when
no LLM is configured, the server is unreachable or the probe failed (the message says why);
2 for unusable settings.
"""

from __future__ import annotations

import json
import sys

import typer

from cimedic.interfaces.cli.common import ListFormat, context

app = typer.Typer(
    help="The LLM server: check that it answers and which protocols it supports.", no_args_is_help=True
)


@app.command("check")
def check(
    probe: bool = typer.Option(
        False,
        "--probe",
        help="Also make two tiny model calls: structured output (which protocol works) and a native tool call.",
    ),
    output: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
) -> None:
    """Check the LLM server of the settings (llm_base_url, llm_model): reachable, models served,
    and with --probe the structured-output protocol, native tool-call support and call latency.
    Prints the settings the agent uses with it (llm_context_tokens, llm_tool_calls)."""
    from cimedic.agent.llm.check import check_llm

    ctx = context()
    cfg = ctx.settings
    result = check_llm(ctx.llm, model=cfg.llm_model, probe=probe)
    if output is ListFormat.json:
        data = {
            "ok": result.ok,
            "configured": result.configured,
            "base_url": result.base_url,
            "model": result.model,
            "reachable": result.reachable,
            "models": list(result.models),
            "model_served": result.model_served,
            "protocol": result.protocol,
            "native_tools": result.native_tools,
            "seconds": result.seconds,
            "tokens": result.tokens,
            "context_tokens": cfg.llm_context_tokens,
            "tool_calls_setting": cfg.llm_tool_calls,
            "message": result.message,
            "problems": result.problems,
        }
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    else:
        mark = "ok" if result.ok else "NOT OK"
        typer.echo(f"LLM: {mark}: {result.message}")
        if result.configured:
            typer.echo(
                f"  model: {result.model} (context {cfg.llm_context_tokens} tokens, tool calls: {cfg.llm_tool_calls})"
            )
        if probe and result.reachable:
            native = {True: "yes", False: "no (the agent uses JSON)", None: "not tried"}[result.native_tools]
            typer.echo(f"  structured output: {result.protocol or 'failed'}; native tool calls: {native}")
            typer.echo(f"  probe: {result.seconds:.1f} s, {result.tokens} tokens")
        for problem in result.problems:
            typer.echo(f"  problem: {problem}", err=True)
    if not result.ok:
        raise typer.Exit(1)
