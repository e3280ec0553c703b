"""JSON objects of GitHub's REST API and webhooks, built from GitHub's own examples.

Every builder starts from a template bundled in ``demo_data/templates`` (see
``demo_data/SOURCES.md``): the documented response examples of the REST API description
(``actions__get-workflow-run.200.default.json`` etc.), a recorded ``GET /repos/{owner}/{repo}``
response (octokit/fixtures) and webhook payload examples (octokit/webhooks). It rewrites ids,
SHAs, names, URLs, timestamps, statuses and conclusions from the demo history and keeps every
other key, so the objects have the shape GitHub documents:
https://docs.github.com/en/rest/actions/workflow-runs#get-a-workflow-run,
https://docs.github.com/en/rest/actions/workflow-jobs#get-a-job-for-a-workflow-run,
https://docs.github.com/en/rest/actions/artifacts#get-an-artifact,
https://docs.github.com/en/rest/actions/workflows#get-a-workflow,
https://docs.github.com/en/rest/commits/commits#list-pull-requests-associated-with-a-commit.
Commits and comparisons (no bundled example) follow the schemas of "Compare two commits".

``api`` is the API base URL (``https://api.github.com`` or a replay's loopback URL), ``html`` the
web base URL (``https://github.com``). Timestamps are ISO 8601 UTC (``2024-05-01T12:00:00Z``).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote

from cimedic.testing.demo_model import (
    DemoArtifact,
    DemoAttempt,
    DemoCommit,
    DemoHistory,
    DemoJob,
    DemoPullRequest,
    DemoRepo,
    DemoRun,
    DemoUser,
    DemoWorkflow,
)

JSONObj = dict[str, Any]
GITHUB_API = "https://api.github.com"
GITHUB_WEB = "https://github.com"


@cache
def _load(name: str) -> str:
    return (resources.files("cimedic.testing") / "demo_data" / "templates" / name).read_text("utf-8")


def template(name: str) -> Any:
    """A fresh copy of a bundled template (``name`` = file name in ``demo_data/templates``)."""
    return json.loads(_load(name))


def ts(when: datetime | None) -> str | None:
    """GitHub's timestamp format: ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), ``None`` stays ``None``."""
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, number: int) -> str:
    """A legacy-format GraphQL node id (``base64("0<len>:<Kind><id>")``, e.g. ``MDEwOlJlcG9z...``)."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def rewrite(obj: Any, pairs: list[tuple[str, str]]) -> Any:
    """``obj`` with every ``(old, new)`` substring replacement applied to all its strings."""
    if isinstance(obj, str):
        for old, new in pairs:
            obj = obj.replace(old, new)
        return obj
    if isinstance(obj, list):
        return [rewrite(x, pairs) for x in obj]
    if isinstance(obj, dict):
        return {k: rewrite(v, pairs) for k, v in obj.items()}
    return obj


def repo_pairs(old_full: str, repo: DemoRepo, api: str, html: str) -> list[tuple[str, str]]:
    """Replacements that move a template's URLs from repository ``old_full`` to ``repo``."""
    old_owner, full, owner = old_full.split("/")[0], repo.full_name, repo.owner.login
    return [
        (f"{GITHUB_API}/repos/{old_full}", f"{api}/repos/{full}"),
        (f"http://api.github.com/repos/{old_full}", f"{api}/repos/{full}"),
        (f"{GITHUB_API}/users/{old_owner}", f"{api}/users/{owner}"),
        (f"{GITHUB_API}/orgs/{old_owner}", f"{api}/orgs/{owner}"),
        (f"{GITHUB_WEB}/{old_full}", f"{html}/{full}"),
        (f"git://github.com/{old_full}.git", f"git://github.com/{full}.git"),
        (f"git:github.com/{old_full}.git", f"git:github.com/{full}.git"),
        (f"git@github.com:{old_full}.git", f"git@github.com:{full}.git"),
        (f"{GITHUB_WEB}/{old_owner}", f"{html}/{owner}"),
        (GITHUB_API, api),
    ]


