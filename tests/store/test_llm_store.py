"""LLM usage and the explanation cache (:mod:`cimedic.store.llm`) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cimedic.agent.llm.base import LLMResult
from cimedic.agent.usage import UsageLog, usage_summary
from cimedic.model.explanations import Explanation, UsageRecord
from cimedic.store import llm as db
from cimedic.store.repository import Store


def _explanation(**kw: object) -> Explanation:
    base: dict[str, object] = {
        "signature": "a" * 32,
        "root_cause": "go.mod is not tidy",
        "evidence_lines": (12, 14),
        "fix": "run go mod tidy",
        "confidence": 0.7,
        "source": "llm",
        "model": "m",
    }
    base.update(kw)
    return Explanation.model_validate(base)


def test_explanation_cache_round_trip_and_replace(store: Store) -> None:
    assert db.get_explanation(store, "a" * 32, "1.0", "m") is None
    db.save_explanation(store, _explanation(), "1.0", "m")
    got = db.get_explanation(store, "a" * 32, "1.0", "m")
    assert got == _explanation()
    assert db.get_explanation(store, "a" * 32, "2.0", "m") is None  # engine version is part of the key
    assert db.get_explanation(store, "a" * 32, "1.0", "other") is None  # and the model
    db.save_explanation(store, _explanation(fix="pin go-version"), "1.0", "m")
    again = db.get_explanation(store, "a" * 32, "1.0", "m")
    assert again is not None and again.fix == "pin go-version"


def test_usage_is_recorded_and_summarised_by_feature_and_day(store: Store) -> None:
    log = UsageLog(store, "explain")
    log.call(LLMResult("{}", {}, 300, 40, 2.5, "m"))
    log.call(LLMResult("{}", {}, 100, 20, 1.5, "m"))
    log.cache_hit("m")
    log.error("m", "server down")
    db.record_usage(
        store,
        UsageRecord(
            feature="chat",
            model="m",
            prompt_tokens=7,
            completion_tokens=3,
            seconds=1.0,
            created_at=datetime(2020, 1, 1, tzinfo=UTC),
        ),
    )
    rows = db.load_usage(store, feature="explain")
    assert [(r.ok, r.cached) for r in rows] == [(True, False), (True, False), (True, True), (False, False)]
    assert rows[0].created_at.tzinfo is not None
    recent = usage_summary(store, since=datetime.now(UTC) - timedelta(days=7))
    assert [(r.feature, r.calls, r.cached, r.errors) for r in recent.rows] == [("explain", 3, 1, 1)]
    assert (recent.prompt_tokens, recent.completion_tokens, recent.seconds) == (400, 60, 4.0)
    everything = usage_summary(store)
    assert [r.feature for r in everything.rows] == ["chat", "explain"] and everything.rows[
        0
    ].day == "2020-01-01"


@pytest.fixture
def demo_now(live_demo_now: datetime) -> datetime:
    """The demo ends at the wall clock's now, as ``cimedic demo`` builds it."""
    return live_demo_now


def test_job_reads_on_the_demo_history(demo_store: Store) -> None:
    store = demo_store
    failed = db.failed_jobs_in_order(store)
    assert len(failed) >= 5
    job_id = failed[0]
    assert db.resolve_jobs(store, str(job_id)) == [job_id]
    assert db.job_repository(store, job_id) is not None
    assert db.cluster_of_job(store, job_id) is not None
    assert db.resolve_jobs(store, "run:does-not-exist") == []
    assert db.resolve_jobs(store, "job:does-not-exist") == []

    from sqlalchemy import select

    from cimedic.store import schema as t

    with store.engine.connect() as conn:
        provider_job, provider_run = conn.execute(
            select(t.jobs.c.provider_id, t.workflow_runs.c.provider_id)
            .join(t.workflow_runs, t.workflow_runs.c.id == t.jobs.c.run_id)
            .where(t.jobs.c.id == job_id)
        ).one()
    assert db.resolve_jobs(store, f"job:{provider_job}") == [job_id]
    assert job_id in db.resolve_jobs(store, f"run:{provider_run}")
