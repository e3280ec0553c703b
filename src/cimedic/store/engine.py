"""Engine creation and migrations for the history store.

SQLite (the default) is opened in WAL mode with ``foreign_keys=ON`` and a 30 s busy timeout,
so a ``cimedic serve`` worker and a ``cimedic stats`` reader can share the file (SQLite docs,
"Write-Ahead Logging"). PostgreSQL URLs (``postgresql://...``) use psycopg 3 (extra
``postgres``).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event


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


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; raises :class:`StoreError` for an unusable URL.

    For a file SQLite database the parent directory is created.
    """
    url = normalize_url(url)
    try:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[1] if "///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
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


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
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
