"""An OpenAI-compatible chat-completions backend (Ollama, llama.cpp server, vLLM, LM Studio)
through the official ``openai`` client.

Structured output: ``response_format={"type": "json_schema", ...}`` first (llama.cpp's own
server, Ollama, vLLM); when the server rejects it (llama-cpp-python 0.3.x answers HTTP 500, per
``shared/docs/local-llm.md``) the client switches, once per client, to
``{"type": "json_object", "schema": ...}``, which llama-cpp-python constrains with a grammar.
The parsed object is checked for the schema's ``required`` keys.

Native tool calls (:meth:`OpenAICompatClient.complete_tools`): ``tools=[{"type": "function",
"function": {name, description, parameters}}]`` with ``tool_choice``; ``message.tool_calls`` are
parsed (``function.arguments`` is a JSON string). Assistant messages that carry ``tool_calls`` are
sent with ``"content": ""``, never null (llama-cpp-python rejects null, ``shared/docs/local-llm.md``);
results go back as ``{"role": "tool", "tool_call_id": ..., "content": ...}``. A server that answers
a request with ``tools`` by HTTP 4xx/5xx (other than 401/403/408/429 and 502/503/504) raises
:class:`~cimedic.agent.llm.base.ToolsUnsupported` and the client remembers it
(``tools_supported = False``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from cimedic.agent.llm.base import (
    Health,
    LLMError,
    LLMResult,
    LLMUnavailable,
    Message,
    ToolCall,
    ToolChoice,
    ToolSpec,
    ToolsUnsupported,
)

#: HTTP statuses of a request with ``tools`` that say nothing about tool support (auth, timeout,
#: rate limit, gateway/unavailable): they raise :class:`LLMUnavailable`, not :class:`ToolsUnsupported`.
NOT_A_TOOLS_ANSWER = frozenset({401, 403, 408, 429, 502, 503, 504})


class OpenAICompatClient:
    """``base_url`` like ``http://127.0.0.1:11434/v1``; ``timeout`` seconds per call.
    ``tools_supported``: None until a native tool-call request tells (True: the server returned
    ``tool_calls``; False: it rejected ``tools``, or the agent loop found it ignores them)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        http_client: Any | None = None,
    ) -> None:
        import openai

        self.base_url = base_url
        self.model = model
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout,
            max_retries=0,
            http_client=http_client,
        )
        self._protocol = "json_schema"
        self.tools_supported: bool | None = None

    def health(self) -> Health:
        """``GET /models``: ok when the server answers; never raises."""
        try:
            models = self._client.models.list()
            names = [m.id for m in models.data]
        except Exception as exc:
            return Health(
                False, self.base_url, None, f"LLM server at {self.base_url} unreachable: {_why(exc)}"
            )
        served = self.model if self.model in names or not names else names[0]
        return Health(
            True,
            self.base_url,
            served,
            f"LLM server at {self.base_url} serves {', '.join(names) or '?'}",
            tuple(names),
        )

    def _call(
        self, messages: Sequence[Message], *, raw_status: bool = False, **kwargs: Any
    ) -> tuple[Any, float]:
        t0 = time.perf_counter()
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[wire_message(m) for m in messages],  # type: ignore[misc]
                **kwargs,
            )
        except (self._openai.APIConnectionError, self._openai.APITimeoutError) as exc:
            raise LLMUnavailable(f"LLM server at {self.base_url} unreachable: {_why(exc)}") from exc
        except self._openai.APIStatusError as exc:
            if exc.status_code >= 500 and "response_format" not in kwargs and not raw_status:
                raise LLMUnavailable(f"LLM server at {self.base_url} failed: HTTP {exc.status_code}") from exc
            raise
        return response, time.perf_counter() - t0

    def complete_json(
        self,
        messages: Sequence[Message],
        schema: dict[str, Any],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> LLMResult:
        formats = {
            "json_schema": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": True},
            },
            "json_object": {"type": "json_object", "schema": schema},
        }
        order = [self._protocol] + [p for p in formats if p != self._protocol]
        last: Exception | None = None
        for protocol in order:
            try:
                response, seconds = self._call(
                    messages,
                    response_format=formats[protocol],
                    max_tokens=max_tokens,
                    temperature=temperature,
                )
            except self._openai.APIStatusError as exc:
                last = exc
                continue
            self._protocol = protocol
            text = response.choices[0].message.content or ""
            data = _parse_object(text, schema)
            usage = response.usage
            return LLMResult(
                text=text,
                data=data,
                prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                seconds=seconds,
                model=self.model,
                protocol=protocol,
            )
        raise LLMUnavailable(f"LLM server at {self.base_url} rejected structured output: {_why(last)}")

    def complete_text(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.2
    ) -> LLMResult:
        try:
            response, seconds = self._call(messages, max_tokens=max_tokens, temperature=temperature)
        except self._openai.APIStatusError as exc:
            raise LLMUnavailable(f"LLM server at {self.base_url} failed: HTTP {exc.status_code}") from exc
        usage = response.usage
        return LLMResult(
            text=response.choices[0].message.content or "",
            data=None,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            seconds=seconds,
            model=self.model,
            protocol="text",
        )

    def complete_tools(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        tool_choice: ToolChoice = "auto",
    ) -> LLMResult:
        """One completion offering ``tools`` natively (none: no ``tools`` parameter, a text reply).
        Raises :class:`ToolsUnsupported` when the server rejects the request with ``tools`` or
        tool messages (or rejected ``tools`` before), :class:`LLMUnavailable` when it cannot be reached or fails
        otherwise, :class:`LLMError` when a call's ``function.arguments`` is not a JSON object."""
        kwargs: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature}
        if tools:
            if self.tools_supported is False:
                raise ToolsUnsupported(f"LLM server at {self.base_url} rejected native tool calls before")
            kwargs["tools"] = [tool_param(t) for t in tools]
            kwargs["tool_choice"] = tool_choice
        # a request without tools but with tool messages (the answer-only last step) is native too
        native = bool(tools) or any(m.role == "tool" or m.tool_calls for m in messages)
        try:
            response, seconds = self._call(messages, raw_status=True, **kwargs)
        except self._openai.APIStatusError as exc:
            status = exc.status_code
            if native and status not in NOT_A_TOOLS_ANSWER:
                self.tools_supported = False
                raise ToolsUnsupported(
                    f"LLM server at {self.base_url} rejected a request with tools: HTTP {status}: "
                    f"{str(exc)[:200]}"
                ) from exc
            raise LLMUnavailable(f"LLM server at {self.base_url} failed: HTTP {status}") from exc
        choice = response.choices[0]
        message = choice.message
        calls = parse_tool_calls(getattr(message, "tool_calls", None) or ())
        if calls:
            self.tools_supported = True
        usage = response.usage
        return LLMResult(
            text=message.content or "",
            data=None,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            seconds=seconds,
            model=self.model,
            protocol="native",
            tool_calls=calls,
            finish_reason=getattr(choice, "finish_reason", None),
        )


