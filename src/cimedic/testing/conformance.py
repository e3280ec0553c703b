"""Conformance kits: what the provider conformance suite (``tests/connectors/
test_provider_conformance.py``) needs from each registered CI provider to check it against its
replay: an ``httpx`` transport that answers like the provider (recorded or documented shapes,
headers and error codes), the settings to use, the ground truth of the replayed history, a way
to inject an error, and webhook deliveries.

A provider ships its kit as a factory registered in the entry-point group
``cimedic.provider_kits`` under the provider's id (the suite requires one for every registered
provider). The GitHub kit is :func:`github_kit`, over
:class:`cimedic.testing.github_replay.GitHubReplay` and the demo history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["ConformanceKit", "KitDelivery", "github_kit"]


@dataclass(frozen=True)
class KitDelivery:
    """A webhook delivery as the provider sends it: ``headers`` (signed for ``secret``) and
    ``body``; ``repository`` is the full name the delivery is about."""

    headers: Mapping[str, str]
    body: bytes
    repository: str | None


class ConformanceKit(Protocol):
    """A provider's replay for the conformance suite."""

    @property
    def provider(self) -> str: ...

    @property
    def settings(self) -> Mapping[str, object]:
        """Flat settings that make the provider use the replay (``github_token``, ...)."""
        ...

    @property
    def webhook_secret(self) -> str: ...

    def transport(self) -> object:
        """An ``httpx`` transport answering from the replay."""
        ...

    def repositories(self) -> Sequence[str]: ...

    def window(self) -> tuple[datetime, datetime]:
        """``[since, until)`` (UTC) holding the whole replayed history."""
        ...

    def run_ids(self, full_name: str) -> set[str]:
        """Provider ids of the runs of ``full_name`` created in :meth:`window`."""
        ...

    def page_size(self) -> int:
        """Most items the provider's API returns per page (pagination is needed above it)."""
        ...

    def attempts(self, full_name: str, run_id: str) -> int:
        """How many attempts the replay holds for that run now."""
        ...

    def rerun_target(self) -> tuple[str, str]:
        """``(full_name, run_id)`` of a completed failed run the provider accepts a re-run of."""
        ...

    def inject(self, path_regex: str, status: int) -> None:
        """Answer the next request whose path matches ``path_regex`` with ``status``."""
        ...

    def deliveries(self) -> Sequence[KitDelivery]: ...


@dataclass
class GitHubKit:
    """The GitHub kit: the demo history (125 runs of hashicorp-demo/terraform over 10 days) served
    by :class:`~cimedic.testing.github_replay.GitHubReplay`."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    provider: str = "github"
    webhook_secret: str = "conformance-secret"
    token: str = "ghp_conformanceKitToken0000000000000000"

    def __post_init__(self) -> None:
        from cimedic.testing.demo_history import build_demo_history
        from cimedic.testing.github_replay import GitHubReplay

        self.history = build_demo_history(now=self.now)
        self.replay = GitHubReplay(self.history, token=self.token)

    @property
    def settings(self) -> Mapping[str, object]:
        return {
            "github_token": self.token,
            "github_api_url": "https://api.github.com",
            "github_webhook_secret": self.webhook_secret,
        }

    def transport(self) -> object:
        return self.replay.transport()

    def repositories(self) -> Sequence[str]:
        return [r.full_name for r in self.history.repos]

    def window(self) -> tuple[datetime, datetime]:
        first = min(r.created_at for r in self.history.runs)
        return first - timedelta(hours=1), self.now + timedelta(minutes=1)

    def run_ids(self, full_name: str) -> set[str]:
        return {str(r.id) for r in self.history.runs if r.repo.lower() == full_name.lower()}

    def page_size(self) -> int:
        return 100

    def attempts(self, full_name: str, run_id: str) -> int:
        run = self.history.run(int(run_id))
        return 0 if run is None else len(run.attempts)

    def rerun_target(self) -> tuple[str, str]:
        for run in reversed(self.history.runs):
            last = run.attempts[-1]
            if last.status == "completed" and last.conclusion == "failure":
                return run.repo, str(run.id)
        raise LookupError("the demo history has no failed run")

    def inject(self, path_regex: str, status: int) -> None:
        self.replay.inject(path_regex, status)

    def deliveries(self) -> Sequence[KitDelivery]:
        from cimedic.testing.replay_webhooks import webhook_deliveries

        return [
            KitDelivery(d.headers(self.webhook_secret), d.body, _repository_of(d.body))
            for d in webhook_deliveries(self.history)
        ]


def _repository_of(body: bytes) -> str | None:
    import json

    repo = json.loads(body).get("repository")
    return repo.get("full_name") if isinstance(repo, dict) else None


def github_kit() -> GitHubKit:
    """A fresh GitHub kit (its replay starts with no request and no injected fault)."""
    return GitHubKit()
