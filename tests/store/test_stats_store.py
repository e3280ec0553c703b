"""``cimedic stats`` end to end: a small realistic history ingested through ``Store.ingest_run``
(runs, a re-run, jobs with steps, diagnoses), then ``pipeline_stats`` and the CLI, on SQLite
and PostgreSQL (the ``store`` fixture of ``conftest.py``)."""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cimedic.interfaces.cli.common import RootGroup
from cimedic.interfaces.cli.render import seconds_text
from cimedic.interfaces.cli.stats import stats
from cimedic.model import (
    Category,
    CommitRef,
    Conclusion,
    Diagnosis,
    Job,
    LogFormat,
    LogInfo,
    Repository,
    RunAttempt,
    Status,
    Step,
    WorkflowRun,
)
from cimedic.services.stats import pipeline_stats
from cimedic.services.timewindow import parse_since, resolve_since
from cimedic.store.repository import Store

NOW = datetime.now(UTC).replace(microsecond=0)
S, F, C = Conclusion.SUCCESS, Conclusion.FAILURE, Conclusion.CANCELLED
CI = ("10", "CI", ".github/workflows/ci.yml")
DEPLOY = ("20", "Deploy", ".github/workflows/deploy.yml")


@dataclass
class Ingest:
    """One ``ingest_run`` call, and the diagnoses of its jobs (job provider id -> category)."""

    repo: str
    run: WorkflowRun
    attempts: tuple[RunAttempt, ...]
    jobs: tuple[Job, ...]
    diagnoses: dict[str, Category] = field(default_factory=dict)


_seq = iter(range(1000, 10_000))


def _job(
    run_id: str,
    attempt: int,
    name: str,
    workflow: str,
    created: datetime,
    queue: float,
    duration: float,
    conclusion: Conclusion | None,
    main_step: str,
) -> Job:
    started = created + timedelta(seconds=queue)
    done = started + timedelta(seconds=duration) if conclusion is not None else None
    steps: tuple[Step, ...] = ()
    if conclusion is not None:
        # set-up 2 s, checkout 3 s, the main step the rest; the main step carries the outcome
        marks = [started, started + timedelta(seconds=2), started + timedelta(seconds=5), done]
        names = ["Set up job", "Checkout", main_step]
        steps = tuple(
            Step(
                number=i + 1,
                name=n,
                status=Status.COMPLETED,
                conclusion=conclusion if i == 2 else S,
                started_at=marks[i],
                completed_at=marks[i + 1],
            )
            for i, n in enumerate(names)
        )
    return Job(
        provider_id=str(next(_seq)),
        run_provider_id=run_id,
        run_attempt=attempt,
        name=name,
        workflow_name=workflow,
        status=Status.COMPLETED if conclusion is not None else Status.QUEUED,
        conclusion=conclusion,
        created_at=created,
        started_at=started if conclusion is not None else None,
        completed_at=done,
        steps=steps,
    )


