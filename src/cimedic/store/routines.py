"""The last outcome of each background routine (table ``routine_runs``)."""

from __future__ import annotations

from sqlalchemy import select

from cimedic.model.routines import RoutineOutcome
from cimedic.store import schema_routines as t
from cimedic.store.base import StoreBase, from_db, to_db

__all__ = ["load_outcomes", "save_outcome"]


def save_outcome(store: StoreBase, outcome: RoutineOutcome) -> None:
    """Replace the stored outcome of ``outcome.routine_id``."""
    row = {
        "routine_id": outcome.routine_id,
        "ok": outcome.ok,
        "ran_at": to_db(outcome.ran_at),
        "seconds": outcome.seconds,
        "summary": outcome.summary,
        "error": outcome.error,
    }
    store.upsert(t.routine_runs, [row], ["routine_id"])


def load_outcomes(store: StoreBase) -> list[RoutineOutcome]:
    """Every stored outcome, by routine id."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.routine_runs).order_by(t.routine_runs.c.routine_id)).all()
    return [
        RoutineOutcome(
            routine_id=r.routine_id,
            ok=bool(r.ok),
            ran_at=from_db(r.ran_at),  # type: ignore[arg-type]
            seconds=float(r.seconds),
            summary=r.summary or "",
            error=r.error,
        )
        for r in rows
    ]
