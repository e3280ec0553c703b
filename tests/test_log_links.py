"""Links from cited log lines to GitHub's job log page (``…/job/JOB#step:N:L``) and the lines
a deterministic explanation may cite (issue 12, step 3, section 3).

Step matching and ``L`` are checked on hand-made sections and on the real terraform logs of the
demo store (``src/cimedic/testing/demo_data``), whose API steps the demo records as GitHub
lists them; ``L`` is checked against the raw stored log, counted at ``\\n``."""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from cimedic.agent.explain import ExplainContext, deterministic_explanation, explain_diagnosis
from cimedic.agent.llm.base import Health, LLMResult, Message
from cimedic.interfaces.cli import explain as explain_cli
from cimedic.interfaces.cli.common import RootGroup
from cimedic.model.diagnosis import Diagnosis, Section
from cimedic.model.escape import web_base_of
from cimedic.model.evidence_lines import evidence_lines, is_bookkeeping
from cimedic.model.links import ApiStep, job_link, lf_line_numbers, log_line_link, step_numbers
from cimedic.services.diagnose import analyze_path
from cimedic.services.explanations import log_line_links
from cimedic.store import schema as t
from cimedic.store.engine import sqlite_url
from cimedic.store.repository import Store

T0 = datetime(2026, 11, 13, 3, 28, 31, tzinfo=UTC)
WEB = "https://github.com"
REPO = "octo/hello"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def step(
    number: int, name: str, start: float | None, end: float | None, conclusion: str = "success"
) -> ApiStep:
    return ApiStep(
        number,
        name,
        None if start is None else at(start).replace(microsecond=0),
        None if end is None else at(end).replace(microsecond=0),
        conclusion,
    )


def section(name: str, start: int, end: int, ts: float | None = None) -> Section:
    return Section(name=name, start_line=start, end_line=end, started_at=None if ts is None else at(ts))


# The steps of the demo's "Code Consistency Checks" job as GitHub lists them (second precision)
# and the sections the analyzer finds in its log (quick-checks.run107.fail).
STEPS = (
    step(1, "Set up job", 0, 2),
    step(2, "Run actions/checkout@v2", 2, 4),
    step(3, "Run ./.github/actions/go-version", 4, 4),
    step(4, "Run actions/setup-go@v2", 4, 5),
    step(5, "Run actions/cache@v3", 5, 18),
    step(6, "Run go mod tidy", 18, 26, "failure"),
    step(7, "Run actions/cache@v3", 26, 26, "skipped"),
    step(8, "Run make fmtcheck", 26, 26, "skipped"),
    step(9, "Post Run actions/cache@v3", 26, 26, "skipped"),
    step(10, "Post Run actions/checkout@v2", 26, 26),
    step(11, "Complete job", 26, 26),
)
SECTIONS = (
    section("Set up job", 1, 31, 0.0),
    section("actions/checkout@v2", 32, 515, 2.9),
    section("./.github/actions/go-version", 516, 517, 4.89),
    section('echo "Building with Go $(cat .go-version)"', 518, 523, 4.93),
    section("actions/setup-go@v2", 524, 578, 4.98),
    section("actions/cache@v3", 579, 597, 5.5),
    section("go mod tidy", 598, 686, 18.47),
    section("Post job cleanup", 687, 696, 26.27),
)


def test_steps_match_by_name_in_order() -> None:
    numbers = step_numbers(SECTIONS, STEPS)
    # "go mod tidy" is GitHub's "Run go mod tidy"; the first cache section is step 5, not the
    # skipped step 7 of the same name; "Post job cleanup" is the first post step that ran
    assert numbers == [1, 2, 3, 3, 4, 5, 6, 10]
    # logs of `gh run view --log` name sections after the steps themselves
    assert step_numbers([section("Run go mod tidy", 1, 9)], STEPS) == [6]
    # the analyzer cuts a section name at 200 characters
    long = "echo " + "x" * 300
    assert step_numbers([section(long[:200], 1, 9)], [step(1, f"Run {long}", None, None)]) == [1]


def test_steps_match_by_time_when_no_name_does() -> None:
    # a named step ("Build") prints "##[group]Run make build": no name matches, its time does
    steps = (step(1, "Set up job", 0, 2), step(2, "Build", 2, 40, "failure"), step(3, "Complete job", 40, 41))
    sections = (section("Set up job", 1, 10, 0.0), section("make build", 11, 90, 2.4))
    assert step_numbers(sections, steps) == [1, 2]
    url = log_line_link(WEB, REPO, 77, 88, steps, sections, 50)
    assert url == f"{WEB}/{REPO}/actions/runs/77/job/88#step:2:40"
    # the inner "Run" sections of a composite action (step 3) share its number, and their lines
    # count on from the composite's header
    assert step_numbers(SECTIONS, STEPS)[3] == 3
    assert (
        log_line_link(WEB, REPO, 77, 88, STEPS, SECTIONS, 520)
        == f"{WEB}/{REPO}/actions/runs/77/job/88#step:3:5"
    )
    # a skipped step never matches by time
    assert step_numbers([section("x", 1, 2, 26.5)], [step(9, "Post x", 26, 26, "skipped")]) == [None]


