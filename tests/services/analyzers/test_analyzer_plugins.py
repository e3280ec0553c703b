"""The analyzer extension point: the built-ins come from cimedic's own entry points, in order;
broken plug-ins (import error, wrong object, a factory that builds something else) are reported
and skipped while the others run; an analyzer that raises is one problem line; and a plug-in
installed as its own distribution shows in ``cimedic stats`` with no edit of cimedic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from importlib.metadata import EntryPoint
from importlib.metadata import entry_points as installed_entry_points
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cimedic.model.findings import AnalyzerResult, FindingsSection
from cimedic.plugins import Registry, load_registry
from cimedic.services import analyzers as analyzers_module
from cimedic.services.analyzers import (
    BUILTINS,
    GROUP,
    AnalyzerDeps,
    AnalyzerFactory,
    analyzer_registry,
    build_analyzers,
    check_factory,
)
from cimedic.services.findings import findings_summary, refresh_findings
from cimedic.store.repository import Store

if TYPE_CHECKING:
    from conftest import DemoDB

HELLO_PLUGIN = '''
"""A third-party analyzer: counts the workflow runs of the store as greetings."""
from cimedic.model.findings import AnalyzerResult, FindingCount, FindingLine, FindingsSection


def _greetings(store):
    n = store.counts()["workflow_runs"]
    return FindingCount(key="greetings", count=n, singular="greeting", plural="greetings")


class Hello:
    name = "hello"

    def __init__(self, deps):
        self.deps = deps

    def refresh(self, store, *, window, now, repository=None):
        return AnalyzerResult(name=self.name, counts=(_greetings(store),))

    def summary(self, store, *, since, now, repository=None, top=3):
        line = FindingLine(kind="hello", title="hello from a plug-in", detail=f"window from {since:%Y-%m-%d}")
        return FindingsSection(
            name=self.name, title="hello plug-in", command="cimedic hello", counts=(_greetings(store),), top=(line,)
        )


def make(deps):
    return Hello(deps)


NOT_A_FACTORY = "a string"
'''

ENTRY_POINTS = """[cimedic.analyzers]
hello = hello_plugin:make
broken = hello_plugin_is_not_installed:make
notafactory = hello_plugin:NOT_A_FACTORY
"""


@pytest.fixture
def demo_now(live_demo_now: datetime) -> datetime:
    """The demo ends at the wall clock's now: ``cimedic stats --since 30d`` in a subprocess reads it."""
    return live_demo_now


def _builtin_entry_points() -> list[EntryPoint]:
    return [ep for ep in installed_entry_points(group=GROUP) if ep.name in BUILTINS]


def test_the_builtins_are_registered_through_entry_points_and_run_in_order() -> None:
    registry = analyzer_registry()
    assert set(BUILTINS) <= set(registry.ids) and registry.problems == []
    assert {ep.value for ep in _builtin_entry_points()} == {
        f"cimedic.services.analyzers.{name}:make" for name in BUILTINS
    }
    problems: list[str] = []
    assert [a.name for a in build_analyzers(AnalyzerDeps(), problems=problems)][:4] == list(BUILTINS)
    assert problems == []


def test_broken_plugins_are_reported_and_skipped_the_others_run(demo: Store, demo_now: datetime) -> None:
    eps = [
        *_builtin_entry_points(),
        EntryPoint("missing", "cimedic_no_such_plugin_module:make", GROUP),  # import error
        EntryPoint("notcallable", "cimedic.services.analyzers:GROUP", GROUP),  # a str, not a factory
        EntryPoint("wrongobj", "cimedic.services.analyzers:AnalyzerDeps", GROUP),  # builds no analyzer
        EntryPoint("misnamed", "cimedic.services.analyzers.flaky:make", GROUP),  # builds "flaky"
    ]
    registry = load_registry(GROUP, check_factory, entry_points=eps)
    assert sorted(registry.ids) == sorted([*BUILTINS, "misnamed", "wrongobj"])
    assert len(registry.problems) == 2
    assert "'missing' skipped: ModuleNotFoundError" in registry.problems[0]
    assert "'notcallable' skipped: TypeError" in registry.problems[1]

    problems: list[str] = []
    analyzers = build_analyzers(AnalyzerDeps(), registry, problems=problems)
    assert [a.name for a in analyzers] == list(BUILTINS)
    assert problems[:2] == registry.problems
    assert "'misnamed' skipped: ValueError: its analyzer is named 'flaky'" in problems[2]
    assert "'wrongobj' skipped: TypeError: its factory returned a AnalyzerDeps" in problems[3]
    assert len(problems) == 4

    report = refresh_findings(demo, now=demo_now, analyzers=analyzers)
    assert report.problems == [] and [r.name for r in report.results] == list(BUILTINS)
    assert (report.count("flaky", "flaky"), report.count("culprits", "culprit_reports")) == (3, 8)


def test_a_missing_builtin_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    partial: Registry[AnalyzerFactory] = load_registry(
        GROUP, check_factory, entry_points=[ep for ep in _builtin_entry_points() if ep.name != "risk"]
    )
    monkeypatch.setattr(analyzers_module, "analyzer_registry", lambda: partial)
    problems: list[str] = []
    assert [a.name for a in build_analyzers(AnalyzerDeps(), problems=problems)] == [
        "flaky",
        "anomalies",
        "culprits",
    ]
    assert len(problems) == 1 and "built-in analyzer 'risk' is not registered" in problems[0]


