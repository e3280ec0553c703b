"""A scripted :class:`~cimedic.agent.llm.base.LLMClient` for tests: it answers from a script, in
order, and records every call (messages, schema, max_tokens) for assertions;
:class:`ScriptedToolLLM` also makes native tool calls (a
:class:`~cimedic.agent.llm.base.ToolCallingLLM`). It lives in
``cimedic.agent`` (not ``cimedic.testing``) because the layers contract forbids ``cimedic.testing``
to import ``cimedic.agent``."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cimedic.agent.llm.base import Health, LLMError, LLMResult, Message, ToolCall, ToolChoice, ToolSpec

#: A script entry: a JSON object to return, an exception to raise, or a function of the call
#: (messages, schema) returning either.
Reply = dict[str, Any] | Exception | Callable[[Sequence[Message], dict[str, Any] | None], Any]


@dataclass
class Call:
    """One recorded call: ``kind`` json, text or tools, the messages, the schema (json calls),
    the tools offered and the ``tool_choice`` (tools calls)."""

    kind: str
    messages: tuple[Message, ...]
    schema: dict[str, Any] | None
    max_tokens: int
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None


@dataclass
class ScriptedLLM:
    """Returns the ``script`` entries in order (``complete_json`` and ``complete_text`` share it;
    a text call takes a dict's ``"text"``). ``tokens`` (prompt, completion) are reported per call,
    ``seconds`` per call. When the script is spent it raises :class:`LLMError`."""

    script: list[Reply] = field(default_factory=list)
    tokens: tuple[int, int] = (100, 20)
    seconds: float = 0.01
    model: str = "scripted"
    calls: list[Call] = field(default_factory=list)

    def health(self) -> Health:
        return Health(True, "scripted://", self.model, "scripted fake")

    def _next(self, messages: Sequence[Message], schema: dict[str, Any] | None) -> dict[str, Any]:
        if not self.script:
            raise LLMError("scripted LLM: script exhausted")
        reply = self.script.pop(0)
        if callable(reply) and not isinstance(reply, dict | Exception):
            reply = reply(messages, schema)
        if isinstance(reply, Exception):
            raise reply
        return dict(reply)

    def _result(self, text: str, data: dict[str, Any] | None, protocol: str) -> LLMResult:
        return LLMResult(text, data, self.tokens[0], self.tokens[1], self.seconds, self.model, protocol)

    def complete_json(
        self,
        messages: Sequence[Message],
        schema: dict[str, Any],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> LLMResult:
        self.calls.append(Call("json", tuple(messages), schema, max_tokens))
        data = self._next(messages, schema)
        return self._result(json.dumps(data), data, "json_schema")

    def complete_text(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.2
    ) -> LLMResult:
        self.calls.append(Call("text", tuple(messages), None, max_tokens))
        data = self._next(messages, None)
        return self._result(str(data.get("text", "")), None, "text")

    @property
    def json_calls(self) -> list[Call]:
        return [c for c in self.calls if c.kind == "json"]


def tool_call(name: str, call_id: str | None = None, **arguments: Any) -> dict[str, Any]:
    """A script entry for :meth:`ScriptedToolLLM.complete_tools`: one native call."""
    return {"tool_calls": [{"id": call_id, "name": name, "arguments": arguments}]}


@dataclass
class ScriptedToolLLM(ScriptedLLM):
    """A :class:`ScriptedLLM` with native tool calls. A ``complete_tools`` entry is a dict with
    ``tool_calls`` (each ``{"name", "arguments", "id"}``; a missing id becomes ``call_<n>``)
    and/or ``text`` (the reply text; no calls: a text answer), an exception to raise (e.g.
    :class:`~cimedic.agent.llm.base.ToolsUnsupported`), or a function of (messages, None).
    ``tools_supported`` as in :class:`~cimedic.agent.llm.base.ToolCallingLLM`."""

    tools_supported: bool | None = None
    _ids: int = 0

    def complete_tools(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        tool_choice: ToolChoice = "auto",
    ) -> LLMResult:
        self.calls.append(Call("tools", tuple(messages), None, max_tokens, tuple(tools), tool_choice))
        data = self._next(messages, None)
        calls = []
        for raw in data.get("tool_calls") or []:
            self._ids += 1
            calls.append(
                ToolCall(raw.get("id") or f"call_{self._ids}", raw["name"], dict(raw.get("arguments") or {}))
            )
        return LLMResult(
            str(data.get("text", "")),
            None,
            self.tokens[0],
            self.tokens[1],
            self.seconds,
            self.model,
            "native",
            tool_calls=tuple(calls),
            finish_reason="tool_calls" if calls else "stop",
        )

    @property
    def native_calls(self) -> list[Call]:
        """The recorded ``complete_tools`` calls."""
        return [c for c in self.calls if c.kind == "tools"]
