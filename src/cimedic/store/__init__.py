"""The history store: SQLAlchemy 2 tables, Alembic migrations and one repository class
(:class:`cimedic.store.repository.Store`) over SQLite (default, WAL) or PostgreSQL."""
