"""The LLM client from the settings (an OpenAI-compatible server), or none."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cimedic.agent.llm.base import LLMClient
    from cimedic.settings import Settings

__all__ = ["llm_client"]


def llm_client(settings: Settings) -> LLMClient | None:
    """The configured :class:`~cimedic.agent.llm.base.LLMClient` (an OpenAI-compatible server),
    or ``None`` when ``llm_base_url`` is unset (every feature but chat then works without it)."""
    if not settings.llm_base_url:
        return None
    from cimedic.agent.llm.openai_compat import OpenAICompatClient

    return OpenAICompatClient(
        settings.llm_base_url, settings.llm_model, api_key=settings.llm_api_key, timeout=settings.llm_timeout
    )
