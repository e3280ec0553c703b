"""``GET /docs`` (Swagger UI) and ``GET /redoc`` (ReDoc) served without any CDN.

FastAPI's built-in pages load their JavaScript and CSS from cdn.jsdelivr.net and a favicon
from fastapi.tiangolo.com, so on a machine without internet access they stay blank. The
same pages are built here with FastAPI's own :func:`~fastapi.openapi.docs.get_swagger_ui_html`
and :func:`~fastapi.openapi.docs.get_redoc_html`, pointing at copies shipped in the package
(``static/``: ``swagger-ui-dist`` 5.36.0, Apache-2.0; ``redoc`` 2.5.4, MIT; both from the npm
registry, unchanged; licenses next to the files and in NOTICE) and served under
:data:`ASSETS_PATH`.

Usage: create the app with ``FastAPI(docs_url=None, redoc_url=None)`` and call
:func:`mount_docs` once.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "DOCS_PATH", "REDOC_PATH", "STATIC_DIR", "mount_docs"]

STATIC_DIR = Path(__file__).with_name("static")
"""Folder of the vendored assets: ``swagger-ui/`` and ``redoc/``."""
ASSETS_PATH = "/docs/assets"
"""URL path the assets are mounted at (``/docs/assets/swagger-ui/swagger-ui-bundle.js`` ...)."""
DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
_OAUTH2_REDIRECT_DEFAULT = "/docs/oauth2-redirect"


def mount_docs(app: FastAPI) -> None:
    """Add ``GET /docs``, its OAuth2 redirect page (``app.swagger_ui_oauth2_redirect_url``,
    default ``/docs/oauth2-redirect``), ``GET /redoc`` and the static assets under
    :data:`ASSETS_PATH` to ``app``. Every URL the pages reference is on the same server,
    prefixed with the request's ``root_path`` (as FastAPI's own pages do behind a proxy).

    Does nothing when ``app.openapi_url`` is None (no schema, no docs, as in FastAPI).
    Raises ``RuntimeError`` when the assets are missing from the installed package.
    """
    if app.openapi_url is None:
        return
    for asset in (
        "swagger-ui/swagger-ui-bundle.js",
        "swagger-ui/swagger-ui.css",
        "redoc/redoc.standalone.js",
    ):
        if not (STATIC_DIR / asset).is_file():
            raise RuntimeError(f"cimedic is missing {STATIC_DIR / asset}: reinstall the package")
    openapi_url = app.openapi_url
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or _OAUTH2_REDIRECT_DEFAULT
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC_DIR), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        assets = root + ASSETS_PATH
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{assets}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{assets}/swagger-ui/favicon-32x32.png",
            oauth2_redirect_url=root + oauth2_redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            # no online validator badge: it would send the schema URL to validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None, **(app.swagger_ui_parameters or {})},
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )
