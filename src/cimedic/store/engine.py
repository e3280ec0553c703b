"""Engine creation and migrations for the history store.

SQLite (the default) is opened in WAL mode with ``foreign_keys=ON`` and a 30 s busy timeout,
so a ``cimedic serve`` worker and a ``cimedic stats`` reader can share the file (SQLite docs,
"Write-Ahead Logging"). PostgreSQL URLs (``postgresql://...``) use psycopg 3 (extra
``postgres``).

Opening a store checks the schema version with one query (``SELECT version_num FROM
alembic_version``) and runs Alembic only when it differs from :data:`HEAD_REVISION`, so an
up-to-date store costs no Alembic import (Alembic's upgrade check alone cost ~0.1 CPU-second
per command).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text

#: The newest Alembic revision in ``migrations/versions/`` (the ``revision`` of its newest file).
#: Update it with every new migration; ``tests/store/test_migrations.py`` checks it against
#: Alembic's own head.
HEAD_REVISION = "0012"

#: What a PostgreSQL store without its driver says (psycopg 3 comes with the ``postgres`` extra).
POSTGRES_EXTRA_HINT = "a PostgreSQL store needs pip install 'cimedic[postgres]'"


class StoreError(Exception):
    """The store cannot be opened or migrated; the message names the URL (without password)."""


def normalize_url(url: str) -> str:
    """Map ``postgresql://`` / ``postgres://`` to the psycopg 3 driver; other URLs unchanged."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_url(path: Path) -> str:
    """``sqlite:///<absolute path>``."""
    return f"sqlite:///{path.resolve()}"


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite ``url``; None for another backend, an in-memory database
    or an unparsable URL."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(normalize_url(url))
    except Exception:
        return None
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # SQLite URI filename (``?uri=true``)
        database = database[len("file:") :].split("?", 1)[0]
        if not database or database == ":memory:":
            return None
    return Path(database)


def make_engine(url: str, *, create: bool = True) -> Engine:
    """Create an engine for ``url``; raises :class:`StoreError` for an unusable URL, a missing
    database driver (for PostgreSQL: :data:`POSTGRES_EXTRA_HINT`) or, with ``create=False``, a
    SQLite file whose directory does not exist.

    With ``create=True`` the parent directory of a SQLite file is created (SQLite creates the
    file itself on first use).
    """
    url = normalize_url(url)
    file = sqlite_file(url)
    if file is not None and not file.parent.is_dir():
        if not create:
            raise StoreError(
                f"cannot open store {_safe(url)}: directory {file.parent} does not exist "
                "(use --create to create it)"
            )
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot open store {_safe(url)}: {exc}") from exc
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except ImportError as exc:  # the dialect's DBAPI module is not installed
        if url.startswith("postgresql+psycopg://"):
            raise StoreError(f"cannot open store {_safe(url)}: {POSTGRES_EXTRA_HINT}") from exc
        raise StoreError(f"cannot open store {_safe(url)}: database driver missing: {exc}") from exc
    except Exception as exc:  # ArgumentError, NoSuchModuleError, ...
        raise StoreError(f"cannot open store {_safe(url)}: {exc}") from exc
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid url>"


def schema_revisions(engine: Engine) -> list[str]:
    """The Alembic revisions recorded in the store (``alembic_version``), one query; ``[]`` for
    a database without that table (empty, or never migrated).

    Raises :class:`StoreError` when the database cannot be reached.
    """
    from sqlalchemy.exc import DBAPIError

    try:
        conn = engine.connect()
    except Exception as exc:
        raise StoreError(f"cannot open store {_safe(str(engine.url))}: {exc}") from exc
    with conn:
        try:
            return [str(v) for v in conn.execute(text("SELECT version_num FROM alembic_version")).scalars()]
        except DBAPIError:  # no such table
            return []


def ensure_schema(engine: Engine) -> bool:
    """Migrate the store unless it is already at :data:`HEAD_REVISION`; True when Alembic ran.

    Raises :class:`StoreError` when the database cannot be reached or migrated.
    """
    if schema_revisions(engine) == [HEAD_REVISION]:
        return False
    migrate(engine)
    return True


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent; loads Alembic and its
    scripts, ~0.1 CPU-second: :func:`ensure_schema` skips it for an up-to-date store)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except Exception as exc:
        raise StoreError(f"cannot migrate store {_safe(str(engine.url))}: {exc}") from exc


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    return _safe(normalize_url(url))