def test_no_match_links_the_job_page() -> None:
    page = f"{WEB}/{REPO}/actions/runs/77/job/88"
    assert job_link(WEB, REPO, 77, 88) == page
    # no name matches and the section has no timestamp
    assert log_line_link(WEB, REPO, 77, 88, STEPS, [section("make build", 1, 9)], 5) == page
    # a timestamp outside every step
    assert log_line_link(WEB, REPO, 77, 88, STEPS, [section("make build", 1, 9, 500.0)], 5) == page
    # a line outside every section, and a job without steps
    assert log_line_link(WEB, REPO, 77, 88, STEPS, SECTIONS, 900) == page
    assert log_line_link(WEB, REPO, 77, 88, (), SECTIONS, 600) == page


def test_line_is_counted_inside_the_section_at_lf_only() -> None:
    assert (
        log_line_link(WEB, REPO, 77, 88, STEPS, SECTIONS, 598)
        == f"{WEB}/{REPO}/actions/runs/77/job/88#step:6:1"
    )
    assert log_line_link(WEB, REPO, 77, 88, STEPS, SECTIONS, 685).endswith("#step:6:88")  # type: ignore[union-attr]
    # a lone "\r" (a progress bar) starts a line for the analyzer but not for GitHub
    content = b"a\r\nb\rc\r\nd\ne"
    assert lf_line_numbers(content, [1, 2, 3, 4, 5, 9]) == {1: 1, 2: 2, 3: 2, 4: 3, 5: 4, 9: 8}
    assert lf_line_numbers(b"a\r\nb\r\n", [1, 2]) == {1: 1, 2: 2}
    sections = (section("Set up job", 1, 1), section("make", 2, 5))
    steps = (step(1, "Set up job", None, None), step(2, "Run make", None, None))
    lf = lf_line_numbers(content, [2, 5])
    assert log_line_link(WEB, REPO, 1, 2, steps, sections, 5, lf=lambda n: lf[n]).endswith("#step:2:3")  # type: ignore[union-attr]


def test_github_enterprise_base() -> None:
    assert web_base_of("https://api.github.com") == WEB
    assert web_base_of(None) == WEB
    assert web_base_of("https://ghe.example.com/api/v3") == "https://ghe.example.com"
    assert web_base_of("http://ghe.local:8080/api/v3/") == "http://ghe.local:8080"
    with pytest.raises(ValueError):
        web_base_of("ftp://ghe.example.com/api/v3")
    base = web_base_of("https://ghe.example.com/api/v3")
    url = log_line_link(base, REPO, 77, 88, STEPS, SECTIONS, 685)
    assert url == f"https://ghe.example.com/{REPO}/actions/runs/77/job/88#step:6:88"
    assert job_link("javascript:alert(1)//", REPO, 77, 88) is None
    assert job_link(WEB, "o/r", "1/../2", 3) == f"{WEB}/o/r/actions/runs/1%2F..%2F2/job/3"


# ---------------------------------------------------------------- bookkeeping lines are no evidence


def test_bookkeeping_lines() -> None:
    for text in (
        "go: downloading github.com/vmihailenco/msgpack v4.0.4+incompatible",
        '  echo >&2 "ERROR: go.mod/go.sum are not up-to-date."',
        "+ echo 'error: build failed'",
        "++ printf '%s\\n' FAILED",
        "Write-Host 'Error: x'",
        "##[group]Run go mod tidy",
        "##[endgroup]",
    ):
        assert is_bookkeeping(text), text
    for text in (
        "ERROR: go.mod/go.sum are not up-to-date. Run 'go mod tidy' and then commit the updated files.",
        "##[error]Process completed with exit code 1.",
        "main.go:3:2: undefined: echo",
        "echoserver_test.go:12: expected 200, got 500",
        "go: github.com/x/y@v1.2.3: reading https://proxy.golang.org/...: 404 Not Found",
    ):
        assert not is_bookkeeping(text), text


def _demo_log(tmp_path: Path, source: str) -> Path:
    data = resources.files("cimedic.testing") / "demo_data" / "logs" / f"{source}.log.gz"
    path = tmp_path / f"{source}.log"
    path.write_bytes(gzip.decompress(data.read_bytes()))
    return path


