"""``cimedic failures``, ``failures show`` and ``failures link`` on the demo store (125 runs of
hashicorp/terraform workflows with real job logs, diagnosed and clustered at ingest)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import typer
from typer.testing import CliRunner

from cimedic.interfaces.cli.common import RootGroup
from cimedic.interfaces.cli.failures import app as failures_app

if TYPE_CHECKING:
    from conftest import DemoDB

app = typer.Typer(cls=RootGroup)
app.add_typer(failures_app, name="failures")


@pytest.fixture
def demo_now(live_demo_now: datetime) -> datetime:
    """The demo ends at the wall clock's now, as ``cimedic demo`` builds it."""
    return live_demo_now


@pytest.fixture
def demo_db(demo_sqlite: DemoDB) -> str:
    """URL of a private SQLite copy of the demo store (built once per session)."""
    return demo_sqlite.url


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))


def run(*args: str) -> object:
    return CliRunner().invoke(app, ["failures", *args], catch_exceptions=False, env={"COLUMNS": "200"})


def listing(db: str, *args: str) -> dict:  # type: ignore[type-arg]
    result = run("--since", "30d", "--db", db, "--format", "json", *args)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    return json.loads(result.output)  # type: ignore[attr-defined]


def go_mod_cluster(data: dict) -> dict:  # type: ignore[type-arg]
    matches = [c for c in data["clusters"] if "go mod tidy" in c["representative"]]
    assert len(matches) == 1, [c["title"] for c in data["clusters"]]
    return matches[0]


def test_the_recurring_go_mod_tidy_failure_is_one_cluster(demo_db: str) -> None:
    data = listing(demo_db)
    assert data["total"] == len(data["clusters"]) >= 5
    c = go_mod_cluster(data)
    assert c["occurrences"] >= 3 and c["total_occurrences"] == c["occurrences"]
    # first seen inside the 30-day window: new (recurring means seen before the window, too)
    assert c["new"] is True and c["recurring"] is False and c["category"] == "dependency"
    later = datetime.fromisoformat(c["first_seen"]) + timedelta(seconds=1)
    again = go_mod_cluster(listing(demo_db, "--since", later.isoformat()))
    assert again["recurring"] is True and again["new"] is False
    assert again["occurrences"] == c["occurrences"] - 1
    assert c["repositories"] == ["hashicorp-demo/terraform"] and c["job_names"] == ["Code Consistency Checks"]
    assert len({e["run_id"] for e in c["examples"]}) == len(c["examples"]) >= 2
    assert c["trend"] in ("rising", "steady", "fading") and c["transient_share"] == 0.0
    # the one-off failures are not recurring
    assert any(not x["recurring"] for x in data["clusters"])
    # impact order
    impacts = [x["impact"] for x in data["clusters"]]
    assert impacts == sorted(impacts, reverse=True)


def test_text_listing_and_filters(demo_db: str) -> None:
    result = run("--since", "30d", "--db", demo_db)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    out = result.output  # type: ignore[attr-defined]
    cid = go_mod_cluster(listing(demo_db))["id"]
    assert "Failure clusters" in out and cid in out and "recurring" in out and "go mod tidy" in out
    assert len(listing(demo_db, "--limit", "2")["clusters"]) == 2
    assert listing(demo_db, "--repo", "nobody/nothing")["clusters"] == []
    everything = run("--since", "all", "--db", demo_db, "--format", "json")
    assert json.loads(everything.output)["since"] is None  # type: ignore[attr-defined]
    empty = run("--since", "1m", "--db", demo_db)
    assert empty.exit_code == 0 and "No failure clusters" in empty.output  # type: ignore[attr-defined]


def test_show_by_prefix(demo_db: str) -> None:
    cid = go_mod_cluster(listing(demo_db))["id"]
    shown = run("show", cid[:6], "--db", demo_db, "--format", "json")
    assert shown.exit_code == 0, shown.output  # type: ignore[attr-defined]
    detail = json.loads(shown.output)  # type: ignore[attr-defined]
    assert detail["cluster"]["id"] == cid
    occ = detail["occurrences"]
    assert len(occ) == detail["shown"] == detail["cluster"]["total_occurrences"] >= 3
    assert sum(o["first_seen"] for o in occ) == 1 and occ[-1]["first_seen"]  # the oldest is new
    assert [o["created_at"] for o in occ] == sorted((o["created_at"] for o in occ), reverse=True)
    assert detail["variants"][0]["count"] == len(occ)
    text = run("show", cid, "--db", demo_db)
    assert text.exit_code == 0 and "Occurrences" in text.output and "first seen" in text.output  # type: ignore[attr-defined]


def test_link_then_list_then_clear(demo_db: str) -> None:
    cid = go_mod_cluster(listing(demo_db))["id"]
    url = "https://github.com/hashicorp/terraform/issues/30820"
    linked = run(
        "link", cid, url, "--note", "bump go.sum in the release branch", "--db", demo_db, "--format", "json"
    )
    assert linked.exit_code == 0, linked.output  # type: ignore[attr-defined]
    assert json.loads(linked.output)["link"]["url"] == url  # type: ignore[attr-defined]
    assert go_mod_cluster(listing(demo_db))["link"]["note"] == "bump go.sum in the release branch"
    text = run("link", cid, url, "--db", demo_db)
    assert text.exit_code == 0 and url in text.output  # type: ignore[attr-defined]
    cleared = run("link", cid, "--clear", "--db", demo_db)
    assert cleared.exit_code == 0 and "link removed" in cleared.output  # type: ignore[attr-defined]
    assert go_mod_cluster(listing(demo_db))["link"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "0123456789abcdef"), "no failure cluster"),
        (("show", "xyz"), "invalid cluster id"),
        (("link", "0123", "ftp://example.com/x"), "invalid link URL"),
        (("link", "0123"), "give a URL"),
        (("--since", "yesterday"), "invalid --since"),
    ],
)
def test_errors_are_one_line_and_exit_2(demo_db: str, args: tuple[str, ...], message: str) -> None:
    result = CliRunner().invoke(app, ["failures", *args, "--db", demo_db])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("cimedic: error: ") and message in lines[0]
