"""Map GitHub JSON (REST responses and webhook payloads) into :mod:`cimedic.model` types.

This is the only module of the connector that reads GitHub JSON; every function here is pure
(no I/O) and returns domain objects, never raw dicts. Shapes follow GitHub's REST reference
("Workflow runs", "Workflow jobs", "Workflows", "Artifacts", "Check runs", "Repositories",
"Pull requests", "GitHub Apps") and the webhook reference ("Webhook events and payloads":
``workflow_run``, ``workflow_job``, ``check_run``, ``ping``).

Conventions:

* ids become strings (``provider_id``); GitHub sends them as JSON integers;
* timestamps become timezone-aware UTC datetimes; GitHub sends ISO 8601 (``2020-01-22T19:33:08Z``,
  step times like ``2020-01-20T09:42:40.000-08:00``); ``null``, ``""`` and missing keys map to
  ``None``; a naive timestamp is taken as UTC;
* ``status`` / ``conclusion`` words map only through :mod:`cimedic.model.vocab` (unknown words
  become ``UNKNOWN`` instead of failing);
* a malformed object (missing required field, wrong JSON type, unparsable timestamp) raises
  :class:`MappingError` naming the object kind, its id when known and the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from cimedic.connectors.github_actions._json import (
    InstallationToken,
    MappingError,
    _items,
    _json_type,
    _nested_fail,
    _Reader,
    _show,
    clean_text,
)
from cimedic.model.ci import (
    CommitRef,
    Job,
    PullRequestRef,
    Repository,
    Step,
    Workflow,
    WorkflowRun,
)
from cimedic.model.events import WebhookEvent
from cimedic.model.providers import ArtifactRef

GITHUB_ACTIONS_APP = "github-actions"
"""``app.slug`` of the check runs GitHub Actions creates (one per job, same id as the job)."""

_T = TypeVar("_T")
_RUN_IN_URL = re.compile(r"/runs/(\d+)/jobs?/(\d+)")


def map_repository(obj: object) -> Repository:
    """Map a repository object (REST ``GET /repos/{owner}/{repo}``, or the ``repository`` of a
    webhook payload or workflow run) into a :class:`Repository`.

    Owner and name come from ``full_name`` (``owner/name``), else from ``owner.login`` and
    ``name``. Raises :class:`MappingError` when neither is present.
    """
    r = _Reader(obj, "repository")
    full_name = r.opt_str("full_name")
    if full_name and "/" in full_name:
        owner, _, name = full_name.partition("/")
    else:
        owner_r = r.sub("owner", "user")
        login = owner_r.opt_str("login") if owner_r is not None else None
        if login is None:
            raise r.fail("full_name", f"need 'owner/name' or owner.login, got {_show(full_name)}")
        owner, name = login, r.str_("name")
    return Repository(
        provider="github",
        provider_id=r.opt_id("id"),
        owner=owner,
        name=name,
        default_branch=r.opt_str("default_branch"),
        html_url=r.opt_str("html_url"),
    )


def map_workflow(obj: object) -> Workflow:
    """Map a workflow object (REST "Workflows": ``id``, ``name``, ``path``, ``state``)."""
    r = _Reader(obj, "workflow")
    return Workflow(
        provider_id=r.id(),
        name=r.str_("name"),
        path=r.opt_str("path"),
        state=r.opt_str("state"),
    )


def _workflow_path(path: str | None) -> str | None:
    """Drop the ``@ref`` GitHub appends to a run's ``path`` (``.github/workflows/build.yml@main``)
    so it equals the workflow's own ``path``."""
    if path is None:
        return None
    head, sep, _ref = path.partition("@")
    if sep and head.endswith((".yml", ".yaml")):
        return head
    return path


def _map_commit(r: _Reader) -> CommitRef:
    author = r.sub("author", "commit author", id_field=None)
    return CommitRef(
        sha=r.sha("id"),
        message=r.opt_str("message"),
        author=author.opt_str("name") if author is not None else None,
        timestamp=r.time("timestamp"),
    )


def map_pull_request(obj: object) -> PullRequestRef:
    """Map a pull request (the minimal form in a run's ``pull_requests``, or a full pull
    request from ``GET /repos/{owner}/{repo}/commits/{sha}/pulls``)."""
    r = _Reader(obj, "pull request")
    head = r.sub("head", "pull request head", id_field=None)
    base = r.sub("base", "pull request base", id_field=None)
    return PullRequestRef(
        number=r.int_("number"),
        head_ref=head.opt_str("ref") if head is not None else None,
        head_sha=head.opt_sha("sha") if head is not None else None,
        base_ref=base.opt_str("ref") if base is not None else None,
        url=r.opt_str("url"),
    )


