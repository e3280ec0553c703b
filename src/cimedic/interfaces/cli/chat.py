"""``cimedic chat``: ask questions about the stored CI history; the agent answers from its tools
(see ``docs/agent.md``). Chat is the one feature that needs a model (``llm_base_url``)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import typer

from cimedic.interfaces.cli.common import DB_HELP, ListFormat, fail

if TYPE_CHECKING:
    from collections.abc import Callable

    from cimedic.agent.chat import ChatAnswer
    from cimedic.agent.llm.base import LLMClient
    from cimedic.agent.loop import Budgets
    from cimedic.agent.tools import ToolRegistry
    from cimedic.settings import Settings
    from cimedic.store.repository import Store

NO_LLM = (
    "chat needs an LLM: set llm_base_url (CIMEDIC_LLM_BASE_URL, e.g. http://127.0.0.1:11434/v1 "
    "for Ollama) and llm_model"
)
EXIT_WORDS = {"/exit", "/quit", "exit", "quit"}


def make_llm(cfg: Settings) -> LLMClient | None:
    """The configured LLM client (:func:`cimedic.bootstrap.llm_client`); None without ``llm_base_url``. Tests replace this."""
    from cimedic.bootstrap import llm_client

    return llm_client(cfg)  # type: ignore[no-any-return]


def budgets_from(cfg: Settings) -> Budgets:
    """Turn budgets from the ``agent_max_steps``/``agent_max_tokens``/``agent_max_seconds``
    settings, the model's window from ``llm_context_tokens`` and the tool-call protocol from
    ``llm_tool_calls`` (``cimedic chat``, ``cimedic serve``'s ``POST /api/v1/chat``)."""
    from cimedic.agent.loop import Budgets

    return Budgets(
        max_steps=cfg.agent_max_steps,
        max_tokens=cfg.agent_max_tokens,
        max_seconds=cfg.agent_max_seconds,
        context_tokens=cfg.llm_context_tokens,
        tool_protocol=cfg.llm_tool_calls,
    )


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
) -> None:
    """Chat with cimedic about the CI history: it answers from tools over the store (runs,
    failures, diagnoses, flaky tests, stats, culprits, quarantine) and cites runs.

    Without --message: a REPL (one question per line; /new starts a new conversation, /exit
    or end of input quits). Exit status 0; 2 when no LLM is configured or reachable, the
    conversation is unknown, or the settings or store are unusable.
    """
    from cimedic.agent.chat import chat_turn
    from cimedic.agent.llm.base import LLMUnavailable
    from cimedic.interfaces.cli.common import settings, store
    from cimedic.store import chat as chat_store

    if new and conversation:
        fail("--new and --conversation exclude each other")
    cfg = settings()
    llm = make_llm(cfg)
    if llm is None:
        fail(NO_LLM)
    st = store(cfg, db)
    budgets = budgets_from(cfg)
    conv_id: str | None = conversation
    if conversation is not None and chat_store.get_conversation(st, conversation) is None:
        fail(f"no conversation {conversation!r}")
    if conv_id is None and not new:
        latest = chat_store.list_conversations(st, limit=1)
        conv_id = latest[0].id if latest else None

    tools, approve = _policy_gated_tools(cfg, st)

    def ask(text: str) -> None:
        nonlocal conv_id
        try:
            answer = chat_turn(st, llm, conv_id, text, budgets, tools, approve=approve)
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


def _policy_gated_tools(
    cfg: Settings, st: Store
) -> tuple[ToolRegistry, Callable[[str, dict[str, object]], bool]]:
    """The chat tools with ``rerun`` wired to the re-run policy: the model may *ask* for a
    re-run; :func:`cimedic.services.remediate.request_rerun` decides by policy (dry-run unless
    the policy says otherwise and a GitHub token is configured) and audits the decision. Text
    from a log can at most make the model ask; it never bypasses the policy."""
    from datetime import UTC, datetime

    from cimedic.agent.tools import default_registry
    from cimedic.inputs.policy import PolicyError, load_policy
    from cimedic.services.remediate import request_rerun

    try:
        policy = load_policy(cfg.remediation_policy)
    except PolicyError as exc:
        fail(str(exc))
    action = None
    if cfg.github_token or cfg.github_app_id:
        from cimedic.bootstrap import github_client

        action = github_client(cfg, st)

    def executor(run_id: str) -> str:
        return request_rerun(st, policy, action, run_id, now=datetime.now(UTC), apply=action is not None)

    registry = default_registry(
        rerun_executor=executor, repositories=[r.full_name for r in st.repositories()]
    )
    return registry, lambda tool, _args: tool == "rerun"