def user(u: DemoUser, api: str = GITHUB_API, html: str = GITHUB_WEB) -> JSONObj:
    """A simple-user object (template: the run example's ``actor``)."""
    obj = template("actions__get-workflow-run.200.default.json")["actor"]
    obj = rewrite(
        obj,
        [
            (f"{GITHUB_API}/users/octocat", f"{api}/users/{u.login}"),
            (f"{GITHUB_WEB}/octocat", f"{html}/{u.login}"),
        ],
    )
    obj.update(login=u.login, id=u.id, node_id=node_id(u.type, u.id), type=u.type)
    obj["avatar_url"] = f"https://avatars.githubusercontent.com/u/{u.id}?v=4"
    return dict(obj)


def organization(u: DemoUser, api: str = GITHUB_API) -> JSONObj:
    """An organization object as webhooks carry it (template: ``workflow_run`` payload)."""
    obj = template("workflow_run.completed.with-pull-requests.payload.json")["organization"]
    obj = rewrite(obj, [(f"{GITHUB_API}/orgs/octo-org", f"{api}/orgs/{u.login}")])
    obj.update(login=u.login, id=u.id, node_id=node_id("Organization", u.id), description=u.name)
    obj["avatar_url"] = f"https://avatars.githubusercontent.com/u/{u.id}?v=4"
    return dict(obj)


def minimal_repository(
    repo: DemoRepo, api: str = GITHUB_API, html: str = GITHUB_WEB, *, head: bool = False
) -> JSONObj:
    """The ``repository`` (``head=False``) or ``head_repository`` object nested in a run."""
    tmpl = template("actions__get-workflow-run.200.default.json")
    key, old = ("head_repository", "octo-org/octo-repo") if head else ("repository", "octocat/Hello-World")
    obj: JSONObj = rewrite(tmpl[key], repo_pairs(old, repo, api, html))
    obj.update(id=repo.id, node_id=node_id("Repository", repo.id), name=repo.name, full_name=repo.full_name)
    obj.update(owner=user(repo.owner, api, html), private=False, description=repo.description, fork=False)
    return obj


def repository(repo: DemoRepo, api: str = GITHUB_API, html: str = GITHUB_WEB) -> JSONObj:
    """``GET /repos/{owner}/{repo}`` (template: the recorded octokit/fixtures response)."""
    obj: JSONObj = template("octokit.get-repository.exchange.json")["response"]
    obj = rewrite(obj, repo_pairs("octokit-fixture-org/hello-world", repo, api, html))
    obj.update(id=repo.id, node_id=node_id("Repository", repo.id), name=repo.name, full_name=repo.full_name)
    obj.update(owner=user(repo.owner, api, html), organization=user(repo.owner, api, html))
    obj.update(description=repo.description, language=repo.language, default_branch=repo.default_branch)
    obj.update(created_at=ts(repo.created_at), updated_at=ts(repo.pushed_at), pushed_at=ts(repo.pushed_at))
    obj.update(topics=["terraform", "infrastructure-as-code", "demo"], size=301_221, homepage=None)
    return obj


def workflow(w: DemoWorkflow, repo: DemoRepo, api: str = GITHUB_API, html: str = GITHUB_WEB) -> JSONObj:
    """A workflow (template: ``actions__get-workflow.200.default.json``)."""
    obj: JSONObj = template("actions__get-workflow.200.default.json")
    obj.update(id=w.id, node_id=node_id("Workflow", w.id), name=w.name, path=w.path, state=w.state)
    obj.update(created_at=ts(w.created_at), updated_at=ts(w.updated_at))
    obj["url"] = f"{api}/repos/{repo.full_name}/actions/workflows/{w.id}"
    obj["html_url"] = f"{html}/{repo.full_name}/blob/{repo.default_branch}/{w.path}"
    obj["badge_url"] = f"{html}/{repo.full_name}/workflows/{quote(w.name)}/badge.svg"
    return obj


