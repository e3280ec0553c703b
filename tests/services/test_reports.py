"""Daily and weekly reports on the demo store: the counts of ``pipeline_stats``, the sections,
and an HTML chart."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cimedic.services.reports import build_report, render_html, render_markdown
from cimedic.services.stats import pipeline_stats
from cimedic.store.repository import Store

if TYPE_CHECKING:
    from conftest import DemoDB

pytestmark = pytest.mark.timeout(180)  # a Python subprocess


@pytest.fixture
def demo_now(live_demo_now: datetime) -> datetime:
    """The demo ends at the wall clock's now, as ``cimedic demo`` builds it."""
    return live_demo_now


@pytest.fixture
def demo(demo_copy: DemoDB, demo_store: Store) -> tuple[Store, datetime]:
    """A private copy of the demo store (SQLite and PostgreSQL) and the moment it ends."""
    return demo_store, demo_copy.now


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

    from cimedic.interfaces.cli.common import RootGroup
    from cimedic.interfaces.cli.report import report

    store, _ = demo
    app = typer.Typer(cls=RootGroup)
    app.command("report")(report)
    app.command("other")(lambda: None)
    out = tmp_path / "r.html"
    result = CliRunner().invoke(
        app, ["report", "weekly", "--format", "html", "--out", str(out), "--db", store.url]
    )
    assert result.exit_code == 0, result.output
    assert "<img" in out.read_text()


# ---------------------------------------------------------------- runtime dependencies of the HTML report
# Regression: matplotlib was only in the ``dev`` extra, so ``cimedic report --format html`` (and
# the agent's report jobs) died with ModuleNotFoundError on a plain ``pip install cimedic``.
# tests/test_plain_install.py proves it end to end in a plain venv; these check the declaration.

_ROOT = Path(__file__).resolve().parents[2]

_RENDER_HTML_IMPORTS = """
import json, sys
before = set(sys.modules)
from datetime import UTC, datetime, timedelta
from cimedic.model.reports import Period, PeriodFigures, Report, SeriesPoint
from cimedic.services.reports import render_html
now = datetime(2024, 5, 2, 12, tzinfo=UTC)
d = timedelta(days=1)
r = Report(
    period=Period.DAILY, generated_at=now,
    current=PeriodFigures(since=now - d, until=now, runs=3, succeeded=2, failed=1),
    previous=PeriodFigures(since=now - 2 * d, until=now - d),
    series=tuple(SeriesPoint(start=now - d + timedelta(hours=h), succeeded=h % 3, failed=h % 2,
                             duration_mean_seconds=60.0 + h) for h in range(24)),
)
page = render_html(r)
top = sorted({m.split(".")[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names))
print(json.dumps({"img": "<img" in page, "modules": top}))
"""


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _req_name(req: str) -> str:
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    assert m, req
    return _norm(m.group(1))


def _runtime_requirements() -> set[str]:
    """Names in ``[project] dependencies`` of pyproject.toml (no extra)."""
    project = tomllib.loads((_ROOT / "pyproject.toml").read_text())["project"]
    return {_req_name(r) for r in project["dependencies"]}


def _closure(names: set[str]) -> set[str]:
    """``names`` and everything they require when installed without extras (installed metadata)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # a platform-only dependency (hyperscan off x86_64)
        todo += [_req_name(r) for r in reqs if "extra ==" not in r.partition(";")[2].replace("'", '"')]
    return seen


def test_matplotlib_is_a_runtime_dependency() -> None:
    assert "matplotlib" in _runtime_requirements()
    extras = tomllib.loads((_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert all(_req_name(r) != "matplotlib" for r in extras.get("dev", ()))


def test_every_module_render_html_imports_is_a_runtime_requirement() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _RENDER_HTML_IMPORTS], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["img"]
    assert "matplotlib" in out["modules"]
    provided = metadata.packages_distributions()
    allowed = _closure(_runtime_requirements()) | {"cimedic"}  # cimedic's own: pyproject, not metadata
    missing = {
        mod: dists
        for mod in out["modules"]
        if (dists := [_norm(d) for d in provided.get(mod, [])]) and not any(d in allowed for d in dists)
    }
    assert not missing, f"render_html imports packages that are not runtime requirements: {missing}"
