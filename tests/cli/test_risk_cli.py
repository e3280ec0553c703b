"""``cimedic risk`` as a user runs it on the demo store (125 runs): show before training,
train, show, score, in text and JSON; the one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cimedic.interfaces.cli import risk


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cimedic.services.demo import run_demo
    from cimedic.services.diagnose import make_diagnoser
    from cimedic.store.repository import Store

    path = tmp_path_factory.mktemp("risk") / "demo.db"
    store = Store(f"sqlite:///{path}")
    try:
        run_demo(store, make_diagnoser()[0])
    finally:
        store.close()
    return path


@pytest.fixture
def db(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private copy of the demo store, and settings that ignore the user's configuration."""
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    copy = tmp_path / "demo.db"
    shutil.copy(demo_db, copy)
    return str(copy)


def _run(*args: str) -> object:
    app = typer.Typer()
    app.add_typer(risk.app, name="risk")

    @app.callback()
    def _root() -> None:
        pass

    return CliRunner().invoke(app, ["risk", *args], catch_exceptions=False)


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

    data = json.loads(_run("score", "--since", "30d", "--format", "json", "--db", db).output)
    assert data["model_version"] == info["version"] and len(data["scores"]) == 125
    first = data["scores"][0]
    assert 0 <= first["probability"] <= 1 and len(first["top_features"]) == 3
    assert set(first["top_features"][0]) == {"name", "value", "contribution"}
    assert first["run_id"] is not None and first["repository"] == "hashicorp-demo/terraform"

    report = json.loads(_run("show", "--format", "json", "--db", db).output)
    assert report["model"]["version"] == info["version"]
    assert report["scored_runs"] > 0 and len(report["top"]) <= 10


def test_errors_are_one_line(db: str) -> None:
    bad = _run("train", "--since", "soon", "--db", db)
    assert bad.exit_code == 2 and bad.output.startswith("cimedic: error: invalid --since")
    few = _run("train", "--since", "1h", "--db", db)
    assert few.exit_code == 1
    assert few.output.startswith("cimedic: error: too little history") and few.output.count("\n") == 1
