"""The test LLM server lists its model under :data:`MODEL_ALIAS` (the name the README exports as
``CIMEDIC_LLM_MODEL``), so ``cimedic llm check`` finds it served.

Regression: with xllamacpp 2026.10 ``model_alias`` is a set, and assigning the alias string made
one alias per character; ``/v1/models`` listed the model as ``-``."""

from __future__ import annotations

import httpx
import pytest

from cimedic.testing.llm_server import MODEL_ALIAS

pytestmark = pytest.mark.llm


def test_models_lists_the_alias(llm_server) -> None:  # type: ignore[no-untyped-def]
    assert llm_server.model == MODEL_ALIAS
    models = httpx.get(llm_server.base_url + "/models", timeout=10).json()["data"]
    assert [m["id"] for m in models] == [MODEL_ALIAS]


def test_llm_check_finds_the_model_served(llm_server) -> None:  # type: ignore[no-untyped-def]
    from cimedic.agent.llm.check import check_llm
    from cimedic.agent.llm.openai_compat import OpenAICompatClient

    result = check_llm(
        OpenAICompatClient(llm_server.base_url, llm_server.model, timeout=60), model=MODEL_ALIAS
    )
    assert result.reachable and result.model_served is True, result.problems
