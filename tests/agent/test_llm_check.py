"""`cimedic llm check` / `GET /api/v1/llm` / `/healthz` over real HTTP: an OpenAI-compatible server
on 127.0.0.1 (GET /v1/models and POST /v1/chat/completions in the documented shapes, as
llama.cpp's server answers them), one that rejects `tools`, and none at all."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from cimedic.agent.llm.check import check_llm
from cimedic.agent.llm.openai_compat import OpenAICompatClient
from served import ServedApp as _Uvicorn

pytestmark = pytest.mark.timeout(120)  # an OpenAI-compatible stub and uvicorn on loopback

MODEL = "qwen2.5-coder-0.5b-instruct-q4_k_m"


def _completion(message: dict[str, Any], finish: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40},
    }


class _Server:
    def __init__(self, *, tools: bool) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.endswith("/models"):
                    model = {"id": MODEL, "object": "model", "created": 1_700_000_000, "owned_by": "llamacpp"}
                    self._send(200, {"object": "list", "data": [model]})
                else:
                    self._send(
                        404, {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}}
                    )

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                if "tools" in body:
                    if not tools:
                        self._send(
                            400,
                            {
                                "error": {
                                    "code": 400,
                                    "message": "tools param requires --jinja flag",
                                    "type": "invalid_request_error",
                                }
                            },
                        )
                        return
                    call = {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "ping", "arguments": '{"n": 1}'},
                    }
                    self._send(
                        200,
                        _completion(
                            {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
                        ),
                    )
                    return
                self._send(
                    200, _completion({"role": "assistant", "content": '{"status": "ok", "n": 1}'}, "stop")
                )

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def with_tools() -> Iterator[_Server]:
    s = _Server(tools=True)
    yield s
    s.close()


@pytest.fixture
def without_tools() -> Iterator[_Server]:
    s = _Server(tools=False)
    yield s
    s.close()


def test_reachability_only_makes_no_model_call(with_tools: _Server) -> None:
    result = check_llm(OpenAICompatClient(with_tools.base_url, MODEL, timeout=10), model=MODEL)
    assert result.ok and result.reachable and result.models == (MODEL,) and result.model_served is True
    assert result.protocol is None and result.native_tools is None and with_tools.requests == []


def test_probe_reports_protocol_and_native_tools(with_tools: _Server) -> None:
    result = check_llm(OpenAICompatClient(with_tools.base_url, MODEL, timeout=10), model=MODEL, probe=True)
    assert result.ok and result.protocol == "json_schema" and result.native_tools is True
    assert result.tokens == 80  # two calls of 40 tokens as the server reported
    structured, tooled = with_tools.requests
    assert structured["response_format"]["type"] == "json_schema" and "tools" not in structured
    assert tooled["tools"][0]["function"]["name"] == "ping" and tooled["tool_choice"] == "required"


def test_server_rejecting_tools_is_no_problem(without_tools: _Server) -> None:
    result = check_llm(
        OpenAICompatClient(without_tools.base_url, "other-model", timeout=10), model="other-model", probe=True
    )
    assert result.ok and result.native_tools is False and result.protocol == "json_schema"
    assert result.model_served is False and "not among them" in result.message


def test_unreachable_and_unconfigured() -> None:
    down = check_llm(OpenAICompatClient("http://127.0.0.1:9/v1", MODEL, timeout=2), model=MODEL, probe=True)
    assert not down.ok and not down.reachable and "unreachable" in down.problems[0]
    assert down.protocol is None  # no model call was tried
    none = check_llm(None)
    assert not none.ok and not none.configured and "llm_base_url" in none.message


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path))


def test_cli_text_and_json(with_tools: _Server, cli_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from cimedic.interfaces.cli.app import app

    runner = CliRunner()
    assert runner.invoke(app, ["llm", "check"]).exit_code == 1  # not configured
    monkeypatch.setenv("CIMEDIC_LLM_BASE_URL", with_tools.base_url)
    monkeypatch.setenv("CIMEDIC_LLM_MODEL", MODEL)
    text = runner.invoke(app, ["llm", "check", "--probe"])
    assert text.exit_code == 0, text.output
    assert "LLM: ok" in text.output and "native tool calls: yes" in text.output
    data = json.loads(runner.invoke(app, ["llm", "check", "--format", "json"]).stdout)
    assert data["ok"] and data["models"] == [MODEL] and data["tool_calls_setting"] == "auto"
    monkeypatch.setenv("CIMEDIC_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    down = runner.invoke(app, ["llm", "check"])
    assert down.exit_code == 1 and "unreachable" in down.output


def test_api_llm_status_and_healthz(with_tools: _Server, store: Any) -> None:
    from cimedic.bootstrap import build
    from cimedic.interfaces.api.app import create_app
    from cimedic.settings import Settings

    cfg = Settings(github_webhook_secret="s", llm_model=MODEL)
    app = create_app(build(cfg, store=store, llm=OpenAICompatClient(with_tools.base_url, MODEL, timeout=10)))
    with _Uvicorn(app) as url:
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok", "store": "ok", "routines": {}}
        plain = httpx.get(f"{url}/api/v1/llm").json()
        assert plain["ok"] and plain["reachable"] and plain["native_tools"] is None
        # probing spends the model's time: refused over HTTP until callers are authenticated
        refused = httpx.get(f"{url}/api/v1/llm", params={"probe": "true"}, timeout=30)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["status"] == 403 and "cimedic llm check --probe" in refused.json()["detail"]
    probed = check_llm(OpenAICompatClient(with_tools.base_url, MODEL, timeout=10), model=MODEL, probe=True)
    assert probed.protocol == "json_schema" and probed.native_tools is True
    bare = create_app(build(cfg, store=store, llm=None))
    with _Uvicorn(bare) as url:
        none = httpx.get(f"{url}/api/v1/llm").json()
        assert none["ok"] is False and none["configured"] is False


def test_healthz_is_503_when_the_store_is_down() -> None:
    from cimedic.bootstrap import build
    from cimedic.interfaces.api.app import create_app
    from cimedic.settings import Settings
    from cimedic.store.repository import Store

    broken = Store("postgresql+psycopg://postgres:secretpw@127.0.0.1:9/nowhere", migrate_schema=False)
    with _Uvicorn(create_app(build(Settings(github_webhook_secret="s"), store=broken, llm=None))) as url:
        r = httpx.get(f"{url}/healthz", timeout=30)
    assert r.status_code == 503 and r.json()["status"] == "error"
    assert "secretpw" not in r.text