def pull_request_minimal(
    pr: DemoPullRequest, head_sha: str, repo: DemoRepo, api: str = GITHUB_API
) -> JSONObj:
    """An entry of a run's ``pull_requests`` (template: the ``workflow_run`` payload's)."""
    obj: JSONObj = template("workflow_run.completed.with-pull-requests.payload.json")["workflow_run"][
        "pull_requests"
    ][0]
    repo_ref = {"id": repo.id, "url": f"{api}/repos/{repo.full_name}", "name": repo.name}
    obj.update(url=f"{api}/repos/{repo.full_name}/pulls/{pr.number}", id=pr.id, number=pr.number)
    obj["head"].update(ref=pr.head_ref, sha=head_sha, repo=repo_ref)
    obj["base"].update(ref=pr.base_ref, sha=pr.base_sha, repo=dict(repo_ref))
    return obj


def head_commit(c: DemoCommit) -> JSONObj:
    """A run's ``head_commit`` (simple-commit)."""
    obj: JSONObj = template("actions__get-workflow-run.200.default.json")["head_commit"]
    obj.update(id=c.sha, tree_id=c.tree_id, message=c.message, timestamp=ts(c.timestamp))
    obj["author"] = {"name": c.author.name, "email": c.author.email}
    obj["committer"] = {"name": "GitHub", "email": "noreply@github.com"}
    return obj


def workflow_run(
    run: DemoRun,
    repo: DemoRepo,
    attempt: DemoAttempt | None = None,
    api: str = GITHUB_API,
    html: str = GITHUB_WEB,
) -> JSONObj:
    """A workflow run as of ``attempt`` (default: its last) (template: ``actions__get-workflow-run``)."""
    att = attempt or run.attempts[-1]
    base = f"{api}/repos/{repo.full_name}/actions/runs/{run.id}"
    obj: JSONObj = template("actions__get-workflow-run.200.default.json")
    obj.update(
        id=run.id, name=run.name, node_id=node_id("WorkflowRun", run.id), check_suite_id=run.check_suite_id,
        check_suite_node_id=node_id("CheckSuite", run.check_suite_id), head_branch=run.head_branch,
        head_sha=run.head_sha, path=run.path, run_number=run.run_number, event=run.event,
        display_title=run.display_title, status=att.status, conclusion=att.conclusion, workflow_id=run.workflow_id,
        url=base, html_url=f"{html}/{repo.full_name}/actions/runs/{run.id}",
        pull_requests=[pull_request_minimal(p, run.head_sha, repo, api) for p in run.pull_requests],
        created_at=ts(run.created_at), updated_at=ts(att.updated_at), actor=user(run.actor, api, html),
        run_attempt=att.number, referenced_workflows=[], run_started_at=ts(att.started_at),
        triggering_actor=user(att.triggering_actor, api, html), jobs_url=f"{base}/jobs", logs_url=f"{base}/logs",
        check_suite_url=f"{api}/repos/{repo.full_name}/check-suites/{run.check_suite_id}",
        artifacts_url=f"{base}/artifacts", cancel_url=f"{base}/cancel", rerun_url=f"{base}/rerun",
        previous_attempt_url=f"{base}/attempts/{att.number - 1}" if att.number > 1 else None,
        workflow_url=f"{api}/repos/{repo.full_name}/actions/workflows/{run.workflow_id}",
        head_commit=head_commit(run.head_commit), repository=minimal_repository(repo, api, html),
        head_repository=minimal_repository(repo, api, html, head=True),
    )  # fmt: skip
    return obj


