"""``cimedic risk`` as a user runs it on the demo store (125 runs): show before training,
train, show, score, in text and JSON; the one-line errors."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import typer
from typer.testing import CliRunner

from cimedic.interfaces.cli import risk
from cimedic.interfaces.cli.common import RootGroup

if TYPE_CHECKING:
    from conftest import DemoDB


@pytest.fixture
def demo_now(live_demo_now: datetime) -> datetime:
    """The demo ends at the wall clock's now, as ``cimedic demo`` builds it."""
    return live_demo_now


@pytest.fixture
def db(demo_sqlite: DemoDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private copy of the demo store (built once per session), and settings that ignore the
    user's configuration."""
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    return str(demo_sqlite.path)


def _run(*args: str) -> object:
    app = typer.Typer(cls=RootGroup)
    app.add_typer(risk.app, name="risk")

    @app.callback()
    def _root() -> None:
        pass

    return CliRunner().invoke(app, ["risk", *args], catch_exceptions=False)


def _beat_the_baselines(db: str) -> None:
    """Make the stored models' hold-out evaluation show a model that beats its baselines (model
    ROC AUC 0.99), so they are usable and score runs (the rule reads the stored evaluation)."""
    from sqlalchemy import select, update

    from cimedic.store.repository import Store
    from cimedic.store.schema_risk import risk_models

    st = Store(db if "://" in db else f"sqlite:///{db}")
    try:
        with st.engine.begin() as conn:
            for row_id, metrics in conn.execute(select(risk_models.c.id, risk_models.c.metrics)).all():
                for method in metrics["evaluation"]["methods"]:
                    if method["method"] == "model":
                        method["auc"]["auc"] = 0.99
                conn.execute(update(risk_models).where(risk_models.c.id == row_id).values(metrics=metrics))
    finally:
        st.close()


def test_train_show_and_score_on_the_demo_store(db: str) -> None:
    # `cimedic demo` already trained a model (refresh_findings): start from an empty store
    from sqlalchemy import delete

    from cimedic.store.repository import Store
    from cimedic.store.schema_risk import risk_models

    st = Store(db if "://" in db else f"sqlite:///{db}")
    with st.engine.begin() as conn:
        conn.execute(delete(risk_models))
    st.close()
    before = _run("show", "--db", db)
    assert before.exit_code == 0 and "No risk model trained yet" in before.output
    missing = _run("score", "--db", db)
    assert missing.exit_code == 1 and "cimedic risk train" in missing.output

    trained = _run("train", "--db", db)
    assert trained.exit_code == 0, trained.output
    assert "Trained risk model risk-" in trained.output and "121 runs (8 failed)" in trained.output
    assert "previous outcome (baseline)" in trained.output and "not meaningful" in trained.output

    shown = _run("show", "--repo", "hashicorp-demo/terraform", "--db", db)
    assert shown.exit_code == 0 and "Current risk model" in shown.output

    # the demo's model ranks the one held-out failure below the previous-outcome baseline: it is
    # unusable and scores nothing (issue: a model that does not beat its baselines is not used)
    refused = _run("score", "--since", "30d", "--db", db)
    assert refused.exit_code == 1 and "is unusable" in refused.output
    _beat_the_baselines(db)
    scored = _run("score", "--since", "30d", "--db", db)
    assert scored.exit_code == 0, scored.output
    assert "Failure risk of 125 runs" in scored.output


def test_json_outputs(db: str) -> None:
    info = json.loads(_run("train", "--since", "30d", "--format", "json", "--db", db).output)
    assert info["n_samples"] == 121 and info["n_failures"] == 8
    assert info["estimator"] in ("logistic", "hist_gradient_boosting")
    assert "job_prev_failed" in info["features"] and "churn_files" in info["features"]
    ev = info["evaluation"]
    assert ev["meaningful"] is False and ev["n_samples"] == 36
    assert {m["method"] for m in ev["methods"]} == {"model", "previous_outcome", "recent_failure_rate"}
    for m in ev["methods"]:
        assert set(m["auc"]) == {"auc", "ci_low", "ci_high", "n", "positives"}

    _beat_the_baselines(db)
    data = json.loads(_run("score", "--since", "30d", "--format", "json", "--db", db).output)
    assert data["model_version"] == info["version"] and len(data["scores"]) == 125
    first = data["scores"][0]
    assert 0 <= first["probability"] <= 1 and len(first["top_features"]) == 3
    assert set(first["top_features"][0]) == {"name", "value", "contribution"}
    # the provider's run id, not the store's
    assert first["run_provider_id"] is not None and first["repository"] == "hashicorp-demo/terraform"
    assert "run_id" not in first

    report = json.loads(_run("show", "--format", "json", "--db", db).output)
    assert report["model"]["version"] == info["version"]
    assert report["scored_runs"] > 0 and len(report["top"]) <= 10


def test_errors_are_one_line(db: str) -> None:
    bad = _run("train", "--since", "soon", "--db", db)
    assert bad.exit_code == 2 and bad.output.startswith("cimedic: error: invalid --since")
    few = _run("train", "--since", "1h", "--db", db)
    assert few.exit_code == 1
    assert few.output.startswith("cimedic: error: too little history") and few.output.count("\n") == 1
