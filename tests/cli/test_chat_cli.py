"""``cimedic chat`` and ``POST /api/v1/chat`` with a scripted model on the demo store: a tool-using
turn, continuation of the latest conversation, JSON output, and the no-LLM error."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cimedic.agent.fake_llm import ScriptedLLM
from cimedic.interfaces.cli import chat as cli
from cimedic.interfaces.cli.common import RootGroup

app = typer.Typer(cls=RootGroup)
app.command("chat")(cli.chat)
app.command("noop")(lambda: None)

DEMO = "hashicorp-demo/terraform"


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_LLM_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def demo_now(live_demo_now):  # type: ignore[no-untyped-def]
    return live_demo_now  # the demo ends at the wall clock's now, as `cimedic demo` builds it


@pytest.fixture
def demo_db(demo_sqlite) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """A SQLite copy of the demo store (tests/conftest.py: built once per session)."""
    yield demo_sqlite.path


def scripted(monkeypatch: pytest.MonkeyPatch, script: list[Any]) -> ScriptedLLM:
    llm = ScriptedLLM(script)
    monkeypatch.setattr("cimedic.bootstrap.llm.llm_client", lambda cfg: llm)
    return llm


def test_without_an_llm_chat_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["chat", "-m", "hi", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert "cimedic: error: chat needs an LLM" in result.output


def test_one_turn_uses_a_tool_on_the_demo_store(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    llm = scripted(
        monkeypatch,
        [
            {
                "action": "call",
                "tool": "search_runs",
                "arguments": {"repository": DEMO, "conclusion": "failure", "since": "all"},
            },
            lambda messages, schema: {
                "action": "answer",
                "text": "Failed runs found.",
                "citations": [messages[-1].content.split("\n")[2].split(":")[0]],
            },
        ],
    )
    result = CliRunner().invoke(
        app, ["chat", "-m", "which runs failed?", "--show-steps", "--db", str(demo_db)]
    )
    assert result.exit_code == 0, result.output
    assert "step 1: search_runs" in result.output and "[ok]" in result.output
    assert "Failed runs found." in result.output and "Sources: run " in result.output
    assert "not found in tool results" not in result.output
    tool_result = llm.json_calls[1].messages[-1].content
    assert "run(s) match" in tool_result and "failure" in tool_result


def test_json_output_and_continuing_the_latest_conversation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "chat.db")
    scripted(monkeypatch, [{"action": "answer", "text": "First.", "citations": []}])
    first = CliRunner().invoke(app, ["chat", "-m", "what failed today?", "--format", "json", "--db", db])
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["answer"] == "First." and data["steps"] == [] and data["calls"] == 1
    llm = scripted(monkeypatch, [{"action": "answer", "text": "Second.", "citations": []}])
    second = CliRunner().invoke(app, ["chat", "-m", "and yesterday?", "--format", "json", "--db", db])
    assert json.loads(second.stdout)["conversation_id"] == data["conversation_id"]
    assert "what failed today?" in [m.content for m in llm.json_calls[0].messages]
    llm = scripted(monkeypatch, [{"action": "answer", "text": "Fresh.", "citations": []}])
    third = CliRunner().invoke(app, ["chat", "--new", "-m", "hello", "--format", "json", "--db", db])
    assert json.loads(third.stdout)["conversation_id"] != data["conversation_id"]
    assert len(llm.json_calls[0].messages) == 2


def test_repl_reads_questions_until_exit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scripted(monkeypatch, [{"action": "answer", "text": f"A{i}.", "citations": []} for i in range(2)])
    result = CliRunner().invoke(app, ["chat", "--db", str(tmp_path / "c.db")], input="q1\n\nq2\n/exit\nq3\n")
    assert result.exit_code == 0, result.output
    assert "A0." in result.output and "A1." in result.output


def test_unknown_conversation_and_conflicting_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted(monkeypatch, [])
    db = str(tmp_path / "c.db")
    unknown = CliRunner().invoke(app, ["chat", "-c", "feed", "-m", "x", "--db", db])
    assert unknown.exit_code == 2 and "no conversation 'feed'" in unknown.output
    both = CliRunner().invoke(app, ["chat", "-c", "feed", "--new", "-m", "x", "--db", db])
    assert both.exit_code == 2


def test_http_chat_endpoint(tmp_path: Path) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from cimedic.bootstrap import build
    from cimedic.interfaces.api.chat import router
    from cimedic.settings import Settings

    db = str(tmp_path / "api.db")
    api = FastAPI()
    api.include_router(router)
    api.state.ctx = build(Settings(), db, llm=None)
    store = api.state.ctx.store
    client = TestClient(api)
    try:
        assert client.post("/api/v1/chat", json={"message": "hi"}).status_code == 503
        llm = ScriptedLLM(
            [
                {"action": "answer", "text": "Hello.", "citations": []},
                {"action": "answer", "text": "Again.", "citations": []},
            ]
        )
        api.state.ctx = build(Settings(), db, llm=llm)
        first = client.post("/api/v1/chat", json={"message": "hi"})
        assert first.status_code == 200 and first.json()["answer"] == "Hello."
        cid = first.json()["conversation_id"]
        second = client.post("/api/v1/chat", json={"conversation_id": cid, "message": "and?"})
        assert second.json()["conversation_id"] == cid and second.json()["history_turns"] == 2
        assert (
            client.post("/api/v1/chat", json={"conversation_id": "nope", "message": "x"}).status_code == 404
        )
    finally:
        store.close()
