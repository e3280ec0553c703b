"""Line numbers against the CiDiff ground truth (``../shared/data/cidiff``).

CiDiff numbers its ground-truth lines the way Java's ``BufferedReader.readLine`` splits a
file (``\\n``, ``\\r\\n`` and a lone ``\\r`` end a line). For every case we check, with an
independent re-implementation of ``readLine``, that

* our reader counts the same number of lines (``LogMember.lines`` and ``log.lines``),
* every line the reader hands to the analyzer (``split_lines`` over the batches, numbered
  from ``LineBatch.first_line``) is the reference line of that number, in particular the
  ground-truth ``E`` lines, also with small batches that cut the file at many places,
* the error lines, excerpt and failed step reported by ``analyze`` lie inside the log and
  their text is the text of the line they point at.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from cimedic.inputs.logs import open_log
from cimedic.model.batches import split_lines
from cimedic.services.diagnose import analyze_path, make_diagnoser
from javalines import java_readlines

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CIDIFF = SHARED / "cidiff"
NO_DATA = f"CiDiff data set not found at {CIDIFF} (expected ../shared/data/cidiff beside the repository)"
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]")

DIAGNOSER, _ = make_diagnoser()


def _cases() -> list[str]:
    if not CIDIFF.is_dir():
        return []
    return sorted(str(p.parent.relative_to(CIDIFF)) for p in CIDIFF.rglob("fail.log"))


CASES = _cases()


def groundtruth_error_lines(case_dir: Path) -> list[int]:
    """Line numbers of the ``E`` entries (``E n`` or ``E a-b``) of ``groundtruth``."""
    out: list[int] = []
    rows = (case_dir / "groundtruth").read_text().splitlines()
    for row in rows[1:]:
        parts = row.split()
        if len(parts) != 2 or parts[0] != "E":
            continue
        a, _, b = parts[1].partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def reader_lines(path: Path, batch_bytes: int | None = None) -> tuple[dict[int, bytes], int, int]:
    """(line number -> raw line, member.lines, member.bytes_read) as our reader produces them."""
    members, tmp = open_log(str(path))
    assert tmp is None and len(members) == 1
    member = members[0]
    lines: dict[int, bytes] = {}
    batches = member.batches() if batch_bytes is None else member.batches(batch_bytes)
    for batch in batches:
        for i, raw in enumerate(split_lines(batch.data)):
            n = batch.first_line + i
            assert n not in lines, f"line {n} delivered twice"
            lines[n] = raw
    return lines, member.lines, member.bytes_read


@pytest.mark.skipif(not CASES, reason=NO_DATA)
def test_cidiff_cases_found() -> None:
    assert len(CASES) >= 10
    assert any(c.startswith("breakages_dump/") for c in CASES)
    assert any("cidiff_11" in c for c in CASES)  # the gh run view dump


@pytest.mark.skipif(not CASES, reason=NO_DATA)
@pytest.mark.parametrize("case", CASES or ["<no cidiff data>"])
@pytest.mark.parametrize("log", ["fail.log", "pass.log"])
def test_line_count_equals_java_readline(case: str, log: str) -> None:
    path = CIDIFF / case / log
    if not path.exists():
        pytest.skip(f"{case} has no {log}")
    data = path.read_bytes()
    ref = java_readlines(data)
    lines, count, nbytes = reader_lines(path)
    assert count == len(ref)
    assert nbytes == len(data)
    assert lines == dict(enumerate(ref, start=1))


@pytest.mark.skipif(not CASES, reason=NO_DATA)
def test_line_counts_match_upstream_index() -> None:
    # index.csv of the data set holds line counts computed when it was prepared
    index = CIDIFF / "index.csv"
    if not index.exists():
        pytest.skip("index.csv absent")
    checked = 0
    with index.open(newline="") as fh:
        for row in csv.DictReader(fh):
            case_dir = CIDIFF / row["case"]
            if not case_dir.is_dir():
                continue
            for log, column in (("fail.log", "fail_lines"), ("pass.log", "pass_lines")):
                if (case_dir / log).exists() and row.get(column):
                    _, count, _ = reader_lines(case_dir / log)
                    assert count == int(row[column]), (row["case"], log)
                    checked += 1
    assert checked > 0


@pytest.mark.skipif(not CASES, reason=NO_DATA)
@pytest.mark.parametrize("case", CASES or ["<no cidiff data>"])
def test_groundtruth_error_lines_text(case: str) -> None:
    case_dir = CIDIFF / case
    data = (case_dir / "fail.log").read_bytes()
    ref = java_readlines(data)
    wanted = groundtruth_error_lines(case_dir)
    assert wanted, "ground truth without E lines"
    assert max(wanted) <= len(ref), "ground truth points past the end of the reference split"
    # batch sizes that cut the file at many places, including inside \r\n pairs
    for batch_bytes in (None, 4096, 777):
        lines, count, _ = reader_lines(case_dir / "fail.log", batch_bytes)
        assert count == len(ref)
        for n in wanted:
            assert lines.get(n) == ref[n - 1], f"line {n} (batch_bytes={batch_bytes})"


def _clean(raw: bytes) -> str:
    return ANSI.sub("", raw.decode("utf-8", "replace"))


@pytest.mark.skipif(not CASES, reason=NO_DATA)
@pytest.mark.parametrize("case", CASES or ["<no cidiff data>"])
def test_analyze_points_inside_the_log(case: str) -> None:
    path = CIDIFF / case / "fail.log"
    ref = java_readlines(path.read_bytes())
    d = analyze_path(str(path), diagnoser=DIAGNOSER).diagnosis
    assert d.log.lines == len(ref)
    assert d.log.bytes == path.stat().st_size
    assert d.error_lines, "a failing CiDiff log must yield error lines"
    top = d.error_lines[0]
    assert 1 <= top.line <= len(ref)
    for e in d.error_lines:
        assert 1 <= e.line <= len(ref)
        # the reported text is (a cleaned suffix of) the line it points at
        assert e.text.strip()[:200] in _clean(ref[e.line - 1]), (e.line, e.text, ref[e.line - 1][:300])
    assert d.excerpt is not None
    assert 1 <= d.excerpt.start_line <= d.excerpt.end_line <= len(ref)
    if d.failed_step is not None:
        assert 1 <= d.failed_step.start_line <= d.failed_step.end_line <= len(ref)


# --------------------------------------------------------------------------- data-independent


_USER_KB = """\
- id: user.quota
  name: Storage quota exhausted
  category: disk
  patterns: ['quota exhausted: .*']