def _run(
    wf: tuple[str, str, str],
    created: datetime,
    duration: float | None,
    conclusion: Conclusion | None,
    jobs: list[tuple[str, float, float, Conclusion | None, Category | None]],
    *,
    branch: str = "main",
    repo: str = "acme/app",
    commit_time: datetime | None = None,
    rerun: tuple[Conclusion, list[tuple[str, float, float, Conclusion | None, Category | None]]]
    | None = None,
) -> Ingest:
    """A run started 60 s after ``created`` that lasted ``duration`` s (``None``: in progress).

    ``jobs``: (name, queue s, duration s, conclusion, diagnosis category). ``rerun``: the
    conclusion and jobs of attempt 1 when the run (then in attempt 2) was re-run; attempt 2
    starts an hour after ``created``."""
    wid, wname, wpath = wf
    run_id = str(next(_seq))
    sha = f"{next(_seq):040x}"
    attempt = 2 if rerun else 1
    started = created + timedelta(seconds=3600 if rerun else 60)
    updated = started + timedelta(seconds=duration) if duration is not None else started
    all_jobs: list[Job] = []
    diagnoses: dict[str, Category] = {}
    attempts = []
    specs = [(attempt, started, jobs)]
    if rerun:
        first = created + timedelta(seconds=60)
        specs.insert(0, (1, first, rerun[1]))
        attempts.append(
            RunAttempt(
                run_provider_id=run_id,
                attempt=1,
                status=Status.COMPLETED,
                conclusion=rerun[0],
                started_at=first,
                updated_at=first + timedelta(seconds=600),
            )
        )
    attempts.append(
        RunAttempt(
            run_provider_id=run_id,
            attempt=attempt,
            status=Status.COMPLETED if conclusion else Status.IN_PROGRESS,
            conclusion=conclusion,
            started_at=started,
            updated_at=updated,
        )
    )
    for n, at, js in specs:
        for name, queue, dur, concl, category in js:
            j = _job(run_id, n, name, wname, at, queue, dur, concl, name.capitalize())
            all_jobs.append(j)
            if category is not None:
                diagnoses[j.provider_id] = category
    run = WorkflowRun(
        provider_id=run_id,
        repository=repo,
        workflow_id=wid,
        workflow_name=wname,
        workflow_path=wpath,
        run_number=next(_seq),
        run_attempt=attempt,
        event="push",
        branch=branch,
        head_sha=sha,
        status=Status.COMPLETED if conclusion else Status.IN_PROGRESS,
        conclusion=conclusion,
        created_at=created,
        run_started_at=started,
        updated_at=updated,
        head_commit=CommitRef(sha=sha, message="change", timestamp=commit_time) if commit_time else None,
    )
    return Ingest(repo, run, tuple(attempts), tuple(all_jobs), diagnoses)


def _days(n: float) -> datetime:
    return NOW - timedelta(days=n)


T = Category.TEST
HISTORY = [
    # outside the 7-day window
    _run(CI, _days(10), 100, F, [("test", 5, 90, F, T)]),
    # CI on main: green, red, red then green on re-run, cancelled, in progress
    _run(
        CI,
        _days(6),
        600,
        S,
        [("build", 5, 200, S, None), ("test", 30, 500, S, None)],
        commit_time=_days(6) - timedelta(hours=1),
    ),
    _run(CI, _days(5), 720, F, [("build", 8, 210, S, None), ("test", 40, 600, F, T)]),
    _run(
        CI,
        _days(4),
        480,
        S,
        [("build", 6, 190, S, None), ("test", 10, 400, S, None)],
        rerun=(F, [("build", 4, 205, S, None), ("test", 50, 520, F, Category.NETWORK)]),
    ),
    _run(CI, _days(3), 120, C, [("build", 2, 100, C, None)]),
    _run(CI, _days(2), None, None, [("build", 0, 0, None, None)]),
    # deployments on main
    _run(DEPLOY, _days(5), 300, S, [("deploy", 20, 250, S, None)], commit_time=_days(5) - timedelta(hours=1)),
    _run(DEPLOY, _days(4), 200, F, [("deploy", 25, 150, F, Category.PERMISSIONS)]),
    _run(DEPLOY, _days(3), 360, S, [("deploy", 15, 300, S, None)]),
    # a feature branch
    _run(CI, _days(1), 900, F, [("test", 60, 800, F, T)], branch="feature/x"),
    # another repository
    _run(CI, _days(2), 60, S, [("test", 1, 50, S, None)], repo="acme/lib"),
]
QUEUES_APP = [5, 30, 8, 40, 6, 10, 4, 50, 2, 20, 25, 15, 60]  # queue times of the acme/app jobs in the window


def ingest(store: Store, history: list[Ingest]) -> None:
    repo_ids = {
        name: store.upsert_repository(
            Repository(owner=name.split("/")[0], name=name.split("/")[1], default_branch="main")
        )
        for name in sorted({i.repo for i in history})
    }
    for i in history:
        store.ingest_run(repo_ids[i.repo], i.run, i.attempts, i.jobs)
    ids = {k.provider_id: k.job_id for k in store.jobs_needing_log(limit=10_000)}
    for i in history:
        for pid, category in i.diagnoses.items():
            store.save_diagnosis(ids[pid], _diagnosis(category), engine_version="test")


