"""``cimedic serve``: the webhook receiver and REST API (FastAPI + uvicorn)."""

from __future__ import annotations

import typer

from cimedic.interfaces.cli.common import DB_HELP, settings, store


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port to listen on."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Serve POST /webhooks/github (workflow_run, workflow_job, check_run; verified with
    CIMEDIC_GITHUB_WEBHOOK_SECRET), GET /api/v1/stats, GET /api/v1/health, GET /api/v1/actions,
    GET /api/v1/jobs/{job_id}/explanation, GET /api/v1/llm, POST /api/v1/chat and GET /healthz."""
    import uvicorn

    from cimedic import bootstrap
    from cimedic.interfaces.api.app import create_app
    from cimedic.services.webhooks import process_pending

    cfg = settings()
    st = store(cfg, db)
    if not cfg.github_webhook_secret:
        typer.echo("cimedic: warning: github_webhook_secret is not set: webhook deliveries get 503", err=True)
    client = bootstrap.github_client(cfg, st) if (cfg.github_token or cfg.github_app_id) else None
    diagnoser, _problems = bootstrap.diagnoser(cfg)

    import time

    from cimedic.services.findings import refresh_findings

    last_refresh = [0.0]

    def process():  # type: ignore[no-untyped-def]
        report = process_pending(st, client=client, diagnoser=diagnoser, log_max_bytes=cfg.log_max_bytes)
        # analyzers over the new history, at most every 10 minutes (clusters are assigned at ingest)
        if report.done and time.monotonic() - last_refresh[0] > 600:
            refresh_findings(st, compare=client.compare_commits if client is not None else None)
            last_refresh[0] = time.monotonic()
        return report

    from cimedic.interfaces.cli.chat import budgets_from
    from cimedic.interfaces.cli.health import thresholds_from

    app = create_app(
        st,
        webhook_secret=cfg.github_webhook_secret,
        process=process,
        deployment_patterns=cfg.deployment_workflows,
        llm=bootstrap.llm_client(cfg),
        agent_budgets=budgets_from(cfg),
        llm_model=cfg.llm_model,
        health_thresholds=thresholds_from(cfg),
    )
    typer.echo(f"cimedic: serving on http://{host}:{port} (store {st.location})", err=True)
    from cimedic.interfaces.logsetup import configure_logging

    configure_logging()  # uvicorn's loggers propagate to the redacting root handler
    uvicorn.run(app, host=host, port=port, log_level="info", log_config=None)
