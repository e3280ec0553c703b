"""Every door behaves the same: ``cimedic chat`` and ``POST /api/v1/chat`` get their tools, approval
gate and budgets from one application context, so both offer the model the same tool set; on
both, the ``rerun`` tool only records the policy's decision as a proposal and never asks the CI
provider to re-run anything, even with a policy that is not dry-run and a GitHub token set."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from cimedic.agent.fake_llm import ScriptedToolLLM, tool_call

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def demo_now(live_demo_now: datetime) -> datetime:
    return live_demo_now  # the re-run policy looks at runs of the last 30 days before the wall clock


class _Recorder(BaseHTTPRequestHandler):
    """A GitHub API stand-in that records every request and answers 404."""

    requests: ClassVar[list[tuple[str, str]]] = []

    def _answer(self) -> None:
        type(self).requests.append((self.command, self.path))
        body = b'{"message": "Not Found"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def github() -> Iterator[list[tuple[str, str]]]:
    _Recorder.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    os.environ["CIMEDIC_GITHUB_API_URL"] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield _Recorder.requests
    finally:
        os.environ.pop("CIMEDIC_GITHUB_API_URL", None)
        server.shutdown()


def _failed_transient_run(url: str) -> str:
    """A failed run whose failed jobs are all diagnosed transient (the policy would re-run it)."""
    from datetime import UTC, timedelta

    from cimedic.store.actions import failed_runs
    from cimedic.store.repository import Store

    store = Store(url)
    try:
        for c in failed_runs(store, since=datetime.now(UTC) - timedelta(days=30)):
            if c.jobs and all(j.transient for j in c.jobs):
                return str(c.run_id)
    finally:
        store.close()
    raise AssertionError("the demo has no failed run with only transient failures")


def _script(run_id: str) -> ScriptedToolLLM:
    return ScriptedToolLLM(
        [tool_call("rerun", run_id=run_id), {"text": f"Proposed a re-run of run {run_id}."}],
        tools_supported=True,
    )


def test_cli_and_http_chat_offer_the_same_tools_and_never_execute_a_rerun(
    demo_sqlite, github: list[tuple[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from cimedic.bootstrap import build
    from cimedic.interfaces.api.chat import router
    from cimedic.interfaces.cli.app import app
    from cimedic.services.remediate import list_actions
    from cimedic.settings import load_settings

    policy = tmp_path / "policy.yaml"
    policy.write_text("version: '1'\ndry_run: false\ncooldown_s: 0\n", encoding="utf-8")
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_GITHUB_TOKEN", "ghp_doorsTestToken000000000000000000000")
    monkeypatch.setenv("CIMEDIC_REMEDIATION_POLICY", str(policy))
    monkeypatch.setenv("CIMEDIC_LLM_TOOL_CALLS", "native")
    run_id = _failed_transient_run(demo_sqlite.url)

    cli_llm = _script(run_id)
    monkeypatch.setattr("cimedic.bootstrap.llm.llm_client", lambda cfg: cli_llm)
    result = CliRunner().invoke(
        app, ["chat", "--new", "-m", f"re-run run {run_id}", "-f", "json", "--db", demo_sqlite.url]
    )
    assert result.exit_code == 0, result.output
    cli_steps = json.loads(result.stdout)["steps"]

    http_llm = _script(run_id)
    api = FastAPI()
    api.include_router(router)
    api.state.ctx = ctx = build(load_settings(), demo_sqlite.url, llm=http_llm)
    try:
        answer = TestClient(api).post("/api/v1/chat", json={"message": f"re-run run {run_id}"})
        assert answer.status_code == 200, answer.text
        http_steps = answer.json()["steps"]
        decisions = [d for d in list_actions(ctx.store) if d.run_id == run_id]
    finally:
        ctx.close()

    offered = [sorted(t.name for t in llm.native_calls[0].tools) for llm in (cli_llm, http_llm)]
    assert offered[0] == offered[1] and "rerun" in offered[0]
    for steps in (cli_steps, http_steps):
        (step,) = steps
        assert step["tool"] == "rerun" and step["status"] == "ok", step  # approved: it only proposes
        assert f"run {run_id}: " in step["output"]
    # the policy's decision is audited as a proposal, once; nothing was executed
    assert decisions and all(d.dry_run and d.result is None for d in decisions), decisions
    assert decisions[0].verdict.value == "would_rerun"
    assert not [r for r in github if r[0] == "POST"], github