def _diagnosis(category: Category) -> Diagnosis:
    return Diagnosis(
        log=LogInfo(path="job.log", format=LogFormat.GITHUB_ACTIONS, lines=100, bytes=4000),
        failed_step=None,
        error_lines=(),
        excerpt=None,
        category=category,
        transient=category is Category.NETWORK,
        confidence=0.8,
        signature="ab" * 16,
        cause=None,
        summary=f"{category.value} failure",
    )


# ------------------------------------------------------------------------------ pipeline_stats


def test_stats_of_a_realistic_history(store: Store) -> None:
    ingest(store, HISTORY)
    s = pipeline_stats(store, repository="acme/app", now=NOW, deployment_patterns=["deploy.yml"])
    assert s.since == NOW - timedelta(days=7) and s.until == NOW
    assert s.filters.repository == "acme/app"
    r = s.runs
    # 9 runs: 8 completed (4 green, 3 red, 1 cancelled), one in progress; 14 jobs (one queued)
    assert (r.total, r.completed, r.succeeded, r.failed, r.cancelled, r.jobs) == (9, 8, 4, 3, 1, 14)
    assert (r.success_rate, r.failure_rate, r.cancelled_rate) == (0.5, 0.375, 0.125)
    # run durations 120 200 300 360 480 600 720 900
    assert s.duration.count == 8
    assert s.duration.p50_seconds == pytest.approx(420)
    assert s.duration.p90_seconds == pytest.approx(774)
    assert s.duration.p95_seconds == pytest.approx(837)
    # queue: the 13 started jobs (the queued one has no start)
    cuts = statistics.quantiles(QUEUES_APP, n=100, method="inclusive")
    assert s.queue.count == 13
    assert s.queue.p50_seconds == pytest.approx(cuts[49])
    assert s.queue.p95_seconds == pytest.approx(cuts[94])
    # one re-run of nine runs, green in its latest attempt
    assert (s.reruns.reruns, s.reruns.rerun_success_rate) == (1, 1.0)
    assert s.reruns.rerun_rate == pytest.approx(1 / 9)
    # MTTR on main: CI red at -5d+780 s, green at -4d+3600+480 s; Deploy red at -4d+260, green at -3d+420
    assert (s.mttr.incidents, s.mttr.open_incidents) == (2, 0)
    assert s.mttr.median_seconds == pytest.approx((86400 + 3300 + 86400 + 160) / 2)
    # steps: 13 completed jobs x 3 steps
    assert s.steps.executions == 39
    slowest = s.steps.slowest[0]
    assert (slowest.workflow, slowest.job, slowest.step, slowest.count) == ("CI", "test", "Test", 5)
    assert slowest.mean_seconds == pytest.approx((495 + 595 + 395 + 515 + 795) / 5)
    assert [(f.job, f.failures, f.count) for f in s.failing_jobs] == [("test", 3, 5), ("deploy", 1, 3)]
    assert [(f.step, f.failures, f.count) for f in s.failing_steps] == [("Test", 3, 5), ("Deploy", 1, 3)]
    assert [(c.category, c.count) for c in s.categories] == [("test", 2), ("network", 1), ("permissions", 1)]
    assert s.categories[0].share == pytest.approx(0.5)
    d = s.dora
    assert d is not None and d.workflows == ("Deploy",)
    assert (d.deployments, d.successful_deployments, d.failed_deployments) == (3, 2, 1)
    assert d.deployments_per_day == pytest.approx(2 / 7)
    assert d.deployments_per_week == pytest.approx(2.0)
    assert d.change_failure_rate == pytest.approx(1 / 3)
    # lead times: 3600 + 60 + 300 (commit an hour before the run); 60 + 360 (no commit: created_at)
    assert d.lead_time_median_seconds == pytest.approx((3960 + 420) / 2)
    assert d.lead_time_p90_seconds == pytest.approx(420 + 0.9 * 3540)
    assert (d.restores, d.unrestored) == (1, 0)
    assert d.time_to_restore_median_seconds == pytest.approx(86400 + 160)


