"""Helpers shared by the commands: the application context (:func:`context`, built by the
composition root :func:`cimedic.bootstrap.build`), errors as one line on stderr, the common
options (``--db``, ``--create``, ``--format``/``-f``), repository arguments, progress bars."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from cimedic.bootstrap import AppContext
    from cimedic.model.providers import RepoRef
    from cimedic.model.routines import RoutineOutcome
    from cimedic.services.routines import RoutineRunner
    from cimedic.settings import Settings


class ListFormat(StrEnum):
    """``--format`` of every listing command."""

    text = "text"
    json = "json"


DB_HELP = "Store URL (sqlite:///path, postgresql://...) or a SQLite file path; default CIMEDIC_DATABASE_URL, else <data_dir>/cimedic.db."
CREATE_HELP = "Create the SQLite store's directory when it does not exist (refused otherwise, so a typo in --db is not a new empty store)."
REPO_HELP = "Repository OWNER/NAME (GitHub) or PROVIDER:FULL_NAME."


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``cimedic: error: <message>`` on stderr and exit with ``code``."""
    typer.echo(f"cimedic: error: {message}", err=True)
    raise typer.Exit(code)


def settings() -> Settings:
    """The settings (``CIMEDIC_*`` over the YAML file over defaults); a settings error is one
    ``cimedic: error:`` line and exit 2, an unknown ``CIMEDIC_*`` variable one warning line."""
    from cimedic.settings import ConfigError, load_settings, settings_warnings

    try:
        cfg = load_settings()
    except ConfigError as exc:
        fail(str(exc))
    for warning in settings_warnings():
        typer.echo(f"cimedic: warning: {warning}", err=True)
    return cfg


def context(db: str | None = None, *, create: bool = False) -> AppContext:
    """The application context of the settings (the composition root builds it); ``db`` and
    ``create`` are the ``--db`` and ``--create`` options. Its parts are built on first use;
    their configuration or store errors end the command with one ``cimedic: error:`` line and
    exit 2 (see :class:`RootGroup`)."""
    from cimedic.bootstrap import build

    return build(settings(), db, create=create)


_WARNED: set[str] = set()


def warn_plugins(ctx: AppContext) -> None:
    """One ``cimedic: warning:`` line per plug-in that could not be loaded (once per process)."""
    for problem in ctx.providers.problems:
        if problem not in _WARNED:
            _WARNED.add(problem)
            typer.echo(f"cimedic: warning: {problem}", err=True)


def repo_ref(ctx: AppContext, text: str) -> RepoRef:
    """``text`` (``OWNER/NAME`` or ``PROVIDER:FULL_NAME``) as a :class:`RepoRef`, or exit 2;
    broken provider plug-ins are reported first."""
    warn_plugins(ctx)
    try:
        return ctx.repo_ref(text)
    except ValueError as exc:
        fail(str(exc))


def repo_filter(ctx: AppContext, text: str | None) -> str | None:
    """The ``full_name`` a ``--repo`` filter names (None when not given), or exit 2."""
    return None if text is None else repo_ref(ctx, text).full_name


def provider_failure(ctx: AppContext, repo: str, exc: Exception, provider: str = "github") -> str:
    """One line for a provider error: the repository, the error, what to do."""
    hint = ctx.provider_hint(exc, provider)
    return f"{repo}: {exc}" + (f"; {hint}" if hint else "")


class RootGroup(TyperGroup):
    """The root command group: configuration and store errors raised while a command builds
    or uses its context end the command with one ``cimedic: error:`` line and exit 2 (the
    composition root builds parts on first use, so they surface here)."""

    def invoke(self, ctx: Any) -> Any:
        from cimedic.settings import ConfigError
        from cimedic.store.engine import StoreError
        from cimedic.store.errors import describe_store_error

        try:
            return super().invoke(ctx)
        except (ConfigError, StoreError) as exc:
            fail(" ".join(str(exc).split()))
        except Exception as exc:
            message = describe_store_error(exc)
            if message is None:
                raise
            fail(message)


def since_option(text: str | None, default: str | None = None):  # type: ignore[no-untyped-def]
    """Parse ``--since`` (``7d``, ``12h``, ``2w``, an ISO date) into an aware UTC datetime or None."""
    from cimedic.services.timewindow import parse_since, resolve_since

    value = text if text is not None else default
    if value is None:
        return None
    try:
        return resolve_since(parse_since(value))
    except ValueError as exc:
        fail(str(exc))


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


def print_outcome(outcome: RoutineOutcome) -> None:
    """``<routine>: ok in 0.3s <summary>`` (``FAILED``: its ``cimedic: error:`` line went to
    stderr)."""
    state = "ok" if outcome.ok else "FAILED"
    typer.echo(f"{outcome.routine_id}: {state} in {outcome.seconds:.1f}s {outcome.summary}".rstrip())


def run_once(runner: RoutineRunner, *, json_output: bool = False) -> None:
    """``--once``: every routine once, in order; one line per outcome (or their JSON list);
    exit 1 when one failed (its ``cimedic: error:`` line went to stderr)."""
    outcomes = runner.run_all_once()
    if json_output:
        typer.echo(json.dumps([o.model_dump(mode="json") for o in outcomes], indent=2))
    else:
        for outcome in outcomes:
            print_outcome(outcome)
    if not all(o.ok for o in outcomes):
        raise typer.Exit(1)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or Ctrl-C (install it first thing, so a signal that arrives while
    a daemon is still starting stops it gracefully)."""
    import signal

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def run_until_stopped(
    runner: RoutineRunner, banner: str, stop: threading.Event, *, first: tuple[str, ...] = ()
) -> None:
    """Run the routines named in ``first`` now, then schedule every routine until ``stop`` is
    set (:func:`stop_on_signals`); stop gracefully (running routines finish)."""
    for routine in runner.routines:
        if routine.id in first and not stop.is_set():
            runner.run_once(routine)
    runner.start()
    typer.echo(f"{banner}; {len(runner.routines)} routines", err=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        typer.echo(f"{banner.split(':')[0]}: stopping (waiting for running routines)", err=True)
        runner.shutdown(wait=True)
