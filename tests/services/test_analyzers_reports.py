"""The daily / weekly report lists the findings of every analyzer generically (a plug-in too),
in Markdown and HTML, and the narrative may quote their counts (``Report.figures``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

import pytest

from cimedic.model.findings import AnalyzerResult, FindingCount, FindingsSection
from cimedic.plugins import load_registry
from cimedic.services import analyzers as analyzers_module
from cimedic.services.analyzers import GROUP, check_factory
from cimedic.services.reports import build_report, render_html, render_markdown
from cimedic.store.anomalies import load_culprits
from cimedic.store.repository import Store

if TYPE_CHECKING:
    from conftest import DemoDB


class Greeter:
    """A plug-in analyzer registered in-process: one count, ``<b>`` in its title to check escaping."""

    name = "greeter"

    def refresh(
        self, store: Store, *, window: object, now: datetime, repository: str | None = None
    ) -> AnalyzerResult:
        return AnalyzerResult(name=self.name)

    def summary(
        self,
        store: Store,
        *,
        since: datetime | None,
        now: datetime,
        repository: str | None = None,
        top: int = 3,
    ) -> FindingsSection:
        return FindingsSection(
            name=self.name,
            title="<b>greetings</b>",
            command="cimedic greet",
            counts=(FindingCount(key="greetings", count=1, singular="greeting", plural="greetings"),),
        )


@pytest.fixture
def demo(demo_sqlite: DemoDB, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    registry = load_registry(GROUP, check_factory, entry_points=entry_points(group=GROUP))
    registry.register("greeter", lambda deps: Greeter())
    monkeypatch.setattr(analyzers_module, "analyzer_registry", lambda: registry)
    store = Store(demo_sqlite.url)
    try:
        yield store
    finally:
        store.close()


def test_the_report_lists_every_analyzer_generically(demo: Store, demo_now: datetime) -> None:
    report = build_report(demo, "weekly", now=demo_now)
    assert report.findings is not None and report.findings.problems == ()
    assert [s.name for s in report.findings.sections] == [
        "clusters",
        "flaky",
        "anomalies",
        "culprits",
        "risk",
        "greeter",
    ]
    md = render_markdown(report)
    findings = md.split("## Findings\n\n")[1].split("\n\n")[0].splitlines()
    assert findings[1] == "- flaky: 1 flaky test, 2 flaky jobs, 1 broken, 0 quarantined (cimedic flaky)"
    weekly_culprits = len(load_culprits(demo, since=demo_now - timedelta(days=7)))
    assert weekly_culprits == 5  # of the 8 of the 30-day window
    assert findings[3] == f"- culprit reports: {weekly_culprits} culprit reports (cimedic culprits)"
    assert findings[-1] == "- <b>greetings</b>: 1 greeting (cimedic greet)"
    page = render_html(report)
    assert (
        "<h2>Findings</h2>" in page
        and "<li>&lt;b&gt;greetings&lt;/b&gt;: 1 greeting (cimedic greet)</li>" in page
    )
    figures = report.figures()
    assert figures["findings.flaky.flaky_jobs"] == 2.0 and figures["findings.greeter.greetings"] == 1.0