def wire_message(m: Message) -> dict[str, Any]:
    """``m`` as an OpenAI chat message: a ``tool`` message with its ``tool_call_id``; an assistant
    message with ``tool_calls`` (arguments as JSON strings) and ``content`` "" when empty."""
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content}
    if m.tool_calls:
        return {
            "role": m.role,
            "content": m.content or "",
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                }
                for c in m.tool_calls
            ],
        }
    return {"role": m.role, "content": m.content}


def tool_param(tool: ToolSpec) -> dict[str, Any]:
    """One entry of the ``tools`` parameter."""
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def parse_tool_calls(raw: Sequence[Any]) -> tuple[ToolCall, ...]:
    """The ``message.tool_calls`` of a response as :class:`ToolCall` (a missing id becomes
    ``call_<index>``; empty arguments ``{}``). Raises :class:`LLMError` naming the call (index,
    name, id) when its arguments are not a JSON object."""
    calls: list[ToolCall] = []
    for i, call in enumerate(raw):
        function = getattr(call, "function", None)
        name = str(getattr(function, "name", "") or "")
        call_id = str(getattr(call, "id", "") or f"call_{i}")
        args = getattr(function, "arguments", None)
        if isinstance(args, dict):
            arguments = args
        else:
            text = str(args or "").strip()
            try:
                arguments = json.loads(text) if text else {}
            except json.JSONDecodeError as exc:
                raise LLMError(
                    f"tool call {i} ({name or '?'}, id {call_id}): function.arguments is not JSON "
                    f"({exc.msg} at character {exc.pos}): {text[:200]!r}"
                ) from exc
        if not isinstance(arguments, dict):
            raise LLMError(
                f"tool call {i} ({name or '?'}, id {call_id}): function.arguments is not a JSON "
                f"object: {str(args)[:200]!r}"
            )
        calls.append(ToolCall(call_id, name, arguments))
    return tuple(calls)


def _parse_object(text: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON object in ``text`` with the schema's required keys; raises :class:`LLMError`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise LLMError(f"model answer is not JSON: {text[:200]!r}") from exc
        try:
            data = json.loads(text[start : end + 1])
        except json.JSONDecodeError as exc2:
            raise LLMError(f"model answer is not JSON: {text[:200]!r}") from exc2
    if not isinstance(data, dict):
        raise LLMError(f"model answer is not a JSON object: {text[:200]!r}")
    missing = [k for k in schema.get("required", []) if k not in data]
    if missing:
        raise LLMError(f"model answer lacks required keys {missing}: {text[:200]!r}")
    return data


def _why(exc: object) -> str:
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"
