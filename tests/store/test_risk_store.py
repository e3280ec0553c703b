"""Failure risk in the store (SQLite and PostgreSQL): the history the features read, models
(save, load, damage check), scores (upsert, read, cascade), and the services end to end on a
crafted history."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from cimedic.model import (
    Conclusion,
    PullRequestRef,
    Repository,
    Status,
    TestCase,
    TestReport,
    TestStatus,
    TestSuite,
    WorkflowRun,
)
from cimedic.model.risk import FeatureContribution, RiskModelInfo, RiskScore
from cimedic.services.risk import (
    RiskModelMissing,
    RiskTrainingError,
    retrain_if_due,
    risk_report,
    score_runs,
    train_risk_model,
)
from cimedic.store import risk as store_risk
from cimedic.store.repository import Store
from cimedic.store.schema_risk import risk_models

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
REPO = "acme/app"
_ids = iter(range(5000, 100_000))


def _ingest(
    store: Store,
    created: datetime,
    conclusion: Conclusion | None,
    *,
    branch: str = "main",
    pr: int | None = None,
    workflow: str = "CI",
    minutes: float = 10,
    repo: str = REPO,
) -> int:
    owner, name = repo.split("/")
    repo_id = store.upsert_repository(Repository(owner=owner, name=name, default_branch="main"))
    done = conclusion is not None
    run = WorkflowRun(
        provider_id=str(next(_ids)),
        repository=repo,
        workflow_id="1",
        workflow_name=workflow,
        workflow_path=".github/workflows/ci.yml",
        event="pull_request" if pr else "push",
        branch=branch,
        head_sha=f"{next(_ids):040x}",
        status=Status.COMPLETED if done else Status.IN_PROGRESS,
        conclusion=conclusion,
        created_at=created,
        run_started_at=created,
        updated_at=created + timedelta(minutes=minutes) if done else created,
        pull_requests=(PullRequestRef(number=pr, head_ref=branch, base_ref="main"),) if pr else (),
    )
    return store.ingest_run(repo_id, run, (), ())


def _history(store: Store, n: int = 60, seed: int = 1) -> list[int]:
    """``n`` runs an hour apart, about a third failing, on PR branches and main."""
    rng = random.Random(seed)
    ids = []
    for i in range(n):
        failed = rng.random() < 0.33
        pr = rng.choice([None, 11, 12, 13])
        ids.append(
            _ingest(
                store,
                NOW - timedelta(hours=n - i),
                Conclusion.FAILURE if failed else Conclusion.SUCCESS,
                branch=f"feature-{pr}" if pr else "main",
                pr=pr,
            )
        )
    return ids


def test_history_maps_runs_prs_outcomes_and_failed_tests(store: Store) -> None:
    t0 = NOW - timedelta(days=1)
    a = _ingest(store, t0, Conclusion.FAILURE, branch="fix", pr=42, minutes=30)
    b = _ingest(store, t0 + timedelta(hours=1), Conclusion.CANCELLED)
    c = _ingest(store, t0 + timedelta(hours=2), None)
    cases = (
        TestCase(name="t1", classname="A", status=TestStatus.FAILED),
        TestCase(name="t2", classname="A", status=TestStatus.ERROR),
        TestCase(name="t3", classname="A", status=TestStatus.PASSED),
        TestCase(name="t4", classname="A", status=TestStatus.FLAKY),
    )
    store.save_test_report(a, TestReport(source="junit.xml", suites=(TestSuite(name="s", cases=cases),)))
    rows = {h.run_id: h for h in store_risk.risk_history(store, repository=REPO)}
    assert list(rows) == [a, b, c]
    ra = rows[a].run
    assert ra.key == str(a) and ra.repository == REPO and ra.workflow == "CI"
    assert ra.pull_request == "42" and ra.base_branch == "main" and ra.branch == "fix"
    assert ra.failed is True and ra.failed_tests == 2
    assert ra.completed_at == t0 + timedelta(minutes=30) and ra.duration == 1800
    assert ra.churn is None and ra.open_flaky_tests is None
    rb = rows[b].run
    assert rb.failed is None and rb.completed_at is not None and rb.base_branch == "main"
    assert rb.pull_request is None and rb.failed_tests is None
    rc = rows[c]
    assert rc.status == "in_progress" and rc.run.completed_at is None and rc.run.failed is None
    window = store_risk.risk_history(store, since=t0 + timedelta(minutes=30), until=t0 + timedelta(hours=2))
    assert [h.run_id for h in window] == [b]
    assert store_risk.risk_history(store, repository="other/repo") == []


def _info(version: str, trained: datetime, repository: str | None = None) -> RiskModelInfo:
    return RiskModelInfo(
        version=version,
        repository=repository,
        trained_at=trained,
        window_start=trained - timedelta(days=9),
        window_end=trained - timedelta(hours=1),
        n_samples=40,
        n_failures=9,
        estimator="logistic",
        features=("a", "b"),
        library="scikit-learn x",
    )


def test_models_save_load_and_damage_check(store: Store) -> None:
    assert store_risk.latest_model(store) is None
    store_risk.save_model(store, _info("v1", NOW - timedelta(days=2)), b"one")
    store_risk.save_model(store, _info("v2", NOW - timedelta(days=1)), b"two")
    store_risk.save_model(store, _info("v3", NOW, repository=REPO), b"three")
    latest = store_risk.latest_model(store)
    assert (
        latest is not None and latest.info == _info("v2", NOW - timedelta(days=1)) and latest.blob == b"two"
    )
    scoped = store_risk.latest_model(store, repository=REPO)
    assert scoped is not None and scoped.info.version == "v3" and scoped.blob == b"three"
    older = store_risk.latest_model(store, version="v1")
    assert older is not None and older.blob == b"one"
    assert [i.version for i in store_risk.model_infos(store)] == ["v3", "v2", "v1"]
    # saving the same version again replaces it
    store_risk.save_model(store, _info("v2", NOW - timedelta(days=1)), b"two bis")
    again = store_risk.latest_model(store, version="v2")
    assert again is not None and again.blob == b"two bis"
    with store.engine.begin() as conn:
        conn.execute(update(risk_models).where(risk_models.c.version == "v1").values(model=b"tampered"))
    with pytest.raises(ValueError, match="damaged"):
        store_risk.latest_model(store, version="v1")


def test_scores_upsert_read_and_cascade(store: Store) -> None:
    ids = [_ingest(store, NOW - timedelta(hours=h), Conclusion.SUCCESS) for h in (3, 2, 1)]
    feats = (FeatureContribution(name="job_prev_failed", value=1.0, contribution=0.8),)

    def score(run_id: int, p: float, version: str = "v1") -> RiskScore:
        return RiskScore(
            run_id=run_id,
            key=str(run_id),
            repository=REPO,
            created_at=NOW,
            probability=p,
            top_features=feats,
            model_version=version,
            scored_at=NOW,
        )

    assert (
        store_risk.upsert_scores(store, [score(i, p) for i, p in zip(ids, (0.1, 0.2, 0.3), strict=True)]) == 3
    )
    assert store_risk.upsert_scores(store, [score(ids[0], 0.9), score(ids[0], 0.5, "v2")]) == 2
    got = store_risk.scores_for_runs(store, ids, model_version="v1")
    assert [(s.run_id, s.probability) for s in got] == [(ids[0], 0.9), (ids[1], 0.2), (ids[2], 0.3)]
    assert got[0].top_features == feats and got[0].workflow == "CI" and got[0].failed is False
    assert len(store_risk.scores_for_runs(store, [ids[0]])) == 2
    total, top = store_risk.top_scores(store, "v1", limit=2)
    assert total == 3 and [s.run_id for s in top] == [ids[0], ids[2]]
    assert store_risk.top_scores(store, "v1", repository="other/repo")[0] == 0
    assert store.delete_repository(REPO)
    assert store_risk.scores_for_runs(store, ids) == []


def test_train_score_report_and_retrain_on_a_crafted_history(store: Store) -> None:
    with pytest.raises(RiskModelMissing):
        score_runs(store, now=NOW)
    assert risk_report(store, now=NOW).model is None
    _history(store, n=12)
    with pytest.raises(RiskTrainingError, match="at least 30 runs"):
        train_risk_model(store, since=timedelta(days=30), now=NOW)
    result = retrain_if_due(store, now=NOW)
    assert not result.retrained and "too little history" in result.reason

    # outcomes are random, so a model beats its baselines on the 22 held-out runs by chance (about
    # half of the seeds); an unusable model scores nothing, so this history's model must be usable
    _history(store, n=60, seed=22)
    _ingest(store, NOW - timedelta(minutes=5), None, branch="feature-11", pr=11)  # still running
    info = train_risk_model(store, since=timedelta(days=30), now=NOW)
    assert info.n_samples == 72 and 5 <= info.n_failures < 72
    assert info.version.startswith("risk-20250301T120000Z-") and info.trained_at == NOW
    assert info.evaluation is not None and info.evaluation.n_samples == 22
    assert [m.method for m in info.evaluation.methods] == ["model", "previous_outcome", "recent_failure_rate"]
    assert not info.evaluation.meaningful and "not meaningful" in (info.evaluation.note or "")
    assert info.usable and info.unusable_reason is None
    loaded = store_risk.latest_model(store)
    assert loaded is not None and loaded.info == info

    scores = score_runs(store, since=timedelta(hours=3), now=NOW)
    assert len(scores) == 7 and all(0 <= s.probability <= 1 for s in scores)
    assert [s.probability for s in scores] == sorted((s.probability for s in scores), reverse=True)
    assert all(len(s.top_features) == 3 and s.model_version == info.version for s in scores)
    assert any(s.status == "in_progress" for s in scores)
    stored = store_risk.scores_for_runs(store, [s.run_id for s in scores if s.run_id is not None])
    assert sorted(s.probability for s in stored) == sorted(s.probability for s in scores)
    report = risk_report(store, REPO, now=NOW)
    assert report.model == info and report.scored_runs == 7 and len(report.top) == 7

    assert not retrain_if_due(store, timedelta(days=7), now=NOW + timedelta(days=1)).retrained
    later = retrain_if_due(store, timedelta(days=7), now=NOW + timedelta(days=8))
    assert later.retrained and later.info is not None and later.info.version != info.version
