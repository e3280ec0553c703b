"""The Alembic migrations build exactly the tables of ``cimedic.store.schema.metadata`` (on
SQLite and PostgreSQL): a table, column or index added to the schema without a migration, or
the other way round, fails here."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

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
