"""Daily and weekly reports on the demo store: the counts of ``pipeline_stats``, the sections,
and an HTML chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cimedic.services.reports import build_report, render_html, render_markdown
from cimedic.services.stats import pipeline_stats
from cimedic.store.repository import Store


@pytest.fixture
def demo(store: Store) -> tuple[Store, datetime]:
    from cimedic.services.demo import run_demo
    from cimedic.services.diagnose import make_diagnoser

    now = datetime.now(UTC).replace(microsecond=0)
    run_demo(store, make_diagnoser()[0], now=now)
    return store, now


def test_daily_and_weekly_reports(demo) -> None:  # type: ignore[no-untyped-def]
    store, now = demo
    for period, days in (("daily", 1), ("weekly", 7)):
        r = build_report(store, period, now=now)
        s = pipeline_stats(store, since=timedelta(days=days), now=now, findings=False)
        prev = pipeline_stats(
            store, since=now - timedelta(days=2 * days), now=now - timedelta(days=days), findings=False
        )
        assert (r.current.runs, r.current.succeeded, r.current.failed) == (
            s.runs.total,
            s.runs.succeeded,
            s.runs.failed,
        )
        assert r.previous.runs == prev.runs.total
        assert sum(p.succeeded + p.failed + p.other for p in r.series) == r.current.runs
        md = render_markdown(r)
        for section in (
            "## Summary",
            "## Failure clusters",
            "## Flaky tests",
            "## Anomalies",
            "## Actions",
            "## Health",
        ):
            assert section in md
        assert f"| runs | {s.runs.total} | {prev.runs.total} |" in md
    weekly = build_report(store, "weekly", now=now)
    assert weekly.current.runs > 0 and weekly.clusters
    page = render_html(weekly)
    assert "<img" in page and "data:image/png;base64," in page and "<table>" in page
    with pytest.raises(ValueError):
        build_report(store, "monthly", now=now)


def test_report_cli_writes_a_file(demo, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import typer
    from typer.testing import CliRunner

    from cimedic.interfaces.cli.report import report

    store, _ = demo
    app = typer.Typer()
    app.command("report")(report)
    app.command("other")(lambda: None)
    out = tmp_path / "r.html"
    result = CliRunner().invoke(
        app, ["report", "weekly", "--format", "html", "--out", str(out), "--db", store.url]
    )
    assert result.exit_code == 0, result.output
    assert "<img" in out.read_text()
