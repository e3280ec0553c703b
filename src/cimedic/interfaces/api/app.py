"""FastAPI application over one :class:`~cimedic.bootstrap.AppContext`: ``POST
/webhooks/{provider}`` (``/webhooks/github`` for GitHub), ``GET /healthz``, ``GET
/api/v1/stats``; the routers of ``POST /api/v1/chat`` (:mod:`.chat`), ``GET /api/v1/health``
(:mod:`.health`), ``GET /api/v1/actions`` (:mod:`.actions`), ``GET
/api/v1/jobs/{job_id}/explanation`` (:mod:`.explanations`) and ``GET /api/v1/llm`` (:mod:`.llm`)
read what they need from the context (``app.state.ctx``); ``/docs`` and ``/redoc`` are served
from assets in the package (:mod:`.docs`).

A webhook endpoint asks the provider's receiver to verify the delivery (GitHub:
``X-Hub-Signature-256``; 401 otherwise), stores the raw delivery keyed by its delivery id (a
duplicate is a 200 no-op) and answers at once; a
:class:`~cimedic.services.webhooks.DeliveryWorker` processes deliveries afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from cimedic.services.webhooks import DeliveryWorker, ProcessReport, process_pending, receive

if TYPE_CHECKING:
    from cimedic.bootstrap import AppContext
    from cimedic.services.routines import RoutineRunner

__all__ = ["context_of", "create_app"]


def context_of(request: Request) -> AppContext:
    """The application context the app was created with."""
    return request.app.state.ctx  # type: ignore[no-any-return]


def create_app(
    ctx: AppContext,
    *,
    process: Callable[[], ProcessReport] | None = None,
    routines: RoutineRunner | None = None,
    host: str | None = None,
) -> FastAPI:
    """Build the app over ``ctx``. ``process`` handles stored deliveries in a background worker
    (default: normalize them without fetching logs); ``routines`` (``cimedic serve``'s findings
    and housekeeping) are started and stopped with the app. Requests must name an allowed
    ``Host`` (:mod:`.hosts`: the loopback names, the setting ``allowed_hosts`` and ``host``,
    the address ``serve`` listens on); others get 400. Request bodies are bounded before any
route reads them (:mod:`.limits`: 25 MB for webhooks, 1 MiB otherwise; 413 over it)."""
    store = ctx.store
    worker = DeliveryWorker(process or (lambda: process_pending(store, ctx.webhook_receivers)))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        worker.start()
        if routines is not None:
            routines.start()
        try:
            yield
        finally:
            if routines is not None:
                routines.shutdown(wait=True)
            worker.stop()

    app = FastAPI(title="cimedic", lifespan=lifespan, docs_url=None, redoc_url=None)
    from cimedic.interfaces.api.hosts import DEFAULT_HOSTS, HostCheck
    from cimedic.interfaces.api.limits import BodyLimit

    allowed = [*DEFAULT_HOSTS, *ctx.settings.allowed_hosts, *([host] if host else [])]
    app.add_middleware(BodyLimit)  # bodies bounded before any route (or signature check) reads them
    app.add_middleware(HostCheck, allowed=allowed)  # added last: runs first
    app.state.ctx = ctx

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """A parameter or body FastAPI cannot accept: 422 problem details (RFC 9457) that keep
        FastAPI's ``detail`` list under ``errors``."""
        from fastapi.encoders import jsonable_encoder

        errors = jsonable_encoder(exc.errors())
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        detail = f"{where}: {first.get('msg', 'invalid')}"
        body = {"type": "about:blank", "title": "Invalid request", "status": 422, "detail": detail, "errors": errors}
        return JSONResponse(body, status_code=422, media_type="application/problem+json")
    app.state.worker = worker
    from cimedic.interfaces.api import actions, chat, explanations, health
    from cimedic.interfaces.api import llm as llm_api
    from cimedic.interfaces.api.docs import mount_docs

    for module in (chat, health, actions, explanations, llm_api):
        app.include_router(module.router)
    mount_docs(app)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """Liveness and readiness: 200 ``{"status": "ok", "store": "ok", "routines": {ID:
        {"ok", "at", "error"}}}`` when the store answers ``SELECT 1`` (a failed routine is shown,
        not a reason for 503), else 503 with the store's error (the LLM is optional and not
        checked here: ``GET /api/v1/llm``)."""
        from cimedic.services.routines import routine_status

        problem = store.ping()
        if problem is not None:
            return JSONResponse({"status": "error", "store": problem}, status_code=503)
        return JSONResponse({"status": "ok", "store": "ok", "routines": routine_status(store)})

    async def _webhook(provider: str, request: Request) -> JSONResponse:
        receiver = ctx.webhook_receivers.get(provider)
        if receiver is None:
            known = ", ".join(sorted(ctx.webhook_receivers)) or "none"
            return JSONResponse(
                {"message": f"unknown provider {provider!r}; known: {known}"}, status_code=404
            )
        body = await request.body()
        receipt = await run_in_threadpool(receive, store, receiver, dict(request.headers), body)
        if receipt.status_code == 202:
            worker.wake()
        return JSONResponse(
            {"message": receipt.message, "duplicate": receipt.duplicate}, status_code=receipt.status_code
        )

    @app.post("/webhooks/{provider}")
    async def webhook(provider: str, request: Request) -> JSONResponse:
        """A delivery of ``provider`` (a registered provider id, e.g. ``github``)."""
        return await _webhook(provider, request)

    @app.get("/api/v1/stats")
    def stats(
        repo: str | None = None,
        workflow: str | None = None,
        branch: str | None = None,
        since: str = Query("7d", description="7d, 12h, 2w or an ISO date (UTC)"),
        by: str | None = Query(None, pattern="^(workflow|job|step)$"),
    ) -> JSONResponse:
        """Pipeline metrics, as ``cimedic stats --format json``; 422 for an unusable ``since``."""
        from cimedic.services.stats import pipeline_stats
        from cimedic.services.timewindow import parse_since

        try:
            window = parse_since(since)
            repository = ctx.repo_ref(repo).full_name if repo else None
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)
        result = pipeline_stats(
            store,
            repository=repository,
            workflow=workflow,
            branch=branch,
            since=window,
            by=by,
            deployment_patterns=ctx.deployment_patterns(),
        )
        return JSONResponse(result.model_dump(mode="json"))

    return app
