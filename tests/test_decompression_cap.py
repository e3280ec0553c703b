"""Decompression is capped (issue step 2, section 2): a small gzip or zip that expands to far more
than ``decompressed_max_bytes`` is read only up to the cap, with one warning line, instead of
minutes of CPU; a log under the cap is analysed exactly as before."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

FIXTURE = Path(__file__).parent / "fixtures" / "logs" / "gha_terraform_quick_checks_run104_fail.log"
CLI = [sys.executable, "-c", "from cimedic.interfaces.cli.app import main; main()"]


def _bomb(path: Path, real: bytes, filler_mb: int) -> None:
    """``real`` followed by ``filler_mb`` MB of one repeated log line (compresses ~1000x)."""
    line = b"2024-01-01T00:00:00.0000000Z building ... ok\n"
    with gzip.open(path, "wb", compresslevel=9) as gz:
        gz.write(real)
        block = line * (1024 * 1024 // len(line))
        for _ in range(filler_mb):
            gz.write(block)


def _analyze(path: Path, cap: int | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIMEDIC_")}
    env["CIMEDIC_CONFIG"] = os.devnull
    if cap is not None:
        env["CIMEDIC_DECOMPRESSED_MAX_BYTES"] = str(cap)
    return subprocess.run([*CLI, "analyze", "-f", "json", str(path)], capture_output=True, text=True, env=env, timeout=110, check=False)


def test_a_gzip_bomb_is_read_up_to_the_cap_with_one_warning(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.log.gz"
    _bomb(bomb, FIXTURE.read_bytes(), filler_mb=300)  # 300 MB decompressed from ~1 MB
    assert bomb.stat().st_size < 3 * 1024 * 1024
    started = time.monotonic()
    result = _analyze(bomb, cap=4 * 1024 * 1024)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 60
    warnings = [line for line in result.stderr.splitlines() if "decompressed_max_bytes" in line]
    assert len(warnings) == 1 and warnings[0].startswith("cimedic: warning: ")
    assert '"bytes": 4194304' in result.stdout  # exactly the cap was read


def test_a_zip_member_under_the_cap_is_analysed_as_before(tmp_path: Path) -> None:
    archive = tmp_path / "logs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("0_job.txt", FIXTURE.read_bytes())
    plain = _analyze(FIXTURE, cap=None)
    zipped = _analyze(archive, cap=10 * 1024 * 1024)
    assert zipped.returncode == plain.returncode == 0
    assert "decompressed_max_bytes" not in zipped.stderr
    import json

    a, b = json.loads(plain.stdout), json.loads(zipped.stdout)
    assert (a["signature"], a["category"], a["log"]["bytes"]) == (b["signature"], b["category"], b["log"]["bytes"])
