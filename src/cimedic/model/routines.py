"""Outcomes of background routines (polls, findings refresh, notifications, reports)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class RoutineOutcome(BaseModel):
    """One run of a routine: ``ok``, ``ran_at`` (aware UTC, when it started), ``seconds`` it
    took, a one-line ``summary`` and the ``error`` (``ExceptionType: message``; None when ok)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    routine_id: str
    ok: bool
    ran_at: datetime
    seconds: float
    summary: str = ""
    error: str | None = None