def job(j: DemoJob, repo: DemoRepo, api: str = GITHUB_API, html: str = GITHUB_WEB) -> JSONObj:
    """A job (template: ``actions__get-job-for-workflow-run``, plus the schema's ``run_attempt``
    and ``created_at``, which the example lacks)."""
    tmpl: JSONObj = template("actions__get-job-for-workflow-run.200.default.json")
    step_tmpl = tmpl["steps"][0]
    values: JSONObj = {
        "id": j.id, "run_id": j.run_id, "run_url": f"{api}/repos/{repo.full_name}/actions/runs/{j.run_id}",
        "run_attempt": j.run_attempt, "node_id": node_id("WorkflowJob", j.id), "head_sha": j.head_sha,
        "url": f"{api}/repos/{repo.full_name}/actions/jobs/{j.id}",
        "html_url": f"{html}/{repo.full_name}/actions/runs/{j.run_id}/job/{j.id}",
        "status": j.status, "conclusion": j.conclusion, "created_at": ts(j.created_at),
        "started_at": ts(j.started_at), "completed_at": ts(j.completed_at), "name": j.name,
        "steps": [
            {**step_tmpl, "name": s.name, "status": s.status, "conclusion": s.conclusion, "number": s.number,
             "started_at": ts(s.started_at), "completed_at": ts(s.completed_at)}
            for s in j.steps
        ],
        "check_run_url": f"{api}/repos/{repo.full_name}/check-runs/{j.id}", "labels": list(j.labels),
        "runner_id": j.runner_id, "runner_name": j.runner_name, "runner_group_id": j.runner_group_id,
        "runner_group_name": j.runner_group_name, "workflow_name": j.workflow_name, "head_branch": j.head_branch,
    }  # fmt: skip
    order = list(tmpl) + [k for k in values if k not in tmpl]
    order.insert(order.index("run_url") + 1, order.pop(order.index("run_attempt")))
    order.insert(order.index("conclusion") + 1, order.pop(order.index("created_at")))
    return {k: values.get(k, tmpl.get(k)) for k in order}


def artifact(a: DemoArtifact, api: str = GITHUB_API, *, expired: bool = False) -> JSONObj:
    """An artifact (template: ``actions__get-artifact.200.default.json``)."""
    obj: JSONObj = template("actions__get-artifact.200.default.json")
    url = f"{api}/repos/{a.repo}/actions/artifacts/{a.id}"
    obj.update(
        id=a.id, node_id=node_id("Artifact", a.id), name=a.name, size_in_bytes=a.size_in_bytes, url=url
    )
    obj.update(archive_download_url=f"{url}/zip", expired=expired, created_at=ts(a.created_at))
    obj.update(expires_at=ts(a.expires_at), updated_at=ts(a.created_at), digest=a.digest)
    obj["workflow_run"] = {"id": a.run_id, "repository_id": a.repo_id, "head_repository_id": a.repo_id,
                           "head_branch": a.head_branch, "head_sha": a.head_sha}  # fmt: skip
    return obj


def pull_request(
    pr: DemoPullRequest, repo: DemoRepo, api: str = GITHUB_API, html: str = GITHUB_WEB
) -> JSONObj:
    """A pull request (template: the ``pull_request.opened`` webhook payload's ``pull_request``)."""
    obj: JSONObj = template("pull_request.opened.payload.json")["pull_request"]
    obj = rewrite(obj, repo_pairs("Codertocat/Hello-World", repo, api, html))
    obj = rewrite(obj, [("/pulls/2", f"/pulls/{pr.number}"), ("/pull/2", f"/pull/{pr.number}"),
                         ("/issues/2", f"/issues/{pr.number}"), ("ec26c3e57ca3a959ca5aad62de7213c562f8c821", pr.head_sha)])  # fmt: skip
    merged = pr.merged_at is not None
    obj.update(
        id=pr.id, node_id=node_id("PullRequest", pr.id), number=pr.number, state=pr.state, title=pr.title
    )
    obj.update(user=user(pr.user, api, html), body=f"{pr.title}.", created_at=ts(pr.created_at))
    obj.update(updated_at=ts(pr.updated_at), closed_at=ts(pr.merged_at), merged_at=ts(pr.merged_at))
    obj.update(merge_commit_sha=pr.merge_commit_sha, author_association="MEMBER", merged=merged)
    obj.update(commits=len(pr.head_shas), merged_by=None, assignee=None, milestone=None)
    obj.update(assignees=[], requested_reviewers=[], requested_teams=[], labels=[])
    for side, ref, sha, who in (
        ("head", pr.head_ref, pr.head_sha, repo.owner),
        ("base", pr.base_ref, pr.base_sha, repo.owner),
    ):
        obj[side].update(label=f"{repo.owner.login}:{ref}", ref=ref, sha=sha, user=user(who, api, html))
        stamps = {
            "created_at": ts(repo.created_at),
            "updated_at": ts(repo.pushed_at),
            "pushed_at": ts(repo.pushed_at),
        }
        obj[side]["repo"] = {**obj[side]["repo"], **minimal_repository(repo, api, html), **stamps}
    return obj


