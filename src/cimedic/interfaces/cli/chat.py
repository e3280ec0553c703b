"""``cimedic chat``: ask questions about the stored CI history; the agent answers from its tools
(see ``docs/agent.md``). Chat is the one feature that needs a model (``llm_base_url``)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import typer

from cimedic.interfaces.cli.common import CREATE_HELP, DB_HELP, ListFormat, context, fail

if TYPE_CHECKING:
    from cimedic.agent.chat import ChatAnswer

NO_LLM = (
    "chat needs an LLM: set llm_base_url (CIMEDIC_LLM_BASE_URL, e.g. http://127.0.0.1:11434/v1 "
    "for Ollama) and llm_model"
)
EXIT_WORDS = {"/exit", "/quit", "exit", "quit"}


def _render(answer: ChatAnswer, output: ListFormat, show_steps: bool) -> None:
    if output is ListFormat.json:
        typer.echo(json.dumps(answer.to_json(), indent=2))
        return
    if show_steps:
        for s in answer.steps:
            first = s.output.splitlines()[0] if s.output else ""
            args = json.dumps(s.arguments, sort_keys=True)
            typer.echo(f"  step {s.step}: {s.tool} {args} [{s.status}] {first[:120]}")
    typer.echo(answer.answer)
    if answer.citations:
        typer.echo(f"Sources: {', '.join(answer.citations)}")
    if answer.unverified:
        typer.echo(f"(not found in tool results: {', '.join(answer.unverified)})")
    typer.echo(
        f"({answer.calls} model call(s), {len(answer.steps)} tool step(s), "
        f"{answer.prompt_tokens + answer.completion_tokens} tokens, {answer.seconds:.1f} s; "
        f"conversation {answer.conversation_id})",
        err=True,
    )


def chat(
    conversation: str | None = typer.Option(
        None, "--conversation", "-c", help="Continue this conversation (its id)."
    ),
    new: bool = typer.Option(False, "--new", help="Start a new conversation (default: continue the latest)."),
    message: str | None = typer.Option(
        None, "--message", "-m", help="Ask one question and exit (non-interactive)."
    ),
    show_steps: bool = typer.Option(False, "--show-steps", help="Print the tool steps before each answer."),
    output: ListFormat = typer.Option(
        ListFormat.text, "--format", "-f", help="Output format (text or json)."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """Chat with cimedic about the CI history: it answers from tools over the store (runs,
    failures, diagnoses, flaky tests, stats, culprits, quarantine) and cites runs.

    Without --message: a REPL (one question per line; /new starts a new conversation, /exit
    or end of input quits). Exit status 0; 2 when no LLM is configured or reachable, the
    conversation is unknown, or the settings or store are unusable.
    """
    from cimedic.agent.chat import chat_turn
    from cimedic.agent.llm.base import LLMUnavailable
    from cimedic.services.conversations import get_conversation, latest_conversation_id

    if new and conversation:
        fail("--new and --conversation exclude each other")
    ctx = context(db, create=create)
    llm = ctx.llm
    if llm is None:
        fail(NO_LLM)
    st = ctx.store
    conv_id: str | None = conversation
    if conversation is not None and get_conversation(st, conversation) is None:
        fail(f"no conversation {conversation!r}")
    if conv_id is None and not new:
        conv_id = latest_conversation_id(st)
    tools = ctx.tools

    def ask(text: str) -> None:
        nonlocal conv_id
        try:
            answer = chat_turn(st, llm, conv_id, text, ctx.budgets, tools, approve=ctx.approve_tool)
        except LLMUnavailable as exc:
            fail(str(exc))
        conv_id = answer.conversation_id
        _render(answer, output, show_steps)

    if message is not None:
        ask(message)
        return
    interactive = sys.stdin.isatty()
    console = None
    if interactive:
        from rich.console import Console

        console = Console()
        console.print(f"[bold]cimedic chat[/bold] ({conv_id or 'new conversation'}); /new, /exit")
    while True:
        try:
            line = console.input("[bold cyan]you>[/bold cyan] ") if console else sys.stdin.readline()
        except (EOFError, KeyboardInterrupt):
            break
        if not console and not line:
            break
        text = line.strip()
        if not text:
            continue
        if text in EXIT_WORDS:
            break
        if text == "/new":
            conv_id = None
            continue
        ask(text)
