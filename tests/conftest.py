"""Shared fixtures: the store on SQLite and PostgreSQL, and the demo store built once per session.

Store: every store test runs on SQLite (a temporary file) and on PostgreSQL. PostgreSQL: a
fresh database ``cimedic_t_<random hex>`` is created on the server at
``$TEST_POSTGRES_ADMIN_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``) and
dropped afterwards. When the server cannot be reached the PostgreSQL half is skipped, except
under CI (the ``CI`` environment variable is set), where it fails: CI must test both.

Demo store: ``run_demo`` (the demo history collected through the GitHub replay, ~5 s on SQLite
and more on PostgreSQL) runs ONCE per session for each (backend, demo now) a test asks for, into
a template; every test gets its own copy, so a test may write to it freely:

* SQLite: the template file is copied with the ``sqlite3`` backup API (consistent whatever the
  WAL holds);
* PostgreSQL: ``CREATE DATABASE cimedic_t_<hex> TEMPLATE cimedic_demo_tpl_<hex>`` (PostgreSQL
  docs, "Template Databases": no other session may be connected to the template, so the store
  that built it is closed first and nothing opens it again). Templates are dropped at the end.

The fixtures hand out a :class:`DemoDB` (``url``, ``now``, ``backend``, ``path``):

* ``demo_copy``: one copy per backend (parametrized like ``store_url``: ``[sqlite]``, ``[postgresql]``);
* ``demo_sqlite``: a SQLite copy only; ``demo_store``: a :class:`Store` open on ``demo_copy``;
* ``make_demo_copy(backend="sqlite", now=None)``: more copies, or another demo now, in one test.

The demo history ends at its ``now`` (the latest run starts ~14 min before it). ``demo_now``
defaults to :data:`DEMO_NOW`; a module overrides the fixture to build the demo at another moment,
e.g. ``def demo_now(live_demo_now): return live_demo_now`` for code that reads the wall clock
(``cimedic failures --since 7d``, the API): ``live_demo_now`` is one wall-clock moment shared by the
session (one build), renewed when older than :data:`LIVE_DEMO_MAX_AGE`.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from cimedic.store.engine import normalize_url, safe_url, sqlite_url
from cimedic.store.repository import Store

if TYPE_CHECKING:
    from sqlalchemy import Engine

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

#: The fixed "now" of the shared demo store (most tests pin the demo to it).
DEMO_NOW = datetime(2026, 11, 20, tzinfo=UTC)
#: A wall-clock demo older than this is rebuilt. The demo's runs start >= 50 min away from the
#: edges of the 24 h and 7 d windows the tests query (run ages 21.2 h / 36.1 h and 167.1 h /
#: 170.1 h), so a 15 min old "now" answers every query like a fresh one.
LIVE_DEMO_MAX_AGE = timedelta(minutes=15)

# ---------------------------------------------------------------- PostgreSQL
def _admin_engine() -> Engine:
    """An AUTOCOMMIT engine on the admin URL, checked with one connection; skips (fails in CI)
    when the server cannot be reached."""
    from sqlalchemy import create_engine

    try:
        admin = create_engine(
            normalize_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
        )
        with admin.connect():
            pass
    except Exception as exc:  # OperationalError, a missing driver, ...
        _postgres_unreachable(exc)
    return admin


def _postgres_unreachable(exc: Exception) -> NoReturn:
    reason = f"PostgreSQL not reachable at {safe_url(PG_ADMIN_URL)} ({type(exc).__name__}: {exc})"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the PostgreSQL store tests")
    pytest.skip(f"{reason}; set up a server or run in CI")


def _postgres_url(name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _create_database(admin: Engine, name: str, template: str | None = None) -> None:
    from sqlalchemy import text

    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))


def _drop_database(admin: Engine, name: str) -> None:
    from sqlalchemy import text

    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _postgres_database(template: str | None = None) -> Iterator[str]:
    """Create a throw-away database (a copy of ``template`` when given) and yield its URL; drop it
    afterwards."""
    admin = _admin_engine()
    name = f"cimedic_t_{secrets.token_hex(6)}"
    try:
        _create_database(admin, name, template)
        yield _postgres_url(name)
    finally:
        _drop_database(admin, name)
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


# ---------------------------------------------------------------- the shared demo store
@dataclass(frozen=True)
class DemoDB:
    """A test's private copy of the demo store: its ``url``, the demo's ``now`` (UTC; the history
    ends there), ``backend`` (``"sqlite"`` or ``"postgresql"``) and, on SQLite, the file ``path``."""

    url: str
    now: datetime
    backend: str
    path: Path | None = None


def _build_demo(url: str, now: datetime) -> None:
    """``cimedic demo`` into the (empty) store at ``url``, then close it."""
    from cimedic.services.demo import run_demo
    from cimedic.services.diagnose import make_diagnoser

    store = Store(url)
    try:
        run_demo(store, make_diagnoser()[0], now=now)
    finally:
        store.close()  # disposes the engine: a PostgreSQL template must have no session open


class DemoTemplates:
    """The demo store built once per session for each (backend, now): SQLite files under ``root``
    and PostgreSQL template databases ``cimedic_demo_tpl_<hex>``; :meth:`close` drops the latter."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sqlite: dict[datetime, Path] = {}
        self._postgres: dict[datetime, str] = {}
        self._created: list[str] = []  # PostgreSQL templates to drop, built or not
        self._live: datetime | None = None

    def live_now(self) -> datetime:
        """The session's wall-clock demo now (whole seconds, UTC), renewed after
        :data:`LIVE_DEMO_MAX_AGE`."""
        real = datetime.now(UTC).replace(microsecond=0)
        if self._live is None or real - self._live > LIVE_DEMO_MAX_AGE:
            self._live = real
        return self._live

    def sqlite(self, now: datetime) -> Path:
        """The SQLite template file of the demo at ``now`` (built on first use)."""
        if now not in self._sqlite:
            path = self.root / f"demo-{now:%Y%m%dT%H%M%S}.db"
            path.unlink(missing_ok=True)
            _build_demo(sqlite_url(path), now)
            self._sqlite[now] = path
        return self._sqlite[now]

    def postgresql(self, admin: Engine, now: datetime) -> str:
        """The name of the PostgreSQL template database of the demo at ``now`` (built on first use)."""
        if now not in self._postgres:
            name = f"cimedic_demo_tpl_{secrets.token_hex(6)}"
            _create_database(admin, name)
            self._created.append(name)
            _build_demo(_postgres_url(name), now)
            self._postgres[now] = name
        return self._postgres[now]

    def close(self) -> None:
        if not self._created:
            return
        admin = _admin_engine()
        try:
            for name in self._created:
                _drop_database(admin, name)
        finally:
            admin.dispose()


