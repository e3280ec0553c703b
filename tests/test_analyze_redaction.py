"""``cimedic analyze`` prints no secret found in the log (issue step 2, section 4): text, JSON and
Markdown are redacted; ``--no-redact`` prints them for a user reading their own log, and is
refused with ``--explain`` (what reaches a model is always redacted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)

CLI = [sys.executable, "-c", "from cimedic.interfaces.cli.app import main; main()"]
PAT = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
AWS = "AKIA" + "IOSFODNN7QWERTY1"
URL_PASSWORD = "hunter2Secret"
LOG = f"""2024-05-01T10:00:00.0000000Z ##[group]Run ./deploy.sh
2024-05-01T10:00:01.0000000Z curl -fsS https://deployer:{URL_PASSWORD}@artifacts.example.com/upload
2024-05-01T10:00:02.0000000Z Error: upload refused for {AWS} using token {PAT}
2024-05-01T10:00:02.1000000Z fatal: deploy failed with token {PAT}
2024-05-01T10:00:03.0000000Z ##[error]Process completed with exit code 1.
"""
SECRETS = (PAT, AWS, URL_PASSWORD)


def _analyze(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    log = tmp_path / "deploy.log"
    log.write_text(LOG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIMEDIC_")}
    env["CIMEDIC_CONFIG"] = os.devnull
    return subprocess.run([*CLI, "analyze", *args, str(log)], capture_output=True, text=True, env=env, timeout=170, check=False)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_every_output_is_redacted(tmp_path: Path, fmt: str) -> None:
    result = _analyze(tmp_path, "-f", fmt)
    assert result.returncode == 0, result.stderr
    assert "REDACTED" in result.stdout
    for secret in SECRETS:
        assert secret not in result.stdout and secret not in result.stderr, (secret, fmt)


def test_no_redact_prints_them_and_is_refused_with_explain(tmp_path: Path) -> None:
    plain = _analyze(tmp_path, "-f", "markdown", "--no-redact")
    assert plain.returncode == 0 and PAT in plain.stdout
    refused = _analyze(tmp_path, "--no-redact", "--explain")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith("cimedic: error: --no-redact cannot be combined with --explain")
