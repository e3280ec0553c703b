"""No secret of a job log leaves cimedic (issue step 2, section 4): a log holding secrets of
several vendor formats (GitHub, GitLab, OpenAI, Telegram, Docker Hub, ``docker login -p``,
``mysql -pSECRET``, a URL password) goes through the real path -- stored log, diagnosis
(``diagnose_job``), failure cluster, explanation (deterministic and with an OpenAI-compatible
model on loopback that echoes its whole prompt back), ``GET /api/v1/jobs/{id}/explanation`` over
loopback HTTP, a notification pass, the daily report (Markdown and HTML), the chat tools and a
chat turn whose model repeats the tool result --
and no piece of a secret (8 characters, as written or with its digits masked to ``N``) appears
in any output, in any row of any table but the raw log's (``job_logs``), nor in the captured
logs. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from sqlalchemy import MetaData, select

from cimedic.model.ci import Conclusion, Job, Repository, RunAttempt, Status, WorkflowRun
from cimedic.store import schema as t
from cimedic.store.repository import Store
from served import ServedApp

pytestmark = pytest.mark.timeout(240)  # uvicorn and an OpenAI-compatible stub on loopback

GHP = "ghp_" + "Q7wE9rT2yU4iO6pA8sD1fG3hJ5kL0zX2cV4b"
GLPAT = "glpat-" + "DkrWLuqIA1idN4VwND7x"
OPENAI = (
    "sk-proj-" + "Hq3Zt8Wm1Kx6Vb9Nc2Lr5Pd7Fj0Gs4Ty" * 2 + "T3BlbkFJ" + "Mv2Qk7Xw9Rz4Bn6Ct1Hy3Ju8Lp5Df0Gs" * 2
)
TELEGRAM = "5829301746:AAHfkLq1ZpX9vW3mB7nR2tY6uI8oP0aS4dD"
DOCKER_PAT = "dckr_pat_" + "Zq8Xw2Ev5Rb9Tn3Ym7Uk1Io4Pa6Sd"
DOCKER_PW = "Xk9vL2mQ8rT4wZ7y"
MYSQL_PW = "S3cr3tPw9xQ4zB7n"
URL_PW = "Hunter2Secret77x"
SECRETS = (GHP, GLPAT, OPENAI, TELEGRAM, DOCKER_PAT, DOCKER_PW, MYSQL_PW, URL_PW)
LOG = f"""2024-05-01T10:00:00.0000000Z ##[group]Run docker login -u ci -p {DOCKER_PW} ghcr.io
2024-05-01T10:00:00.1000000Z docker login -u ci -p {DOCKER_PW} ghcr.io
2024-05-01T10:00:00.2000000Z shell: /usr/bin/bash -e {{0}}
2024-05-01T10:00:00.3000000Z ##[endgroup]
2024-05-01T10:00:01.0000000Z + mysql -h db -u root -p{MYSQL_PW} -e 'CREATE DATABASE app'
2024-05-01T10:00:01.5000000Z echo {DOCKER_PAT} | docker login -u ci --password-stdin
2024-05-01T10:00:02.0000000Z git push https://deploy:{URL_PW}@git.example.com/acme/app.git
2024-05-01T10:00:02.5000000Z using GITLAB token {GLPAT} and OPENAI_API_KEY {OPENAI}
2024-05-01T10:00:03.0000000Z Error: curl https://api.telegram.org/bot{TELEGRAM}/sendMessage failed with token {GHP}
2024-05-01T10:00:03.1000000Z fatal: authentication failed for {GLPAT} with {OPENAI}
2024-05-01T10:00:03.2000000Z ##[error]Process completed with exit code 1.
"""
MARKER = re.compile(r"\[REDACTED:[a-z0-9_]+\]")


def leaks(text: str) -> list[str]:
    """The 8-character pieces of any secret (as written or with digits masked to N) in ``text``."""
    rest = MARKER.sub(" ", text)
    found: set[str] = set()
    for secret in SECRETS:
        for form in {secret, re.sub(r"\d", "N", secret)}:
            found.update(form[i : i + 8] for i in range(len(form) - 7) if form[i : i + 8] in rest)
    return sorted(found)


class _EchoingLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible ``/v1/chat/completions`` that keeps every prompt and answers with the
    whole log block as its root cause (a model that repeats what it was given), citing the last
    line so the answer is accepted."""

    prompts: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = "\n".join(m["content"] for m in body["messages"])
        type(self).prompts.append(prompt)
        block = prompt.split("<<<UNTRUSTED_LOG\n", 1)[1].split("\nUNTRUSTED_LOG>>>", 1)[0]
        last = int(block.splitlines()[-1].split("|", 1)[0])
        answer = {
            "root_cause": block,
            "evidence_lines": [last],
            "fix": f"rotate {block[:300]}",
            "confidence": 0.5,
        }
        payload = json.dumps(
            {
                "id": "cmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": "echo-model",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": json.dumps(answer)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def llm_url() -> Iterator[str]:
    _EchoingLLM.prompts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _failed_job(store: Store, now: datetime) -> int:
    repo_id = store.upsert_repository(Repository(owner="acme", name="app", default_branch="main"))
    created = now - timedelta(hours=1)
    run = WorkflowRun(
        provider_id="501", repository="acme/app", workflow_name="Release", branch="main", head_sha="c" * 40,
        status=Status.COMPLETED, conclusion=Conclusion.FAILURE, created_at=created,
        updated_at=created + timedelta(minutes=5),
    )  # fmt: skip
    attempt = RunAttempt(
        run_provider_id="501", attempt=1, status=Status.COMPLETED, conclusion=Conclusion.FAILURE
    )
    job = Job(provider_id="5010", run_provider_id="501", name="publish", workflow_name="Release",
              status=Status.COMPLETED, conclusion=Conclusion.FAILURE, created_at=created)  # fmt: skip
    store.ingest_run(repo_id, run, [attempt], [job])
    with store.engine.connect() as conn:
        job_id = int(conn.execute(select(t.jobs.c.id).where(t.jobs.c.provider_id == "5010")).scalar_one())
    data = LOG.encode()
    store.save_log(job_id, data, original_size=len(data), truncated=False)
    return job_id


def _table_leaks(store: Store) -> dict[str, list[str]]:
    """Secret pieces in the rows of every table but ``job_logs`` (the raw log, kept as fetched)."""
    found: dict[str, list[str]] = {}
    tables = MetaData()
    tables.reflect(bind=store.engine)  # every table of the database, whoever declared it
    assert "diagnoses" in tables.tables and "failure_clusters" in tables.tables
    with store.engine.connect() as conn:
        for table in tables.sorted_tables:
            if table.name == "job_logs":
                continue
            text = "\n".join(repr(tuple(row)) for row in conn.execute(select(table)))
            if hit := leaks(text):
                found[table.name] = hit
    return found


def test_no_secret_leaves_through_any_path(
    store: Store, llm_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from cimedic.actions.notify import RecordingNotifier
    from cimedic.agent.chat import chat_turn
    from cimedic.agent.explain import explain_job
    from cimedic.agent.fake_llm import ScriptedLLM
    from cimedic.agent.llm.openai_compat import OpenAICompatClient
    from cimedic.agent.tools import cluster_history, get_diagnosis, search_failures
    from cimedic.bootstrap import build
    from cimedic.interfaces.api.app import create_app
    from cimedic.services.analyze_jobs import diagnose_job
    from cimedic.services.diagnose import diagnose_bytes, make_diagnoser
    from cimedic.services.failures import list_clusters
    from cimedic.services.notify import notify_pending
    from cimedic.services.reports import build_report, render_html, render_markdown
    from cimedic.settings import Settings

    caplog.set_level(logging.DEBUG)
    now = datetime.now(UTC).replace(microsecond=0)
    job_id = _failed_job(store, now)
    diagnoser = make_diagnoser()[0]
    raw = diagnose_bytes(LOG.encode(), "acme/app/jobs/5010", diagnoser)
    assert set(leaks(raw.model_dump_json())) >= {GHP[:8], GLPAT[:8]}, "the engine sees the secrets"

    # 1. the stored diagnosis: redacted, with the engine's signature (from the unredacted text)
    assert diagnose_job(store, diagnoser, job_id, "acme/app/jobs/5010")
    stored = store.get_diagnosis(job_id)
    assert stored is not None and stored.signature == raw.signature and stored.category == raw.category
    assert "[REDACTED:" in stored.summary and leaks(stored.model_dump_json()) == []
    assert (
        stored.failed_step is not None
        and "docker login -u ci -p [REDACTED:password]" in stored.failed_step.name
    )

    outputs: dict[str, str] = {"diagnosis": stored.model_dump_json()}
    # 2. clusters, chat tools
    clusters = list_clusters(store, since=timedelta(days=1)).clusters
    assert len(clusters) == 1
    outputs["clusters"] = "\n".join(c.model_dump_json() for c in clusters)
    outputs["tool get_diagnosis"] = get_diagnosis(store, job_id).text
    outputs["tool search_failures"] = search_failures(store, since="all").text
    outputs["tool cluster_history"] = cluster_history(store, clusters[0].id).text
    assert "summary: " in outputs["tool get_diagnosis"] and "cluster " in outputs["tool search_failures"]

    # 3. explanations: deterministic, then a model that echoes its prompt (cached, then served)
    outputs["explain deterministic"] = explain_job(store, job_id, None, record_usage=False).model_dump_json()
    client = OpenAICompatClient(llm_url, "echo-model", timeout=30)
    echoed = explain_job(store, job_id, client, model="echo-model")
    assert echoed.source == "llm" and "[REDACTED:" in echoed.root_cause
    assert echoed.redactions == 0  # nothing left to redact: the stored diagnosis already is
    outputs["explain llm"] = echoed.model_dump_json()
    outputs["prompts"] = "\n".join(_EchoingLLM.prompts)
    assert len(_EchoingLLM.prompts) == 1 and "UNTRUSTED_LOG" in outputs["prompts"]

    # 4. the API over loopback HTTP: without a model, and with the model (served from the cache)
    with ServedApp(create_app(build(Settings(), store=store, llm=None))) as url:
        r = httpx.get(f"{url}/api/v1/jobs/{job_id}/explanation", timeout=30)
        assert r.status_code == 200 and r.json()["deterministic"] is True
        outputs["api deterministic"] = r.text
    with ServedApp(create_app(build(Settings(llm_model="echo-model"), store=store, llm=client))) as url:
        r = httpx.get(f"{url}/api/v1/jobs/{job_id}/explanation", timeout=30)
        assert r.status_code == 200 and r.json()["source"] == "cache"
        outputs["api cached llm"] = r.text

    # 5. a notification pass (recorded in the store) and the daily report
    sender = RecordingNotifier()
    outcome = notify_pending(store, [sender], now=now)
    assert outcome.sent >= 1 and sender.sent
    outputs["notifications"] = "\n".join(f"{n.title}\n{n.body}" for n in sender.sent)
    assert "New CI failure" in outputs["notifications"]
    report = build_report(store, "daily", now=now)
    outputs["report md"] = render_markdown(report)
    outputs["report html"] = render_html(report)
    assert "[REDACTED:" in outputs["report md"] or clusters[0].title in outputs["report md"]

    # 6. a chat turn with the real tools: the model reads the diagnosis and repeats it
    def echo(messages: Any, _schema: Any) -> dict[str, Any]:
        return {"action": "answer", "text": "\n".join(m.content for m in messages[-2:]), "citations": []}

    chat_llm = ScriptedLLM(
        [{"action": "call", "tool": "get_diagnosis", "arguments": {"job_id": job_id}}, echo]
    )
    answer = chat_turn(store, chat_llm, None, "Why did the publish job fail?", now=now)
    assert answer.steps and "summary: " in answer.answer
    outputs["chat answer"] = answer.answer
    outputs["chat prompts"] = "\n".join(m.content for c in chat_llm.calls for m in c.messages)

    for name, text in outputs.items():
        assert leaks(text) == [], (name, leaks(text))
    assert _table_leaks(store) == {}
    assert leaks(caplog.text) == []
    assert len(store.get_log(job_id).content) == len(LOG.encode())  # type: ignore[union-attr]


def test_analyze_no_redact_does_not_reach_the_store(tmp_path: Path) -> None:
    """``cimedic analyze --no-redact`` prints the log's secrets (for a user reading their own
    log); it writes nothing, and the stored path (``diagnose_job``) has no such switch: the same
    log stored and diagnosed right after is redacted."""
    from cimedic.services.analyze_jobs import diagnose_job
    from cimedic.services.diagnose import make_diagnoser
    from cimedic.store.engine import sqlite_url

    log = tmp_path / "job.log"
    log.write_text(LOG, encoding="utf-8")
    db = tmp_path / "store.db"
    cli = [sys.executable, "-c", "from cimedic.interfaces.cli.app import main; main()"]
    env_free = {"CIMEDIC_CONFIG": "/dev/null", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    shown = subprocess.run(
        [*cli, "analyze", str(log), "--no-redact", "--format", "json"],
        capture_output=True, text=True, timeout=120, env=env_free,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert GHP in shown.stdout  # the user asked for their own log as it is
    assert not db.exists()
    store = Store(sqlite_url(db))
    try:
        job_id = _failed_job(store, datetime.now(UTC).replace(microsecond=0))
        assert diagnose_job(store, make_diagnoser()[0], job_id, "acme/app/jobs/5010")
        assert _table_leaks(store) == {}
    finally:
        store.close()
