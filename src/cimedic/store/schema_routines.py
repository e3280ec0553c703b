"""Table of routine outcomes (migration 0010); it shares :data:`cimedic.store.schema.metadata`.

``routine_runs``: the last outcome of each background routine (``routine_id``, e.g. ``poll``,
``findings``, ``report-daily``): ``ok``, when it ran (``ran_at``, naive UTC), how long
(``seconds``), a one-line ``summary`` and the ``error`` (``None`` when ok). One row per routine,
replaced on every run, so ``/healthz`` and ``agent --once`` can tell what failed last.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Float, String, Table, Text

from cimedic.store.schema import metadata

routine_runs = Table(
    "routine_runs",
    metadata,
    Column("routine_id", String(64), primary_key=True),
    Column("ok", Boolean, nullable=False),
    Column("ran_at", DateTime, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("summary", Text),
    Column("error", Text),
)
