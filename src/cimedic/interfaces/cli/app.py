"""Entry point of the ``cimedic`` command; one module per command group."""

from __future__ import annotations

import typer

from cimedic.interfaces.cli import actions as _actions
from cimedic.interfaces.cli import agent_mode as _agent_mode
from cimedic.interfaces.cli import analyze as _analyze
from cimedic.interfaces.cli import anomalies as _anomalies
from cimedic.interfaces.cli import causes as _causes
from cimedic.interfaces.cli import chat as _chat
from cimedic.interfaces.cli import collect as _collect
from cimedic.interfaces.cli import demo as _demo
from cimedic.interfaces.cli import explain as _explain
from cimedic.interfaces.cli import failures as _failures
from cimedic.interfaces.cli import flaky as _flaky
from cimedic.interfaces.cli import health as _health
from cimedic.interfaces.cli import history as _history
from cimedic.interfaces.cli import llm as _llm
from cimedic.interfaces.cli import report as _report
from cimedic.interfaces.cli import risk as _risk
from cimedic.interfaces.cli import serve as _serve
from cimedic.interfaces.cli import stats as _stats
from cimedic.interfaces.cli.common import RootGroup

app = typer.Typer(
    cls=RootGroup,
    name="cimedic",
    help="cimedic: collects CI/CD pipeline history and diagnoses failures (where, what kind, re-runnable or not).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("analyze")(_analyze.analyze)
app.add_typer(_causes.app, name="causes")
app.command("demo")(_demo.demo)
app.command("sync")(_collect.sync)
app.command("watch")(_collect.watch)
app.command("stats")(_stats.stats)
app.command("serve")(_serve.serve)
app.command("reprocess")(_history.reprocess)
app.add_typer(_history.ingest_app, name="ingest")
app.add_typer(_failures.app, name="failures")
app.command("flaky")(_flaky.flaky)
app.add_typer(_flaky.quarantine_app, name="quarantine")
app.command("anomalies")(_anomalies.anomalies)
app.command("culprits")(_anomalies.culprits)
app.add_typer(_risk.app, name="risk")
app.command("agent")(_agent_mode.agent)
app.command("heal")(_actions.heal)
app.command("actions")(_actions.actions)
app.command("report")(_report.report)
app.command("notify")(_report.notify)
app.command("health")(_health.health)
app.command("chat")(_chat.chat)
app.command("explain")(_explain.explain)
app.command("usage")(_explain.usage)
app.add_typer(_llm.app, name="llm")


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    if version:
        from cimedic import __version__

        typer.echo(__version__)
        raise typer.Exit(0)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
