"""The issue endpoints of the GitHub replay (``cimedic notify``): create an issue, comment on an
issue or a pull request. Bodies follow GitHub's documented responses:

- ``POST /repos/{o}/{r}/issues`` (REST "Create an issue",
  https://docs.github.com/en/rest/issues/issues#create-an-issue): 201 and the issue
  (``number``, ``html_url``, ``title``, ``body``, ``labels``, ``state: open``); 404 for an unknown
  repository; 422 ``Validation Failed`` without a ``title``.
- ``POST /repos/{o}/{r}/issues/{n}/comments`` (REST "Create an issue comment",
  https://docs.github.com/en/rest/issues/comments#create-an-issue-comment; a pull request is an
  issue there): 201 and the comment (``id``, ``html_url`` ``.../pull/{n}#issuecomment-{id}`` for a
  pull request, ``body``, ``issue_url``, ``created_at``); 404 when neither a pull request of the
  history nor a created issue has that number; 422 without a ``body``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cimedic.testing.demo_model import DemoHistory
from cimedic.testing.replay_http import NOT_FOUND, error_body

__all__ = ["ISSUE_PATH", "IssueDesk"]

#: Paths the desk answers (``POST`` only).
ISSUE_PATH = re.compile(r"/repos/([^/]+)/([^/]+)/issues(?:/(\d+)/comments)?")

Answer = tuple[int, Any, list[tuple[str, str]]]


@dataclass
class IssueDesk:
    """Issues and comments created through the replay, in order (GitHub's JSON objects)."""

    history: DemoHistory
    issues: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)

    def post(self, path: str, content: bytes, api: str, web: str) -> Answer:
        """Answer ``POST path`` (a path matching :data:`ISSUE_PATH`); ``api`` and ``web`` are the
        base URLs used in the returned links."""
        m = ISSUE_PATH.fullmatch(path)
        repo = self.history.repo(f"{m[1]}/{m[2]}") if m else None
        if m is None or repo is None:
            return 404, NOT_FOUND, []
        try:
            data = json.loads(content or b"{}")
        except ValueError:
            return 400, error_body(400, "Problems parsing JSON"), []
        if not isinstance(data, dict):
            return 400, error_body(400, "Problems parsing JSON"), []
        if m[3] is None:
            return self._issue(repo.full_name, data, api, web)
        return self._comment(repo.full_name, int(m[3]), data, api, web)

    def _issue(self, full_name: str, data: dict[str, Any], api: str, web: str) -> Answer:
        if not isinstance(data.get("title"), str) or not data["title"]:
            return 422, error_body(422, "Validation Failed"), []
        number = self._next_number(full_name)
        issue = {
            "id": 9_000_000 + len(self.issues) + 1,
            "number": number,
            "title": data["title"],
            "body": data.get("body") or "",
            "labels": [{"name": str(x)} for x in data.get("labels") or []],
            "state": "open",
            "repository": full_name,
            "url": f"{api}/repos/{full_name}/issues/{number}",
            "html_url": f"{web}/{full_name}/issues/{number}",
        }
        self.issues.append(issue)
        return 201, issue, []

    def _comment(self, full_name: str, number: int, data: dict[str, Any], api: str, web: str) -> Answer:
        prs = {p.number for p in self.history.pull_requests if p.repo == full_name}
        issues = {i["number"] for i in self.issues if i["repository"] == full_name}
        if number not in prs | issues:
            return 404, NOT_FOUND, []
        if not isinstance(data.get("body"), str) or not data["body"]:
            return 422, error_body(422, "Validation Failed"), []
        cid = 1_500_000_000 + len(self.comments) + 1
        kind = "pull" if number in prs else "issues"
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        comment = {
            "id": cid,
            "node_id": f"IC_kwDO{cid}",
            "url": f"{api}/repos/{full_name}/issues/comments/{cid}",
            "html_url": f"{web}/{full_name}/{kind}/{number}#issuecomment-{cid}",
            "issue_url": f"{api}/repos/{full_name}/issues/{number}",
            "body": data["body"],
            "created_at": now,
            "updated_at": now,
            "author_association": "NONE",
            "repository": full_name,
            "number": number,
        }
        self.comments.append(comment)
        return 201, comment, []

    def _next_number(self, full_name: str) -> int:
        """Issue numbers share the sequence with pull requests, as on GitHub."""
        taken = [p.number for p in self.history.pull_requests if p.repo == full_name]
        taken += [i["number"] for i in self.issues if i["repository"] == full_name]
        return max(taken, default=0) + 1
