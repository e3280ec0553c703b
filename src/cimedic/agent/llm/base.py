"""The LLM protocol: structured JSON output is the baseline (small local models follow a JSON
schema under grammar constraints; see ``shared/docs/local-llm.md``), chat text on top.

Every call reports its cost (:class:`LLMResult`: prompt and completion tokens, seconds), so
callers can account usage per feature. A server that is down raises :class:`LLMUnavailable`;
callers fall back to their deterministic answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class LLMError(Exception):
    """The model answered, but not usably (invalid JSON, schema violation); the message says why."""


class LLMUnavailable(LLMError):
    """No model is configured, or the server cannot be reached (connection refused, timeout, 5xx)."""


@dataclass(frozen=True)
class Message:
    """One chat message (``role``: system, user, assistant)."""

    role: str
    content: str


@dataclass(frozen=True)
class LLMResult:
    """A completion: ``text`` as returned, ``data`` the parsed JSON object (structured calls),
    token counts as reported by the server, ``seconds`` wall-clock."""

    text: str
    data: dict[str, Any] | None
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    model: str
    protocol: str = "json_schema"
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    """Whether the server answers, which model it serves, and a message for humans."""

    ok: bool
    base_url: str
    model: str | None
    message: str


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
