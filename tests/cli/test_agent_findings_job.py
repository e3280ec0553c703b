"""The agent's `findings` job refreshes the analyzers whenever history grew, whatever brought it
(here: webhook deliveries of the demo history processed as `cimedic serve` does), and does
nothing when nothing arrived."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cimedic.settings import Settings
from cimedic.store.repository import Store


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CIMEDIC_GITHUB_WEBHOOK_SECRET", "s")
    for name in ("CIMEDIC_GITHUB_TOKEN", "CIMEDIC_GITHUB_APP_ID", "CIMEDIC_NOTIFY_URLS"):
        monkeypatch.delenv(name, raising=False)
    return Settings()


def test_findings_job_follows_webhook_fed_history(cfg: Settings, store: Store) -> None:
    from cimedic.bootstrap import build
    from cimedic.bootstrap.routines import agent_routines
    from cimedic.services.webhooks import process_pending, receive
    from cimedic.store.flaky import load_findings
    from cimedic.testing.demo_history import build_demo_history
    from cimedic.testing.replay_webhooks import webhook_deliveries

    ctx = build(cfg, store.url)
    routines = {r.id: r for r in agent_routines(ctx, [], 60.0)}
    assert "poll" not in routines and "findings" in routines  # no watched repository: webhooks only
    findings = routines["findings"].run
    findings()  # the empty store
    assert findings() == "no new history"

    receiver = ctx.webhook_receivers["github"]
    deliveries = webhook_deliveries(build_demo_history())
    for d in deliveries:
        receipt = receive(store, receiver, d.headers("s"), d.body)
        assert receipt.status_code == 202
    process_pending(store, ctx.webhook_receivers)
    assert store.counts()["workflow_runs"] > 100

    summary = str(findings())
    assert "flaky" in summary and "culprit" in summary, summary
    assert load_findings(store)  # verdicts are stored for the new history
    assert findings() == "no new history"  # nothing arrived since
