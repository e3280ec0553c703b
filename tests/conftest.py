"""Store fixtures: every store test runs on SQLite (a temporary file) and on PostgreSQL.

PostgreSQL: a fresh database ``cimedic_t_<random hex>`` is created on the server at
``$TEST_POSTGRES_ADMIN_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``) and
dropped afterwards. When the server cannot be reached the PostgreSQL half is skipped, except
under CI (the ``CI`` environment variable is set), where it fails: CI must test both.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from cimedic.store.engine import normalize_url, safe_url, sqlite_url
from cimedic.store.repository import Store

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_database() -> Iterator[str]:
    """Create a throw-away database and yield its URL; drop it afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"cimedic_t_{secrets.token_hex(6)}"
    try:
        admin = create_engine(
            normalize_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
        )
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # OperationalError, a missing driver, ...
        reason = f"PostgreSQL not reachable at {safe_url(PG_ADMIN_URL)} ({type(exc).__name__}: {exc})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the PostgreSQL store tests")
        pytest.skip(f"{reason}; set up a server or run in CI")
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty store database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "store.db")
    else:
        yield from _postgres_database()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An empty, migrated :class:`Store` on SQLite and on PostgreSQL (closed afterwards)."""
    s = Store(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Commands that configure process logging (`agent`, `serve`) run in-process in tests: undo
    it after each test so one test's stderr handler does not leak into the next."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {n: logging.getLogger(n).level for n in ("cimedic", "uvicorn", "uvicorn.error", "uvicorn.access")}
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)
    for n, lvl in named.items():
        logging.getLogger(n).setLevel(lvl)
