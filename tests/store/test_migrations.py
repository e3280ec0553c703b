"""The Alembic migrations build exactly the tables of ``cimedic.store.schema.metadata`` (on
SQLite and PostgreSQL): a table, column or index added to the schema without a migration, or
the other way round, fails here."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, event

from cimedic.store.repository import Store
from cimedic.store.schema import metadata


def test_migrations_match_the_schema(store: Store) -> None:
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [
            d
            for d in compare_metadata(ctx, metadata)
            if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version")
        ]
    assert diff == [], diff


def test_migrations_reach_the_newest_revision(store: Store) -> None:
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import cimedic.store.engine as engine_mod

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(engine_mod.__file__).with_name("migrations")))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head


def _alembic_config():  # type: ignore[no-untyped-def]
    from pathlib import Path

    from alembic.config import Config

    import cimedic.store.engine as engine_mod

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(engine_mod.__file__).with_name("migrations")))
    return cfg


def test_head_revision_constant_is_alembics_head() -> None:
    """``HEAD_REVISION`` lets an up-to-date store open without loading Alembic; a new migration
    must update it (else every open would run Alembic, or a store would stay behind)."""
    from alembic.script import ScriptDirectory

    from cimedic.store.engine import HEAD_REVISION

    assert ScriptDirectory.from_config(_alembic_config()).get_current_head() == HEAD_REVISION


def test_opening_an_up_to_date_store_checks_the_version_with_one_query(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # regression: every open ran Alembic's upgrade check (~0.1-0.3 CPU-s of `cimedic stats`)
    import cimedic.store.engine as engine_mod

    def no_alembic(_engine: object) -> None:
        raise AssertionError("Alembic ran on an up-to-date store")

    monkeypatch.setattr(engine_mod, "migrate", no_alembic)
    statements: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        again = Store(store.url)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    again.close()
    assert statements == ["SELECT version_num FROM alembic_version"]


def test_a_store_behind_the_head_is_migrated_on_open(store_url: str) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    from cimedic.store.engine import HEAD_REVISION, make_engine, schema_revisions

    cfg = _alembic_config()
    previous = ScriptDirectory.from_config(cfg).get_revision(HEAD_REVISION).down_revision
    assert isinstance(previous, str)
    engine = make_engine(store_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, previous)
    assert schema_revisions(engine) == [previous]
    engine.dispose()

    opened = Store(store_url)
    try:
        assert schema_revisions(opened.engine) == [HEAD_REVISION]
    finally:
        opened.close()


def test_an_empty_database_has_no_revision_and_is_migrated(store_url: str) -> None:
    from cimedic.store.engine import HEAD_REVISION, ensure_schema, make_engine, schema_revisions

    engine = make_engine(store_url)
    try:
        assert schema_revisions(engine) == []
        assert ensure_schema(engine) is True
        assert schema_revisions(engine) == [HEAD_REVISION]
        assert ensure_schema(engine) is False
    finally:
        engine.dispose()
