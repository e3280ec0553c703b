"""``cimedic causes list|show|test``: the knowledge base of failure causes."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer

app = typer.Typer(
    help="The knowledge base of failure causes (bundled YAML plus --kb directories).", no_args_is_help=True
)


class ListFormat(StrEnum):
    text = "text"
    json = "json"


def _load(kb: list[Path]):  # type: ignore[no-untyped-def]
    from cimedic.services.diagnose import load_causes
    from cimedic.settings import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.stderr.write(f"cimedic: error: {exc}\n")
        raise typer.Exit(2) from exc
    causes, problems = load_causes([*settings.kb_dirs, *kb])
    for p in problems:
        sys.stderr.write(f"cimedic: warning: knowledge base: {p}\n")
    return causes


@app.command("list")
def list_causes(
    kb: list[Path] = typer.Option([], "--kb", help="Extra knowledge-base directory (repeatable)."),
    category: str | None = typer.Option(None, "--category", help="Only causes of this category."),
    output: ListFormat = typer.Option(ListFormat.text, "--format", "-f"),
) -> None:
    """List the known failure causes."""
    causes = sorted(_load(kb), key=lambda c: (c.category.value, c.id))
    if category:
        causes = [c for c in causes if c.category.value == category]
    if output is ListFormat.json:
        sys.stdout.write(json.dumps([c.model_dump(mode="json") for c in causes]) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "category", "transient", "name", "source")
    for c in causes:
        table.add_row(c.id, c.category.value, "yes" if c.transient else "no", c.name, c.source)
    Console().print(table)
    Console().print(f"{len(causes)} causes")


@app.command("show")
def show_cause(
    cause_id: str = typer.Argument(..., help="Cause id."),
    kb: list[Path] = typer.Option([], "--kb"),
) -> None:
    """Show one cause with its patterns, fix and references."""
    for c in _load(kb):
        if c.id == cause_id:
            import yaml

            sys.stdout.write(yaml.safe_dump(c.model_dump(mode="json"), sort_keys=False, allow_unicode=True))
            return
    sys.stderr.write(f"cimedic: error: no cause with id {cause_id!r}\n")
    raise typer.Exit(2)


@app.command("test")
def test_causes(
    file: str = typer.Argument(..., help="A log file (or '-') to match every cause against."),
    kb: list[Path] = typer.Option([], "--kb"),
    output: ListFormat = typer.Option(ListFormat.text, "--format", "-f"),
) -> None:
    """Show which causes match which lines of FILE (to develop new causes)."""
    from cimedic.services.diagnose import LogReadError
    from cimedic.services.kbtest import match_causes

    try:
        hits = match_causes(file, _load(kb))
    except LogReadError as exc:
        sys.stderr.write(f"cimedic: error: {exc}\n")
        raise typer.Exit(2) from exc
    if output is ListFormat.json:
        sys.stdout.write(
            json.dumps([{"id": h.cause_id, "line": h.line, "text": h.text} for h in hits]) + "\n"
        )
        return
    if not hits:
        typer.echo("no cause matches")
        return
    for h in hits:
        typer.echo(f"{h.cause_id:<32} line {h.line:>7}: {h.text[:150]}")
