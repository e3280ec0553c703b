"""The ``cimedic`` command line (typer + rich); heavy imports happen inside commands."""
