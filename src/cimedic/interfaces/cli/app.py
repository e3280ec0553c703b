"""Entry point of the ``cimedic`` command; one module per command group."""

from __future__ import annotations

import typer

from cimedic.interfaces.cli import analyze as _analyze
from cimedic.interfaces.cli import causes as _causes

app = typer.Typer(
    name="cimedic",
    help="cimedic: diagnoses CI/CD pipeline failures (where, what kind, re-runnable or not).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("analyze")(_analyze.analyze)
app.add_typer(_causes.app, name="causes")


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
