"""Failure messages of test reports are stored redacted (issue 11, section 4): a JUnit report
whose assertion message and stack trace carry tokens, ingested by ``cimedic ingest junit`` and
read from a CI artifact, leaves no piece of them in ``test_cases`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from sqlalchemy import select

from cimedic.inputs.junit import reports_from_zip
from cimedic.services.redacted_reports import redact_report
from cimedic.services.test_reports import ingest_junit_files
from cimedic.store import schema as t
from cimedic.store.repository import Store

GITHUB = "ghp_" + "R8xk2LmQ7vN4pT9sW1yB6cF3hJ5dG0aZ2eK7"
GITLAB = "glpat-" + "x7Kd9QmB2vLp4RtN8sWz"
PASSWORD = "S3cr3t-Pa55w0rd-" + "Xq81"

REPORT = f"""<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="api.ClientTest" tests="2" failures="1">
  <testcase classname="api.ClientTest" name="authenticates" time="0.2">
    <failure message="expected token {GITHUB} to be rejected" type="AssertionError">
AssertionError: expected token {GITHUB} to be rejected
  at connect(postgres://app:{PASSWORD}@db:5432/app)
  GITLAB_TOKEN={GITLAB}
    </failure>
  </testcase>
  <testcase classname="api.ClientTest" name="lists" time="0.1"/>
</testsuite>
""".encode()

SECRETS = (GITHUB, GITLAB, PASSWORD)


def _stored_messages(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return [m for m in conn.execute(select(t.test_cases.c.message)).scalars() if m]


def test_ingested_report_messages_are_stored_redacted(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "TEST-api.xml"
    path.write_bytes(REPORT)
    out = ingest_junit_files(store, [path], repository="acme/api", run="42")
    assert (out.reports, out.cases) == (1, 2)
    (message,) = _stored_messages(store)
    assert "expected token [REDACTED:" in message
    assert not any(secret in message or secret[:8] in message for secret in SECRETS)


def test_artifact_report_messages_are_redacted_before_storing() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("reports/TEST-api.xml", REPORT)
    (report,) = [redact_report(r) for r in reports_from_zip(buf.getvalue(), "junit.zip")]
    texts = [c.message or "" for s in report.suites for c in s.cases] + [
        c.details or "" for s in report.suites for c in s.cases
    ]
    assert any("[REDACTED:" in text for text in texts)
    assert not any(secret in text for secret in SECRETS for text in texts)
    # the rest of the report is untouched
    assert [c.test_id for s in report.suites for c in s.cases] == [
        "api.ClientTest::authenticates",
        "api.ClientTest::lists",
    ]
