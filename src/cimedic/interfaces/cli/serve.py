"""``cimedic serve``: the webhook receiver and REST API (FastAPI + uvicorn)."""

from __future__ import annotations

import typer

from cimedic.interfaces.cli.common import CREATE_HELP, DB_HELP, context


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port to listen on."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """Serve POST /webhooks/{provider} (GitHub: /webhooks/github for workflow_run, workflow_job,
    check_run; verified with CIMEDIC_GITHUB_WEBHOOK_SECRET), GET /api/v1/stats, GET
    /api/v1/health, GET /api/v1/actions, GET /api/v1/jobs/{job_id}/explanation, GET /api/v1/llm,
    POST /api/v1/chat, GET /healthz (store and routines) and the API docs at /docs and /redoc.
    Deliveries are processed in the background (failed-job logs fetched and diagnosed when the
    provider has credentials); the findings are refreshed when the history grew."""
    import uvicorn

    from cimedic.bootstrap.routines import serve_routines
    from cimedic.interfaces.api.app import create_app
    from cimedic.interfaces.logsetup import configure_logging
    from cimedic.services.routines import RoutineRunner
    from cimedic.services.webhooks import process_pending

    ctx = context(db, create=create)
    st = ctx.store
    if not ctx.settings.github_webhook_secret:
        typer.echo("cimedic: warning: github_webhook_secret is not set: webhook deliveries get 503", err=True)
    providers = ctx.configured_providers()
    receivers = ctx.webhook_receivers

    def process():  # type: ignore[no-untyped-def]
        return process_pending(
            st,
            receivers,
            providers=providers,
            diagnoser=ctx.diagnoser,
            options=ctx.collect_options(),
        )

    app = create_app(
        ctx, process=process, routines=RoutineRunner(st, serve_routines(ctx), persist=False), host=host
    )
    typer.echo(f"cimedic: serving on http://{host}:{port} (store {st.location})", err=True)
    configure_logging()  # uvicorn's loggers propagate to the redacting root handler
    uvicorn.run(app, host=host, port=port, log_level="info", log_config=None)
