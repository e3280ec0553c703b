"""What a user reads from ``cimedic risk`` on the demo store: a model that does not beat its
baselines is kept but marked unusable and scores nothing, and runs are named by the provider's
run id (the one in GitHub's URL), never by the store's row id."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import DemoDB
import typer
from sqlalchemy import select, update
from typer.testing import CliRunner

from cimedic.interfaces.cli import risk
from cimedic.interfaces.cli.common import RootGroup
from cimedic.model.risk import AucEstimate, MethodScores, RiskEvaluation
from cimedic.store.engine import sqlite_url
from cimedic.store.repository import Store
from cimedic.store.schema import workflow_runs
from cimedic.store.schema_risk import risk_models

app = typer.Typer(cls=RootGroup)
app.add_typer(risk.app, name="risk")


@app.callback()
def _root() -> None:
    pass


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def demo_now(live_demo_now: datetime) -> datetime:
    """The demo ends at the wall clock's now, as ``cimedic demo`` builds it (the commands read
    the clock)."""
    return live_demo_now


@pytest.fixture
def demo(make_demo_copy: Callable[..., DemoDB]) -> Path:
    """A private copy of the session's demo store (tests add repositories and entries)."""
    copy = make_demo_copy("sqlite")
    assert copy.path is not None
    return copy.path


def _run(*args: str) -> object:
    return CliRunner().invoke(app, ["risk", *args], catch_exceptions=False, env={"COLUMNS": "300"})


def _ok(*args: str) -> str:
    result = _run(*args)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    return result.output  # type: ignore[attr-defined,no-any-return]


def _method(name: str, auc: float | None) -> MethodScores:
    return MethodScores(method=name, auc=AucEstimate(auc=auc, n=150, positives=20), precision_at_10=None)


def _evaluation(model: float | None, previous: float | None, rate: float | None) -> RiskEvaluation:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    return RiskEvaluation(
        start=now, end=now, n_samples=150, n_failures=20, failure_rate=0.13, meaningful=True,
        methods=(_method("model", model), _method("previous_outcome", previous),
                 _method("recent_failure_rate", rate)),
    )  # fmt: skip


def test_the_rule_a_model_must_beat_its_baselines() -> None:
    from cimedic.analysis.risk_model import unusable_reason

    assert unusable_reason(_evaluation(0.72, 0.61, 0.58)) is None
    losing = unusable_reason(_evaluation(0.034, 0.486, 0.329))
    assert losing is not None and "does not beat the previous outcome baseline (0.486)" in losing
    tie = unusable_reason(_evaluation(0.61, 0.55, 0.61))
    assert tie is not None and "recent failure rate baseline" in tie
    chance = unusable_reason(_evaluation(0.5, None, None))
    assert chance is not None and "no better than chance" in chance
    assert unusable_reason(_evaluation(None, 0.6, 0.5)) is not None
    assert unusable_reason(None) is not None


def test_an_unusable_model_is_kept_marked_and_scores_nothing(demo: Path) -> None:
    from cimedic.services.risk import RiskModelUnusable, score_runs
    from cimedic.store.risk import latest_model, top_scores

    db = str(demo)
    store = Store(sqlite_url(demo))
    try:
        stored = latest_model(store)
        assert stored is not None  # the demo's refresh trained (and kept) a model
        version = stored.info.version
        # the refresh did not score any run with it
        assert top_scores(store, version)[0] == 0
        with pytest.raises(RiskModelUnusable, match="does not beat"):
            score_runs(store)
    finally:
        store.close()

    text = " ".join(_ok("show", "--db", db).split())
    assert f"Current risk model {version} (every repository) UNUSABLE" in text
    assert "unusable: its hold-out ROC AUC" in text and "does not beat the" in text
    assert "it is kept but scores no run" in text and "Riskiest" not in text
    report = json.loads(_ok("show", "--db", db, "-f", "json"))
    assert report["model"]["version"] == version and report["model"]["usable"] is False
    assert "baseline" in report["model"]["unusable_reason"]
    assert report["scored_runs"] == 0 and report["top"] == []

    refused = _run("score", "--since", "30d", "--db", db)
    assert refused.exit_code == 1  # type: ignore[attr-defined]
    assert refused.output.startswith(f"cimedic: error: risk model {version} is unusable")  # type: ignore[attr-defined]
    assert refused.output.count("\n") == 1  # type: ignore[attr-defined]

    # training again on the same history gives another unusable model: kept, marked, not used
    trained = _ok("train", "--db", db, "-f", "json")
    assert json.loads(trained)["usable"] is False
    assert _run("score", "--db", db).exit_code == 1  # type: ignore[attr-defined]


def _beat_the_baselines(path: Path) -> None:
    """Rewrite the stored evaluations so the models beat their baselines (model ROC AUC 0.99)."""
    store = Store(sqlite_url(path))
    try:
        with store.engine.begin() as conn:
            for row_id, metrics in conn.execute(select(risk_models.c.id, risk_models.c.metrics)).all():
                for method in metrics["evaluation"]["methods"]:
                    if method["method"] == "model":
                        method["auc"]["auc"] = 0.99
                conn.execute(update(risk_models).where(risk_models.c.id == row_id).values(metrics=metrics))
    finally:
        store.close()


def test_runs_are_named_by_their_provider_run_id(demo: Path) -> None:
    _beat_the_baselines(demo)
    db = str(demo)
    store = Store(sqlite_url(demo))
    try:
        with store.engine.connect() as conn:
            ids = {
                str(pid): sid
                for sid, pid in conn.execute(select(workflow_runs.c.id, workflow_runs.c.provider_id))
            }
    finally:
        store.close()
    assert not set(ids) & {str(sid) for sid in ids.values()}  # the two kinds of id cannot be confused

    scored = json.loads(_ok("score", "--since", "30d", "--db", db, "-f", "json"))
    assert len(scored["scores"]) == 125
    for s in scored["scores"]:
        assert s["run_provider_id"] in ids and "run_id" not in s and "key" not in s

    report = json.loads(_ok("show", "--db", db, "-f", "json"))
    assert report["model"]["usable"] is True and report["scored_runs"] > 0 and report["top"]
    for s in report["top"]:
        assert s["run_provider_id"] in ids and "run_id" not in s

    text = _ok("show", "--db", db)
    runs = [
        cells[0]
        for line in text.splitlines()
        if len(cells := [c.strip() for c in line.split("│")[1:-1]]) == 7 and cells[0].isdigit()
    ]
    assert runs == [s["run_provider_id"] for s in report["top"]]
    score_text = _ok("score", "--since", "30d", "--db", db)
    assert "Failure risk of 125 runs" in score_text
    listed = [
        cells[0]
        for line in score_text.splitlines()
        if len(cells := [c.strip() for c in line.split("│")[1:-1]]) == 7 and cells[0].isdigit()
    ]
    assert len(listed) == 125 and set(listed) <= set(ids)