def commit(
    c: DemoCommit, parent: str | None, repo: DemoRepo, api: str = GITHUB_API, html: str = GITHUB_WEB
) -> JSONObj:
    """A commit as the comparison lists it (schema ``commit`` of GitHub's REST description:
    https://docs.github.com/en/rest/commits/commits#compare-two-commits). No bundled example
    has this shape; it is built from the schema's required keys."""
    base = f"{api}/repos/{repo.full_name}"
    person = {"name": c.author.name, "email": c.author.email, "date": ts(c.timestamp)}
    return {
        "url": f"{base}/commits/{c.sha}",
        "sha": c.sha,
        "node_id": base64.b64encode(f"06:Commit{repo.id}:{c.sha}".encode()).decode(),
        "html_url": f"{html}/{repo.full_name}/commit/{c.sha}",
        "comments_url": f"{base}/commits/{c.sha}/comments",
        "commit": {
            "url": f"{base}/git/commits/{c.sha}",
            "author": person,
            "committer": {"name": "GitHub", "email": "noreply@github.com", "date": ts(c.timestamp)},
            "message": c.message,
            "comment_count": 0,
            "tree": {"sha": c.tree_id, "url": f"{base}/git/trees/{c.tree_id}"},
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        },
        "author": user(c.author, api, html) if c.author.type != "Organization" else None,
        "committer": None,
        "parents": []
        if parent is None
        else [
            {
                "sha": parent,
                "url": f"{base}/commits/{parent}",
                "html_url": f"{html}/{repo.full_name}/commit/{parent}",
            }
        ],
    }


def comparison(
    base_commit: JSONObj,
    merge_base: JSONObj,
    commits: list[JSONObj],
    *,
    status: str,
    ahead_by: int,
    behind_by: int,
    basehead: str,
    repo: DemoRepo,
    api: str = GITHUB_API,
    html: str = GITHUB_WEB,
) -> JSONObj:
    """``GET /repos/{owner}/{repo}/compare/{basehead}`` (schema ``commit-comparison``:
    https://docs.github.com/en/rest/commits/commits#compare-two-commits); ``commits`` is the page
    of commits (oldest first), ``total_commits`` is ``ahead_by``; ``files`` is empty."""
    return {
        "url": f"{api}/repos/{repo.full_name}/compare/{basehead}",
        "html_url": f"{html}/{repo.full_name}/compare/{basehead}",
        "permalink_url": f"{html}/{repo.full_name}/compare/{basehead}",
        "diff_url": f"{html}/{repo.full_name}/compare/{basehead}.diff",
        "patch_url": f"{html}/{repo.full_name}/compare/{basehead}.patch",
        "base_commit": base_commit,
        "merge_base_commit": merge_base,
        "status": status,
        "ahead_by": ahead_by,
        "behind_by": behind_by,
        "total_commits": ahead_by,
        "commits": commits,
        "files": [],
    }


def history_repo(history: DemoHistory, full_name: str) -> DemoRepo:
    """The repository of an object, by full name (raises ``KeyError`` if unknown)."""
    repo = history.repo(full_name)
    if repo is None:
        raise KeyError(full_name)
    return repo
