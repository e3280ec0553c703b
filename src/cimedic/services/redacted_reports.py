"""Test reports leave the parser with failure messages as the tools wrote them, which can hold
secrets (an assertion comparing a token, a connection string in an exception). Every message is
redacted (:func:`cimedic.analysis.redact.redact`) before it is stored, so flaky-test listings,
chat, reports and notifications built from stored test cases carry none (issue 11, section 4).
Only the stored prefix of a message (:data:`MESSAGE_MAX_CHARS`) is redacted, which bounds the
cost on huge reports."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from cimedic.analysis.redact import redact
from cimedic.model import TestReport
from cimedic.model.ci import TestSuite
from cimedic.store.results import MESSAGE_MAX_CHARS
from cimedic.store.test_report_stream import TestReportStream

__all__ = ["RedactedStream", "redact_report", "redact_suites"]


def redact_suites(suites: Sequence[TestSuite]) -> list[TestSuite]:
    """``suites`` with each case's ``message`` and ``details`` redacted (cut to the stored
    :data:`MESSAGE_MAX_CHARS` first); suites without a message are returned as they are."""
    out = []
    for suite in suites:
        if not any(c.message or c.details for c in suite.cases):
            out.append(suite)
            continue
        cases = tuple(
            c.model_copy(
                update={
                    "message": redact(c.message[:MESSAGE_MAX_CHARS]).text if c.message else c.message,
                    "details": redact(c.details[:MESSAGE_MAX_CHARS]).text if c.details else c.details,
                }
            )
            if c.message or c.details
            else c
            for c in suite.cases
        )
        out.append(suite.model_copy(update={"cases": cases}))
    return out


def redact_report(report: TestReport) -> TestReport:
    """``report`` with every case message redacted (see :func:`redact_suites`)."""
    return report.model_copy(update={"suites": tuple(redact_suites(report.suites))})


class RedactedStream:
    """A :class:`~cimedic.store.test_report_stream.TestReportStream` whose batches come out of
    ``inner`` with every case message redacted."""

    def __init__(self, inner: TestReportStream) -> None:
        self._inner = inner
        self.source = inner.source

    def batches(self) -> Iterator[Sequence[TestSuite]]:
        for batch in self._inner.batches():
            yield redact_suites(batch)

    @property
    def dialect(self) -> str:
        return self._inner.dialect

    @property
    def problems(self) -> tuple[str, ...]:
        return self._inner.problems
