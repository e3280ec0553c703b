"""Helpers shared by the history commands (sync, watch, serve, demo, reprocess, ingest, stats):
settings, the store, the GitHub client, errors as one line on stderr, progress bars."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from cimedic.settings import Settings
    from cimedic.store.repository import Store


class ListFormat(StrEnum):
    """``--format`` of every listing command."""

    text = "text"
    json = "json"


DB_HELP = "Store URL (sqlite:///path, postgresql://...) or a SQLite file path; default CIMEDIC_DATABASE_URL, else <data_dir>/cimedic.db."


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``cimedic: error: <message>`` on stderr and exit with ``code``."""
    typer.echo(f"cimedic: error: {message}", err=True)
    raise typer.Exit(code)


def settings() -> Settings:
    from cimedic.settings import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc))


def store(cfg: Settings, db: str | None) -> Store:
    from cimedic.bootstrap import open_store
    from cimedic.store.engine import StoreError

    try:
        return open_store(cfg, db)
    except StoreError as exc:
        fail(str(exc))


def since_option(text: str | None, default: str | None = None):  # type: ignore[no-untyped-def]
    """Parse ``--since`` (``7d``, ``12h``, ``2w``, an ISO date) into an aware UTC datetime or None."""
    from datetime import UTC, datetime, timedelta

    from cimedic.services.timewindow import parse_since

    value = text if text is not None else default
    if value is None:
        return None
    try:
        parsed = parse_since(value)
    except ValueError as exc:
        fail(str(exc))
    if isinstance(parsed, timedelta):
        return datetime.now(UTC) - parsed
    return parsed


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator:  # type: ignore[type-arg]
    """A rich progress display on stderr; yields ``progress(phase, done, total)`` for services."""
    if not enabled or not sys.stderr.isatty():
        yield lambda _phase, _done, _total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:

        def update(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield update