def map_run(
    obj: object, *, repository: str | None = None, workflow: Mapping[str, Any] | None = None
) -> WorkflowRun:
    """Map a workflow run (REST list/get workflow runs, or ``workflow_run`` of the webhook).

    ``repository`` (``owner/name``) is used when the run carries no ``repository.full_name``;
    ``workflow`` is the webhook's top-level ``workflow`` object, whose ``name`` fills
    ``workflow_name`` (the webhook's run ``name`` may be empty). ``actor`` is ``actor.login``
    or, failing that, ``triggering_actor.login``; ``workflow_path`` drops the ``@ref`` suffix.
    Raises :class:`MappingError` (``id``, ``head_sha`` required; typed fields checked).
    """
    r = _Reader(obj, "workflow run")
    repo = r.sub("repository", "repository")
    full_name = repo.opt_str("full_name") if repo is not None else None
    full_name = full_name or repository
    if not full_name:
        raise r.fail("repository.full_name", "missing, and no repository given")
    prs: list[PullRequestRef] = []
    for i, item in _items(r, "pull_requests"):
        try:
            prs.append(map_pull_request(item))
        except MappingError as err:
            raise _nested_fail(r, "pull_requests", i, err) from None
    commit_r = r.sub("head_commit", "head commit")
    try:
        head_commit = _map_commit(commit_r) if commit_r is not None else None
    except MappingError as err:
        raise r.fail(f"head_commit.{err.field}", err.problem) from None
    name = r.opt_str("name") or None
    workflow_name = name
    if workflow is not None:
        workflow_name = _Reader(workflow, "workflow").opt_str("name") or name
    return WorkflowRun(
        provider_id=r.id(),
        repository=full_name,
        workflow_id=r.opt_id("workflow_id"),
        workflow_name=workflow_name,
        workflow_path=_workflow_path(r.opt_str("path")),
        run_number=r.opt_int("run_number"),
        run_attempt=r.int_("run_attempt", default=1),
        name=name,
        display_title=r.opt_str("display_title"),
        event=r.opt_str("event"),
        branch=r.opt_str("head_branch"),
        head_sha=r.sha("head_sha"),
        actor=r.login("actor") or r.login("triggering_actor"),
        status=r.status(),
        conclusion=r.conclusion(),
        created_at=r.time("created_at"),
        run_started_at=r.time("run_started_at"),
        updated_at=r.time("updated_at"),
        html_url=r.opt_str("html_url"),
        head_commit=head_commit,
        pull_requests=tuple(prs),
    )


def _map_step(obj: object) -> Step:
    r = _Reader(obj, "step", id_field="number")
    return Step(
        number=r.int_("number"),
        name=r.str_("name"),
        status=r.status(),
        conclusion=r.conclusion(),
        started_at=r.time("started_at"),
        completed_at=r.time("completed_at"),
    )


def _labels(r: _Reader) -> tuple[str, ...]:
    labels = r.list_("labels")
    for i, label in enumerate(labels):
        if not isinstance(label, str):
            raise r.fail(f"labels[{i}]", f"expected a string, got {_show(label)}")
    return tuple(clean_text(label) for label in labels)


def map_job(obj: object) -> Job:
    """Map a workflow job (REST list/get jobs, or ``workflow_job`` of the webhook).

    ``run_attempt`` defaults to 1 when absent; ``runner_group`` is ``runner_group_name``; steps
    keep GitHub's numbering. Raises :class:`MappingError` (``id``, ``run_id``, ``name`` required).
    """
    r = _Reader(obj, "workflow job")
    steps: list[Step] = []
    for i, item in _items(r, "steps"):
        try:
            steps.append(_map_step(item))
        except MappingError as err:
            raise _nested_fail(r, "steps", i, err) from None
    return Job(
        provider_id=r.id(),
        run_provider_id=r.id("run_id"),
        run_attempt=r.int_("run_attempt", default=1),
        name=r.str_("name"),
        workflow_name=r.opt_str("workflow_name"),
        head_sha=r.opt_sha("head_sha"),
        head_branch=r.opt_str("head_branch"),
        status=r.status(),
        conclusion=r.conclusion(),
        created_at=r.time("created_at"),
        started_at=r.time("started_at"),
        completed_at=r.time("completed_at"),
        runner_name=r.opt_str("runner_name"),
        runner_group=r.opt_str("runner_group_name"),
        labels=_labels(r),
        html_url=r.opt_str("html_url"),
        steps=tuple(steps),
    )


