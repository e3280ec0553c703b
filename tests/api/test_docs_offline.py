"""``/docs`` and ``/redoc`` work without internet access: over real HTTP (uvicorn on loopback),
every ``src``/``href`` of both pages, and every URL in their text, is on the same server, and
each referenced asset answers 200 with a JavaScript/CSS/image content type and a real size.

Regression: FastAPI's default pages load Swagger UI and ReDoc from cdn.jsdelivr.net (and a
favicon from fastapi.tiangolo.com), so ``cimedic serve`` showed blank pages offline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html

from cimedic.interfaces.api.docs import ASSETS_PATH, mount_docs
from served import ServedApp as _Server


class _Links(HTMLParser):
    """Every ``src``, ``href`` and ``spec-url`` attribute of a page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in {"src", "href", "spec-url"} and v]


def _links(page: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    return parser.urls


_ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")


def _foreign_urls(page: str, base: str) -> list[str]:
    """URLs in the page text (attributes and inline scripts) whose host is not ``base``'s."""
    host = urlsplit(base).netloc
    return [u for u in _ABSOLUTE_URL.findall(page) if urlsplit(u if ":" in u else "http:" + u).netloc != host]


def _app() -> FastAPI:
    app = FastAPI(title="docs-offline", docs_url=None, redoc_url=None)

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    mount_docs(app)
    return app


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with _Server(_app()) as url:
        yield url


# (page, assets it must reference, by the end of their path)
PAGES = {
    "/docs": ("swagger-ui-bundle.js", "swagger-ui.css"),
    "/redoc": ("redoc.standalone.js",),
}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_references_only_local_urls_and_every_asset_is_served(served: str, page: str) -> None:
    r = httpx.get(served + page, timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert _foreign_urls(html, served) == []
    links = _links(html)
    assert links, "the page references no asset"
    for link in links:
        assert urlsplit(link).scheme == "" and urlsplit(link).netloc == "", f"not a local URL: {link}"
    for name in PAGES[page]:
        assert any(urlsplit(link).path.endswith(name) for link in links), f"{page} does not load {name}"
    for link in links:
        url = urljoin(served + page, link)
        asset = httpx.get(url, timeout=10)
        assert asset.status_code == 200, link
        ctype = asset.headers["content-type"]
        path = urlsplit(link).path
        if path.endswith(".js"):
            assert ctype.split(";")[0] in {"text/javascript", "application/javascript"}, (link, ctype)
            assert len(asset.content) > 100_000, link  # the real bundle, not an error page
            assert b"<html" not in asset.content[:200].lower()
        elif path.endswith(".css"):
            assert ctype.startswith("text/css"), (link, ctype)
            assert len(asset.content) > 50_000, link
        elif path.endswith(".png"):
            assert ctype == "image/png" and asset.content.startswith(b"\x89PNG"), link
        elif path == "/openapi.json":  # ReDoc's spec-url
            assert asset.json()["info"]["title"] == "docs-offline"
        else:
            pytest.fail(f"unexpected reference {link} in {page}")


def test_swagger_ui_points_at_the_local_schema_and_oauth2_redirect(served: str) -> None:
    html = httpx.get(served + "/docs", timeout=10).text
    assert "url: '/openapi.json'" in html
    assert "window.location.origin + '/docs/oauth2-redirect'" in html
    assert '"validatorUrl": null' in html  # no badge fetched from validator.swagger.io
    redirect = httpx.get(served + "/docs/oauth2-redirect", timeout=10)
    assert redirect.status_code == 200 and "swaggerUIRedirectOauth2" in redirect.text
    assert _foreign_urls(redirect.text, served) == []
    spec = httpx.get(served + "/openapi.json", timeout=10).json()
    assert "/ping" in spec["paths"]
    assert not any(p.startswith(("/docs", "/redoc")) for p in spec["paths"])  # not in the schema


def test_root_path_prefixes_every_url() -> None:
    """Behind a proxy that strips ``/cimedic`` (uvicorn ``--root-path /cimedic``), the pages'
    URLs carry the prefix, like FastAPI's own pages."""
    app = FastAPI(docs_url=None, redoc_url=None)
    mount_docs(app)
    with _Server(app, root_path="/cimedic") as url:
        for page in PAGES:
            html = httpx.get(url + page, timeout=10).text
            links = _links(html)
            assert links and all(link.startswith("/cimedic/") for link in links), links
            assert "/cimedic/openapi.json" in html
            for link in links:
                assert httpx.get(url + link.removeprefix("/cimedic"), timeout=10).status_code == 200


def test_fastapi_defaults_would_load_from_a_cdn() -> None:
    """What the module replaces: FastAPI's own pages reference other hosts (the defect)."""
    defaults = [
        get_swagger_ui_html(openapi_url="/openapi.json", title="t").body.decode(),
        get_redoc_html(openapi_url="/openapi.json", title="t").body.decode(),
    ]
    assert all(_foreign_urls(page, "http://127.0.0.1:8000") for page in defaults)


def test_without_openapi_no_docs_are_mounted() -> None:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    mount_docs(app)
    paths = {getattr(r, "path", None) for r in app.routes}
    assert not paths & {"/docs", "/redoc", ASSETS_PATH}


def test_cimedic_serve_app_serves_its_docs_offline(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The app ``cimedic serve`` runs (``create_app``) mounts the offline docs, not FastAPI's CDN ones."""
    from fastapi.testclient import TestClient

    from cimedic.bootstrap import build
    from cimedic.interfaces.api.app import create_app
    from cimedic.settings import Settings

    ctx = build(Settings(), str(tmp_path / "docs.db"), create=True, llm=None)
    try:
        client = TestClient(create_app(ctx), base_url="http://127.0.0.1")
        for page in ("/docs", "/redoc"):
            answer = client.get(page)
            assert answer.status_code == 200, page
            assert _foreign_urls(answer.text, "http://127.0.0.1") == [], page
            for link in _links(answer.text):
                if link.endswith((".js", ".css")):
                    asset = client.get(link)
                    assert asset.status_code == 200 and len(asset.content) > 10_000, link
        assert client.get("/openapi.json").json()["info"]["title"] == "cimedic"
    finally:
        ctx.close()