- id: user.lease
  name: Lease expired
  category: infrastructure
  patterns: ['lease expired\\s*']
- id: user.token
  name: Token revoked
  category: secrets_env
  patterns: ['token revoked[^!]*']
"""
_USER_LINES = [
    b"line one",
    b"storage quota exhausted: bucket-7",
    b"line three",
    b"worker lease expired",
    b"line five",
    b"deploy token revoked by admin",
    b"line seven",
    b"fatal error: boom happened here",
    b"line nine",
]


@pytest.fixture(scope="module")
def user_kb_diagnoser(tmp_path_factory: pytest.TempPathFactory) -> object:
    kb = tmp_path_factory.mktemp("kb")
    (kb / "mine.yaml").write_text(_USER_KB)
    diagnoser, problems = make_diagnoser([kb])
    assert problems == []
    return diagnoser


@pytest.mark.parametrize("newline", [b"\r\n", b"\r", b"\n"], ids=["crlf", "cr", "lf"])
def test_user_kb_patterns_matching_up_to_the_line_break(
    tmp_path: Path, user_kb_diagnoser: object, newline: bytes
) -> None:
    # User causes (--kb) whose patterns can match the line break itself ('.' and '[^!]'
    # match '\r', '\s' matches both). The lines after them must keep their numbers.
    data = newline.join(_USER_LINES) + newline
    log = tmp_path / "q.log"
    log.write_bytes(data)
    d = analyze_path(str(log), diagnoser=user_kb_diagnoser).diagnosis  # type: ignore[arg-type]
    assert d.log.lines == len(_USER_LINES)
    by_text = {e.text: e.line for e in d.error_lines}
    for n in (2, 4, 6, 8):
        assert by_text.get(_USER_LINES[n - 1].decode()) == n, d.error_lines
    for e in d.error_lines:
        assert e.text == _USER_LINES[e.line - 1].decode(), (e.line, e.text)
    assert d.excerpt is not None
    for n, text in d.excerpt_lines:
        assert text == _USER_LINES[n - 1].decode(), (n, text)
