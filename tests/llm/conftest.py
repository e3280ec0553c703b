"""A real local LLM for the ``llm``-marked tests: the Qwen2.5-Coder-0.5B test model (sha256-checked)
served by llama.cpp (``xllamacpp``), started once per session and stopped at the end.

Outside CI the tests skip when the ``llm-test`` extra is not installed; in CI (``CI`` set) they fail.

Timeouts: the model runs on the CPU (2 threads). On an idle 2-core machine it reads ~140 prompt
tokens/s and writes ~25-40 tokens/s: the chat test (two turns, ~1,400-token prompts) takes 45-48 s,
every other model test 1.5-4 s. With four other test runs on the same 2 cores (load ~7) both rates
dropped 10-40 fold: 90-170 s per test, and the chat test's first call hit the client's 300 s limit.
Every test that uses ``llm_server`` gets :data:`LLM_TEST_TIMEOUT` for its own call (``func_only``:
the server's start, shared by the session, is not charged to the first test) unless it sets a
``timeout`` mark (the chat test: 600 s); the start has its own guard, :data:`LLM_START_TIMEOUT`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from cimedic.testing.llm_server import LocalLLMServer, ModelUnavailable

#: Seconds one model test may take (the test's call only): a few calls at the client's
#: per-request limit of 300 s would already be a broken server, not a slow one.
LLM_TEST_TIMEOUT = 300
#: Seconds the llama.cpp server may take to answer /health (model load: ~1.5 s idle, ~15 s at
#: load 7 on 2 cores).
LLM_START_TIMEOUT = 180.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test using the model gets :data:`LLM_TEST_TIMEOUT` unless it sets its own."""
    for item in items:
        if "llm_server" in getattr(item, "fixturenames", ()) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(LLM_TEST_TIMEOUT, func_only=True))


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LocalLLMServer]:
    try:
        server = LocalLLMServer(start_timeout=LLM_START_TIMEOUT)
        server.__enter__()
    except ModelUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the test LLM is unavailable in CI: {exc}")
        pytest.skip(f"test LLM unavailable: {exc}")
    try:
        yield server
    finally:
        server.__exit__(None, None, None)
