"""Explanations of diagnosed failures and LLM usage records (``cimedic explain``, ``cimedic usage``).

An :class:`Explanation` is what the model answered (``source="llm"``), what the cache held
(``source="cache"``), or the deterministic fallback built from the diagnosis
(``source="deterministic"``; ``fallback_reason`` says why: no LLM configured, server down, the
answer was rejected). ``evidence_lines`` are 1-based line numbers of the job log, each one a
line of the excerpt the model was given. Times are aware UTC; durations are seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Explanation", "UsageRecord", "UsageRow", "UsageSummary"]

ExplanationSource = Literal["llm", "cache", "deterministic"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Explanation(_Frozen):
    """One explanation of one diagnosed failure (``--format json`` of ``cimedic explain``)."""

    job_id: int | None = None
    signature: str = ""
    root_cause: str
    evidence_lines: tuple[int, ...] = ()
    fix: str = ""
    confidence: float = Field(ge=0.0, le=1.0)
    source: ExplanationSource
    model: str | None = None
    fallback_reason: str | None = None
    rejected: bool = False
    redactions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class UsageRecord(_Frozen):
    """One LLM call (or cache hit, ``cached=True`` with zero tokens) of a ``feature``."""

    feature: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    ok: bool = True
    cached: bool = False
    error: str | None = None
    created_at: datetime


class UsageRow(_Frozen):
    """Usage of one feature on one UTC day (``day`` as ``YYYY-MM-DD``)."""

    feature: str
    day: str
    calls: int
    cached: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float


class UsageSummary(_Frozen):
    """``cimedic usage``: rows by feature and day since ``since``, and the totals."""

    since: datetime | None
    rows: tuple[UsageRow, ...]
    calls: int
    cached: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
