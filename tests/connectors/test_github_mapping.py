"""GitHub JSON → domain mapping, checked against GitHub's documented REST response examples
(``/work/shared/data/github/rest_openapi_actions_subset/response_examples``) and webhook payload
examples (octokit/webhooks), plus synthetic edge cases (timestamps, malformed objects, attempts).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from cimedic.connectors.github_actions.attempts import attempts_from_jobs
from cimedic.connectors.github_actions.mapping import (
    ArtifactRef,
    MappingError,
    error_message,
    map_artifact,
    map_artifacts_page,
    map_check_run,
    map_installation_token,
    map_job,
    map_jobs_page,
    map_pull_request,
    map_pull_requests,
    map_repository,
    map_run,
    map_runs_page,
    map_workflow,
    map_workflows_page,
)
from cimedic.model.ci import Conclusion, Job, Repository, RunAttempt, Status, Step, Workflow, WorkflowRun

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "github"
EXAMPLES = DATA / "rest_openapi_actions_subset" / "response_examples"
PAYLOADS = DATA / "payload-examples" / "api.github.com"
NO_DATA = f"GitHub reference material not found at {DATA} (../shared beside the repository)"


def load(path: Path) -> Any:
    if not DATA.is_dir():
        pytest.skip(NO_DATA)
    return json.loads(path.read_text(encoding="utf-8"))


def example(name: str) -> Any:
    return load(EXAMPLES / name)


def files(folder: Path, pattern: str = "*.json") -> list[Any]:
    found = sorted(folder.glob(pattern)) if folder.is_dir() else []
    if not found:
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_DATA))]
    return [pytest.param(p, id=p.name) for p in found]


def ts(value: str | None) -> datetime | None:
    """Independent oracle for GitHub timestamps: aware UTC."""
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


# --------------------------------------------------------------------------- field oracles


def assert_run_matches(run: WorkflowRun, obj: dict[str, Any]) -> None:
    assert isinstance(run, WorkflowRun)
    assert run.provider_id == str(obj["id"])
    assert run.repository == obj["repository"]["full_name"]
    assert run.workflow_id == str(obj["workflow_id"])
    assert run.name == (obj["name"] or None)
    assert run.workflow_path == obj["path"].split("@")[0]
    assert run.run_number == obj["run_number"]
    assert run.run_attempt == obj.get("run_attempt", 1)
    assert run.display_title == obj["display_title"]
    assert run.event == obj["event"]
    assert run.branch == obj["head_branch"]
    assert run.head_sha == obj["head_sha"]
    assert run.actor == obj["actor"]["login"]
    assert run.status.value == obj["status"]
    assert (run.conclusion.value if run.conclusion else None) == obj["conclusion"]
    assert run.created_at == ts(obj["created_at"])
    assert run.run_started_at == ts(obj.get("run_started_at"))
    assert run.updated_at == ts(obj["updated_at"])
    assert run.html_url == obj["html_url"]
    commit = obj["head_commit"]
    assert run.head_commit is not None
    assert run.head_commit.sha == commit["id"]
    assert run.head_commit.message == commit["message"]
    assert run.head_commit.author == commit["author"]["name"]
    assert run.head_commit.timestamp == ts(commit["timestamp"])
    assert len(run.pull_requests) == len(obj["pull_requests"])
    for pr, raw in zip(run.pull_requests, obj["pull_requests"], strict=True):
        assert (pr.number, pr.head_ref, pr.head_sha, pr.base_ref, pr.url) == (
            raw["number"],
            raw["head"]["ref"],
            raw["head"]["sha"],
            raw["base"]["ref"],
            raw["url"],
        )
    for when in (run.created_at, run.updated_at, run.run_started_at):
        assert when is None or when.utcoffset() == timedelta(0)


def assert_job_matches(job: Job, obj: dict[str, Any]) -> None:
    assert isinstance(job, Job)
    assert job.provider_id == str(obj["id"])
    assert job.run_provider_id == str(obj["run_id"])
    assert job.run_attempt == obj.get("run_attempt", 1)
    assert job.name == obj["name"]
    assert job.workflow_name == obj.get("workflow_name")
    assert job.head_sha == obj["head_sha"]
    assert job.head_branch == obj.get("head_branch")
    assert job.status.value == obj["status"]
    assert (job.conclusion.value if job.conclusion else None) == obj["conclusion"]
    assert job.created_at == ts(obj.get("created_at"))
    assert job.started_at == ts(obj["started_at"])
    assert job.completed_at == ts(obj["completed_at"])
    assert job.runner_name == obj["runner_name"]
    assert job.runner_group == obj["runner_group_name"]
    assert job.labels == tuple(obj["labels"])
    assert job.html_url == obj["html_url"]
    assert len(job.steps) == len(obj.get("steps") or [])
    for step, raw in zip(job.steps, obj.get("steps") or [], strict=True):
        assert isinstance(step, Step)
        assert (step.number, step.name, step.status.value) == (raw["number"], raw["name"], raw["status"])
        assert (step.conclusion.value if step.conclusion else None) == raw["conclusion"]
        assert step.started_at == ts(raw["started_at"])
        assert step.completed_at == ts(raw["completed_at"])


# --------------------------------------------------------------------------- REST examples


@pytest.mark.parametrize(
    "name",
    [
        "actions__list-workflow-runs-for-repo.200.default.json",
        "actions__list-workflow-runs.200.default.json",
    ],
)
def test_runs_pages_map_every_run(name: str) -> None:
    body = example(name)
    total, runs = map_runs_page(body)
    assert total == body["total_count"]
    assert len(runs) == len(body["workflow_runs"])
    for run, obj in zip(runs, body["workflow_runs"], strict=True):
        assert_run_matches(run, obj)


@pytest.mark.parametrize(
    "name",
    ["actions__get-workflow-run.200.default.json", "actions__get-workflow-run-attempt.200.default.json"],
)
def test_single_run_examples(name: str) -> None:
    obj = example(name)
    assert_run_matches(map_run(obj), obj)


def test_run_path_drops_ref_suffix_and_keeps_times_utc() -> None:
    run = map_run(example("actions__get-workflow-run.200.default.json"))
    assert run.workflow_path == ".github/workflows/build.yml"
    assert run.created_at == datetime(2020, 1, 22, 19, 33, 8, tzinfo=UTC)
    assert run.conclusion is None and run.status is Status.QUEUED


@pytest.mark.parametrize(
    "name",
    [
        "actions__list-jobs-for-workflow-run.200.default.json",
        "actions__list-jobs-for-workflow-run-attempt.200.default.json",
    ],
)
def test_jobs_pages_map_every_job(name: str) -> None:
    body = example(name)
    total, jobs = map_jobs_page(body)
    assert total == body["total_count"]
    for job, obj in zip(jobs, body["jobs"], strict=True):
        assert_job_matches(job, obj)


def test_single_job_example_with_offset_step_times() -> None:
    obj = example("actions__get-job-for-workflow-run.200.default.json")
    job = map_job(obj)
    assert_job_matches(job, obj)
    # steps are sent as 09:42:40.000-08:00 while the job says 17:42:40Z: same instant
    assert job.steps[0].started_at == job.started_at == datetime(2020, 1, 20, 17, 42, 40, tzinfo=UTC)
    assert job.duration == 119.0
    assert [s.number for s in job.steps][-2:] == [16, 17]


@pytest.mark.parametrize(
    "name", ["actions__list-repo-workflows.200.default.json", "actions__get-workflow.200.default.json"]
)
def test_workflow_examples(name: str) -> None:
    body = example(name)
    objs = body.get("workflows", [body])
    mapped = map_workflows_page(body)[1] if "workflows" in body else [map_workflow(body)]
    for wf, obj in zip(mapped, objs, strict=True):
        assert isinstance(wf, Workflow)
        assert (wf.provider_id, wf.name, wf.path, wf.state) == (
            str(obj["id"]),
            obj["name"],
            obj["path"],
            obj["state"],
        )


@pytest.mark.parametrize(
    "name",
    [
        "actions__list-workflow-run-artifacts.200.default.json",
        "actions__list-artifacts-for-repo.200.default.json",
        "actions__get-artifact.200.default.json",
    ],
)
def test_artifact_examples(name: str) -> None:
    body = example(name)
    objs = body.get("artifacts", [body])
    mapped = map_artifacts_page(body)[1] if "artifacts" in body else [map_artifact(body)]
    for art, obj in zip(mapped, objs, strict=True):
        assert isinstance(art, ArtifactRef)
        assert (art.id, art.name, art.size_in_bytes, art.expired) == (
            str(obj["id"]),
            obj["name"],
            obj["size_in_bytes"],
            obj["expired"],
        )
        assert art.run_id == str(obj["workflow_run"]["id"])
        assert art.expires_at == ts(obj["expires_at"])


def test_repository_from_recorded_response_and_from_run() -> None:
    recorded = load(DATA / "octokit_fixtures" / "get-repository" / "raw-fixture.json")[0]["response"]
    repo = map_repository(recorded)
    assert isinstance(repo, Repository)
    assert repo.full_name == recorded["full_name"] == "octokit-fixture-org/hello-world"
    assert (repo.provider_id, repo.default_branch, repo.html_url) == (
        str(recorded["id"]),
        recorded["default_branch"],
        recorded["html_url"],
    )
    embedded = example("actions__get-workflow-run.200.default.json")["repository"]
    assert map_repository(embedded).full_name == embedded["full_name"]


def test_repository_without_full_name_uses_owner_login() -> None:
    repo = map_repository({"id": 7, "name": "r", "owner": {"login": "o"}})
    assert repo.full_name == "o/r"
    with pytest.raises(MappingError, match=r"repository 7: field 'full_name'"):
        map_repository({"id": 7, "name": "r"})


def test_check_run_of_another_app_is_not_a_job() -> None:
    obj = example("checks__get.200.default.json")
    assert obj["app"]["slug"] != "github-actions"
    assert map_check_run(obj) is None


def test_check_run_of_github_actions_is_the_job_with_same_id() -> None:
    obj = {
        "id": 21,
        "name": "build",
        "head_sha": "abc",
        "status": "completed",
        "conclusion": "timed_out",
        "started_at": "2024-05-01T10:00:00Z",
        "completed_at": "2024-05-01T10:05:00Z",
        "html_url": "https://github.com/o/r/actions/runs/900/job/21",
        "details_url": "https://github.com/o/r/actions/runs/900/job/21",
        "app": {"id": 15368, "slug": "github-actions"},
        "check_suite": {"id": 5, "head_branch": "main"},
    }
    job = map_check_run(obj)
    assert job is not None
    assert (job.provider_id, job.run_provider_id, job.head_branch) == ("21", "900", "main")
    assert job.conclusion is Conclusion.TIMED_OUT and job.duration == 300.0


def test_pull_requests_list_and_minimal() -> None:
    full = {
        "url": "https://api.github.com/repos/o/r/pulls/3",
        "number": 3,
        "head": {"ref": "feature", "sha": "a" * 40},
        "base": {"ref": "main", "sha": "b" * 40},
        "title": "x",
    }
    prs = map_pull_requests([full])
    assert prs == [map_pull_request(full)]
    assert (prs[0].number, prs[0].head_ref, prs[0].base_ref) == (3, "feature", "main")
    with pytest.raises(MappingError, match="expected a JSON array"):
        map_pull_requests({"number": 3})


# --------------------------------------------------------------------------- timestamps, vocab


def _run(**extra: Any) -> dict[str, Any]:
    return {"id": 1, "head_sha": "abc", "repository": {"full_name": "o/r"}, **extra}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-01-22T19:33:08Z", datetime(2020, 1, 22, 19, 33, 8, tzinfo=UTC)),
        ("2020-01-22T19:33:08+00:00", datetime(2020, 1, 22, 19, 33, 8, tzinfo=UTC)),
        ("2020-01-22T11:33:08.000-08:00", datetime(2020, 1, 22, 19, 33, 8, tzinfo=UTC)),
        ("2020-01-22T19:33:08", datetime(2020, 1, 22, 19, 33, 8, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_timestamps_become_aware_utc(value: str | None, expected: datetime | None) -> None:
    run = map_run(_run(created_at=value))
    assert run.created_at == expected
    if expected is not None:
        assert run.created_at is not None and run.created_at.tzinfo is not None
        assert run.created_at.utcoffset() == timedelta(0)


def test_missing_optional_fields_are_none() -> None:
    run = map_run(_run())
    assert (run.created_at, run.updated_at, run.head_commit, run.pull_requests) == (None, None, None, ())
    assert run.status is Status.UNKNOWN and run.conclusion is None and run.run_attempt == 1


def test_repository_fallback_and_actor_fallback() -> None:
    run = map_run({"id": 2, "head_sha": "x", "triggering_actor": {"login": "bot"}}, repository="a/b")
    assert (run.repository, run.actor) == ("a/b", "bot")


def test_unknown_vocabulary_words_map_to_unknown() -> None:
    run = map_run(_run(status="teleporting", conclusion="exploded"))
    assert run.status is Status.UNKNOWN and run.conclusion is Conclusion.UNKNOWN


def test_offsets_other_than_utc_are_converted() -> None:
    tz = timezone(timedelta(hours=5, minutes=30))
    run = map_run(_run(updated_at=datetime(2021, 3, 1, 12, 0, tzinfo=tz).isoformat()))
    assert run.updated_at == datetime(2021, 3, 1, 6, 30, tzinfo=UTC)


# --------------------------------------------------------------------------- malformed objects


@pytest.mark.parametrize(
    ("fn", "obj", "message"),
    [
        (map_run, [1, 2], r"GitHub workflow run: expected a JSON object, got array"),
        (map_run, _run(id=None), r"workflow run: field 'id': required id"),
        (map_run, {"id": 9, "repository": {"full_name": "o/r"}}, r"workflow run 9: field 'head_sha'"),
        (map_run, _run(created_at="yesterday"), r"workflow run 1: field 'created_at': not an ISO 8601"),
        (map_run, _run(created_at=1579721588), r"workflow run 1: field 'created_at': expected an ISO 8601"),
        (map_run, _run(run_attempt="2"), r"workflow run 1: field 'run_attempt': required integer"),
        (map_run, _run(pull_requests=[{"url": "u"}]), r"workflow run 1: field 'pull_requests\[0\]\.number'"),
        (map_run, _run(head_commit={"message": "m"}), r"workflow run 1: field 'head_commit\.id'"),
        (map_run, {"id": 3, "head_sha": "x"}, r"workflow run 3: field 'repository.full_name'"),
        (map_job, {"id": 5, "name": "j"}, r"workflow job 5: field 'run_id'"),
        (map_job, {"id": 5, "run_id": 1, "name": "j", "labels": "x"}, r"workflow job 5: field 'labels'"),
        (
            map_job,
            {"id": 5, "run_id": 1, "name": "j", "steps": [{"number": 1, "name": 3}]},
            r"workflow job 5: field 'steps\[0\]\.name': required string, got number 3 \(in step 1\)",
        ),
        (map_workflow, {"id": 4}, r"workflow 4: field 'name'"),
        (map_artifact, {"id": 4, "name": "a", "size_in_bytes": "big"}, r"artifact 4: field 'size_in_bytes'"),
        (map_runs_page, {"total_count": 1}, r"workflow runs page: field 'workflow_runs': missing"),
        (
            map_jobs_page,
            {"jobs": [{"id": 8}]},
            r"jobs page: field 'jobs\[0\]\.run_id'.*\(in workflow job 8\)",
        ),
    ],
)
def test_malformed_objects_raise_mapping_error_naming_object_and_field(
    fn: Any, obj: Any, message: str
) -> None:
    with pytest.raises(MappingError, match=message) as info:
        fn(obj)
    assert isinstance(info.value, ValueError)


def test_error_message_and_installation_token() -> None:
    recorded = load(DATA / "octokit_fixtures" / "errors" / "raw-fixture.json")
    body = next(x["response"] for x in recorded if x["status"] == 422)
    assert error_message(body) == f"Validation Failed ({body['documentation_url']})"
    assert error_message("<html>") is None
    token = map_installation_token({"token": "ghs_x", "expires_at": "2016-07-11T22:14:10Z"})
    assert token.expires_at == datetime(2016, 7, 11, 22, 14, 10, tzinfo=UTC)


# --------------------------------------------------------------------------- attempts

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def _job(jid: int, attempt: int, conclusion: str | None, start: int, end: int | None, **kw: Any) -> Job:
    return map_job(
        {
            "id": jid,
            "run_id": 77,
            "run_attempt": attempt,
            "name": f"job{jid}",
            "status": kw.pop("status", "completed" if end is not None else "in_progress"),
            "conclusion": conclusion,
            "created_at": (T0 + timedelta(minutes=start)).isoformat(),
            "started_at": (T0 + timedelta(minutes=start, seconds=30)).isoformat(),
            "completed_at": (T0 + timedelta(minutes=end)).isoformat() if end is not None else None,
            **kw,
        }
    )


def _run77(attempt: int, status: str, conclusion: str | None) -> WorkflowRun:
    return map_run(
        _run(
            id=77,
            run_attempt=attempt,
            status=status,
            conclusion=conclusion,
            actor={"login": "me"},
            run_started_at=(T0 + timedelta(minutes=30)).isoformat(),
        )
    )


def test_attempts_from_jobs_worst_conclusion_and_latest_run_wins() -> None:
    jobs = [
        _job(1, 1, "success", 0, 5),
        _job(2, 1, "cancelled", 1, 6),
        _job(3, 1, "failure", 1, 4),
        _job(4, 1, "skipped", 0, 0),
        _job(5, 2, "success", 30, 35),
        _job(6, 2, "timed_out", 31, 40),
        _job(9, 1, "failure", 0, 1).model_copy(update={"run_provider_id": "other"}),
    ]
    run = _run77(3, "completed", "success")
    attempts = attempts_from_jobs(run, jobs)
    assert all(isinstance(a, RunAttempt) for a in attempts)
    assert [a.attempt for a in attempts] == [1, 2, 3]
    first, second, third = attempts
    assert (first.status, first.conclusion) == (Status.COMPLETED, Conclusion.FAILURE)
    assert first.started_at == T0 and first.updated_at == T0 + timedelta(minutes=6)
    assert (second.status, second.conclusion) == (Status.COMPLETED, Conclusion.TIMED_OUT)
    assert second.updated_at == T0 + timedelta(minutes=40)
    # latest attempt without jobs in the list: the run describes it
    assert (third.status, third.conclusion, third.actor) == (Status.COMPLETED, Conclusion.SUCCESS, "me")
    assert third.started_at == run.run_started_at


def test_attempt_not_completed_until_all_jobs_are() -> None:
    jobs = [_job(1, 1, "failure", 0, 3), _job(2, 1, None, 0, None), _job(3, 2, "success", 10, 11)]
    attempts = attempts_from_jobs(_run77(2, "completed", "success"), jobs)
    assert (attempts[0].status, attempts[0].conclusion, attempts[0].updated_at) == (
        Status.IN_PROGRESS,
        None,
        T0 + timedelta(minutes=3),
    )
    assert attempts[1].conclusion is Conclusion.SUCCESS


def test_latest_attempt_conclusion_is_the_runs_own() -> None:
    # the jobs say failure, but the run (e.g. a later re-run of failed jobs merged in) says success
    jobs = [_job(1, 1, "failure", 0, 3)]
    (only,) = attempts_from_jobs(_run77(1, "completed", "success"), jobs)
    assert only.conclusion is Conclusion.SUCCESS
    (derived,) = attempts_from_jobs(_run77(1, "completed", None), jobs)
    assert derived.conclusion is Conclusion.FAILURE


def test_attempt_of_only_skipped_jobs_is_skipped() -> None:
    attempts = attempts_from_jobs(_run77(2, "in_progress", None), [_job(1, 1, "skipped", 0, 0)])
    assert attempts[0].conclusion is Conclusion.SKIPPED
    assert (attempts[1].status, attempts[1].conclusion) == (Status.IN_PROGRESS, None)


def test_no_public_function_returns_raw_dicts() -> None:
    run = map_run(example("actions__get-workflow-run.200.default.json"))
    assert all(
        isinstance(v, BaseModel | tuple | str | int | datetime | type(None)) for v in dict(run).values()
    )
