"""Store mixin: a test report written from a stream of case batches, so the whole report is
never in memory (``cimedic ingest junit`` of reports up to 200 MiB).

The report row is inserted first, the cases follow batch by batch (one multi-row ``INSERT``
per batch), and the row's ``dialect`` and ``problems`` are set once the stream is exhausted.
All of it is one transaction: a stream that fails half-way (malformed XML at line N) stores no
case, and the earlier report of the same ``(run_id, source)`` it was to replace is kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import delete, update

from cimedic.model import TestSuite
from cimedic.store import schema as t
from cimedic.store.base import StoreBase, now_utc, to_db
from cimedic.store.results import test_case_rows


class TestReportStream(Protocol):
    """What :meth:`TestReportStreamMixin.save_test_report_stream` reads (met by
    :class:`cimedic.inputs.junit_stream.JunitStream`): ``batches()`` yields lists of suites,
    each holding some of its cases; ``dialect`` and ``problems`` are read after the last
    batch."""

    source: str

    def batches(self) -> Iterator[Sequence[TestSuite]]: ...

    @property
    def dialect(self) -> str: ...

    @property
    def problems(self) -> tuple[str, ...]: ...


@dataclass
class StreamedReport:
    """A stored report: its id, its cases and their count per status value."""

    report_id: int
    cases: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


class TestReportStreamMixin(StoreBase):
    """Test reports stored batch by batch."""

    __test__ = False

    def save_test_report_stream(
        self, run_id: int, stream: TestReportStream, *, job_id: int | None = None
    ) -> StreamedReport:
        """Store the report ``stream`` of run ``run_id`` in one transaction, replacing an earlier
        report of the same ``source`` and unknown attempt (a collected report of a known
        ``run_attempt`` stays). ``run_attempt`` is left empty. Memory: one batch of rows at a time.

        Exceptions raised by the stream (e.g. ``TestReportError``) propagate after the rollback.
        """
        reports = t.test_reports
        # reports of a known run attempt (collected artifacts, migration 0012) are kept apart
        same = [
            reports.c.run_id == run_id,
            reports.c.source == stream.source,
            reports.c.run_attempt.is_(None),
        ]
        with self.engine.begin() as conn:
            conn.execute(delete(reports).where(*same))  # cascades to its cases
            report_id = int(
                conn.execute(
                    reports.insert()
                    .values(
                        run_id=run_id,
                        job_id=job_id,
                        source=stream.source,
                        dialect="junit",
                        problems=[],
                        ingested_at=to_db(now_utc()),
                    )
                    .returning(reports.c.id)
                ).scalar_one()
            )
            out = StreamedReport(report_id)
            for batch in stream.batches():
                rows = test_case_rows(report_id, run_id, batch)
                if rows:
                    conn.execute(t.test_cases.insert(), rows)
                out.cases += len(rows)
                for suite in batch:
                    for case in suite.cases:
                        status = case.status.value
                        out.by_status[status] = out.by_status.get(status, 0) + 1
            conn.execute(
                update(reports)
                .where(reports.c.id == report_id)
                .values(dialect=stream.dialect, problems=list(stream.problems))
            )
        return out


__all__ = ["StreamedReport", "TestReportStream", "TestReportStreamMixin"]
