"""FastAPI application: ``POST /webhooks/github``, ``GET /healthz``, ``GET /api/v1/stats``;
the routers of ``POST /api/v1/chat`` (:mod:`.chat`), ``GET /api/v1/health`` (:mod:`.health`),
``GET /api/v1/actions`` (:mod:`.actions`) and ``GET /api/v1/jobs/{job_id}/explanation``
(:mod:`.explanations`) read what they need from ``app.state``.

The webhook endpoint verifies ``X-Hub-Signature-256`` (401 otherwise), stores the raw
delivery keyed by ``X-GitHub-Delivery`` (a duplicate is a 200 no-op) and answers at once;
a :class:`~cimedic.services.webhooks.DeliveryWorker` processes deliveries afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from cimedic.model.notify import HealthThresholds
from cimedic.services.webhooks import DeliveryWorker, ProcessReport, receive_github
from cimedic.store.repository import Store


def create_app(
    store: Store,
    *,
    webhook_secret: str | None,
    process: Callable[[], ProcessReport] | None = None,
    deployment_patterns: Sequence[str] = (),
    llm: object | None = None,
    agent_budgets: object | None = None,
    health_thresholds: HealthThresholds | None = None,
    llm_model: str | None = None,
) -> FastAPI:
    """Build the app over ``store``. ``process`` handles stored deliveries in a background
    worker (default: normalize them without fetching logs). ``llm`` (an ``LLMClient`` or None)
    serves chat and explanations, ``llm_model`` names its model in the explanation cache
    (default: the client's ``model``); ``health_thresholds`` are those of ``GET /api/v1/health``
    (default :class:`HealthThresholds`: 24 h, 0.2)."""
    from cimedic.services.webhooks import process_pending

    worker = DeliveryWorker(process or (lambda: process_pending(store)))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:
            worker.stop()

    app = FastAPI(title="cimedic", lifespan=lifespan)
    app.state.worker = worker
    app.state.store = store
    app.state.llm = llm  # an LLMClient, or None: POST /api/v1/chat answers 503
    app.state.agent_budgets = agent_budgets
    app.state.llm_model = llm_model
    app.state.health_thresholds = health_thresholds or HealthThresholds()
    from cimedic.interfaces.api import actions, chat, explanations, health
    from cimedic.interfaces.api import llm as llm_api

    for module in (chat, health, actions, explanations, llm_api):
        app.include_router(module.router)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """Liveness and readiness: 200 ``{"status": "ok", "store": "ok"}``
        when the store answers ``SELECT 1``, else 503 with the store's error (the LLM is optional
        and not checked here: ``GET /api/v1/llm``)."""
        problem = store.ping()
        if problem is not None:
            return JSONResponse({"status": "error", "store": problem}, status_code=503)
        return JSONResponse({"status": "ok", "store": "ok"})

    @app.post("/webhooks/github")
    async def github_webhook(request: Request) -> JSONResponse:
        body = await request.body()
        receipt = await run_in_threadpool(
            receive_github,
            store,
            secret=webhook_secret,
            event=request.headers.get("X-GitHub-Event"),
            delivery=request.headers.get("X-GitHub-Delivery"),
            signature=request.headers.get("X-Hub-Signature-256"),
            body=body,
        )
        if receipt.status_code == 202:
            worker.wake()
        return JSONResponse(
            {"message": receipt.message, "duplicate": receipt.duplicate}, status_code=receipt.status_code
        )

    @app.get("/api/v1/stats")
    def stats(
        repo: str | None = None,
        workflow: str | None = None,
        branch: str | None = None,
        since: str = Query("7d", description="7d, 12h, 2w or an ISO date (UTC)"),
        by: str | None = Query(None, pattern="^(workflow|job|step)$"),
    ) -> JSONResponse:
        from cimedic.services.stats import pipeline_stats
        from cimedic.services.timewindow import parse_since

        try:
            window = parse_since(since)
        except ValueError as exc:
            return JSONResponse({"detail": f"since: {exc}"}, status_code=422)
        result = pipeline_stats(
            store,
            repository=repo,
            workflow=workflow,
            branch=branch,
            since=window,
            by=by,
            deployment_patterns=deployment_patterns,
        )
        return JSONResponse(result.model_dump(mode="json"))

    return app
