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


def test_llm_check_with_probe_on_the_real_server(llm_server) -> None:  # type: ignore[no-untyped-def]
    """`cimedic llm check --probe` logic on llama.cpp: reachable, the served models listed,
    structured output through json_schema; native tools answered (True or False, never an error)."""
    from cimedic.agent.llm.check import check_llm

    client = OpenAICompatClient(llm_server.base_url, llm_server.model, timeout=300)
    result = check_llm(client, model=llm_server.model, probe=True)
    assert result.ok, result.problems
    # xllamacpp lists its one model as "-" (no alias) and serves it under any name
    assert result.reachable and result.models and result.model_served is not None
    assert result.protocol in ("json_schema", "json_object")
    assert result.native_tools in (True, False)
    assert result.tokens > 0 and result.seconds > 0
