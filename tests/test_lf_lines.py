"""LF line numbers (only ``\\n`` ends a line: editors, ``awk``, GitHub's and Travis's log pages)
next to the contract numbers (``\\n``, ``\\r\\n`` and lone ``\\r`` end a line).

The reference numbering is computed here from the raw bytes, independently of the reader: the
LF line of a contract line is 1 + the number of ``\\n`` before the line's first byte.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cimedic.analysis.diagnosis import lflines
from cimedic.analysis.diagnosis.lflines import LfMap
from cimedic.inputs.logs import open_log
from cimedic.interfaces.cli import render
from cimedic.model import Diagnosis
from cimedic.model.batches import batches_from_bytes, lone_cr_runs
from cimedic.services.diagnose import analyze_path

pytestmark = pytest.mark.timeout(120)  # `cimedic analyze` subprocesses

ROOT = Path(__file__).resolve().parents[1]
TRAVIS_FIXTURE = ROOT / "tests" / "fixtures" / "logs" / "travis_freecodecamp_565987238.log"
PHP_TRAVIS = (
    ROOT.parent / "shared" / "data" / "logchunks" / "logs" / "C" / "php@php-src" / "failed" / "529942305.log"
)
CLI = [sys.executable, "-c", "from cimedic.interfaces.cli.app import main; main()"]
_BREAK = re.compile(rb"\r\n|\r|\n")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")

# A Travis job: CRLF lines, a pip progress bar drawn with lone "\r", then an LF-only pytest step
# whose output has more "\r" progress just before the failure.
PROGRESS_LOG = (
    b"travis_fold:start:install\r\n"
    b"$ pip install -r requirements.txt\r\n"
    b"Downloading 10%\rDownloading 50%\rDownloading 100%\r\n"
    b"Successfully installed foo-1.0\r\n"
    b"travis_fold:end:install\r\n"
    b"$ pytest\n"
    b"collecting\r\rcollected 1 item\rrunning 1 test\n"
    b"E   AssertionError: assert 1 == 2\n"
    b"FAILED tests/test_x.py::test_y - AssertionError\n"
    b"\n"
    b'The command "pytest" exited with 1.\n'
)


def reference_lf(data: bytes) -> list[int]:
    """``out[L]`` = LF line of contract line ``L`` (index 0 unused); ``out[0]`` = LF lines."""
    starts = [0] + [m.end() for m in _BREAK.finditer(data)]
    if starts[-1] == len(data):
        starts.pop()  # a final break starts no line
    out = [awk_count(data)]
    out += [data.count(b"\n", 0, s) + 1 for s in starts]
    return out


def awk_count(data: bytes) -> int:
    """What ``awk 'END{print NR}'`` prints: ``\\n``-terminated records plus a last partial one."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIMEDIC_")}
    env["CIMEDIC_CONFIG"] = os.devnull
    env["COLUMNS"] = "200"
    return env


