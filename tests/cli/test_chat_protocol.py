"""The ``llm_tool_calls`` and ``llm_context_tokens`` settings reach the agent loop: through
``budgets_from`` for ``cimedic chat`` (and ``cimedic serve``), and through the application context
for ``POST /api/v1/chat``; with a scripted model that has native tool calls."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cimedic.agent.fake_llm import ScriptedToolLLM
from cimedic.agent.loop import Budgets
from cimedic.interfaces.cli import chat as cli
from cimedic.interfaces.cli.common import RootGroup

app = typer.Typer(cls=RootGroup)
app.command("chat")(cli.chat)
app.command("noop")(lambda: None)


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "CIMEDIC_DATABASE_URL",
        "CIMEDIC_LLM_BASE_URL",
        "CIMEDIC_LLM_TOOL_CALLS",
        "CIMEDIC_LLM_CONTEXT_TOKENS",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))


def test_budgets_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from cimedic.bootstrap.wiring import budgets_from
    from cimedic.settings import load_settings

    default = budgets_from(load_settings())
    assert default.context_tokens == 4096 and default.tool_protocol == "auto"
    monkeypatch.setenv("CIMEDIC_LLM_CONTEXT_TOKENS", "8192")
    monkeypatch.setenv("CIMEDIC_LLM_TOOL_CALLS", "json")
    monkeypatch.setenv("CIMEDIC_AGENT_MAX_STEPS", "4")
    budgets = budgets_from(load_settings())
    assert (budgets.context_tokens, budgets.tool_protocol, budgets.max_steps) == (8192, "json", 4)


@pytest.mark.parametrize(("setting", "protocol"), [(None, "native"), ("native", "native"), ("json", "json")])
def test_cli_chat_uses_the_configured_protocol(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None, protocol: str
) -> None:
    if setting:
        monkeypatch.setenv("CIMEDIC_LLM_TOOL_CALLS", setting)
    # chat's first step must call a tool; either protocol's script entry fits its call
    llm = ScriptedToolLLM(
        [
            {
                "tool_calls": [{"name": "search_runs", "arguments": {}}],
                "action": "call",
                "tool": "search_runs",
                "arguments": {},
            },
            {"text": "Nothing failed.", "action": "answer"},
        ]
    )
    monkeypatch.setattr("cimedic.bootstrap.llm.llm_client", lambda cfg: llm)
    result = CliRunner().invoke(
        app, ["chat", "--new", "-m", "hi", "--format", "json", "--db", str(tmp_path / "c.db")]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["answer"] == "Nothing failed." and data["protocol"] == protocol
    assert [c.kind for c in llm.calls] == (["tools"] * 2 if protocol == "native" else ["json"] * 2)
    assert [s["protocol"] for s in data["steps"]] == [protocol]


def test_http_chat_takes_the_protocol_from_agent_budgets(tmp_path: Path) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from cimedic.bootstrap import build
    from cimedic.interfaces.api.chat import router
    from cimedic.settings import Settings

    db = str(tmp_path / "api.db")
    api = FastAPI()
    api.include_router(router)
    client = TestClient(api)
    try:
        llm = ScriptedToolLLM(
            [
                {"tool_calls": [{"name": "stats", "arguments": {}}]},
                {"text": "Hello."},
                {"action": "call", "tool": "stats", "arguments": {}},
                {"action": "answer", "text": "Hi."},
            ]
        )
        api.state.ctx = ctx = build(Settings(), db, llm=llm)
        store = ctx.store
        first = client.post("/api/v1/chat", json={"message": "hi"})  # default settings: auto
        assert first.status_code == 200 and first.json()["protocol"] == "native"
        api.state.ctx = build(Settings(llm_tool_calls="json"), db, llm=llm)
        assert api.state.ctx.budgets == Budgets(tool_protocol="json")
        second = client.post("/api/v1/chat", json={"message": "hi"})
        assert second.json()["answer"] == "Hi." and second.json()["protocol"] == "json"
        assert [c.kind for c in llm.calls] == ["tools", "tools", "json", "json"]
    finally:
        store.close()
