"""Webhook deliveries: HMAC signatures, and a contract test over every ``workflow_run``,
``workflow_job``, ``check_run`` (and ``ping``) payload example of octokit/webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cimedic.connectors.github_actions.mapping import map_run
from cimedic.connectors.github_actions.webhooks import WebhookError, parse_delivery, verify_signature
from cimedic.model.ci import Job, WorkflowRun
from cimedic.model.events import WebhookEvent

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "github"
PAYLOADS = DATA / "payload-examples" / "api.github.com"
EXAMPLES = DATA / "rest_openapi_actions_subset" / "response_examples"
NO_DATA = f"GitHub reference material not found at {DATA} (../shared beside the repository)"


def files(event: str) -> list[Any]:
    folder = PAYLOADS / event
    found = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not found:
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_DATA))]
    return [pytest.param(p, id=f"{event}/{p.name}") for p in found]


def ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def deliver(path: Path) -> tuple[dict[str, Any], WebhookEvent]:
    body = path.read_bytes()
    event = parse_delivery(path.parent.name, body)
    return json.loads(body), event


def check_envelope(payload: dict[str, Any], event: WebhookEvent) -> None:
    assert event.action == payload.get("action")
    repo = payload.get("repository")
    if repo is None:
        assert event.repository is None
    else:
        assert event.repository is not None and event.repository.full_name == repo["full_name"]
        assert event.repository.provider_id == str(repo["id"])
        assert event.repository.default_branch == repo.get("default_branch")
    inst = payload.get("installation")
    assert event.installation_id == (str(inst["id"]) if inst else None)


# --------------------------------------------------------------------------- signatures


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_signature_from_githubs_documentation() -> None:
    # GitHub docs "Validating webhook deliveries", "Testing the webhook payload validation"
    secret, body = "It's a Secret to Everybody", b"Hello, World!"
    header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert verify_signature(secret, body, header)
    assert sign(secret, body) == header


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d",
        "sha256=",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18",
        "sha256=zz",
        "sha256=ünïcode",
    ],
)
def test_wrong_or_missing_signature_is_rejected(header: str | None) -> None:
    assert not verify_signature("It's a Secret to Everybody", b"Hello, World!", header)


def test_signature_depends_on_secret_and_body() -> None:
    body = b'{"action":"completed"}'
    header = sign("s3cret", body)
    assert verify_signature("s3cret", body, header)
    assert not verify_signature("other", body, header)
    assert not verify_signature("s3cret", body + b" ", header)
    assert not verify_signature("", body, sign("", body))


# --------------------------------------------------------------------------- contract tests


@pytest.mark.parametrize("path", files("workflow_run"))
def test_every_workflow_run_example(path: Path) -> None:
    payload, event = deliver(path)
    check_envelope(payload, event)
    obj = payload["workflow_run"]
    run = event.run
    assert isinstance(run, WorkflowRun) and event.job is None
    assert run.provider_id == str(obj["id"])
    assert run.repository == obj["repository"]["full_name"]
    assert run.workflow_id == str(obj["workflow_id"])
    assert run.workflow_name == payload["workflow"]["name"]  # the run's own name is "" here
    assert run.workflow_path == obj["path"]
    assert (run.run_number, run.run_attempt) == (obj["run_number"], obj["run_attempt"])
    assert (run.event, run.branch, run.head_sha) == (obj["event"], obj["head_branch"], obj["head_sha"])
    assert run.display_title == obj["display_title"]
    assert run.actor == obj["actor"]["login"]
    assert run.status.value == obj["status"]
    assert (run.conclusion.value if run.conclusion else None) == obj["conclusion"]
    assert (run.created_at, run.run_started_at, run.updated_at) == (
        ts(obj["created_at"]),
        ts(obj["run_started_at"]),
        ts(obj["updated_at"]),
    )
    assert run.html_url == obj["html_url"]
    assert run.head_commit is not None and run.head_commit.sha == obj["head_commit"]["id"]
    assert run.head_commit.author == obj["head_commit"]["author"]["name"]
    assert run.head_commit.timestamp == ts(obj["head_commit"]["timestamp"])
    assert [(p.number, p.head_ref, p.head_sha, p.base_ref, p.url) for p in run.pull_requests] == [
        (p["number"], p["head"]["ref"], p["head"]["sha"], p["base"]["ref"], p["url"])
        for p in obj["pull_requests"]
    ]


@pytest.mark.parametrize("path", files("workflow_job"))
def test_every_workflow_job_example(path: Path) -> None:
    payload, event = deliver(path)
    check_envelope(payload, event)
    obj = payload["workflow_job"]
    job = event.job
    assert isinstance(job, Job) and event.run is None
    assert (job.provider_id, job.run_provider_id, job.run_attempt) == (
        str(obj["id"]),
        str(obj["run_id"]),
        obj["run_attempt"],
    )
    assert (job.name, job.workflow_name, job.head_sha, job.head_branch) == (
        obj["name"],
        obj.get("workflow_name"),
        obj["head_sha"],
        obj["head_branch"],
    )
    assert job.status.value == obj["status"]
    assert (job.conclusion.value if job.conclusion else None) == obj["conclusion"]
    assert (job.created_at, job.started_at, job.completed_at) == (
        ts(obj["created_at"]),
        ts(obj["started_at"]),
        ts(obj["completed_at"]),
    )
    assert (job.runner_name, job.runner_group, job.labels) == (
        obj["runner_name"],
        obj["runner_group_name"],
        tuple(obj["labels"]),
    )
    assert job.html_url == obj["html_url"]
    assert [(s.number, s.name, s.status.value, s.started_at, s.completed_at) for s in job.steps] == [
        (s["number"], s["name"], s["status"], ts(s["started_at"]), ts(s["completed_at"]))
        for s in obj["steps"]
    ]


@pytest.mark.parametrize("path", files("check_run"))
def test_every_check_run_example(path: Path) -> None:
    payload, event = deliver(path)
    check_envelope(payload, event)
    obj = payload["check_run"]
    assert event.run is None
    if (obj.get("app") or {}).get("slug") != "github-actions":
        assert event.job is None
        return
    job = event.job
    assert isinstance(job, Job)
    assert (job.provider_id, job.name, job.head_sha) == (str(obj["id"]), obj["name"], obj["head_sha"])
    assert job.head_branch == obj["check_suite"]["head_branch"]
    assert job.status.value == obj["status"]
    assert (job.conclusion.value if job.conclusion else None) == obj["conclusion"]
    assert (job.started_at, job.completed_at) == (ts(obj["started_at"]), ts(obj["completed_at"]))
    assert job.html_url == obj["html_url"]


def test_one_check_run_example_is_from_github_actions() -> None:
    if not PAYLOADS.is_dir():
        pytest.skip(NO_DATA)
    jobs = [deliver(p)[1].job for p in sorted((PAYLOADS / "check_run").glob("*.json"))]
    assert sum(job is not None for job in jobs) >= 1


@pytest.mark.parametrize("path", files("ping"))
def test_ping_examples(path: Path) -> None:
    payload, event = deliver(path)
    check_envelope(payload, event)
    assert (event.event, event.run, event.job) == ("ping", None, None)


def test_other_events_carry_only_the_envelope() -> None:
    body = json.dumps(
        {"action": "opened", "repository": {"id": 1, "full_name": "o/r"}, "installation": {"id": 42}}
    ).encode()
    event = parse_delivery("pull_request", body)
    assert (event.event, event.action, event.run, event.job, event.installation_id) == (
        "pull_request",
        "opened",
        None,
        None,
        "42",
    )
    assert event.repository is not None and event.repository.full_name == "o/r"


# --------------------------------------------------------------------------- webhook vs REST


RUN_FIELDS = {
    # model field: raw key path in a workflow run object
    "provider_id": ("id",),
    "workflow_id": ("workflow_id",),
    "workflow_path": ("path",),
    "run_number": ("run_number",),
    "run_attempt": ("run_attempt",),
    "display_title": ("display_title",),
    "event": ("event",),
    "branch": ("head_branch",),
    "head_sha": ("head_sha",),
    "actor": ("actor", "login"),
    "status": ("status",),
    "conclusion": ("conclusion",),
    "created_at": ("created_at",),
    "run_started_at": ("run_started_at",),
    "updated_at": ("updated_at",),
    "html_url": ("html_url",),
    "repository": ("repository", "full_name"),
}


def dig(obj: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


@pytest.mark.parametrize("path", files("workflow_run"))
def test_webhook_and_rest_agree_where_githubs_examples_agree(path: Path) -> None:
    rest_obj = json.loads((EXAMPLES / "actions__get-workflow-run.200.default.json").read_text())
    payload, event = deliver(path)
    hook_obj = payload["workflow_run"]
    from_rest, from_hook = map_run(rest_obj), event.run
    assert from_hook is not None
    agreed = 0
    for field, keys in RUN_FIELDS.items():
        raw_rest, raw_hook = dig(rest_obj, keys), dig(hook_obj, keys)
        if field == "workflow_path":
            raw_rest = raw_rest.split("@")[0]
        if raw_rest == raw_hook:
            agreed += 1
            assert getattr(from_rest, field) == getattr(from_hook, field), field
        else:
            assert getattr(from_rest, field) != getattr(from_hook, field), field
    assert agreed >= 1  # at least run_attempt agrees


def test_same_run_object_maps_identically_from_webhook_and_rest() -> None:
    if not PAYLOADS.is_dir():
        pytest.skip(NO_DATA)
    payload = json.loads(
        (PAYLOADS / "workflow_run" / "completed.with-pull-requests.payload.json").read_text()
    )
    hook = parse_delivery("workflow_run", json.dumps(payload).encode()).run
    # the webhook's run object has the REST "workflow-run" schema: served by the API it maps the same,
    # except that only the webhook knows the workflow's name (the run's own name is empty here)
    rest = map_run(payload["workflow_run"])
    assert hook is not None
    assert hook.model_copy(update={"workflow_name": None}) == rest


# --------------------------------------------------------------------------- malformed deliveries


@pytest.mark.parametrize(
    ("event", "body", "message"),
    [
        ("workflow_run", b"{not json", r"workflow_run delivery: body is not valid JSON"),
        ("workflow_run", b"\xff\xfe", r"workflow_run delivery: body is not valid JSON"),
        ("workflow_run", b"[1, 2]", r"workflow_run delivery: body is a JSON list, not an object"),
        (
            "workflow_run",
            b'{"action": "completed"}',
            r"workflow_run delivery: .*field 'workflow_run': required object",
        ),
        (
            "workflow_job",
            b'{"action": "queued", "workflow_job": {"id": 12, "name": "x"}}',
            r"workflow_job delivery: GitHub workflow job 12: field 'run_id'",
        ),
        (
            "workflow_run",
            b'{"workflow_run": {"id": 3, "head_sha": "a", "created_at": "soon", "repository": {"full_name": "o/r"}}}',
            r"workflow run 3: field 'created_at': not an ISO 8601 timestamp",
        ),
        (
            "check_run",
            b'{"check_run": {"id": 4, "app": {"slug": "github-actions"}, "started_at": 5, "name": "n"}}',
            r"check_run delivery: GitHub check run 4: field 'started_at'",
        ),
        ("", b"{}", r"empty event name"),
    ],
)
def test_malformed_deliveries_raise_webhook_error(event: str, body: bytes, message: str) -> None:
    with pytest.raises(WebhookError, match=message) as info:
        parse_delivery(event, body)
    assert isinstance(info.value, ValueError)


def test_webhook_event_is_frozen() -> None:
    event = parse_delivery("ping", b'{"zen": "Keep it logically awesome.", "hook_id": 1}')
    with pytest.raises(ValueError, match="frozen"):
        event.action = "x"
