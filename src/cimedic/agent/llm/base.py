"""The LLM protocol: structured JSON output is the baseline (small local models follow a JSON
schema under grammar constraints; see ``shared/docs/local-llm.md``), chat text on top, and native
OpenAI tool calls (:class:`ToolCallingLLM`) where the server supports them.

Every call reports its cost (:class:`LLMResult`: prompt and completion tokens, seconds), so
callers can account usage per feature. A server that is down raises :class:`LLMUnavailable`;
callers fall back to their deterministic answer. A server that rejects the ``tools`` parameter
raises :class:`ToolsUnsupported` (a kind of :class:`LLMUnavailable`), so the agent loop can fall
back to the JSON protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

#: ``tool_choice`` of a native tool-call request (OpenAI chat completions): ``auto`` lets the model
#: choose between a call and text, ``required`` asks for at least one call, ``none`` for text.
ToolChoice = Literal["auto", "required", "none"]


class LLMError(Exception):
    """The model answered, but not usably (invalid JSON, schema violation); the message says why."""


class LLMUnavailable(LLMError):
    """No model is configured, or the server cannot be reached (connection refused, timeout, 5xx)."""


class ToolsUnsupported(LLMUnavailable):
    """The server (or client) does not do native tool calls: it rejected a request carrying
    ``tools`` (an HTTP 4xx/5xx answer other than auth, rate-limit and gateway errors), or the client
    has no ``complete_tools``. The agent loop's ``auto`` protocol falls back to structured JSON."""


@dataclass(frozen=True)
class ToolCall:
    """One native tool call: the server's ``id`` (echoed back as the result's ``tool_call_id``),
    the function ``name`` and its parsed ``arguments`` (a JSON object)."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered natively: ``name``, ``description``, ``parameters`` (a JSON Schema object);
    sent as ``{"type": "function", "function": {name, description, parameters}}``."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Message:
    """One chat message (``role``: system, user, assistant, tool). An assistant message may carry
    native ``tool_calls``; a ``tool`` message answers the call with id ``tool_call_id``."""

    role: str
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True)
class LLMResult:
    """A completion: ``text`` as returned, ``data`` the parsed JSON object (structured calls),
    token counts as reported by the server, ``seconds`` wall-clock, ``protocol`` the wire protocol
    (``json_schema``, ``json_object``, ``text`` or ``native``), ``tool_calls`` the parsed native
    calls (``native`` only) and the server's ``finish_reason`` when it gave one."""

    text: str
    data: dict[str, Any] | None
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    model: str
    protocol: str = "json_schema"
    extra: dict[str, str] = field(default_factory=dict)
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None


@dataclass(frozen=True)
class Health:
    """Whether the server answers, which model it serves, and a message for humans; ``models``:
    every model name the server lists (empty when unknown)."""

    ok: bool
    base_url: str
    model: str | None
    message: str
    models: tuple[str, ...] = ()


class LLMClient(Protocol):
    """An LLM backend."""

    def health(self) -> Health: ...

    def complete_json(
        self,
        messages: Sequence[Message],
        schema: dict[str, Any],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> LLMResult:
        """Ask for one JSON object matching ``schema`` (a JSON Schema dict). Raises
        :class:`LLMUnavailable` or :class:`LLMError`."""
        ...

    def complete_text(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.2
    ) -> LLMResult:
        """Plain text completion. Raises :class:`LLMUnavailable`."""
        ...


@runtime_checkable
class ToolCallingLLM(Protocol):
    """An :class:`LLMClient` that can also make native tool calls. ``tools_supported`` is what is
    known about the server: None (not tried yet), True (it returned proper ``tool_calls``) or False
    (it rejected ``tools`` or ignored them; the agent loop then uses JSON for this client)."""

    tools_supported: bool | None

    def complete_tools(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        tool_choice: ToolChoice = "auto",
    ) -> LLMResult:
        """One chat completion offering ``tools`` (none: a plain text reply). The result has
        ``protocol="native"``, the parsed ``tool_calls`` (possibly empty) and the reply ``text``.
        Raises :class:`ToolsUnsupported` when the server rejects ``tools``,
        :class:`LLMUnavailable` when it cannot be reached, :class:`LLMError` when a call's
        arguments are not a JSON object."""
        ...


def supports_tools(llm: object) -> bool:
    """True when ``llm`` has native tool calls and they are not known to fail on its server."""
    return isinstance(llm, ToolCallingLLM) and llm.tools_supported is not False