def test_filters_and_breakdowns(store: Store) -> None:
    ingest(store, HISTORY)
    assert pipeline_stats(store, now=NOW).runs.total == 10
    assert pipeline_stats(store, now=NOW, repository="acme/lib").runs.total == 1
    assert pipeline_stats(store, now=NOW, workflow="deploy.yml").runs.total == 3
    assert pipeline_stats(store, now=NOW, workflow="Deploy").runs.jobs == 3
    assert pipeline_stats(store, now=NOW, branch="feature/x").runs.failed == 1
    assert pipeline_stats(store, now=NOW, since=None).runs.total == 11
    assert pipeline_stats(store, now=NOW, since=NOW - timedelta(days=3, hours=1)).runs.total == 5
    assert pipeline_stats(store, now=NOW).dora is None

    by_wf = pipeline_stats(store, now=NOW, repository="acme/app", by="workflow")
    assert [(g.key, g.count, g.failures) for g in by_wf.groups] == [("CI", 6, 2), ("Deploy", 3, 1)]
    by_job = pipeline_stats(store, now=NOW, repository="acme/app", by="job")
    assert [(g.key, g.count, g.completed, g.failures) for g in by_job.groups] == [
        ("CI / build", 6, 5, 0),
        ("CI / test", 5, 5, 3),
        ("Deploy / deploy", 3, 3, 1),
    ]
    by_step = pipeline_stats(store, now=NOW, repository="acme/app", by="step")
    checkout = next(g for g in by_step.groups if g.key == "CI / build / Checkout")
    assert (checkout.count, checkout.mean_seconds, checkout.failures) == (5, pytest.approx(3.0), 0)


def test_ingesting_twice_changes_nothing(store: Store) -> None:
    ingest(store, HISTORY)
    counts = store.counts()
    first = pipeline_stats(store, now=NOW, by="job", deployment_patterns=["Deploy"])
    ingest(store, HISTORY)
    assert store.counts() == counts
    assert counts["workflow_runs"] == 11 and counts["run_attempts"] == 12 and counts["diagnoses"] == 5
    assert counts["jobs"] == 16 and counts["steps"] == 3 * 15  # the queued job has no steps
    assert pipeline_stats(store, now=NOW, by="job", deployment_patterns=["Deploy"]) == first


def test_empty_store(store: Store) -> None:
    s = pipeline_stats(store, now=NOW, deployment_patterns=["deploy*"])
    assert s.is_empty and s.dora is None and s.runs.success_rate is None


# ------------------------------------------------------------------------------ the CLI


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> typer.Typer:
    """A local app with the ``stats`` command; settings from a known config file only."""
    for key in list(os.environ):
        if key.upper().startswith("CIMEDIC_"):
            monkeypatch.delenv(key)
    config = tmp_path / "config.yaml"
    config.write_text("deployment_workflows: ['deploy.yml']\n", encoding="utf-8")
    monkeypatch.setenv("CIMEDIC_CONFIG", str(config))
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    return _local_app()


