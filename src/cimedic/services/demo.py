"""Use case: ``cimedic demo``: rebuild the demo repositories in the store from the bundled
GitHub replay, through the same code path as ``cimedic sync``.

The replay (:mod:`cimedic.testing.github_replay`) serves GitHub's REST API as an ``httpx``
transport from real material (GitHub's documented response examples, real hashicorp/terraform
job logs from the CiDiff dataset, a real Surefire report); its history is shifted to end now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.services.collect import CollectOptions, Collector, CollectReport, ProgressFn
from cimedic.store.repository import Store

if TYPE_CHECKING:
    from cimedic.analysis.diagnosis import Diagnoser
    from cimedic.model.providers import CIProvider
    from cimedic.services.findings import RefreshReport

DEMO_TOKEN = "ghp_cimedicDemoReplayToken000000000000"


@dataclass
class DemoReport:
    """The repositories rebuilt, one collect report each, and the store's row counts."""

    repositories: list[str] = field(default_factory=list)
    reports: list[CollectReport] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    days: int = 0
    findings: RefreshReport | None = None


def registry_github(transport: object, token: str) -> CIProvider:
    """The registered ``github`` provider's client on ``https://api.github.com`` over
    ``transport`` with ``token``. Raises ``KeyError`` when no ``github`` provider is installed."""
    from cimedic.plugins import provider_registry

    plugin = provider_registry()["github"]
    config = plugin.config_model.model_validate({"token": token, "api_url": "https://api.github.com"})
    return plugin.create(config, transport=transport)


def run_demo(
    store: Store,
    diagnoser: Diagnoser | None,
    github: Callable[[object, str], CIProvider] | None = None,
    *,
    now: datetime | None = None,
    progress: ProgressFn | None = None,
) -> DemoReport:
    """Delete and re-collect the demo repositories. ``github(transport, token)`` builds the
    GitHub provider's client on ``https://api.github.com`` over the replay's ``httpx``
    transport, authenticating with ``token`` (default: the ``github`` provider of the
    provider registry, :func:`registry_github`)."""
    from cimedic.testing.demo_history import build_demo_history
    from cimedic.testing.github_replay import GitHubReplay

    now = now or datetime.now(UTC)
    history = build_demo_history(now=now)
    replay = GitHubReplay(history, token=DEMO_TOKEN)
    client = (github or registry_github)(replay.transport(), DEMO_TOKEN)
    collector = Collector(store, client, diagnoser, CollectOptions(max_workers=4), progress)
    first = min(r.created_at for r in history.runs if r.created_at is not None)
    out = DemoReport(days=max(1, round((now - first) / timedelta(days=1))))
    for repo in history.repos:
        store.delete_repository(repo.full_name)
        out.repositories.append(repo.full_name)
        out.reports.append(
            collector.sync(repo.full_name, since=first - timedelta(hours=1), until=now + timedelta(minutes=1))
        )
    from cimedic.services.findings import refresh_findings

    out.findings = refresh_findings(store, now=now)
    out.counts = store.counts()
    return out
