"""Built-in analyzer ``flaky``: verdicts on the tests and jobs of the window
(:func:`cimedic.services.flaky.analyze_flaky`, rules in ``docs/flaky.md``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.model.findings import AnalyzerResult, FindingCount, FindingLine, FindingsSection

if TYPE_CHECKING:
    from cimedic.services.analyzers import AnalyzerDeps
    from cimedic.store.repository import Store

__all__ = ["FlakyAnalyzer", "make"]


class FlakyAnalyzer:
    """Refresh: store the verdicts of every test and job over the window. Summary: the stored
    verdicts as last analysed (not limited to the window) and the active quarantine."""

    name = "flaky"

    def refresh(
        self, store: Store, *, window: timedelta, now: datetime, repository: str | None = None
    ) -> AnalyzerResult:
        from cimedic.model.flaky import Verdict
        from cimedic.services.flaky import analyze_flaky

        findings = analyze_flaky(store, repository, window, now=now)
        flaky = sum(1 for f in findings if f.verdict is Verdict.FLAKY)
        broken = sum(1 for f in findings if f.verdict is Verdict.BROKEN)
        return AnalyzerResult(
            name=self.name,
            counts=(
                FindingCount(key="flaky", count=flaky, singular="flaky", plural="flaky"),
                FindingCount(key="broken", count=broken, singular="broken", plural="broken"),
            ),
        )

    def summary(
        self,
        store: Store,
        *,
        since: datetime | None,
        now: datetime,
        repository: str | None = None,
        top: int = 3,
    ) -> FindingsSection:
        from cimedic.model.flaky import SubjectKind, Verdict
        from cimedic.services.flaky import quarantine_list
        from cimedic.store import flaky as flaky_store

        found = flaky_store.load_findings(
            store, repository=repository, verdicts=(Verdict.FLAKY, Verdict.BROKEN)
        )
        tests = [f for f in found if f.verdict is Verdict.FLAKY and f.kind is SubjectKind.TEST]
        jobs = [f for f in found if f.verdict is Verdict.FLAKY and f.kind is SubjectKind.JOB]
        broken = sum(1 for f in found if f.verdict is Verdict.BROKEN)
        quarantined = len(quarantine_list(store, repository, now=now))
        return FindingsSection(
            name=self.name,
            title="flaky",
            command="cimedic flaky",
            counts=(
                FindingCount(
                    key="flaky_tests", count=len(tests), singular="flaky test", plural="flaky tests"
                ),
                FindingCount(key="flaky_jobs", count=len(jobs), singular="flaky job", plural="flaky jobs"),
                FindingCount(key="broken_subjects", count=broken, singular="broken", plural="broken"),
                FindingCount(
                    key="quarantined_tests", count=quarantined, singular="quarantined", plural="quarantined"
                ),
            ),
            top=tuple(
                FindingLine(
                    kind=f"flaky {f.kind.value}", title=f.subject, detail=f.reason, command="cimedic flaky"
                )
                for f in (tests + jobs)[:top]
            ),
        )


def make(deps: AnalyzerDeps) -> FlakyAnalyzer:
    """The ``cimedic.analyzers`` entry point ``flaky``."""
    return FlakyAnalyzer()
