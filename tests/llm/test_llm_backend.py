"""The OpenAI-compatible backend against a real local model: health, structured JSON output that
follows the schema, usage accounting; and a clear error when the server is down."""

from __future__ import annotations

import pytest

from cimedic.agent.llm.base import LLMUnavailable, Message
from cimedic.agent.llm.openai_compat import OpenAICompatClient

pytestmark = pytest.mark.llm

SCHEMA = {
    "type": "object",
    "properties": {"root_cause": {"type": "string"}, "confidence": {"type": "number"}},
    "required": ["root_cause", "confidence"],
}


def test_structured_output_follows_the_schema(llm_server) -> None:  # type: ignore[no-untyped-def]
    client = OpenAICompatClient(llm_server.base_url, llm_server.model, timeout=300)
    assert client.health().ok
    result = client.complete_json(
        [
            Message("system", "Answer in JSON."),
            Message("user", "CI error: npm ERR! code ENOTFOUND registry.npmjs.org"),
        ],
        SCHEMA,
        max_tokens=60,
    )
    assert result.data is not None
    assert isinstance(result.data["root_cause"], str) and result.data["root_cause"]
    assert isinstance(result.data["confidence"], int | float)
    assert result.prompt_tokens > 0 and result.completion_tokens > 0 and result.seconds > 0


def test_server_down_is_a_clear_unavailable_error() -> None:
    client = OpenAICompatClient("http://127.0.0.1:9/v1", "none", timeout=2)
    health = client.health()
    assert not health.ok and "unreachable" in health.message
    with pytest.raises(LLMUnavailable, match="unreachable"):
        client.complete_json([Message("user", "hi")], SCHEMA, max_tokens=5)
