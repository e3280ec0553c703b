"""``cimedic reprocess --failed`` lists the dead-lettered webhook deliveries (id, event, tries,
reason) as text and JSON and tries each once more; ``reprocess`` never exits 1 with a traceback
on a delivery that raises (issue 11, section 1)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from cimedic.interfaces.cli.app import app
from cimedic.store.pipeline import MAX_TRIES
from cimedic.store.repository import Store
from cimedic.testing.demo_history import build_demo_history
from cimedic.testing.replay_webhooks import webhook_deliveries

SOURCE = "github-webhook"
DEEP = b'{"action": "completed", "workflow_run": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"


@pytest.fixture(autouse=True)
def _env(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CIMEDIC_GITHUB_WEBHOOK_SECRET", "s")
    for name in (
        "CIMEDIC_DATABASE_URL",
        "CIMEDIC_GITHUB_TOKEN",
        "CIMEDIC_GITHUB_APP_ID",
        "CIMEDIC_NOTIFY_URLS",
    ):
        monkeypatch.delenv(name, raising=False)


def _dead(store: Store, key: str, event: str, body: bytes) -> int:
    raw_id, created = store.add_raw_event(SOURCE, key, event, body)
    assert created
    for _ in range(MAX_TRIES):
        state = store.fail_raw_event(raw_id, f"delivery {key} ({event}): earlier failure")
    assert state.status == "dead"
    return raw_id


def _fill(store: Store) -> tuple[int, int]:
    run = next(
        d
        for d in webhook_deliveries(build_demo_history(now=datetime(2026, 11, 20, tzinfo=UTC)))
        if d.event == "workflow_run"
    )
    poison = _dead(store, "poison", "workflow_run", DEEP)
    healed = _dead(store, "healed", "workflow_run", run.body)  # failed 5 times; fixed since
    store.add_raw_event(SOURCE, "pending-one", "workflow_run", run.body)  # not dead: not touched
    return poison, healed


def _invoke(*args: str) -> object:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_reprocess_failed_lists_dead_deliveries_as_json_and_retries_them_once(store: Store) -> None:
    poison, healed = _fill(store)
    result = _invoke("reprocess", "--failed", "--db", store.url, "--format", "json")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    out = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert [(d["id"], d["delivery"], d["event"], d["tries"]) for d in out["dead"]] == [
        (poison, "poison", "workflow_run", 5),
        (healed, "healed", "workflow_run", 5),
    ]
    assert all("earlier failure" in d["reason"] for d in out["dead"])
    assert (out["retried"], out["done"], out["still_dead"]) == (2, 1, 1)
    (still,) = store.raw_events(status=("dead",))
    assert (still.id, still.attempts) == (poison, 6)  # tried exactly once more
    assert still.error is not None and "deeper than 64 levels" in still.error
    assert [r.key for r in store.raw_events(status=("pending",))] == ["pending-one"]


def test_reprocess_failed_as_text(store: Store) -> None:
    poison, _ = _fill(store)
    result = _invoke("reprocess", "--failed", "--db", store.url)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    lines = result.stdout.splitlines()  # type: ignore[attr-defined]
    assert lines[0].startswith(f"{poison}  poison  workflow_run  tries=5  delivery poison")
    assert lines[-1] == "dead-lettered deliveries: 2 retried, 1 done, 1 still dead"


def test_reprocess_does_not_stop_on_a_delivery_that_raises(store: Store) -> None:
    # regression: `cimedic reprocess` exited 1 with a RecursionError traceback on this row
    store.add_raw_event(SOURCE, "deep", "workflow_run", DEEP)
    result = _invoke("reprocess", "--db", store.url, "--format", "json")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    out = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert out["raw_failed"] == 1
    (failed,) = store.raw_events(status=("failed",))
    assert failed.key == "deep" and failed.attempts == 1
