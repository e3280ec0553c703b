"""Bounded before authenticated (issue step 2, section 2): over real HTTP, an unsigned webhook
body over GitHub's 25 MB cap is refused with 413 from its Content-Length, and a chunked one as
soon as it goes over, without the server holding more than the cap; other routes take 1 MiB."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cimedic.interfaces.api.limits import JSON_MAX_BYTES, WEBHOOK_MAX_BYTES
from served import ServedApp

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from cimedic.bootstrap import build
    from cimedic.interfaces.api.app import create_app
    from cimedic.settings import Settings

    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    ctx = build(Settings(github_webhook_secret="s"), str(tmp_path / "b.db"), create=True, llm=None)
    try:
        with ServedApp(create_app(ctx), start_seconds=30) as url:
            yield url
    finally:
        ctx.close()


def _raw_post(url: str, path: str, headers: dict[str, str], chunks: Iterator[bytes]) -> int:
    with httpx.Client(timeout=30) as client:
        return client.post(f"{url}{path}", headers=headers, content=chunks).status_code


def test_a_declared_length_over_the_cap_is_refused_before_the_body_is_read(served: str) -> None:
    host, port = served.removeprefix("http://").split(":")
    head = (
        "POST /webhooks/github HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nX-GitHub-Event: ping\r\nX-GitHub-Delivery: d1\r\n"
        f"Content-Length: {WEBHOOK_MAX_BYTES + 1}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(head.encode() + b"x" * 10)  # the server answers from the header alone
        answer = conn.recv(4096).decode("latin-1")
    status_line, _, rest = answer.partition("\r\n")
    assert status_line.split()[1] == "413", answer
    assert "application/problem+json" in rest


def test_a_chunked_body_is_refused_once_it_goes_over_the_cap(served: str) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        block = b"x" * (1024 * 1024)
        for _ in range(40):  # 40 MB unsigned, more than the cap
            sent += len(block)
            yield block

    status = _raw_post(served, "/webhooks/github", {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d2"}, chunks())
    assert status == 413


def test_other_routes_take_one_mebibyte_of_json(served: str) -> None:
    with httpx.Client(timeout=30) as client:
        over = client.post(f"{served}/api/v1/chat", content=b"{" + b" " * JSON_MAX_BYTES + b"}")
        assert over.status_code == 413
        ok = client.post(f"{served}/api/v1/chat", json={"message": "hi"})
        assert ok.status_code == 503  # within the cap: it reaches the route (no LLM configured)
        unsigned = client.post(f"{served}/webhooks/github", content=b"{}", headers={"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d3"})
        assert unsigned.status_code == 401  # small bodies still reach the signature check
