"""An OpenAI-compatible chat-completions backend (Ollama, llama.cpp server, vLLM, LM Studio)
through the official ``openai`` client.

Structured output: ``response_format={"type": "json_schema", ...}`` first (llama.cpp's own
server, Ollama, vLLM); when the server rejects it (llama-cpp-python 0.3.x answers HTTP 500, per
``shared/docs/local-llm.md``) the client switches, once per client, to
``{"type": "json_object", "schema": ...}``, which llama-cpp-python constrains with a grammar.
The parsed object is checked for the schema's ``required`` keys.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from cimedic.agent.llm.base import Health, LLMError, LLMResult, LLMUnavailable, Message


class OpenAICompatClient:
    """``base_url`` like ``http://127.0.0.1:11434/v1``; ``timeout`` seconds per call."""

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
            True, self.base_url, served, f"LLM server at {self.base_url} serves {', '.join(names) or '?'}"
        )

    def _call(self, messages: Sequence[Message], **kwargs: Any) -> tuple[Any, float]:
        t0 = time.perf_counter()
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[{"role": m.role, "content": m.content} for m in messages],  # type: ignore[misc]
                **kwargs,
            )
        except (self._openai.APIConnectionError, self._openai.APITimeoutError) as exc:
            raise LLMUnavailable(f"LLM server at {self.base_url} unreachable: {_why(exc)}") from exc
        except self._openai.APIStatusError as exc:
            if exc.status_code >= 500 and "response_format" not in kwargs:
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