def test_deterministic_explanation_cites_no_download_nor_echo_on_the_real_log(tmp_path: Path) -> None:
    # the terraform "go mod tidy" failure: its ranked error lines hold the script's own echo
    # (under the step header) and "go: downloading …+incompatible" lines
    d = analyze_path(str(_demo_log(tmp_path, "quick-checks.run107.fail"))).diagnosis
    texts = {e.line: e.text for e in d.error_lines}
    assert any(x.startswith("go: downloading") for x in texts.values())
    assert any(x.lstrip().startswith("echo") for x in texts.values())
    e = deterministic_explanation(d, "no LLM configured")
    assert e.evidence_lines and all(not is_bookkeeping(texts[n]) for n in e.evidence_lines)
    assert texts[e.evidence_lines[0]].startswith("ERROR: go.mod/go.sum are not up-to-date")


def test_deterministic_explanation_on_a_log_with_bookkeeping_around_the_error(tmp_path: Path) -> None:
    ts = "2026-11-13T03:28:49.4682610Z "
    lines = [
        "Current runner version: '2.311.0'",
        "##[group]Run make test",
        "make test",
        'echo "error: tests failed, see above" >&2',
        "shell: /usr/bin/bash -e {0}",
        "##[endgroup]",
        "go: downloading github.com/golang-jwt/jwt v3.2.1+incompatible",
        "go: downloading github.com/google/martian v2.1.0+incompatible",
        "--- FAIL: TestParse (0.00s)",
        "    parse_test.go:14: expected 3, got 4",
        "+ echo 'error: tests failed, see above'",
        "go: downloading github.com/vmihailenco/msgpack v4.0.4+incompatible error",
        "##[error]Process completed with exit code 1.",
    ]
    log = tmp_path / "job.log"
    log.write_text("".join(f"{ts}{x}\r\n" for x in lines), encoding="utf-8")
    d = analyze_path(str(log)).diagnosis
    top = [e.line for e in d.error_lines[:4]]
    assert any(is_bookkeeping(lines[n - 1]) for n in top)  # ranked near the error: the trap is set
    e = deterministic_explanation(d, "no LLM configured")
    assert e.evidence_lines == (9, 10)  # the test failure and its assertion, nothing else


class CitingLLM:
    """Cites ``lines`` whatever it is shown."""

    def __init__(self, lines: Sequence[int]) -> None:
        self.lines = list(lines)

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
        data = {
            "root_cause": "go.mod is not tidy",
            "evidence_lines": self.lines,
            "fix": "tidy",
            "confidence": 0.7,
        }
        return LLMResult(json.dumps(data), data, 100, 20, 0.1, "fake-model")

    def complete_text(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.2
    ) -> LLMResult:
        raise AssertionError


def test_llm_evidence_drops_bookkeeping_when_a_real_line_is_cited(tmp_path: Path) -> None:
    d: Diagnosis = analyze_path(str(_demo_log(tmp_path, "quick-checks.run107.fail"))).diagnosis
    shown = [(e.line, e.text) for e in d.error_lines]  # the lines the model is given
    download = next(n for n, x in shown if x.startswith("go: downloading"))
    error = next(n for n, x in shown if x.startswith("ERROR: go.mod"))
    got = explain_diagnosis(d, shown, ExplainContext(), CitingLLM([download, error]))
    assert (got.source, got.evidence_lines) == ("llm", (error,))
    only = explain_diagnosis(d, shown, ExplainContext(), CitingLLM([download]))
    assert only.evidence_lines == (download,)  # nothing else cited: the answer is kept as given


# ---------------------------------------------------------------- the demo store


def _tidy_job(store: Store, job_id: int | None = None) -> tuple[int, int, int]:
    """(store job id, API number of "Run go mod tidy", expected L of the "ERROR: go.mod" line
    counted at "\\n" in the stored raw log from the step's "##[group]Run go mod tidy" line) of
    ``job_id``, default the first job that failed in "go mod tidy"."""
    with store.engine.connect() as conn:
        job_id = (
            job_id
            or conn.execute(
                select(t.diagnoses.c.job_id)
                .where(t.diagnoses.c.step_name == "go mod tidy")
                .order_by(t.diagnoses.c.job_id)
            )
            .scalars()
            .first()
        )
        assert job_id is not None
        number = conn.execute(
            select(t.steps.c.number).where(t.steps.c.job_id == job_id, t.steps.c.name == "Run go mod tidy")
        ).scalar_one()
    log = store.get_log(job_id)
    assert log is not None
    raw = log.content.split(b"\n")
    head = next(i for i, x in enumerate(raw) if x.rstrip(b"\r").endswith(b"##[group]Run go mod tidy"))
    error = next(i for i, x in enumerate(raw) if b" ERROR: go.mod/go.sum are not up-to-date" in x)
    return job_id, number, error - head + 1


