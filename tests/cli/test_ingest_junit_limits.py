"""``cimedic ingest junit`` limits: the 200 MiB cap (checked with ``stat``, nothing read), the
raw copy kept by reference, one transaction per report (a broken file stores nothing and keeps
the report it was to replace), and the peak memory of the command on a ~30 MB report."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from cimedic.inputs.junit import MAX_REPORT_BYTES
from cimedic.interfaces.cli.app import app
from cimedic.services.test_reports import ingest_junit_files
from cimedic.store import schema as t
from cimedic.store.repository import Store

pytestmark = pytest.mark.timeout(120)  # the PostgreSQL store of the `store` fixture

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "junit"
FLAKY = FIXTURES / "surefire_flaky.xml"
# Measured on this 30 MB report: ~104 MB for the command, ~230 MB for the whole-file path it
# replaced (read whole, raw copy zlib-compressed, whole TestReport); the bound sits between.
RSS_BOUND_MB = 170


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("CIMEDIC_DATABASE_URL", "CIMEDIC_GITHUB_TOKEN", "CIMEDIC_GITHUB_API_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _ingest(db: Path, *files: Path, fmt: str = "text") -> Result:
    args = ["ingest", "junit", *map(str, files), "--repo", "octo/app", "--run", "42", "--db", str(db)]
    return CliRunner().invoke(app, [*args, "--create", "--format", fmt], catch_exceptions=False)


def test_a_file_over_200_mib_is_refused_unread_and_the_other_file_is_ingested(env: Path) -> None:
    huge = env / "huge.xml"
    with huge.open("wb") as fh:
        fh.truncate(MAX_REPORT_BYTES + 1)  # sparse: no disk, and reading it would take 200 MiB
    assert MAX_REPORT_BYTES == 200 * 1024 * 1024
    result = _ingest(env / "j.db", huge, FLAKY)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("cimedic: error:")]
    assert errors == [
        f"cimedic: error: {huge}: {MAX_REPORT_BYTES + 1} bytes, over the 200 MiB "
        f"({MAX_REPORT_BYTES} byte) limit for one test report; not read"
    ]
    assert result.stdout.startswith("1 reports, 1 test cases (1 flaky) for octo/app run 42")
    store = Store(f"sqlite:///{env / 'j.db'}")
    assert store.counts()["test_cases"] == 1
    (raw,) = store.raw_events(status=("done",), source="junit")  # none for the refused file
    digest = hashlib.sha256(FLAKY.read_bytes()).hexdigest()
    assert raw.key == f"octo/app#42#{digest}"
    assert raw.meta == {
        "repository": "octo/app",
        "run": "42",
        "path": str(FLAKY.absolute()),
        "sha256": digest,
        "size": str(FLAKY.stat().st_size),
    }
    with store.engine.connect() as conn:
        payload = conn.execute(select(t.raw_events.c.payload).where(t.raw_events.c.id == raw.id)).scalar_one()
    assert len(payload) < 16  # zlib of b"": the report is kept by reference, not copied


def test_json_output_lists_the_refused_file_in_errors(env: Path) -> None:
    huge = env / "huge.xml"
    with huge.open("wb") as fh:
        fh.truncate(MAX_REPORT_BYTES + 1)
    result = _ingest(env / "j.db", FLAKY, huge, fmt="json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (report["reports"], report["cases"], report["failed_files"]) == (1, 1, 1)
    assert len(report["errors"]) == 1 and "over the 200 MiB" in report["errors"][0]


def test_a_broken_file_stores_nothing_and_keeps_the_report_it_would_replace(
    store: Store, tmp_path: Path
) -> None:
    good = tmp_path / "a" / "TEST-x.xml"
    good.parent.mkdir()
    suites = "".join(
        f'<testsuite name="S{s}">'
        + "".join(f'<testcase classname="S{s}" name="t{i}"/>' for i in range(3_000))
        + "</testsuite>"
        for s in range(4)
    )
    good.write_text(f"<testsuites>{suites}</testsuites>")
    first = ingest_junit_files(store, [good], repository="octo/app", run="7")
    assert (first.reports, first.cases, first.by_status) == (1, 12_000, {"passed": 12_000})
    broken = tmp_path / "b" / "TEST-x.xml"  # same source name: it would replace the first report
    broken.parent.mkdir()
    broken.write_text(f"<testsuites>{suites}<testsuite name='T'><testcase name='x'></testsuite>")
    second = ingest_junit_files(store, [broken], repository="octo/app", run="7")
    assert (second.reports, second.failed_files) == (0, 1)
    (error,) = second.errors
    assert error.startswith("TEST-x.xml: malformed XML at line 1, column ")
    assert "mismatched tag" in error
    assert store.counts()["test_cases"] == 12_000  # rolled back: the first report is whole
    (failed,) = store.raw_events(status=("failed",), source="junit")
    assert failed.error == error and failed.meta is not None and failed.meta["path"] == str(broken.absolute())
    third = ingest_junit_files(store, [FLAKY, good], repository="octo/app", run="7")
    assert (third.reports, third.cases) == (2, 12_001)
    assert store.counts()["test_cases"] == 12_001  # TEST-x.xml replaced, not added
    with store.engine.connect() as conn:
        reports = conn.execute(select(t.test_reports.c.source, t.test_reports.c.dialect)).all()
    assert sorted(reports) == [("TEST-x.xml", "junit"), ("surefire_flaky.xml", "surefire")]


def test_a_report_of_a_known_attempt_is_not_replaced(store: Store, tmp_path: Path) -> None:
    ingest_junit_files(store, [FLAKY], repository="octo/app", run="9")
    repo_id = store.repository_id("octo/app", "github")
    assert repo_id is not None
    run_id = store.run_id(repo_id, "9")
    with store.engine.begin() as conn:  # as collection stores an artifact's report of attempt 2
        conn.execute(t.test_reports.update().values(run_attempt=2))
    again = ingest_junit_files(store, [FLAKY], repository="octo/app", run="9")
    assert again.reports == 1
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(t.test_reports.c.run_attempt).where(t.test_reports.c.run_id == run_id)
        ).all()
    assert sorted(rows, key=lambda r: r[0] or 0) == [(None,), (2,)]


def _write_report(path: Path, target_bytes: int) -> int:
    """A Surefire-like report: suites of 50 cases, 4% failures with a stack trace, output."""
    trace = "\n".join(f"\tat com.example.Frame{i}.call(Frame{i}.java:{i + 10})" for i in range(40))
    out = "\n".join(f"10:00:{i:02d} INFO request {i} handled" for i in range(12))
    written = cases = 0
    with path.open("w") as fh:
        fh.write("<testsuites>\n")
        suite = 0
        while written < target_bytes:
            suite += 1
            parts = [f'<testsuite name="com.example.C{suite}Test" time="1.5">\n']
            for i in range(50):
                cases += 1
                head = f'<testcase classname="com.example.C{suite}Test" name="test{i}" time="0.01">'
                if i % 25 == 0:
                    parts.append(
                        f'{head}<failure message="expected 1" type="AssertionError">{trace}</failure>'
                    )
                else:
                    parts.append(head)
                parts.append(f"<system-out>{out}</system-out></testcase>\n")
            parts.append("</testsuite>\n")
            chunk = "".join(parts)
            fh.write(chunk)
            written += len(chunk)
        fh.write("</testsuites>\n")
    return cases


def test_peak_memory_on_a_30_mb_report(env: Path) -> None:
    report = env / "big.xml"
    cases = _write_report(report, 30_000_000)
    assert report.stat().st_size > 30_000_000
    cimedic = Path(sys.executable).with_name("cimedic")
    argv = [str(cimedic), "ingest", "junit", str(report), "--repo", "o/r", "--run", "1"]
    argv += ["--db", str(env / "big.db"), "--create", "--format", "json"]
    start = time.monotonic()
    # Linux carries the parent's RSS high-water mark into a forked child's ru_maxrss (across
    # exec too), so a child of this long-lived pytest process would report pytest's size: a
    # small Python process spawns the command and reports its grandchild's own peak instead.
    spawner = (
        "import os, sys\n"
        "out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)\n"
        "err = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)\n"
        "pid = os.posix_spawn(sys.argv[3], sys.argv[3:], os.environ, "
        "file_actions=[(os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, err, 2)])\n"
        "_, status, usage = os.wait4(pid, 0)\n"
        "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
    )
    measured = subprocess.run(
        [sys.executable, "-c", spawner, str(env / "out.json"), str(env / "err.txt"), *argv],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
    )
    returncode, maxrss_kib = (int(v) for v in measured.stdout.split())
    assert returncode == 0, (env / "err.txt").read_text()
    result = json.loads((env / "out.json").read_text())
    assert result["cases"] == cases and result["by_status"]["failed"] == cases // 25
    peak_mb = maxrss_kib / 1024  # KiB on Linux
    assert peak_mb < RSS_BOUND_MB, f"peak RSS {peak_mb:.0f} MB on a 30 MB report"
    assert time.monotonic() - start < 240
