"""What a user reads from ``cimedic flaky`` and ``cimedic quarantine`` on the demo store: the text
lists the same subjects as the JSON for every filter (the Surefire test that only failed inside
its runs included), counted nouns agree with their counts, ``-f`` works wherever ``--format``
does, and ``quarantine export``/``propose`` work without ``--repo`` on a one-repository store."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import DemoDB
import typer
from typer.testing import CliRunner

from cimedic.interfaces.cli import flaky as cli
from cimedic.interfaces.cli.common import RootGroup
from cimedic.model import Repository
from cimedic.store.engine import sqlite_url
from cimedic.store.repository import Store

DEMO = "hashicorp-demo/terraform"
SUREFIRE_FLAKY = "io.sodadata.dependson.soda.integrations.msteams.MicrosoftTeamsCrudTest::createWebhook"
VERDICTS = ("flaky", "broken", "healthy", "insufficient data")

app = typer.Typer(cls=RootGroup)
app.command("flaky")(cli.flaky)
app.add_typer(cli.quarantine_app, name="quarantine")


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_GITHUB_TOKEN", "CIMEDIC_GITHUB_API_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "400")  # wide enough that no subject is cut


@pytest.fixture
def demo_now(live_demo_now: datetime) -> datetime:
    """The demo ends at the wall clock's now, as ``cimedic demo`` builds it (the commands read
    the clock)."""
    return live_demo_now


@pytest.fixture
def demo(make_demo_copy: Callable[..., DemoDB]) -> str:
    """A private copy of the session's demo store (tests add repositories and entries)."""
    copy = make_demo_copy("sqlite")
    assert copy.path is not None
    return str(copy.path)


def _run(*args: str) -> object:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _ok(*args: str) -> str:
    result = _run(*args)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    return result.stdout  # type: ignore[attr-defined,no-any-return]


def _text_rows(out: str) -> Counter[tuple[str, str, str]]:
    """(verdict, kind, subject) of each row of the text table (a row's first line has a verdict)."""
    rows: Counter[tuple[str, str, str]] = Counter()
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 8 and cells[0] in VERDICTS:
            rows[(cells[0], cells[1], cells[2])] += 1
    return rows


def _json_rows(data: dict) -> Counter[tuple[str, str, str]]:  # type: ignore[type-arg]
    return Counter((f["verdict"], f["kind"], f["subject"]) for f in data["findings"])


FILTERS = [
    (),
    ("--all",),
    ("--verdict", "flaky"),
    ("--verdict", "broken"),
    ("--verdict", "healthy"),
    ("--verdict", "insufficient"),
    ("--verdict", "flaky", "--verdict", "insufficient"),
    ("--repo", DEMO),
    ("--repo", DEMO, "--all"),
    ("--since", "3d"),
]


@pytest.mark.parametrize("kind", [(), ("--tests",), ("--jobs",)], ids=["both", "tests", "jobs"])
def test_text_lists_the_same_subjects_as_json_for_every_filter(demo: str, kind: tuple[str, ...]) -> None:
    for filters in FILTERS:
        args = ("flaky", "--db", demo, *kind, *filters)
        text = _ok(*args)
        data = json.loads(_ok(*args, "--format", "json"))
        assert _text_rows(text) == _json_rows(data), (args, text)
        # the header counts every verdict analysed; the rows plus the hidden ones add up to them
        assert sum(data["counts"].values()) == len(data["findings"]) + data["hidden"], args
        if data["hidden"]:
            assert f"{data['hidden']} healthy or never-failing subject" in text


def test_every_flaky_verdict_of_the_header_is_a_row(demo: str) -> None:
    """The issue: "3 flaky" over two rows, and an empty table under "1 flaky" with --tests."""
    text = _ok("flaky", "--db", demo)
    assert "3 flaky" in text and "1 broken" in text
    rows = _text_rows(text)
    assert sum(n for (verdict, _k, _s), n in rows.items() if verdict == "flaky") == 3
    assert sum(n for (verdict, _k, _s), n in rows.items() if verdict == "broken") == 1
    assert ("flaky", "test", SUREFIRE_FLAKY) in rows  # every failure of it passed on an in-run retry
    tests = _ok("flaky", "--db", demo, "--tests")
    assert "1 flaky" in tests and _text_rows(tests) == Counter({("flaky", "test", SUREFIRE_FLAKY): 1})
    # its three failed tries show, not "0 failed"
    line = next(line for line in tests.splitlines() if SUREFIRE_FLAKY in line)
    assert [c.strip() for c in line.split("│")[1:-1]][4] == "3"


