"""Grounded narrative: a narrative with an invented number is dropped, a grounded one kept."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cimedic.agent.llm.base import LLMResult, LLMUnavailable, Message
from cimedic.agent.narrative import check_grounded, grounded_narrative, numbers_in
from cimedic.model.reports import Period, PeriodFigures, Report

NOW = datetime(2024, 5, 2, 12, tzinfo=UTC)


class FakeLLM:
    def __init__(self, text: str | None) -> None:
        self.text = text

    def health(self) -> Any:
        return None

    def complete_json(self, messages: Sequence[Message], schema: dict[str, Any], **kw: Any) -> LLMResult:
        raise NotImplementedError

    def complete_text(self, messages: Sequence[Message], **kw: Any) -> LLMResult:
        if self.text is None:
            raise LLMUnavailable("down")
        return LLMResult(self.text, None, 10, 10, 0.1, "fake")


def report() -> Report:
    d = timedelta(days=1)
    cur = PeriodFigures(since=NOW - d, until=NOW, runs=40, completed=40, succeeded=30, failed=10,
                        success_rate=0.75, failure_rate=0.25, duration_mean_seconds=412.4)  # fmt: skip
    prev = PeriodFigures(since=NOW - 2 * d, until=NOW - d, runs=32, succeeded=30, failed=2)
    return Report(period=Period.DAILY, generated_at=NOW, current=cur, previous=prev)


def test_numbers_rule() -> None:
    assert numbers_in("40 runs, 25.0% red, 1,234 jobs on 2024-05-01 at 14:00, p95 slow") == [
        "40",
        "25",
        "1234",
    ]
    assert check_grounded("40 runs (32 before), 25% failed, mean 412 s or 6.9 min", report()) == ()
    assert check_grounded("10 failures, up 25% from 3", report()) == ("3",)


def test_grounded_narrative_is_kept() -> None:
    text = "There were 40 runs, 10 of them failed (25.0%), against 32 runs the day before."
    result = grounded_narrative(report(), FakeLLM(text))
    assert result.text == text and result.reason is None


def test_invented_number_drops_the_narrative() -> None:
    result = grounded_narrative(report(), FakeLLM("40 runs, 17 failed."))
    assert result.text is None and result.invented == ("17",) and "17" in (result.reason or "")


def test_unavailable_model_drops_it_with_the_reason() -> None:
    result = grounded_narrative(report(), FakeLLM(None))
    assert result.text is None and "unavailable" in (result.reason or "")
