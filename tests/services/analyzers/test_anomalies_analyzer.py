"""The built-in ``anomalies`` analyzer on a crafted history whose test job got 60 % slower from
its 31st run on (one workflow, one job, one step), on SQLite and PostgreSQL; and on the demo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cimedic.model import CommitRef, Conclusion, Job, Repository, Status, Step, WorkflowRun
from cimedic.services.analyzers import AnalyzerDeps
from cimedic.services.analyzers.anomalies import make
from cimedic.store.repository import Store

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
START = NOW - timedelta(days=20)
ONSET = START + timedelta(hours=8 * 30)


def _slow_history(store: Store) -> None:
    repo_id = store.upsert_repository(Repository(owner="acme", name="app", default_branch="main"))
    for n in range(48):
        created = START + timedelta(hours=8 * n)
        seconds = (400.0 if n < 30 else 640.0) + (n * 7919 % 23)  # +60 % from the 31st run on
        sha = f"{n:040x}"
        run = WorkflowRun(
            provider_id=str(7000 + n), repository="acme/app", workflow_id="1", workflow_name="CI", branch="main",
            event="push", head_sha=sha, status=Status.COMPLETED, conclusion=Conclusion.SUCCESS, created_at=created,
            run_started_at=created, updated_at=created + timedelta(seconds=seconds + 30),
            head_commit=CommitRef(sha=sha, message=f"change {n}", author="Ann", timestamp=created),
        )  # fmt: skip
        began = created + timedelta(seconds=10)
        job = Job(
            provider_id=str(9000 + n), run_provider_id=str(7000 + n), name="test", workflow_name="CI",
            head_sha=sha, status=Status.COMPLETED, conclusion=Conclusion.SUCCESS, created_at=created,
            started_at=began, completed_at=began + timedelta(seconds=seconds),
            steps=(Step(number=1, name="go test", status=Status.COMPLETED, conclusion=Conclusion.SUCCESS,
                        started_at=began, completed_at=began + timedelta(seconds=seconds)),),
        )  # fmt: skip
        store.ingest_run(repo_id, run, (), (job,))


def test_refresh_and_summary_of_a_duration_regression(store: Store) -> None:
    _slow_history(store)
    analyzer = make(AnalyzerDeps())
    assert analyzer.name == "anomalies"
    result = analyzer.refresh(store, window=timedelta(days=30), now=NOW)
    assert result.count("anomalies") == 3 and result.line == "3 anomalies"  # workflow, job, step

    section = analyzer.summary(store, since=NOW - timedelta(days=30), now=NOW, top=2)
    assert (section.title, section.command, section.text) == ("anomalies", "cimedic anomalies", "3 anomalies")
    # newest onset first, the workflow run then its job and step (same onset)
    assert [(line.kind, line.title, line.detail) for line in section.top] == [
        ("anomaly (duration)", "CI", "+54%"),
        ("anomaly (duration)", "CI / test / go test", "+58%"),
    ]
    assert all(line.command == "cimedic anomalies" for line in section.top)
    # the window ends before the onset: not counted (the summary is of [since, now))
    before = analyzer.summary(store, since=NOW - timedelta(days=30), now=ONSET - timedelta(hours=1))
    assert before.text == "0 anomalies" and before.top == ()
    assert analyzer.summary(store, since=NOW - timedelta(days=30), now=NOW, repository="acme/other").text == (
        "0 anomalies"
    )


def test_the_demo_history_has_no_anomaly(demo: Store, demo_now: datetime) -> None:
    analyzer = make(AnalyzerDeps())
    assert analyzer.refresh(demo, window=timedelta(days=30), now=demo_now).line == "0 anomalies"
    section = analyzer.summary(demo, since=demo_now - timedelta(days=30), now=demo_now)
    assert section.count("anomalies") == 0 and section.text == "0 anomalies"