def test_cli_text_and_json(cli: typer.Typer, store: Store, store_url: str) -> None:
    ingest(store, HISTORY)
    runner = CliRunner()
    out = runner.invoke(cli, ["stats", "--db", store_url, "--repo", "acme/app", "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["runs"]["total"] == 9 and data["runs"]["failure_rate"] == 0.375
    assert data["dora"]["deployments"] == 3 and data["filters"]["repository"] == "acme/app"
    assert data["groups"] == [] and data["by"] is None

    out = runner.invoke(cli, ["stats", "--db", store_url, "--by", "job", "--top", "1", "--since", "30d"])
    assert out.exit_code == 0, out.output
    text = out.stdout
    for heading in (
        "Runs",
        "Durations",
        "By job",
        "Slowest steps",
        "Most failing jobs",
        "Most failing steps",
        "Failure categories",
        "DORA metrics",
    ):
        assert heading in text, heading
    assert "CI / test" in text and "MTTR" in text and "deployment frequency" in text


def test_cli_empty_window(cli: typer.Typer, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    out = CliRunner().invoke(cli, ["stats", "--db", db])
    assert out.exit_code == 0
    assert "No runs in the window" in out.stdout
    out = CliRunner().invoke(cli, ["stats", "--db", db, "-f", "json"])
    assert out.exit_code == 0 and json.loads(out.stdout)["runs"]["total"] == 0


def test_cli_errors_are_one_line_and_exit_2(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'x.db'}"
    out = runner.invoke(cli, ["stats", "--db", db, "--since", "yesterday"])
    assert out.exit_code == 2
    assert (
        out.stderr.startswith("cimedic: error: invalid --since 'yesterday'") and out.stderr.count("\n") == 1
    )
    out = runner.invoke(cli, ["stats", "--db", "postgresql://nobody@127.0.0.1:1/none"])
    assert out.exit_code == 2
    assert out.stderr.startswith("cimedic: error: cannot ") and out.stderr.count("\n") == 1
    monkeypatch.setenv("CIMEDIC_DEPLOYMENT_WORKFLOWS", "not a json list")
    out = runner.invoke(cli, ["stats", "--db", db])
    assert out.exit_code == 2 and out.stderr.startswith("cimedic: error: ")
    assert out.stderr.count("\n") == 1


# ------------------------------------------------------------------------------ time windows


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("2w", timedelta(weeks=2)),
        (" 3D ", timedelta(days=3)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T12:30", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01T12:30:00Z", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01T14:30+02:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
    ],
)
def test_parse_since(text: str, expected: timedelta | datetime) -> None:
    value = parse_since(text)
    assert value == expected
    if isinstance(value, datetime):
        assert value.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["", "7", "d", "0d", "-1d", "1.5d", "7y", "yesterday", "2024-13-01"])
def test_parse_since_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="--since"):
        parse_since(text)


def test_resolve_since() -> None:
    now = datetime(2024, 5, 8, tzinfo=UTC)
    assert resolve_since(timedelta(days=7), now) == datetime(2024, 5, 1, tzinfo=UTC)
    assert resolve_since(datetime(2024, 5, 2), now) == datetime(2024, 5, 2, tzinfo=UTC)
    assert resolve_since(None, now) is None


def test_seconds_text() -> None:
    assert [seconds_text(v) for v in (None, 4.25, 187, 7500, 3 * 86400 + 4 * 3600)] == [
        "-",
        "4.2s",
        "3m 07s",
        "2h 05m",
        "3d 04h 00m",
    ]


# ------------------------------------------------------------------------------ documentation


DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_every_option_is_documented() -> None:
    """Each option of ``cimedic stats`` is in the options section of docs/metrics.md (the same
    rule as tests/test_docs.py, which checks it once the command is registered in the app)."""
    import re

    command = typer.main.get_command(_local_app())
    params = command.commands["stats"].params  # type: ignore[attr-defined]
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Options of `cimedic stats`", 1)[1].split("\n## ", 1)[0]
    options = [o for p in params for o in p.opts if o.startswith("--")]
    assert {"--repo", "--workflow", "--branch", "--since", "--by", "--format", "--db", "--top"} <= set(
        options
    )
    for option in options:
        assert re.search(rf"`{re.escape(option)}(?![\w-])", section), option


def _keys(value: object, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            out |= _keys(v, k)
    elif isinstance(value, list) and value:
        out |= _keys(value[0], prefix)
    return out


def test_every_json_key_is_documented(store: Store) -> None:
    ingest(store, HISTORY)
    data = pipeline_stats(store, now=NOW, by="job", deployment_patterns=["Deploy"]).model_dump(mode="json")
    text = DOCS.read_text(encoding="utf-8")
    missing = sorted(k for k in _keys(data) if f"`{k}`" not in text)
    assert not missing, f"JSON keys of `cimedic stats --format json` not in docs/metrics.md: {missing}"


def _local_app() -> typer.Typer:
    """A Typer app with only ``stats``, registered as the lead registers it in the real app."""
    app = typer.Typer(cls=RootGroup)
    app.command("stats")(stats)

    @app.callback()
    def _root() -> None:  # keeps `stats` a sub-command, as in the real app
        pass

    return app
