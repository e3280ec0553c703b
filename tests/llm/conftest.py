"""A real local LLM for the ``llm``-marked tests: the Qwen2.5-Coder-0.5B test model (sha256-checked)
served by llama.cpp (``xllamacpp``), started once per session and stopped at the end.

Outside CI the tests skip when the ``llm-test`` extra is not installed; in CI (``CI`` set) they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from cimedic.testing.llm_server import LocalLLMServer, ModelUnavailable


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LocalLLMServer]:
    try:
        server = LocalLLMServer()
        server.__enter__()
    except ModelUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the test LLM is unavailable in CI: {exc}")
        pytest.skip(f"test LLM unavailable: {exc}")
    try:
        yield server
    finally:
        server.__exit__(None, None, None)
