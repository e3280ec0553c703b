"""``OpenAICompatClient`` native tool calls over real HTTP on 127.0.0.1: a small OpenAI-compatible
server (``http.server``) answers documented chat-completions shapes (``tool_calls`` with id, type
``function``, ``function.name``, ``function.arguments`` as a JSON string, ``finish_reason``
``tool_calls``, ``usage``) and records every request. Checks what the client sends (``tools``, the
assistant message with ``tool_calls`` and ``content: ""``, the ``tool`` message with the matching
``tool_call_id``), what it parses, and that ``auto`` falls back to JSON (``response_format``) when
the server rejects ``tools``, and goes straight to JSON on the next turn."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cimedic.agent.llm.base import LLMError, LLMUnavailable, Message, ToolSpec, ToolsUnsupported
from cimedic.agent.llm.openai_compat import OpenAICompatClient
from cimedic.agent.loop import Budgets, ProtocolChanged, run_agent
from cimedic.agent.tools import FunctionTool, ToolOutput, ToolRegistry

pytestmark = pytest.mark.timeout(60)  # an OpenAI-compatible stub on loopback

Responder = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]
SEARCH = ToolSpec(
    "search_runs",
    "List CI runs, newest first.",
    {"type": "object", "properties": {"conclusion": {"type": "string"}}},
)
PROMPT = [Message("system", "You are cimedic."), Message("user", "Which runs failed?")]


class FakeOpenAI:
    """An OpenAI-compatible server on 127.0.0.1: ``responder(body) -> (status, json)`` answers
    each ``POST /v1/chat/completions``; ``requests`` holds the request bodies."""

    def __init__(self, responder: Responder) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                status, payload = (
                    responder(body) if self.path.endswith("/chat/completions") else (404, {"error": "no"})
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Responder], FakeOpenAI]]:
    servers: list[FakeOpenAI] = []

    def start(responder: Responder) -> FakeOpenAI:
        servers.append(FakeOpenAI(responder))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def completion(
    content: str | None,
    tool_calls: list[dict[str, Any]] | None = None,
    prompt: int = 50,
    completion: int = 10,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "m",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def registry(seen: list[dict[str, Any]]) -> ToolRegistry:
    def search_runs(store: Any, **arguments: Any) -> ToolOutput:
        seen.append(arguments)
        return ToolOutput("run 9423378623: failure (ci.yml, main)", ("run 9423378623",))

    reg = ToolRegistry()
    reg.register(FunctionTool(SEARCH.name, SEARCH.description, SEARCH.parameters, search_runs))
    return reg


def test_complete_tools_sends_tools_and_parses_calls(serve: Callable[[Responder], FakeOpenAI]) -> None:
    server = serve(
        lambda body: (200, completion(None, [call("call_a1", "search_runs", '{"conclusion": "failure"}')]))
    )
    client = OpenAICompatClient(server.base_url, "m", timeout=10)
    result = client.complete_tools(PROMPT, [SEARCH], max_tokens=64, tool_choice="required")
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        ("call_a1", "search_runs", {"conclusion": "failure"})
    ]
    assert result.protocol == "native" and result.finish_reason == "tool_calls" and result.text == ""
    assert (result.prompt_tokens, result.completion_tokens) == (50, 10) and client.tools_supported is True
    sent = server.requests[0]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "search_runs",
                "description": "List CI runs, newest first.",
                "parameters": {"type": "object", "properties": {"conclusion": {"type": "string"}}},
            },
        }
    ]
    assert sent["tool_choice"] == "required" and sent["max_tokens"] == 64 and "response_format" not in sent


def test_malformed_arguments_are_an_error_naming_the_call(serve: Callable[[Responder], FakeOpenAI]) -> None:
    server = serve(lambda body: (200, completion("", [call("call_x", "search_runs", '{"conclusion": ')])))
    client = OpenAICompatClient(server.base_url, "m", timeout=10)
    with pytest.raises(
        LLMError, match=r"tool call 0 \(search_runs, id call_x\): function.arguments is not JSON"
    ):
        client.complete_tools(PROMPT, [SEARCH])
    server.requests.clear()


def test_loop_round_trip_over_http(serve: Callable[[Responder], FakeOpenAI]) -> None:
    replies = iter(
        [
            completion(None, [call("call_7", "search_runs", '{"conclusion": "failure"}')]),
            completion("Run 9423378623 failed on main.", prompt=120, completion=12),
        ]
    )
    server = serve(lambda body: (200, next(replies)))
    seen: list[dict[str, Any]] = []
    client = OpenAICompatClient(server.base_url, "m", timeout=10)
    result = run_agent(None, client, PROMPT, registry(seen), Budgets(max_steps=2, tool_protocol="native"))  # type: ignore[arg-type]
    assert seen == [{"conclusion": "failure"}]
    assert result.answer == "Run 9423378623 failed on main." and result.citations == ("run 9423378623",)
    assert [s.protocol for s in result.steps] == ["native"] and result.tokens == 60 + 132
    first, second = server.requests
    assert "tools" in first and "tools" not in second  # the last step offers no tools
    assistant, tool_msg = second["messages"][-3:-1]
    assert assistant == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_7",
                "type": "function",
                "function": {"name": "search_runs", "arguments": '{"conclusion": "failure"}'},
            }
        ],
    }
    assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == "call_7"
    assert tool_msg["content"].startswith('<tool_result tool="search_runs">\nrun 9423378623')
    assert second["messages"][-1] == {"role": "user", "content": "Answer now from the tool results above."}


def _json_protocol_server(reject_status: int) -> Responder:
    """Rejects any request with ``tools``; answers JSON-protocol requests (``response_format``)
    with a call first, then an answer, per conversation (by the number of messages)."""

    def respond(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "tools" in body:
            return reject_status, {
                "error": {"message": "tools are not supported", "type": "invalid_request_error"}
            }
        assert body["response_format"]["type"] == "json_schema"
        called = any(
            m["role"] == "assistant" and '"action": "call"' in str(m.get("content")) for m in body["messages"]
        )
        reply = (
            {"action": "answer", "text": "Run 9423378623 failed.", "citations": ["run 9423378623"]}
            if called
            else {"action": "call", "tool": "search_runs", "arguments": {"conclusion": "failure"}}
        )
        return 200, completion(json.dumps(reply))

    return respond


@pytest.mark.parametrize("status", [400, 500])
def test_auto_falls_back_to_json_when_the_server_rejects_tools(
    serve: Callable[[Responder], FakeOpenAI], status: int
) -> None:
    server = serve(_json_protocol_server(status))
    client = OpenAICompatClient(server.base_url, "m", timeout=10)
    seen: list[dict[str, Any]] = []
    first = run_agent(None, client, PROMPT, registry(seen), Budgets())  # type: ignore[arg-type]
    assert first.answer == "Run 9423378623 failed." and seen == [{"conclusion": "failure"}]
    assert client.tools_supported is False and first.protocol == "json"
    assert any(isinstance(e, ProtocolChanged) and f"HTTP {status}" in e.reason for e in first.events)
    assert ["tools" in r for r in server.requests] == [True, False, False]
    assert all("response_format" in r for r in server.requests[1:])

    # the second turn goes straight to JSON: no request with tools
    second = run_agent(None, client, PROMPT, registry(seen), Budgets())  # type: ignore[arg-type]
    assert second.answer == "Run 9423378623 failed."
    assert len(server.requests) == 5 and not any("tools" in r for r in server.requests[3:])


def test_native_setting_with_a_rejecting_server_fails_clearly(
    serve: Callable[[Responder], FakeOpenAI],
) -> None:
    server = serve(_json_protocol_server(422))
    client = OpenAICompatClient(server.base_url, "m", timeout=10)
    with pytest.raises(ToolsUnsupported, match=r"HTTP 422.*set llm_tool_calls to auto or json"):
        run_agent(None, client, PROMPT, registry([]), Budgets(tool_protocol="native"))  # type: ignore[arg-type]
    assert len(server.requests) == 1


def test_unavailable_server_is_not_taken_as_no_tool_support(serve: Callable[[Responder], FakeOpenAI]) -> None:
    server = serve(lambda body: (503, {"error": {"message": "loading model"}}))
    client = OpenAICompatClient(server.base_url, "m", timeout=10)
    with pytest.raises(LLMUnavailable) as info:
        client.complete_tools(PROMPT, [SEARCH])
    assert not isinstance(info.value, ToolsUnsupported) and client.tools_supported is None