def run_analyze(path: Path, fmt: str) -> str:
    proc = subprocess.run(
        [*CLI, "analyze", str(path), "--format", fmt], capture_output=True, env=_env(), timeout=100
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout.decode("utf-8")


def _lf_of_map(lf: LfMap, n: int) -> list[int | None]:
    return [lf.lf_line(line) for line in range(1, n + 1)]


# ------------------------------------------------------------------ the numbering itself


def _random_log(rng: random.Random, lines: int) -> bytes:
    parts = []
    for _ in range(lines):
        parts.append(rng.choice([b"x", b"error: y", b"", b"progress 5%"]))
        parts.append(rng.choice([b"\n", b"\r\n", b"\r", b"\r", b"\r\r", b"\r\r\n"]))
    if rng.random() < 0.5:
        parts.append(b"last line without a break")
    return b"".join(parts)


@pytest.mark.parametrize("seed", range(6))
def test_reader_batches_give_the_lf_line_of_every_line(seed: int, tmp_path: Path) -> None:
    """Reader batches cut in many places (tiny batch size) and in-memory batches both give,
    for every contract line, the LF line counted from the raw bytes."""
    rng = random.Random(seed)
    data = _random_log(rng, 400)
    ref = reference_lf(data)
    path = tmp_path / "mixed.log"
    path.write_bytes(data)
    members, _ = open_log(str(path))
    for batches in (members[0].batches(batch_bytes=rng.choice([7, 64, 1000])), batches_from_bytes(data, 50)):
        lf = LfMap()
        n = 0
        for b in batches:
            lf.add(b.first_line, b.lone_cr)
            n = b.first_line - 1 + b.data.count(b"\n") + (0 if b.data.endswith(b"\n") else 1)
        assert n == len(ref) - 1
        assert _lf_of_map(lf, n) == ref[1:]
        assert lf.lf_line(n) == ref[0]  # the number of LF lines


def test_lf_numbers_stop_past_the_memory_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``MAX_RUNS`` runs of lone-\\r lines, lines after the last run kept have no LF
    number (None); the lines before keep theirs."""
    monkeypatch.setattr(lflines, "MAX_RUNS", 2)
    lf = LfMap()
    lf.add(1, ((0, 2, 5), (1, 2, 1)))  # lines 1, 3-4 and 6 end at a lone \r: three runs
    assert [lf.lf_line(n) for n in range(1, 7)] == [1, 1, 2, 2, 2, 3]
    assert lf.lf_line(7) is None


def test_lone_cr_runs_of_a_progress_bar() -> None:
    data = b"a\r\nb 1%\rb 50%\rb 100%\r\nc\r\rd\ne\r"
    assert lone_cr_runs(data) == ((1, 4, 7), (2, 2, 1))
    assert lone_cr_runs(b"only lf\n") == ((), ())


# ------------------------------------------------------------------ the diagnosis and its JSON


def test_progress_log_json_has_contract_and_lf_numbers(tmp_path: Path) -> None:
    path = tmp_path / "progress.log"
    path.write_bytes(PROGRESS_LOG)
    ref = reference_lf(PROGRESS_LOG)
    out = json.loads(run_analyze(path, "json"))
    assert out["log"]["lines"] == 16 and out["log"]["lf_lines"] == 11 == awk_count(PROGRESS_LOG)
    top = out["error_lines"][0]
    assert top["text"] == "FAILED tests/test_x.py::test_y - AssertionError"
    assert (top["line"], top["lf_line"]) == (14, 9)
    for e in out["error_lines"]:
        assert e["lf_line"] == ref[e["line"]]
    step = out["failed_step"]
    assert step["name"] == "pytest"
    assert (step["start_line"], step["end_line"]) == (8, 16)
    assert (step["lf_start_line"], step["lf_end_line"]) == (6, 11)
    x = out["excerpt"]
    assert (x["lf_start_line"], x["lf_end_line"]) == (ref[x["start_line"]], ref[x["end_line"]])
    assert x["lf_start_line"] < x["start_line"]


def test_progress_log_markdown_and_text_show_lf_numbers(tmp_path: Path) -> None:
    path = tmp_path / "progress.log"
    path.write_bytes(PROGRESS_LOG)
    d = analyze_path(str(path)).diagnosis
    assert d.excerpt is not None and d.failed_step is not None
    lf_of = dict(zip((n for n, _ in d.excerpt_lines), d.excerpt_lf_lines, strict=True))
    md = run_analyze(path, "markdown")
    assert "- Failed step: `pytest` (lines 6-11)" in md
    assert "- Log: travis, 11 lines," in md
    assert f"### Excerpt (lines {d.excerpt.lf_start_line}-{d.excerpt.lf_end_line})" in md
    assert "- line 9 (score" in md and "- line 14 " not in md
    assert "     9 | FAILED tests/test_x.py::test_y - AssertionError" in md
    for n, text in d.excerpt_lines:
        assert f"{lf_of[n]:>6} | {text}" in md
    text = run_analyze(path, "text")
    assert "(lines 6-11)" in text and "travis, 11 lines" in text
    assert "      9 | FAILED tests/test_x.py::test_y" in text
    assert "     14 | FAILED" not in text


def test_lf_only_log_has_lf_numbers_equal_to_contract_numbers(tmp_path: Path) -> None:
    data = PROGRESS_LOG.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    path = tmp_path / "lf.log"
    path.write_bytes(data)
    d = analyze_path(str(path)).diagnosis
    assert d.excerpt is not None and d.failed_step is not None and d.cause is not None
    assert d.log.lf_lines == d.log.lines == awk_count(data)
    assert all(e.lf_line == e.line for e in d.error_lines)
    assert all(e.lf_line == e.line for e in d.deterministic_evidence) and d.deterministic_evidence
    assert d.cause.lf_line == d.cause.line
    assert (d.excerpt.lf_start_line, d.excerpt.lf_end_line) == (d.excerpt.start_line, d.excerpt.end_line)
    fs = d.failed_step
    assert (fs.lf_start_line, fs.lf_end_line) == (fs.start_line, fs.end_line)
    assert all((s.lf_start_line, s.lf_end_line) == (s.start_line, s.end_line) for s in d.sections)
    assert list(d.excerpt_lf_lines) == [n for n, _ in d.excerpt_lines]


def _strip_lf(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lf(v) for k, v in value.items() if not k.startswith(("lf_", "excerpt_lf"))}
    if isinstance(value, list):
        return [_strip_lf(v) for v in value]
    return value


def test_a_diagnosis_stored_without_lf_fields_validates_and_renders(tmp_path: Path) -> None:
    """A diagnosis stored before the lf fields existed reads with None there; the text views
    fall back to the contract numbers and the JSON says null (not a wrong number)."""
    path = tmp_path / "progress.log"
    path.write_bytes(PROGRESS_LOG)
    fresh = analyze_path(str(path)).diagnosis
    old = _strip_lf(json.loads(fresh.model_dump_json()))
    assert "lf_line" not in json.dumps(old) and "lf_lines" not in json.dumps(old)
    d = Diagnosis.model_validate(old)
    assert d.log.lf_lines is None and d.excerpt_lf_lines == ()
    assert d.error_lines[0].lf_line is None and d.excerpt is not None and d.excerpt.lf_start_line is None
    assert d.failed_step is not None and d.failed_step.lf_end_line is None
    md = render.to_markdown(d)
    assert "(lines 8-16)" in md and "- line 14 (score" in md
    assert "    14 | FAILED tests/test_x.py::test_y" in md
    out = render.contract(d)
    assert out["error_lines"][0]["lf_line"] is None and out["error_lines"][0]["line"] == 14


def test_redaction_keeps_the_lf_numbers(tmp_path: Path) -> None:
    from cimedic.analysis.redact import redact_diagnosis

    path = tmp_path / "progress.log"
    path.write_bytes(PROGRESS_LOG)
    d = analyze_path(str(path)).diagnosis
    r = redact_diagnosis(d)
    assert [e.lf_line for e in r.error_lines] == [e.lf_line for e in d.error_lines]
    assert r.excerpt_lf_lines == d.excerpt_lf_lines and r.log.lf_lines == 11


# ------------------------------------------------------------------ real Travis logs


def _check_real_log(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    assert data.count(b"\r") > data.count(b"\r\n"), "the log has lone \\r"
    ref = reference_lf(data)
    out: dict[str, Any] = json.loads(run_analyze(path, "json"))
    assert out["log"]["lf_lines"] == awk_count(data) < out["log"]["lines"]
    lf_text = data.split(b"\n")
    for e in out["error_lines"]:
        assert e["lf_line"] == ref[e["line"]]
        # the error text is on that line of an editor (ANSI codes aside)
        shown = _ANSI.sub("", lf_text[e["lf_line"] - 1].decode("utf-8", "replace"))
        assert e["text"][:60].strip() in shown, (e, shown[:200])
    for key in ("failed_step", "excerpt"):
        span = out[key]
        assert span is not None
        assert span["lf_start_line"] == ref[span["start_line"]]
        assert span["lf_end_line"] == ref[span["end_line"]]
    return out


def test_real_travis_fixture_with_lone_cr_matches_awk() -> None:
    """A real Travis log (freeCodeCamp, in the repository) with 554 lone \\r: 726 contract
    lines, 172 in an editor."""
    out = _check_real_log(TRAVIS_FIXTURE)
    assert (out["log"]["lines"], out["log"]["lf_lines"]) == (726, 172)


def test_real_php_src_travis_log_matches_awk() -> None:
    """A php-src Travis log of LogChunks (../shared/data), ~30,000 lone \\r of progress output."""
    if not PHP_TRAVIS.is_file():
        pytest.skip(f"dataset log absent: {PHP_TRAVIS}")
    out = _check_real_log(PHP_TRAVIS)
    assert (out["log"]["lines"], out["log"]["lf_lines"]) == (32893, 3042)
