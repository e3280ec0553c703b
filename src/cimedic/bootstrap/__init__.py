"""The composition root: the one place that reads :class:`~cimedic.settings.Settings` and
builds the application (:func:`build` → :class:`AppContext`). Interfaces receive the context;
services and everything below take their collaborators as arguments.

Modules: :mod:`.context` (the context), :mod:`.store` (store URL and opening),
:mod:`.providers` (CI-provider registry and settings), :mod:`.llm` (LLM client),
:mod:`.wiring` (budgets, thresholds, policy, templates, quiet hours, notifiers),
:mod:`.routines` (the background routines of ``watch``, ``serve`` and ``agent``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cimedic.bootstrap.context import AppContext, build
from cimedic.bootstrap.llm import llm_client
from cimedic.bootstrap.store import StoreEtags, database_url, open_store

if TYPE_CHECKING:
    from cimedic.actions.notify import Notifier
    from cimedic.settings import Settings

__all__ = ["AppContext", "StoreEtags", "build", "database_url", "llm_client", "notifiers", "open_store"]


def notifiers(settings: Settings) -> list[Notifier]:
    """The configured notification channels (see :func:`cimedic.bootstrap.wiring.notifiers_from`)."""
    return build(settings).notifiers
