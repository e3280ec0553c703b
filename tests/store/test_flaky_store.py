"""Flaky-test storage on SQLite and PostgreSQL (the ``store`` fixture runs every test on both):
outcome histories of jobs and tests, stored findings, the quarantine list, and the service on
top of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cimedic.model import (
    Conclusion,
    Job,
    Repository,
    RunAttempt,
    Status,
    TestCase,
    TestReport,
    TestStatus,
    TestSuite,
    WorkflowRun,
)
from cimedic.model.flaky import Outcome, SubjectKind, Verdict
from cimedic.services import flaky as service
from cimedic.store import flaky as fs
from cimedic.store.repository import Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
REPO = "octo/app"


def _ingest(
    store: Store,
    repo_id: int,
    run: str,
    sha: str,
    hour: int,
    jobs: list[tuple[int, str, Conclusion]],
    *,
    event: str = "push",
    branch: str = "main",
) -> int:
    created = T0 + timedelta(hours=hour)
    attempts = max(a for a, _, _ in jobs) if jobs else 1
    return store.ingest_run(
        repo_id,
        WorkflowRun(
            provider_id=run,
            repository=REPO,
            workflow_name="CI",
            run_attempt=attempts,
            event=event,
            branch=branch,
            head_sha=sha,
            status=Status.COMPLETED,
            conclusion=jobs[-1][2] if jobs else Conclusion.SUCCESS,
            created_at=created,
            updated_at=created + timedelta(minutes=30),
        ),
        [RunAttempt(run_provider_id=run, attempt=a, status=Status.COMPLETED) for a in range(1, attempts + 1)],
        [
            Job(
                provider_id=f"{run}-{a}-{name}",
                run_provider_id=run,
                run_attempt=a,
                name=name,
                workflow_name="CI",
                head_sha=sha,
                head_branch=branch,
                status=Status.COMPLETED,
                conclusion=concl,
                created_at=created + timedelta(minutes=10 * a),
                started_at=created + timedelta(minutes=10 * a + 1),
                completed_at=created + timedelta(minutes=10 * a + 5),
            )
            for a, name, concl in jobs
        ],
    )


def _report(source: str, *cases: tuple[str, TestStatus]) -> TestReport:
    return TestReport(
        source=source,
        dialect="pytest",
        suites=(
            TestSuite(
                name="pytest",
                cases=tuple(
                    TestCase(
                        name=name,
                        classname="tests.test_api.TestApi",
                        file="tests/test_api.py",
                        status=status,
                        retries=1 if status is TestStatus.FLAKY else 0,
                    )
                    for name, status in cases
                ),
            ),
        ),
    )


@pytest.fixture
def repo_id(store: Store) -> int:
    return store.upsert_repository(Repository(owner="octo", name="app", default_branch="main"))


def test_job_histories_see_every_attempt_on_its_commit(store: Store, repo_id: int) -> None:
    ok, bad, cancelled = Conclusion.SUCCESS, Conclusion.FAILURE, Conclusion.CANCELLED
    _ingest(store, repo_id, "1", "a1", 0, [(1, "test", ok), (1, "lint", ok)])
    _ingest(
        store, repo_id, "2", "a2", 1, [(1, "test", bad), (1, "lint", ok), (2, "test", ok), (2, "lint", ok)]
    )
    _ingest(store, repo_id, "3", "a3", 2, [(1, "test", cancelled), (1, "lint", Conclusion.TIMED_OUT)])
    _ingest(store, repo_id, "4", "a3", 3, [(1, "test", ok)], event="pull_request", branch="feature")
    histories = {h.subject: h for h in fs.job_histories(store, repository=REPO)}
    assert set(histories) == {"CI / test", "CI / lint"}
    test = histories["CI / test"]
    assert test.kind is SubjectKind.JOB and test.repository == REPO
    assert [(e.commit, e.run, e.attempt, e.outcome) for e in test.executions] == [
        ("a1", "1", 1, Outcome.PASS),
        ("a2", "2", 1, Outcome.FAIL),
        ("a2", "2", 2, Outcome.PASS),
        ("a3@4", "4", 1, Outcome.PASS),  # cancelled is left out; a pull_request run is its own commit
    ]
    assert test.executions[-1].branch == "feature"
    assert [e.outcome for e in histories["CI / lint"].executions][-1] is Outcome.FAIL  # timed_out
    # the window bounds the runs' creation time
    assert fs.job_histories(store, repository=REPO, since=T0 + timedelta(hours=2, minutes=30)) != []
    assert fs.job_histories(store, repository="other/repo") == []


def test_test_histories_map_statuses_variants_and_commits(store: Store, repo_id: int) -> None:
    r1 = _ingest(store, repo_id, "1", "a1", 0, [])
    r2 = _ingest(store, repo_id, "2", "a2", 1, [])
    r3 = _ingest(store, repo_id, "3", "", 2, [])  # a run ingested without a head SHA
    py311, py312 = "results-py3.11.zip!junit.xml", "results-py3.12.zip!junit.xml"
    store.save_test_report(
        r1, _report(py311, ("test_get", TestStatus.PASSED), ("test_put", TestStatus.SKIPPED))
    )
    store.save_test_report(r1, _report(py312, ("test_get", TestStatus.FAILED)))
    store.save_test_report(r2, _report(py311, ("test_get", TestStatus.FLAKY), ("test_put", TestStatus.ERROR)))
    store.save_test_report(r3, _report(py311, ("test_get", TestStatus.PASSED)))
    histories = {(h.subject, h.variant): h for h in fs.test_histories(store, repository=REPO)}
    get311 = histories[("tests.test_api.TestApi::test_get", f"CI | {py311}")]
    assert [(e.commit, e.outcome, e.retries) for e in get311.executions] == [
        ("a1", Outcome.PASS, 0),
        ("a2", Outcome.FLAKY, 1),
        ("run:3", Outcome.PASS, 0),
    ]
    # the matrix legs are separate histories: a pass on 3.11 and a failure on 3.12 is no flakiness
    get312 = histories[("tests.test_api.TestApi::test_get", f"CI | {py312}")]
    assert [e.outcome for e in get312.executions] == [Outcome.FAIL]
    put = histories[("tests.test_api.TestApi::test_put", f"CI | {py311}")]
    assert [e.outcome for e in put.executions] == [Outcome.FAIL]  # skipped left out, error = fail
    ident = fs.test_identities(store, REPO, ["tests.test_api.TestApi::test_get", "nope::x"])
    assert list(ident) == ["tests.test_api.TestApi::test_get"]
    assert ident["tests.test_api.TestApi::test_get"].file == "tests/test_api.py"
    assert ident["tests.test_api.TestApi::test_get"].dialect == "pytest"


def test_findings_are_stored_updated_and_deleted_with_the_repository(store: Store, repo_id: int) -> None:
    ok, bad = Conclusion.SUCCESS, Conclusion.FAILURE
    _ingest(store, repo_id, "1", "a1", 0, [(1, "test", ok)])
    _ingest(store, repo_id, "2", "a2", 1, [(1, "test", bad), (2, "test", ok)])
    now = T0 + timedelta(days=1)
    findings = service.analyze_flaky(store, REPO, None, now=now)
    assert [(f.subject, f.verdict) for f in findings] == [("CI / test", Verdict.FLAKY)]
    stored = fs.load_findings(store, repository=REPO)
    assert stored == findings
    # analysing again updates the same row
    _ingest(store, repo_id, "3", "a3", 2, [(1, "test", ok)])
    again = service.analyze_flaky(store, REPO, None, now=now)
    stored = fs.load_findings(store, repository=REPO, kind=SubjectKind.JOB, verdicts=[Verdict.FLAKY])
    assert len(stored) == 1 and stored[0].executions == again[0].executions == 4
    assert fs.load_findings(store, verdicts=[Verdict.BROKEN]) == []
    # quarantine survives a rebuild of the history; findings go with the repository
    service.quarantine_add(store, REPO, "t::x", reason="flaky", owner="@me", now=now)
    assert store.delete_repository(REPO)
    assert fs.load_findings(store) == []
    assert [e.test_id for e in service.quarantine_list(store, REPO, now=now)] == ["t::x"]


def test_quarantine_add_update_remove_and_expire(store: Store) -> None:
    now = T0
    first = service.quarantine_add(
        store,
        REPO,
        "tests.test_api.TestApi::test_get",
        reason="flaky",
        owner="@a",
        expires=timedelta(days=30),
        now=now,
    )
    assert first.id is not None and first.expires_at == now + timedelta(days=30)
    assert first.is_active(now) and first.status(now) == "active"
    # adding again updates the active entry
    second = service.quarantine_add(
        store,
        REPO,
        "tests.test_api.TestApi::test_get",
        reason="still flaky",
        owner="@b",
        now=now + timedelta(hours=1),
    )
    assert second.id == first.id and second.reason == "still flaky" and second.expires_at is None
    assert second.created_at == now
    other = service.quarantine_add(store, "octo/other", "x::y", reason="r", owner="o", now=now)
    assert [e.test_id for e in service.quarantine_list(store, REPO, now=now)] == [
        "tests.test_api.TestApi::test_get"
    ]
    assert len(service.quarantine_list(store, None, now=now)) == 2
    removed = service.quarantine_remove(store, REPO, "tests.test_api.TestApi::test_get", by="@c", now=now)
    assert removed.removed_by == "@c" and removed.status(now) == "removed"
    with pytest.raises(LookupError):
        service.quarantine_remove(store, REPO, "tests.test_api.TestApi::test_get", now=now)
    assert service.quarantine_list(store, REPO, now=now) == []
    assert len(service.quarantine_list(store, REPO, include_inactive=True, now=now)) == 1
    # quarantined again: a new entry, the old one stays in the history
    again = service.quarantine_add(
        store, REPO, "tests.test_api.TestApi::test_get", reason="r", owner="o", now=now
    )
    assert again.id != first.id
    # expiry
    later = now + timedelta(days=400)
    expiring = service.quarantine_add(
        store, "octo/other", "x::y", reason="r", owner="o", expires=timedelta(days=1), now=now
    )
    assert expiring.id == other.id
    assert service.quarantine_list(store, "octo/other", now=later) == []
    assert [e.status(later) for e in fs.quarantine_entries(store, repository="octo/other")] == ["expired"]
    with pytest.raises(ValueError):
        service.quarantine_add(store, "not-a-repo", "x", reason="r", owner="o")
    with pytest.raises(ValueError):
        service.quarantine_add(store, REPO, "x", reason=" ", owner="o")
    with pytest.raises(ValueError):
        service.quarantine_add(
            store, REPO, "x", reason="r", owner="o", expires=T0 - timedelta(days=1), now=T0
        )


def test_export_and_proposals(store: Store, repo_id: int) -> None:
    now = T0 + timedelta(days=20)
    source = "results.zip!junit.xml"
    for i in range(20):  # test_get: flaky twice (in-run retries); test_put: green every day
        run_id = _ingest(store, repo_id, str(100 + i), f"c{i}", 24 * i + 1, [])
        get = TestStatus.FLAKY if i in (3, 9) else TestStatus.PASSED
        store.save_test_report(run_id, _report(source, ("test_get", get), ("test_put", TestStatus.PASSED)))
    service.quarantine_add(
        store, REPO, "tests.test_api.TestApi::test_put", reason="was flaky", owner="@a", now=T0
    )
    service.quarantine_add(store, REPO, "java.pkg.FooTest::bar", reason="flaky", owner="@a", now=T0)
    export = service.quarantine_export(store, REPO, now=now)
    by_id = {t.test_id: t for t in export.tests}
    assert by_id["tests.test_api.TestApi::test_put"].pytest_node_id == "tests/test_api.py::TestApi::test_put"
    assert by_id["java.pkg.FooTest::bar"].pytest_node_id is None
    assert by_id["java.pkg.FooTest::bar"].junit_selector == "java.pkg.FooTest#bar"
    assert service.export_pytest(export) == "--deselect=tests/test_api.py::TestApi::test_put\n"
    assert '"pytest_node_id": "tests/test_api.py::TestApi::test_put"' in service.export_json(export)

    proposals = service.propose(store, REPO, since=timedelta(days=30), stable_for=timedelta(days=7), now=now)
    assert [f.subject for f in proposals.quarantine] == ["tests.test_api.TestApi::test_get"]
    assert [u.entry.test_id for u in proposals.unquarantine] == []  # too few runs in 7 days
    proposals = service.propose(store, REPO, since=timedelta(days=30), stable_for=timedelta(days=14), now=now)
    assert [u.entry.test_id for u in proposals.unquarantine] == ["tests.test_api.TestApi::test_put"]
    assert proposals.unquarantine[0].runs >= 10
    text = service.proposal_markdown(proposals)
    assert "### Quarantine (1)" in text and "### Release from quarantine (1)" in text
    assert "cimedic quarantine add 'tests.test_api.TestApi::test_get' --repo octo/app" in text
    assert "cimedic quarantine remove 'tests.test_api.TestApi::test_put' --repo octo/app" in text


@pytest.mark.parametrize(
    ("classname", "name", "file", "node_id"),
    [
        (
            "tests.unit.test_mod.TestA",
            "test_x[a b]",
            "tests/unit/test_mod.py",
            "tests/unit/test_mod.py::TestA::test_x[a b]",
        ),
        (
            "unit.test_mod.TestA.TestB",
            "t",
            "tests/unit/test_mod.py",
            "tests/unit/test_mod.py::TestA::TestB::t",
        ),
        ("tests.test_mod", "test_free", None, "tests/test_mod.py::test_free"),
        ("tests.test_mod.TestA", "t", None, "tests/test_mod.py::TestA::t"),
        ("pkg.checks_test.TestX", "t", None, "pkg/checks_test.py::TestX::t"),
        (None, "test_top", "test_top.py", "test_top.py::test_top"),
        ("io.acme.FooTest", "bar", None, None),  # a JUnit (Java) test
        (None, "bar", None, None),
    ],
)
def test_pytest_node_ids(classname: str | None, name: str, file: str | None, node_id: str | None) -> None:
    assert service.pytest_node_id(classname, name, file) == node_id
