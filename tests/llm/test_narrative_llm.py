"""The grounded narrative with the real local model: either kept (then every number in it is in
the report) or dropped with a reason."""

from __future__ import annotations

import pytest

from cimedic.agent.llm.openai_compat import OpenAICompatClient
from cimedic.agent.narrative import check_grounded, grounded_narrative

pytestmark = pytest.mark.llm


def test_narrative_is_grounded_or_dropped(llm_server) -> None:  # type: ignore[no-untyped-def]
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agent"))
    from test_narrative import report  # the same small report as the fake-LLM tests

    client = OpenAICompatClient(llm_server.base_url, llm_server.model, timeout=300)
    result = grounded_narrative(report(), client, max_tokens=80)
    if result.text is not None:
        assert check_grounded(result.text, report()) == ()
    else:
        assert result.reason
