"""``cimedic agent``: the 24/7 process: the background routines of
:mod:`cimedic.bootstrap.routines` run by :class:`cimedic.services.routines.RoutineRunner`."""

from __future__ import annotations

import typer

from cimedic.interfaces.cli.common import (
    CREATE_HELP,
    DB_HELP,
    ListFormat,
    context,
    repo_ref,
    run_once,
    run_until_stopped,
    stop_on_signals,
)


def agent(
    repos: list[str] = typer.Argument(
        None,
        help="Repositories OWNER/NAME or PROVIDER:FULL_NAME to watch (default: the watch_repos setting).",
    ),
    interval: float | None = typer.Option(
        None, "--interval", help="Seconds between polls (default: the watch_interval setting, 60)."
    ),
    once: bool = typer.Option(
        False, "--once", help="Run every routine once, in order, and exit (1 when any failed)."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
    fmt: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format of --once."),
) -> None:
    """Run cimedic 24/7: poll the repositories, keep clusters, flaky verdicts, anomalies,
    culprits and failure risk up to date, apply the re-run policy, send notifications and the
    daily and weekly reports. Each failed routine run is one `cimedic: error:` line, and its
    outcome is stored (`cimedic serve`'s /healthz shows it). Stops gracefully on SIGTERM or
    Ctrl-C.

    Exit status 0; 1 with --once when a routine failed; 2 for usage, settings and store errors.
    """
    from cimedic.bootstrap.routines import agent_routines
    from cimedic.interfaces.logsetup import configure_logging
    from cimedic.services.routines import RoutineRunner

    stop = None if once else stop_on_signals()
    configure_logging()  # our own logs are redacted too
    ctx = context(db, create=create)
    targets = [repo_ref(ctx, r) for r in (repos or ctx.settings.watch_repos)]
    every = interval if interval is not None else ctx.settings.watch_interval
    runner = RoutineRunner(ctx.store, agent_routines(ctx, targets, every))
    if once:
        run_once(runner, json_output=fmt is ListFormat.json)
        return
    watching = ", ".join(t.display for t in targets) or "no repository"
    assert stop is not None
    run_until_stopped(runner, f"cimedic agent: watching {watching}; store {ctx.store.location}", stop)