def _copy_sqlite(source: Path, dest: Path) -> None:
    """Copy a SQLite database with the backup API (WAL content included)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(dest)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


@pytest.fixture(scope="session")
def demo_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTemplates]:
    """The session's demo templates (see the module docstring); dropped at the end."""
    templates = DemoTemplates(tmp_path_factory.mktemp("demo-templates"))
    try:
        yield templates
    finally:
        templates.close()


@pytest.fixture
def demo_now() -> datetime:
    """The moment the demo history ends: :data:`DEMO_NOW`. Override it in a module to build the
    demo at another moment (e.g. return ``live_demo_now``)."""
    return DEMO_NOW


@pytest.fixture
def live_demo_now(demo_templates: DemoTemplates) -> datetime:
    """A wall-clock now (whole seconds, UTC) shared by the session's tests, so the demo at "now"
    is built once; at most :data:`LIVE_DEMO_MAX_AGE` old."""
    return demo_templates.live_now()


@pytest.fixture
def make_demo_copy(
    demo_templates: DemoTemplates, demo_now: datetime, tmp_path: Path
) -> Iterator[Callable[..., DemoDB]]:
    """``make_demo_copy(backend="sqlite", now=None) -> DemoDB``: a private copy of the demo store
    (``now`` defaults to ``demo_now``); PostgreSQL copies are dropped after the test."""
    admin: Engine | None = None
    databases: list[str] = []

    def make(backend: str = "sqlite", now: datetime | None = None) -> DemoDB:
        nonlocal admin
        at = now or demo_now
        if backend == "sqlite":
            folder = tmp_path / "demo-copies"  # not tmp_path itself: tests use their own names there
            folder.mkdir(exist_ok=True)
            path = folder / f"demo-{len(list(folder.iterdir())) + 1}.db"
            _copy_sqlite(demo_templates.sqlite(at), path)
            return DemoDB(sqlite_url(path), at, "sqlite", path)
        if backend != "postgresql":
            raise ValueError(f"unknown backend {backend!r}")
        admin = admin or _admin_engine()
        template = demo_templates.postgresql(admin, at)
        name = f"cimedic_t_{secrets.token_hex(6)}"
        _create_database(admin, name, template)
        databases.append(name)
        return DemoDB(_postgres_url(name), at, "postgresql")

    try:
        yield make
    finally:
        if admin is not None:
            for name in databases:
                _drop_database(admin, name)
            admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def demo_copy(request: pytest.FixtureRequest, make_demo_copy: Callable[..., DemoDB]) -> DemoDB:
    """A private copy of the demo store at ``demo_now``, on SQLite and on PostgreSQL."""
    return make_demo_copy(request.param)


@pytest.fixture
def demo_sqlite(make_demo_copy: Callable[..., DemoDB]) -> DemoDB:
    """A private SQLite copy of the demo store at ``demo_now``."""
    return make_demo_copy("sqlite")


@pytest.fixture
def demo_store(demo_copy: DemoDB) -> Iterator[Store]:
    """A :class:`Store` open on ``demo_copy`` (SQLite and PostgreSQL), closed afterwards."""
    s = Store(demo_copy.url)
    try:
        yield s
    finally:
        s.close()


# ---------------------------------------------------------------- process state
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
