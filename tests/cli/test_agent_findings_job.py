"""The agent's `findings` job refreshes the analyzers whenever history grew, whatever brought it
(here: webhook deliveries of the demo history processed as `cimedic serve` does), and does
nothing when nothing arrived."""

from __future__ import annotations

from pathlib import Path

import pytest

from cimedic.settings import Settings
from cimedic.store.repository import Store


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("CIMEDIC_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path))
    for name in ("CIMEDIC_GITHUB_TOKEN", "CIMEDIC_GITHUB_APP_ID", "CIMEDIC_NOTIFY_URLS"):
        monkeypatch.delenv(name, raising=False)
    return Settings()


def test_findings_job_follows_webhook_fed_history(cfg: Settings, store: Store) -> None:
    from cimedic.interfaces.cli.agent_mode import _jobs
    from cimedic.services.webhooks import process_pending, receive_github
    from cimedic.store.flaky import load_findings
    from cimedic.testing.demo_history import build_demo_history
    from cimedic.testing.replay_webhooks import webhook_deliveries

    jobs = {j.id: j for j in _jobs(cfg, store, [], 60.0)}
    assert "poll" not in jobs and "findings" in jobs  # no watched repository: webhooks only
    findings = jobs["findings"].func
    findings()  # the empty store
    assert findings() == "no new history"

    deliveries = webhook_deliveries(build_demo_history())
    for d in deliveries:
        receipt = receive_github(
            store,
            secret="s",
            event=d.event,
            delivery=d.delivery_id,
            signature=d.headers("s")["X-Hub-Signature-256"],
            body=d.body,
        )
        assert receipt.status_code == 202
    process_pending(store)
    assert store.counts()["workflow_runs"] > 100

    summary = findings()
    assert summary.startswith("flaky ") and "culprits" in summary, summary
    assert load_findings(store)  # verdicts are stored for the new history
    assert findings() == "no new history"  # nothing arrived since