def map_check_run(obj: object) -> Job | None:
    """Map a check run (``check_run`` webhook, REST "Check runs") into a :class:`Job`.

    GitHub Actions creates one check run per job with the job's id, so such a check run is the
    job. Returns ``None`` for check runs of other apps (``app.slug != "github-actions"``).
    A check run does not carry its run id: ``run_provider_id`` is taken from the
    ``.../runs/{run_id}/job/{job_id}`` form of ``details_url`` / ``html_url`` and is
    ``""`` when neither has it (fetch the job with the same id to complete it). ``head_branch``
    comes from ``check_suite.head_branch``; ``run_attempt`` is unknown and left at 1.
    """
    r = _Reader(obj, "check run")
    app = r.sub("app", "app")
    if app is None or app.opt_str("slug") != GITHUB_ACTIONS_APP:
        return None
    job_id = r.id()
    run_id = ""
    for field in ("details_url", "html_url"):
        match = _RUN_IN_URL.search(r.opt_str(field) or "")
        if match and match.group(2) == job_id:
            run_id = match.group(1)
            break
    suite = r.sub("check_suite", "check suite")
    return Job(
        provider_id=job_id,
        run_provider_id=run_id,
        name=r.str_("name"),
        head_sha=r.opt_sha("head_sha"),
        head_branch=suite.opt_str("head_branch") if suite is not None else None,
        status=r.status(),
        conclusion=r.conclusion(),
        started_at=r.time("started_at"),
        completed_at=r.time("completed_at"),
        html_url=r.opt_str("html_url"),
    )


def map_artifact(obj: object) -> ArtifactRef:
    """Map an artifact (REST "Artifacts": ``id``, ``name``, ``size_in_bytes``, ``expired``)."""
    r = _Reader(obj, "artifact")
    run = r.sub("workflow_run", "workflow run")
    return ArtifactRef(
        id=r.id(),
        name=r.str_("name"),
        size_in_bytes=r.int_("size_in_bytes"),
        expired=r.bool_("expired"),
        run_id=run.opt_id("id") if run is not None else None,
        created_at=r.time("created_at"),
        expires_at=r.time("expires_at"),
    )


# --------------------------------------------------------------------------- list envelopes


def _page(obj: object, kind: str, key: str) -> tuple[int | None, _Reader, Sequence[Any]]:
    r = _Reader(obj, kind, id_field=None)
    if key not in r.obj:
        raise r.fail(key, "missing")
    return r.opt_int("total_count"), r, r.list_(key)


def _each(r: _Reader, key: str, items: Sequence[Any], fn: Callable[[object], _T]) -> list[_T]:
    out: list[_T] = []
    for i, item in enumerate(items):
        try:
            out.append(fn(item))
        except MappingError as err:
            raise _nested_fail(r, key, i, err) from None
    return out


def map_runs_page(obj: object, *, repository: str | None = None) -> tuple[int | None, list[WorkflowRun]]:
    """Map a ``{"total_count", "workflow_runs": [...]}`` page: ``(total_count, runs)``."""
    total, r, items = _page(obj, "workflow runs page", "workflow_runs")
    return total, _each(r, "workflow_runs", items, lambda o: map_run(o, repository=repository))


def map_jobs_page(obj: object) -> tuple[int | None, list[Job]]:
    """Map a ``{"total_count", "jobs": [...]}`` page: ``(total_count, jobs)``."""
    total, r, items = _page(obj, "jobs page", "jobs")
    return total, _each(r, "jobs", items, map_job)


def map_workflows_page(obj: object) -> tuple[int | None, list[Workflow]]:
    """Map a ``{"total_count", "workflows": [...]}`` page: ``(total_count, workflows)``."""
    total, r, items = _page(obj, "workflows page", "workflows")
    return total, _each(r, "workflows", items, map_workflow)


def map_artifacts_page(obj: object) -> tuple[int | None, list[ArtifactRef]]:
    """Map a ``{"total_count", "artifacts": [...]}`` page: ``(total_count, artifacts)``."""
    total, r, items = _page(obj, "artifacts page", "artifacts")
    return total, _each(r, "artifacts", items, map_artifact)


def map_pull_requests(obj: object) -> list[PullRequestRef]:
    """Map a JSON array of pull requests (``GET /repos/{o}/{r}/commits/{sha}/pulls``)."""
    if not isinstance(obj, list):
        raise MappingError("pull requests list", None, None, f"expected a JSON array, got {_json_type(obj)}")
    holder = _Reader({"items": obj}, "pull requests list", id_field=None)
    return _each(holder, "items", obj, map_pull_request)


