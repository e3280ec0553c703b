"""``cimedic explain``, ``cimedic usage`` and ``cimedic analyze --explain`` on the demo store,
with no LLM configured and with a scripted fake LLM."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cimedic.agent.llm.base import Health, LLMResult, Message
from cimedic.interfaces.cli import explain as explain_cli
from cimedic.interfaces.cli.analyze import analyze
from cimedic.interfaces.cli.common import RootGroup
from cimedic.store.engine import sqlite_url
from cimedic.store.repository import Store

app = typer.Typer(cls=RootGroup)
app.command("explain")(explain_cli.explain)
app.command("usage")(explain_cli.usage)
app.command("analyze")(analyze)

FIXTURE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "gha_terraform_quick_checks_run104_fail.log"
)


class GroundedFakeLLM:
    """Answers with the last line number shown in the prompt's untrusted block."""

    def __init__(self) -> None:
        self.calls = 0

    def health(self) -> Health:
        return Health(True, "fake://", "fake", "fake")

    def complete_json(
        self,
        messages: Sequence[Message],
        schema: dict[str, Any],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> LLMResult:
        self.calls += 1
        block = messages[1].content.split("<<<UNTRUSTED_LOG\n", 1)[1].split("\nUNTRUSTED_LOG>>>", 1)[0]
        last = int(block.splitlines()[-1].split("|", 1)[0])
        data = {"root_cause": "the step failed", "evidence_lines": [last], "fix": "fix it", "confidence": 0.6}
        return LLMResult(json.dumps(data), data, 200, 30, 0.2, "fake-model")

    def complete_text(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.2
    ) -> LLMResult:
        raise AssertionError


@pytest.fixture
def demo_now(live_demo_now):  # type: ignore[no-untyped-def]
    return live_demo_now  # the demo ends at the wall clock's now, as `cimedic demo` builds it


@pytest.fixture
def demo_db(demo_sqlite) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """URL of a SQLite copy of the demo store (tests/conftest.py: built once per session)."""
    yield sqlite_url(demo_sqlite.path)


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_CONFIG", "CIMEDIC_LLM_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


def _failed_jobs(db: str) -> list[int]:
    from cimedic.store.llm import failed_jobs_in_order

    store = Store(db)
    try:
        return failed_jobs_in_order(store)
    finally:
        store.close()


def test_explain_without_llm_prints_the_deterministic_explanation(demo_db: str) -> None:
    job = _failed_jobs(demo_db)[0]
    result = run("explain", str(job), "--db", demo_db, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["job_id"] == job and data["source"] == "deterministic"
    assert data["fallback_reason"] == "no LLM configured" and data["evidence_lines"]
    text = run("explain", str(job), "--db", demo_db)
    assert "Root cause:" in text.stdout and "deterministic" in text.stdout
    md = run("explain", str(job), "--db", demo_db, "--format", "markdown")
    assert md.stdout.startswith(f"### Job {job}")


def test_explain_with_llm_caches_and_usage_shows_it(demo_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = GroundedFakeLLM()
    monkeypatch.setattr("cimedic.bootstrap.llm.llm_client", lambda cfg: fake)
    job = _failed_jobs(demo_db)[1]
    first = json.loads(run("explain", str(job), "--db", demo_db, "--format", "json").stdout)
    second = json.loads(run("explain", str(job), "--db", demo_db, "--format", "json").stdout)
    assert (first["source"], second["source"], fake.calls) == ("llm", "cache", 1)
    fresh = json.loads(run("explain", str(job), "--db", demo_db, "--format", "json", "--no-cache").stdout)
    assert fresh["source"] == "llm" and fake.calls == 2
    usage = json.loads(run("usage", "--db", demo_db, "--format", "json", "--since", "1d").stdout)
    assert usage["calls"] >= 2 and usage["cached"] >= 1 and usage["prompt_tokens"] >= 400
    assert usage["rows"][0]["feature"] == "explain"
    table = run("usage", "--db", demo_db)
    assert table.exit_code == 0 and "explain" in table.stdout and "total" in table.stdout


def test_explain_run_target_and_errors(demo_db: str) -> None:
    from sqlalchemy import select

    from cimedic.store import schema as t

    job = _failed_jobs(demo_db)[0]
    store = Store(demo_db)
    with store.engine.connect() as conn:
        run_id, job_provider = conn.execute(
            select(t.workflow_runs.c.provider_id, t.jobs.c.provider_id)
            .join(t.jobs, t.jobs.c.run_id == t.workflow_runs.c.id)
            .where(t.jobs.c.id == job)
        ).one()
    store.close()
    out = run("explain", f"run:{run_id}", "--db", demo_db, "--format", "json")
    assert out.exit_code == 0
    data = json.loads(out.stdout)
    jobs = [d["job_id"] for d in data] if isinstance(data, list) else [data["job_id"]]
    assert job in jobs
    assert (
        json.loads(run("explain", f"job:{job_provider}", "--db", demo_db, "--format", "json").stdout)[
            "job_id"
        ]
        == job
    )
    missing = run("explain", "run:nope", "--db", demo_db)
    assert missing.exit_code == 2 and "cimedic: error: no stored job matches" in missing.stderr


def test_analyze_explain_without_llm_notes_the_fallback() -> None:
    plain = run("analyze", str(FIXTURE), "--format", "json")
    assert "diagnosis" not in json.loads(plain.stdout)  # the contract without --explain is unchanged
    out = run("analyze", str(FIXTURE), "--format", "json", "--explain")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["diagnosis"]["signature"] == json.loads(plain.stdout)["signature"]
    assert data["explanation"]["source"] == "deterministic"
    assert "cimedic: note: deterministic explanation (no LLM configured)" in out.stderr
    text = run("analyze", str(FIXTURE), "--explain")
    assert "Root cause:" in text.stdout


def test_analyze_explain_with_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = GroundedFakeLLM()
    monkeypatch.setattr("cimedic.bootstrap.llm.llm_client", lambda cfg: fake)
    data = json.loads(run("analyze", str(FIXTURE), "--format", "json", "--explain").stdout)
    assert data["explanation"]["source"] == "llm" and fake.calls == 1
