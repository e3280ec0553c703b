"""The analyzer tests run on the session's shared demo store (``demo_sqlite`` and ``demo_now`` of
``tests/conftest.py``: built once, a private copy per test, so a test may write to it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from cimedic.store.repository import Store

if TYPE_CHECKING:
    from conftest import DemoDB


@pytest.fixture
def demo(demo_sqlite: DemoDB) -> Iterator[Store]:
    """A :class:`Store` open on a private SQLite copy of the demo store (history ending at
    ``demo_now``; ``cimedic demo`` refreshed every analyzer on it)."""
    store = Store(demo_sqlite.url)
    try:
        yield store
    finally:
        store.close()
