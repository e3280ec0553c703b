"""The services the agent and the interfaces read stored data through (instead of
``cimedic.store``): history reads, conversations, explanation look-ups and the usage records,
on the demo store and on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cimedic.model.ci import Conclusion
from cimedic.model.explanations import UsageRecord
from cimedic.model.flaky import Verdict
from cimedic.model.history import HistoryFilter
from cimedic.services import conversations, explanations, history, llm_usage
from cimedic.store.repository import Store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_recent_runs_are_newest_first_and_filter_by_conclusion(demo_store: Store) -> None:
    runs = history.recent_runs(demo_store, HistoryFilter())
    assert len(runs) > 10
    keys = [(r.created_at, r.run_id) for r in runs]
    assert keys == sorted(keys, reverse=True)
    failed = history.recent_runs(demo_store, HistoryFilter(), conclusion="failure")
    assert failed and all(r.conclusion is Conclusion.FAILURE for r in failed)
    assert [r.run_id for r in failed] == [r.run_id for r in runs if r.conclusion is Conclusion.FAILURE]
    assert history.recent_runs(demo_store, HistoryFilter(), conclusion="no-such-conclusion") == []
    names = history.repository_names(demo_store)
    assert names == sorted(names) and {r.repository for r in runs} <= set(names)
    one = history.recent_runs(demo_store, HistoryFilter(repository=names[0]))
    assert one and {r.repository for r in one} == {names[0]}


def test_diagnosis_and_job_lookups_of_a_failed_run(demo_store: Store) -> None:
    failed = history.recent_runs(demo_store, HistoryFilter(), conclusion="failure")
    diagnosed = [
        (run, job)
        for run in failed
        for job in explanations.resolve_jobs(demo_store, f"run:{run.provider_id}")
        if history.diagnosis(demo_store, job) is not None
    ]
    assert diagnosed, "the demo holds diagnosed failed jobs"
    run, job = diagnosed[0]
    d = history.diagnosis(demo_store, job)
    assert d is not None and d.summary
    assert explanations.job_repository(demo_store, job) == run.repository
    assert explanations.resolve_jobs(demo_store, str(job)) == [job]
    assert history.diagnosis(demo_store, 10**9) is None
    assert explanations.job_repository(demo_store, 10**9) is None
    assert explanations.resolve_jobs(demo_store, "run:no-such-run") == []
    assert explanations.cluster_of_job(demo_store, 10**9) is None


def test_flaky_findings_and_culprit_reports(demo_store: Store) -> None:
    flaky = history.flaky_findings(demo_store, verdicts=[Verdict.FLAKY])
    assert flaky and all(f.verdict is Verdict.FLAKY for f in flaky)
    everything = history.flaky_findings(demo_store)
    assert len(everything) >= len(flaky)
    repo = flaky[0].repository
    assert all(f.repository == repo for f in history.flaky_findings(demo_store, repository=repo))
    reports = history.culprit_reports(demo_store)
    assert reports, "the demo holds failure episodes"
    firsts = [r.first_red.created_at for r in reports]
    assert firsts == sorted(firsts, reverse=True)
    since = firsts[len(firsts) // 2]
    recent = history.culprit_reports(demo_store, since=since)
    assert recent and all(r.first_red.created_at >= since for r in recent)
    assert history.culprit_reports(demo_store, repository="nobody/nothing") == []


def test_conversations_latest_and_turns(store: Store) -> None:
    assert conversations.latest_conversation_id(store) is None
    convs = conversations.StoreConversations(store)
    first = convs.create("first", now=NOW)
    second = convs.create("second", now=NOW + timedelta(minutes=1))
    assert conversations.latest_conversation_id(store) == second.id
    convs.append(first.id, "user", "which runs failed?", now=NOW + timedelta(minutes=2))
    turn = convs.append(
        first.id,
        "assistant",
        "run 7 failed",
        steps=[{"step": 1, "tool": "search_runs"}],
        prompt_tokens=12,
        completion_tokens=3,
        now=NOW + timedelta(minutes=2),
    )
    assert turn.seq == 2 and turn.steps == ({"step": 1, "tool": "search_runs"},)
    assert conversations.latest_conversation_id(store) == first.id
    assert [c.id for c in conversations.list_conversations(store)] == [first.id, second.id]
    got = conversations.get_conversation(store, first.id)
    assert got is not None and got.title == "first" and got.updated_at == NOW + timedelta(minutes=2)
    assert conversations.get_conversation(store, "no-such-conversation") is None
    assert [t.content for t in convs.turns(first.id)] == ["which runs failed?", "run 7 failed"]
    assert [t.seq for t in convs.turns(first.id, after=1)] == [2]
    convs.set_summary(first.id, "asked about failures", 1)
    summarised = convs.get(first.id)
    assert summarised is not None and (summarised.summary, summarised.summary_upto) == (
        "asked about failures",
        1,
    )


def test_usage_records_and_the_explanation_cache(store: Store) -> None:
    from cimedic.model.explanations import Explanation

    llm_usage.record_usage(store, UsageRecord(feature="chat", model="m", prompt_tokens=5, created_at=NOW))
    llm_usage.record_usage(
        store, UsageRecord(feature="explain", model="m", cached=True, created_at=NOW + timedelta(hours=1))
    )
    assert [r.feature for r in llm_usage.usage_records(store)] == ["chat", "explain"]
    assert [r.feature for r in llm_usage.usage_records(store, feature="chat")] == ["chat"]
    assert [r.feature for r in llm_usage.usage_records(store, since=NOW + timedelta(minutes=1))] == [
        "explain"
    ]
    assert explanations.cached_explanation(store, "sig", "1.0", "m") is None
    e = Explanation(
        signature="sig",
        root_cause="disk full",
        evidence_lines=(3,),
        fix="free space",
        confidence=0.7,
        source="llm",
    )
    explanations.cache_explanation(store, e, "1.0", "m")
    cached = explanations.cached_explanation(store, "sig", "1.0", "m")
    assert cached is not None and cached.root_cause == "disk full" and cached.evidence_lines == (3,)
    assert explanations.cached_explanation(store, "sig", "1.0", "other-model") is None
