"""A failing background routine is visible (regressions of issue step 1, section 4): ``watch
--once`` and ``agent --once`` exit 1 when polling failed, with one ``cimedic: error:`` line that
names the repository and what to do (no traceback); each routine's last outcome is stored and
``/healthz`` shows it; ``sync`` against an unreachable API says which setting to check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cimedic.interfaces.cli.app import app

pytestmark = pytest.mark.timeout(300)

REPO = "some-org/some-repo"
DOWN = "http://127.0.0.1:9"  # nothing listens on the discard port of loopback


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [k for k in os.environ if k.startswith("CIMEDIC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CIMEDIC_GITHUB_API_URL", DOWN)
    return tmp_path


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("cimedic: error:")]


@pytest.mark.parametrize("command", ["watch", "agent"])
def test_once_exits_1_with_one_line_naming_the_repository_when_polling_failed(env: Path, command: str) -> None:
    db = str(env / "w.db")
    result = CliRunner().invoke(app, [command, REPO, "--once", "--db", db, "--create"])
    assert result.exit_code == 1, result.output
    [line] = _error_lines(result.stderr)
    assert line.startswith(f"cimedic: error: routine poll failed: PollError: {REPO}: GitHub 0 for {DOWN}")
    assert "github_api_url" in line and "Traceback" not in result.stderr
    assert "poll: FAILED" in result.stdout and "housekeeping: ok" in result.stdout

    from cimedic.store.repository import Store
    from cimedic.store.routines import load_outcomes

    store = Store(f"sqlite:///{db}")
    try:
        outcomes = {o.routine_id: o for o in load_outcomes(store)}
    finally:
        store.close()
    assert not outcomes["poll"].ok and REPO in (outcomes["poll"].error or "")
    assert outcomes["housekeeping"].ok and outcomes["housekeeping"].error is None


def test_healthz_shows_the_last_outcome_of_each_routine(env: Path) -> None:
    from fastapi.testclient import TestClient

    from cimedic.bootstrap import build
    from cimedic.interfaces.api.app import create_app
    from cimedic.settings import load_settings

    db = str(env / "h.db")
    assert CliRunner().invoke(app, ["watch", REPO, "--once", "--db", db, "--create"]).exit_code == 1
    ctx = build(load_settings(), db, llm=None)
    try:
        body = TestClient(create_app(ctx), base_url="http://127.0.0.1").get("/healthz").json()
    finally:
        ctx.close()
    assert body["status"] == "ok" and body["store"] == "ok"  # a failed routine is shown, not a 503
    poll = body["routines"]["poll"]
    assert poll["ok"] is False and REPO in poll["error"] and poll["at"].startswith("20")
    assert body["routines"]["findings"] == {"ok": True, "at": body["routines"]["findings"]["at"], "error": None}


def test_sync_against_an_unreachable_api_names_the_setting_to_check(env: Path) -> None:
    result = CliRunner().invoke(app, ["sync", REPO, "--db", str(env / "s.db"), "--create"])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"cimedic: error: {REPO}: GitHub 0 for {DOWN}/repos/{REPO}: network error")
    assert f"github_api_url (CIMEDIC_GITHUB_API_URL, now {DOWN})" in line


def test_an_unknown_webhook_provider_is_404(env: Path) -> None:
    from fastapi.testclient import TestClient

    from cimedic.bootstrap import build
    from cimedic.interfaces.api.app import create_app
    from cimedic.settings import load_settings

    ctx = build(load_settings(), str(env / "w.db"), create=True, llm=None)
    try:
        client = TestClient(create_app(ctx), base_url="http://127.0.0.1")
        answer = client.post("/webhooks/gitlab", content=b"{}")
        assert answer.status_code == 404 and "unknown provider 'gitlab'" in answer.text
        assert client.post("/webhooks/github", content=b"{}").status_code == 503  # no secret set
    finally:
        ctx.close()



def test_serve_answers_only_allowed_hosts_and_refuses_model_spending_requests(env: Path) -> None:
    """DNS rebinding: a Host that is not loopback, ``--host`` or ``allowed_hosts`` gets 400
    problem+json; ``probe=true`` (model calls) gets 403 until callers are authenticated; the LLM
    URL is answered without its password."""
    from fastapi.testclient import TestClient

    from cimedic.bootstrap import build
    from cimedic.interfaces.api.app import create_app
    from cimedic.settings import Settings

    cfg = Settings(allowed_hosts=["ci.example.org"], llm_base_url="http://user:s3cretpw@127.0.0.1:9/v1")
    ctx = build(cfg, str(env / "hosts.db"), create=True)
    try:
        app = create_app(ctx, host="10.1.2.3")
        for host in ("127.0.0.1:8000", "localhost", "[::1]:8000", "ci.example.org", "10.1.2.3:8000"):
            assert TestClient(app, base_url=f"http://{host}").get("/healthz").status_code == 200, host
        rebound = TestClient(app, base_url="http://evil.example:8000").get("/healthz")
        assert rebound.status_code == 400 and rebound.headers["content-type"] == "application/problem+json"
        assert "evil.example" in rebound.json()["detail"]
        client = TestClient(app, base_url="http://127.0.0.1")
        probe = client.get("/api/v1/llm", params={"probe": "true"})
        assert probe.status_code == 403 and probe.json()["title"] == "Probe refused"
        status = client.get("/api/v1/llm")
        assert status.status_code == 200 and "s3cretpw" not in status.text
        assert status.json()["base_url"] == "http://user:***@127.0.0.1:9/v1"
    finally:
        ctx.close()
