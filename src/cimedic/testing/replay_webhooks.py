"""Webhook deliveries of a demo history: ``workflow_run`` and ``workflow_job`` ``completed`` events.

Payloads start from GitHub's webhook examples (octokit/webhooks, bundled as
``templates/workflow_run.completed.with-pull-requests.payload.json`` and
``templates/workflow_job.completed.{success,failure}.with-organization.payload.json``), keep their
top-level keys (``action``, ``workflow_run``/``workflow_job``, ``workflow``, ``repository``,
``organization``, ``sender``) and the keys of their nested objects, and carry the history's
values. Headers follow https://docs.github.com/en/webhooks/webhook-events-and-payloads#delivery-headers
and the ``X-Hub-Signature-256`` scheme of
https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cimedic.testing import replay_objects as obj
from cimedic.testing.demo_model import DemoHistory, DemoRepo

_NS = uuid.UUID("6f1c2bd4-57a3-4c86-9a0e-2a1d2b0c7e11")
HOOK_ID = 421337907


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery: ``event`` (``X-GitHub-Event``), ``delivery_id`` (``X-GitHub-Delivery``,
    a GUID) and the exact ``body`` bytes GitHub signs and posts (JSON)."""

    event: str
    delivery_id: str
    body: bytes

    def headers(self, secret: str | None = None) -> dict[str, str]:
        """The delivery's HTTP headers; with ``secret``, ``X-Hub-Signature-256: sha256=<hex HMAC of body>``."""
        out = {
            "Accept": "*/*",
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/d4ae3c4",
            "X-GitHub-Delivery": self.delivery_id,
            "X-GitHub-Event": self.event,
            "X-GitHub-Hook-ID": str(HOOK_ID),
            "X-GitHub-Hook-Installation-Target-ID": "502134769",
            "X-GitHub-Hook-Installation-Target-Type": "repository",
        }
        if secret is not None:
            digest = hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
            out["X-Hub-Signature-256"] = f"sha256={digest}"
        return out


def _webhook_repository(repo: DemoRepo, tmpl: dict[str, Any], old_full: str) -> dict[str, Any]:
    base = obj.minimal_repository(repo)
    pairs = obj.repo_pairs(old_full, repo, obj.GITHUB_API, obj.GITHUB_WEB)
    out: dict[str, Any] = obj.rewrite(tmpl, pairs)
    out.update({k: v for k, v in base.items() if k in out})
    out.update(
        created_at=obj.ts(repo.created_at),
        updated_at=obj.ts(repo.pushed_at),
        pushed_at=obj.ts(repo.pushed_at),
    )
    out.update(default_branch=repo.default_branch, language=repo.language, description=repo.description)
    return out


def webhook_deliveries(history: DemoHistory) -> list[Delivery]:
    """A ``workflow_job`` delivery per completed job and a ``workflow_run`` delivery per completed
    run attempt, in the order GitHub would send them (by completion time)."""
    run_tmpl = obj.template("workflow_run.completed.with-pull-requests.payload.json")
    events: list[tuple[datetime, int, Delivery]] = []
    for run in history.runs:
        repo = obj.history_repo(history, run.repo)
        wf = history.workflow(run.repo, run.workflow_id)
        for attempt in run.attempts:
            if attempt.status != "completed":
                continue
            rest = obj.workflow_run(run, repo, attempt)
            body = {
                "action": "completed",
                "organization": obj.organization(repo.owner),
                "repository": _webhook_repository(repo, run_tmpl["repository"], "octo-org/octo-repo"),
                "sender": obj.user(attempt.triggering_actor),
                "workflow": {k: v for k, v in obj.workflow(wf, repo).items() if k in run_tmpl["workflow"]}
                if wf
                else None,
                "workflow_run": {k: rest[k] for k in run_tmpl["workflow_run"] if k in rest},
            }
            key = f"workflow_run:{run.id}:{attempt.number}"
            events.append((attempt.updated_at, 1, _delivery("workflow_run", key, body)))
    for job in history.jobs:
        if job.status != "completed" or job.completed_at is None:
            continue
        repo = obj.history_repo(history, job.repo)
        name = "failure" if job.conclusion == "failure" else "success"
        tmpl = obj.template(f"workflow_job.completed.{name}.with-organization.payload.json")
        rest = obj.job(job, repo)
        owner_run = history.run(job.run_id)
        body = {
            "action": "completed",
            "workflow_job": {k: rest[k] for k in tmpl["workflow_job"] if k in rest},
            "repository": _webhook_repository(repo, tmpl["repository"], "Codertocat/Hello-World"),
            "organization": obj.organization(repo.owner),
            "sender": obj.user(owner_run.actor if owner_run else repo.owner),
        }
        events.append((job.completed_at, 0, _delivery("workflow_job", f"workflow_job:{job.id}", body)))
    events.sort(key=lambda e: (e[0], e[1]))
    return [d for _, _, d in events]


def _delivery(event: str, key: str, body: dict[str, Any]) -> Delivery:
    return Delivery(event, str(uuid.uuid5(_NS, key)), json.dumps(body, indent=2).encode())