def test_counted_nouns_agree_with_their_counts(demo: str) -> None:
    tests = _ok("flaky", "--db", demo, "--tests")
    assert "1 healthy or never-failing subject not shown" in tests  # not "1 ... subjects"
    assert "3 / 3 commits" in tests
    everything = _ok("flaky", "--db", demo, "--all")
    assert not re.search(r"\b1 / 1 commits\b", everything)
    proposal = _ok("quarantine", "propose", "--repo", DEMO, "--db", demo)
    # each in-run retry is one run: "run 9437...#1" (the report's attempt), not "runs 9437..."
    assert re.search(r"in run retry; run \d+#1\)", proposal), proposal
    assert not re.search(r"; runs \d+\)", proposal)
    assert '--reason "flaky: 3 observations"' in proposal


def test_short_format_option_wherever_format_is(demo: str, tmp_path: Path) -> None:
    data = json.loads(_ok("flaky", "--db", demo, "-f", "json"))
    assert data["counts"]["flaky"] == 3
    added = json.loads(
        _ok("quarantine", "add", SUREFIRE_FLAKY, "--repo", DEMO, "--reason", "flaky", "--owner", "@qa",
            "--db", demo, "-f", "json")
    )  # fmt: skip
    assert added["test_id"] == SUREFIRE_FLAKY
    listed = json.loads(_ok("quarantine", "list", "--db", demo, "-f", "json"))
    assert [e["test_id"] for e in listed] == [SUREFIRE_FLAKY]
    exported = json.loads(_ok("quarantine", "export", "--repo", DEMO, "--db", demo, "-f", "json"))
    assert [t["test_id"] for t in exported["tests"]] == [SUREFIRE_FLAKY]
    proposed = json.loads(_ok("quarantine", "propose", "--repo", DEMO, "--db", demo, "-f", "json"))
    assert proposed["repository"] == DEMO and proposed["quarantine"] == []
    removed = json.loads(
        _ok("quarantine", "remove", SUREFIRE_FLAKY, "--repo", DEMO, "--db", demo, "-f", "json")
    )
    assert removed["removed_at"] is not None


def test_export_and_propose_default_to_the_only_repository(demo: str) -> None:
    _ok(
        "quarantine",
        "add",
        SUREFIRE_FLAKY,
        "--repo",
        DEMO,
        "--reason",
        "flaky",
        "--owner",
        "@qa",
        "--db",
        demo,
    )
    exported = json.loads(_ok("quarantine", "export", "--db", demo, "--format", "json"))
    assert exported["repository"] == DEMO and [t["test_id"] for t in exported["tests"]] == [SUREFIRE_FLAKY]
    proposal = _ok("quarantine", "propose", "--db", demo)
    assert f"## Flaky tests in `{DEMO}`" in proposal

    store = Store(sqlite_url(Path(demo)))
    try:
        store.upsert_repository(Repository(owner="acme", name="app", default_branch="main"))
    finally:
        store.close()
    for args in (("quarantine", "export"), ("quarantine", "propose")):
        result = _run(*args, "--db", demo)
        assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
        lines = [line for line in result.output.splitlines() if line.strip()]  # type: ignore[attr-defined]
        assert len(lines) == 1 and lines[0].startswith("cimedic: error: ")
        assert "--repo" in lines[0] and "acme/app" in lines[0] and DEMO in lines[0]
    # --repo still chooses
    assert (
        json.loads(_ok("quarantine", "export", "--repo", DEMO, "--db", demo, "-f", "json"))["repository"]
        == DEMO
    )


def test_export_without_repo_on_an_empty_store_is_one_error_line(tmp_path: Path) -> None:
    result = _run("quarantine", "export", "--db", str(tmp_path / "empty.db"))
    assert result.exit_code == 2
    assert result.output.startswith("cimedic: error: ") and "--repo" in result.output  # type: ignore[attr-defined]
    assert result.output.count("\n") == 1  # type: ignore[attr-defined]