def _map_compare_commit(obj: object) -> CommitRef:
    r = _Reader(obj, "commit", id_field="sha")
    git = r.sub("commit", "git commit", id_field=None)
    author = git.sub("author", "git author", id_field=None) if git is not None else None
    name = author.opt_str("name") if author is not None else None
    return CommitRef(
        sha=r.sha("sha"),
        message=git.opt_str("message") if git is not None else None,
        author=name or r.login("author"),
        timestamp=author.time("date") if author is not None else None,
    )


def map_compare(obj: object) -> list[CommitRef]:
    """Map a comparison (REST "Compare two commits", ``GET /repos/{o}/{r}/compare/{base}...{head}``)
    into its ``commits``, in the order GitHub gives them (chronological, oldest first): ``sha``,
    ``commit.message``, ``commit.author.name`` (else the ``author`` account's login) and
    ``commit.author.date``. Raises :class:`MappingError` when ``commits`` is missing or malformed."""
    r = _Reader(obj, "comparison", id_field=None)
    if "commits" not in r.obj:
        raise r.fail("commits", "missing")
    return _each(r, "commits", r.list_("commits"), _map_compare_commit)


# --------------------------------------------------------------------------- errors, apps, hooks


def error_message(obj: object) -> str | None:
    """GitHub's error text from an error body: ``message`` plus `` (documentation_url)``; ``None``
    when the body is not a JSON object with a ``message`` (REST "Troubleshooting")."""
    if not isinstance(obj, Mapping):
        return None
    message = obj.get("message")
    if not isinstance(message, str):
        return None
    doc = obj.get("documentation_url")
    return f"{message} ({doc})" if isinstance(doc, str) and doc else message


def map_installation_token(obj: object) -> InstallationToken:
    """Map ``POST /app/installations/{id}/access_tokens`` (``token``, ``expires_at``)."""
    r = _Reader(obj, "installation token", id_field=None)
    return InstallationToken(token=r.str_("token"), expires_at=r.time("expires_at"))


def map_installation_id(obj: object) -> str:
    """The ``id`` of an installation (``GET /repos/{owner}/{repo}/installation``)."""
    return _Reader(obj, "installation").id()


def map_delivery(event: str, obj: object) -> WebhookEvent:
    """Map a webhook payload of event ``event`` (the ``X-GitHub-Event`` header).

    ``workflow_run`` → ``run`` (with the payload's ``workflow`` name); ``workflow_job`` →
    ``job``; ``check_run`` → ``job`` when GitHub Actions created it (else ``None``); ``ping``
    and all other events → only ``action``, ``repository`` and ``installation_id``.
    Raises :class:`MappingError` when the event's object is missing or malformed.
    """
    r = _Reader(obj, f"{event} payload", id_field=None)
    repo = r.obj.get("repository")
    installation = r.sub("installation", "installation")
    run: WorkflowRun | None = None
    job: Job | None = None
    repository = map_repository(repo) if repo is not None else None
    if event in ("workflow_run", "workflow_job", "check_run") and not isinstance(r.obj.get(event), Mapping):
        raise r.fail(event, f"required object, got {_show(r.obj.get(event))}")
    if event == "workflow_run":
        workflow = r.obj.get("workflow")
        run = map_run(
            r.obj[event],
            repository=repository.full_name if repository else None,
            workflow=workflow if isinstance(workflow, Mapping) else None,
        )
    elif event == "workflow_job":
        job = map_job(r.obj[event])
    elif event == "check_run":
        job = map_check_run(r.obj[event])
    return WebhookEvent(
        event=event,
        action=r.opt_str("action"),
        repository=repository,
        run=run,
        job=job,
        installation_id=installation.opt_id("id") if installation is not None else None,
    )


# --------------------------------------------------------------------------- attempts

__all__ = [
    "GITHUB_ACTIONS_APP",
    "ArtifactRef",
    "InstallationToken",
    "MappingError",
    "error_message",
    "map_artifact",
    "map_artifacts_page",
    "map_check_run",
    "map_delivery",
    "map_installation_id",
    "map_installation_token",
    "map_job",
    "map_jobs_page",
    "map_pull_request",
    "map_pull_requests",
    "map_repository",
    "map_run",
    "map_runs_page",
    "map_workflow",
    "map_workflows_page",
]