@pytest.mark.timeout(120)
def test_service_links_cited_lines_of_a_stored_github_job(demo_store: Store) -> None:
    job_id, number, position = _tidy_job(demo_store)
    d = demo_store.get_diagnosis(job_id)
    assert d is not None
    primary = evidence_lines(d, 1)[0]
    links = log_line_links(demo_store, job_id, [primary, 10**6], "https://ghe.example.com")
    assert links[primary].startswith("https://ghe.example.com/hashicorp-demo/terraform/actions/runs/")
    assert links[primary].endswith(f"#step:{number}:{position}")
    assert "#" not in links[10**6]  # past every section: the job page
    assert log_line_links(demo_store, 10**9, [primary]) == {}  # unknown job
    with demo_store.engine.begin() as conn:  # a job of another provider gets no GitHub link
        repo_id = conn.execute(select(t.jobs.c.repo_id).where(t.jobs.c.id == job_id)).scalar_one()
        conn.execute(t.repositories.update().where(t.repositories.c.id == repo_id).values(provider="gitlab"))
    assert log_line_links(demo_store, job_id, [primary]) == {}


app = typer.Typer(cls=RootGroup)
app.command("explain")(explain_cli.explain)
app.command("usage")(explain_cli.usage)  # two commands: typer keeps "explain" a subcommand


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_LLM_BASE_URL", "CIMEDIC_GITHUB_API_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))


def test_cli_explain_links_each_cited_line(
    demo_sqlite: Any, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = sqlite_url(demo_sqlite.path)
    store = Store(db)
    try:
        job_id, number, position = _tidy_job(store)
    finally:
        store.close()
    anchor = "/job/"
    run = CliRunner()
    first_out = run.invoke(app, ["explain", str(job_id), "--db", db, "-f", "json"])
    assert first_out.exit_code == 0, first_out.output
    data = json.loads(first_out.stdout)
    assert data["source"] == "deterministic"
    [first, *_] = data["evidence_links"]
    assert first["line"] == data["evidence_lines"][0]
    assert first["url"].startswith("https://github.com/hashicorp-demo/terraform/actions/runs/")
    assert anchor in first["url"] and first["url"].endswith(f"#step:{number}:{position}")
    text = run.invoke(app, ["explain", str(job_id), "--db", db]).stdout
    assert f"line {first['line']}: {first['url']}" in text
    md = run.invoke(app, ["explain", str(job_id), "--db", db, "-f", "markdown"]).stdout
    assert f"[L{first['line']}]({first['url']})" in md
    monkeypatch.setenv("CIMEDIC_GITHUB_API_URL", "https://ghe.example.com/api/v3")
    out = run.invoke(app, ["explain", str(job_id), "--db", db, "-f", "json"])
    assert out.exit_code == 0, out.output
    ghe = json.loads(out.stdout)
    assert ghe["evidence_links"][0]["url"] == first["url"].replace(
        "https://github.com", "https://ghe.example.com"
    )


@pytest.mark.timeout(120)
def test_failure_notification_links_the_primary_line(demo_sqlite: Any) -> None:
    from cimedic.actions.notify import RecordingNotifier
    from cimedic.model.notify import EventKind
    from cimedic.services.notify import notify_pending
    from cimedic.store import notify as db

    store = Store(sqlite_url(demo_sqlite.path))
    try:
        db.record_pass(store, demo_sqlite.now - timedelta(days=30), digest_sent=False)
        sender = RecordingNotifier()
        notify_pending(store, [sender], demo_sqlite.now)
        bodies = [n.body for n in sender.sent if n.kind is EventKind.NEW_CLUSTER and "go.mod" in n.title]
        assert bodies, [n.title for n in sender.sent]
        m = re.search(
            r"\(\[open the line in the log\]\((https://github\.com/[^)#]+/job/(\d+))#step:(\d+):(\d+)\)\)",
            bodies[0],
        )
        assert m is not None, bodies[0]
        with store.engine.connect() as conn:
            job_id = conn.execute(select(t.jobs.c.id).where(t.jobs.c.provider_id == m[2])).scalar_one()
        _, number, position = _tidy_job(store, job_id)
    finally:
        store.close()
    assert (int(m[3]), int(m[4])) == (number, position)
    assert m[1].startswith("https://github.com/hashicorp-demo/terraform/actions/runs/")