class Boom:
    """An analyzer that always fails."""

    name = "boom"

    def refresh(
        self, store: Store, *, window: timedelta, now: datetime, repository: str | None = None
    ) -> AnalyzerResult:
        raise RuntimeError("refresh exploded")

    def summary(
        self,
        store: Store,
        *,
        since: datetime | None,
        now: datetime,
        repository: str | None = None,
        top: int = 3,
    ) -> FindingsSection:
        raise RuntimeError("summary exploded")


def test_a_failing_analyzer_is_one_problem_and_the_others_go_on(demo: Store, demo_now: datetime) -> None:
    analyzers = [Boom(), *build_analyzers(AnalyzerDeps())]
    report = refresh_findings(demo, now=demo_now, analyzers=analyzers)
    assert report.problems == ["analyzer 'boom' failed: RuntimeError: refresh exploded"]
    assert [r.name for r in report.results] == list(BUILTINS)
    assert report.text().startswith("3 flaky, 1 broken; 0 anomalies; 8 culprit reports; failure risk: ")
    assert report.result("boom") is None and report.count("flaky", "broken") == 1

    since = demo_now - timedelta(days=30)
    summary = findings_summary(demo, since=since, now=demo_now, analyzers=analyzers)
    assert summary.problems == ("analyzer 'boom' summary failed: RuntimeError: summary exploded",)
    assert [s.name for s in summary.sections] == ["clusters", *BUILTINS]
    # the default analyzers: the same sections, no problem
    default = findings_summary(demo, since=since, now=demo_now)
    assert default.problems == () and default.sections == summary.sections
    assert default.count("flaky", "flaky_tests") == 1 and default.count("culprits", "culprit_reports") == 8


# ------------------------------------------------------------------ a real third-party distribution


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory on which ``hello_plugin`` is installed as a distribution (its dist-info with
    the ``cimedic.analyzers`` entry points), as ``pip install`` would leave it."""
    site = tmp_path_factory.mktemp("site")
    (site / "hello_plugin.py").write_text(HELLO_PLUGIN, encoding="utf-8")
    dist = site / "cimedic_test_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: cimedic-test-plugin\nVersion: 0.1\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    return site


def _run(site: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIMEDIC_")}
    env.update(PYTHONPATH=str(site), CIMEDIC_CONFIG="/dev/null", CIMEDIC_DATA_DIR=str(tmp), COLUMNS="200")
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=tmp, capture_output=True, text=True, timeout=300, check=False
    )


def test_a_plugin_distribution_shows_in_stats_without_any_edit_of_cimedic(
    plugin_site: Path, demo_sqlite: DemoDB, demo: Store, tmp_path: Path
) -> None:
    assert "hello" not in analyzer_registry()  # not on this process's path: only the subprocesses see it
    runs = demo.counts()["workflow_runs"]
    stats = ["-m", "cimedic.interfaces.cli.app", "stats", "--db", demo_sqlite.url, "--since", "30d"]

    result = _run(plugin_site, tmp_path, *stats, "--format", "json")
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [s["name"] for s in findings["sections"]] == ["clusters", *BUILTINS, "hello"]
    hello = findings["sections"][-1]
    assert hello["title"] == "hello plug-in" and hello["command"] == "cimedic hello"
    assert hello["counts"] == [
        {"key": "greetings", "count": runs, "singular": "greeting", "plural": "greetings"}
    ]
    assert hello["top"][0]["title"] == "hello from a plug-in"
    # the broken entry points of the same distribution are reported, never fatal
    assert len(findings["problems"]) == 2
    assert "'broken' skipped: ModuleNotFoundError" in findings["problems"][0]
    assert "'notafactory' skipped: TypeError" in findings["problems"][1]

    text = _run(plugin_site, tmp_path, *stats)
    assert text.returncode == 0, text.stderr
    out = " ".join(text.stdout.split())
    assert f"hello plug-in │ {runs} greetings │ cimedic hello" in out
    assert (
        "hello: hello from a plug-in" in out and "problem: cimedic.analyzers plug-in 'broken' skipped" in out
    )

    # the refresh after ingest runs it too, after the built-ins
    script = (
        "import sys; from cimedic.store.repository import Store; "
        "from cimedic.services.findings import refresh_findings; "
        "r = refresh_findings(Store(sys.argv[1])); print([x.name for x in r.results]); print(r.text())"
    )
    refresh = _run(plugin_site, tmp_path, "-c", script, demo_sqlite.url)
    assert refresh.returncode == 0, refresh.stderr
    names, line = refresh.stdout.splitlines()
    assert names == str([*BUILTINS, "hello"])
    assert line.endswith(f"; {runs} greetings")


def test_two_plugins_claiming_one_id_is_a_problem_not_a_silent_pick() -> None:
    # regression: the second entry point of a name was skipped silently, so a plug-in named like
    # a built-in (or like another plug-in) vanished without a word
    builtin = EntryPoint("flaky", "cimedic.services.analyzers.flaky:make", GROUP)
    same = EntryPoint("flaky", "cimedic.services.analyzers.flaky:make", GROUP)  # one dist seen twice
    registry = load_registry(GROUP, check_factory, entry_points=[builtin, same])
    assert registry.ids == ["flaky"] and registry.problems == []
    other = EntryPoint("flaky", "cimedic.services.analyzers.anomalies:make", GROUP)
    registry = load_registry(GROUP, check_factory, entry_points=[builtin, other])
    assert registry.ids == ["flaky"] and registry["flaky"] is check_factory("flaky", builtin.load())
    assert registry.problems == [
        f"{GROUP} plug-in 'flaky' skipped: cimedic.services.analyzers.anomalies:make "
        "claims the id of cimedic.services.analyzers.flaky:make"
    ]
