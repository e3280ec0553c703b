"""Robustness: arbitrary bytes never crash the analysis, line numbers stay inside the log,
huge lines / NUL bytes / invalid UTF-8 are handled, and memory stays bounded on big logs."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cimedic.interfaces.cli import render
from cimedic.model import Category, Diagnosis, LogFormat
from cimedic.services.diagnose import analyze_path, make_diagnoser
from javalines import java_readlines

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "logs"
GHA = FIXTURES / "gha_terraform_quick_checks_run104_fail.log"
DIAGNOSER, _ = make_diagnoser()
MAGICS = (b"\x1f\x8b", b"PK\x03\x04", b"PK\x05\x06")  # gzip / zip: these select a decompressor


def java_line_count(data: bytes) -> int:
    """Number of lines ``BufferedReader.readLine`` returns (breaks: \\n, \\r\\n, lone \\r)."""
    breaks = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return breaks + (1 if data and data[-1:] not in (b"\n", b"\r") else 0)


def check_diagnosis(d: Diagnosis, data: bytes) -> None:
    """Invariants every diagnosis must satisfy, whatever the input."""
    total = java_line_count(data)
    assert d.log.lines == total
    assert d.log.bytes == len(data)
    assert len(d.error_lines) <= 40
    scores = [e.score for e in d.error_lines]
    assert scores == sorted(scores, reverse=True)
    for e in d.error_lines:
        assert 1 <= e.line <= total, e
        assert len(e.text) <= 500
        assert "\x1b" not in e.text
    if d.excerpt is not None:
        assert 1 <= d.excerpt.start_line <= d.excerpt.end_line <= total, d.excerpt
    if d.failed_step is not None:
        assert 1 <= d.failed_step.start_line <= d.failed_step.end_line <= total, d.failed_step
    prev_end = 0
    for s in d.sections:  # named, ordered, non-overlapping
        assert s.name.strip(), s
        assert 1 <= s.start_line <= s.end_line <= max(total, 1), s
        assert s.start_line > prev_end, d.sections
        prev_end = s.end_line
    assert 0.0 <= d.confidence <= 1.0
    if d.category is Category.NONE:
        assert d.excerpt is None and d.error_lines == () and d.cause is None and d.transient is False
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", d.signature)
    out = json.loads(render.to_json(d))
    assert out["log"]["lines"] == total
    render.to_markdown(d)


def analyze_bytes(data: bytes, fmt: LogFormat | None = None, name: str = "log.txt") -> Diagnosis:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        return analyze_path(str(path), log_format=fmt, diagnoser=DIAGNOSER).diagnosis


# --------------------------------------------------------------------------- properties

_PIECES = [
    b"\n", b"\r", b"\r\n", b"\x00", b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x1b[31m", b"\x1b[0m", b"\x1b]8;;x\x07",
    b"error: ", b"ERROR ", b"FAILED ", b"fatal: ", b"Traceback (most recent call last):", b"Exception in thread",
    b"##[group]Run make", b"##[endgroup]", b"##[error]Process completed with exit code 1.",
    b"2024-01-01T00:00:00.0000000Z ", b"[2024-01-01T00:00:00.000Z] ", b"Post job cleanup.",
    b"section_start:1700000000:build\r\x1b[0K", b"section_end:1700000001:build\r\x1b[0K",
    b"section_start:99999999999999999999:x\r", b"ERROR: Job failed: exit code 1",
    b"travis_fold:start:install\r\x1b[0K", b"travis_fold:end:install\r\x1b[0K", b"travis_time:end:1:start=1\r",
    b"$ make\n", b'The command "make" exited with 2.', b'The command "', b"Done. Your build exited with 1.",
    b"[Pipeline] { (Build)", b"[Pipeline] }", b"[Pipeline] ", b"Finished: FAILURE",
    b"[INFO] --- maven-compiler-plugin:3.1:compile (default-compile) @ x ---", b"[ERROR] x.java:[1,2] cannot find symbol",
    b"> Task :compileJava FAILED", b"> Task :test", b"BUILD FAILURE", b"--- FAIL: TestX (0.00s)", b"npm ERR! code 1",
    b"job\tstep\t2024-01-01T00:00:00.0000000Z ", b"\t", b"\x0b\x0c\x1c\x1d\x1e\xc2\x85\xe2\x80\xa8\xe2\x80\xa9",
    b"    at com.example.Foo.bar(Foo.java:12)", b"E       assert 1 == 2", b"  ^~~~~", b"Killed", b"exit code 137",
]  # fmt: skip

_chunk = st.one_of(
    st.sampled_from(_PIECES),
    st.binary(max_size=64),
    st.builds(
        lambda n, c: c * n,
        st.integers(0, 3000),
        st.sampled_from([b"x", b"\r", b"\n", b"\r\n", b"\x00", b"e"]),
    ),
)
_logs = st.lists(_chunk, max_size=80).map(b"".join).filter(lambda d: not d.startswith(MAGICS))
_formats = st.sampled_from([None, *LogFormat])


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_logs, fmt=_formats)
def test_arbitrary_bytes_never_crash(data: bytes, fmt: LogFormat | None) -> None:
    d = analyze_bytes(data, fmt)
    check_diagnosis(d, data)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=4096).filter(lambda d: not d.startswith(MAGICS)))
def test_raw_binary_never_crashes(data: bytes) -> None:
    check_diagnosis(analyze_bytes(data), data)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    edits=st.lists(st.tuples(st.floats(0, 1), st.sampled_from(_PIECES)), min_size=1, max_size=12),
)
def test_mutated_real_log_never_crashes(seed: int, edits: list[tuple[float, bytes]]) -> None:
    # a real GitHub Actions log with junk spliced in at random places
    data = bytearray(GHA.read_bytes())
    rnd = random.Random(seed)
    for where, piece in edits:
        pos = int(where * len(data))
        if rnd.random() < 0.5:
            data[pos:pos] = piece
        else:
            del data[pos : pos + rnd.randint(0, 200)]
    blob = bytes(data)
    if blob.startswith(MAGICS):
        blob = b"x" + blob
    check_diagnosis(analyze_bytes(blob), blob)


_LINE_TEXTS = [
    b"", b"ok", b"compiling foo.c", b"error: undefined reference to `main'", b"FAILED tests/test_a.py::test_x",
    b"Traceback (most recent call last):", b'  File "a.py", line 3, in <module>', b"ValueError: bad value",
    b"npm ERR! code ELIFECYCLE", b"--- FAIL: TestX (0.01s)", b"[ERROR] Foo.java:[3,5] cannot find symbol",
    b"2024-01-01T00:00:00.0000000Z error: timestamped failure", b"##[error]Process completed with exit code 1.",
    b"##[group]Run make", b"##[endgroup]", b"$ make test", b"The command \"make test\" exited with 2.",
    b"section_start:1700000000:build", b"section_end:1700000009:build", b"travis_fold:start:x", b"travis_fold:end:x",
    b"[Pipeline] { (Build)", b"[Pipeline] }", b"fatal: could not read Username", b"Killed", b"\x00\x00nul error\x00",
    b"caf\xc3\xa9 \xff\xfe bad utf-8 error", b"tab\tseparated\terror: x", b"vt\x0bff\x0cnel\xc2\x85ls\xe2\x80\xa8 error",
    b"  at com.example.Foo(Foo.java:1)", b"E       assert 1 == 2", b"exit status 1",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(_LINE_TEXTS), st.sampled_from([b"\n", b"\r\n", b"\r"])),
        min_size=1,
        max_size=60,
    ),
    last_break=st.booleans(),
    fmt=_formats,
)
def test_error_lines_point_at_their_text(
    rows: list[tuple[bytes, bytes]], last_break: bool, fmt: LogFormat | None
) -> None:
    data = b"".join(text + br for text, br in rows)
    if not last_break and rows[-1][0]:
        data = data[: -len(rows[-1][1])]
    if data.startswith(MAGICS):
        return
    d = analyze_bytes(data, fmt)
    check_diagnosis(d, data)
    ref = [raw.decode("utf-8", "replace").replace("\x00", "") for raw in java_readlines(data)]
    for e in d.error_lines:
        assert e.text.strip()[:200] in ref[e.line - 1], (e.line, e.text, ref[e.line - 1])
    for n, text in d.excerpt_lines:
        assert text.strip()[:200] in ref[n - 1], (n, text, ref[n - 1])


# --------------------------------------------------------------------------- explicit cases


def test_one_megabyte_single_line_without_break() -> None:
    data = b"error: " + b"A" * (1024 * 1024) + b" failed"
    d = analyze_bytes(data)
    check_diagnosis(d, data)
    assert d.log.lines == 1
    if d.error_lines:
        assert d.error_lines[0].line == 1


def test_one_megabyte_line_between_normal_lines() -> None:
    printable = bytes(32 + i % 95 for i in range(256))
    line = random.Random(1).randbytes(1024 * 1024).translate(printable)
    data = b"start\n" + line + b"\nerror: boom\n"
    d = analyze_bytes(data)
    check_diagnosis(d, data)
    assert d.log.lines == 3
    assert any(e.line == 3 for e in d.error_lines)


def test_five_megabytes_of_random_bytes() -> None:
    data = b"x" + random.Random(5).randbytes(5 * 1024 * 1024)
    t0 = time.perf_counter()
    d = analyze_bytes(data)
    check_diagnosis(d, data)
    assert time.perf_counter() - t0 < 60


def test_nul_bytes() -> None:
    data = (
        b"\x00" * 1000 + b"\nbuild ok\x00\x00\n\x00error: disk \x00quota\x00 exceeded\r\n" + b"\x00\r" * 500
    )
    d = analyze_bytes(data)
    check_diagnosis(d, data)
    for e in d.error_lines:
        assert "\x00" not in e.text


def test_utf16_encoded_real_log() -> None:
    # a UTF-16 log (Windows tools): every other byte is NUL, breaks become b"\r\x00\n\x00"
    data = GHA.read_bytes().decode("utf-8").encode("utf-16-le")
    check_diagnosis(analyze_bytes(data), data)


def test_invalid_utf8_in_error_line() -> None:
    data = b"step 1\nerror: cannot open \xff\xfe\xc3( file\nmore\n"
    d = analyze_bytes(data)
    check_diagnosis(d, data)
    assert d.error_lines and d.error_lines[0].line == 2
    assert "\ufffd" in d.error_lines[0].text


def test_only_line_breaks() -> None:
    for data in (b"\r" * 10000, b"\n" * 10000, b"\r\n" * 10000, b"\n\r" * 5000):
        check_diagnosis(analyze_bytes(data), data)


def test_log_bigger_than_the_in_memory_cache() -> None:
    # > 16 MiB: the second pass re-reads the file; line numbers must agree with the first pass
    rnd = random.Random(3)
    lines = []
    for i in range(260_000):
        lines.append(
            f"2024-01-01T00:00:00.{i:07d}Z step {i} {rnd.random():.12f} all good here, nothing to see"
        )
    lines[250_000] = "2024-01-01T00:00:01.0000000Z error: linker command failed with exit code 1"
    lines.append("2024-01-01T00:00:02.0000000Z ##[error]Process completed with exit code 1.")
    data = ("\r\n".join(lines) + "\r\n").encode()
    assert len(data) > 17 * 1024 * 1024
    d = analyze_bytes(data)
    check_diagnosis(d, data)
    assert d.error_lines[0].line == 250_001
    assert d.excerpt is not None and d.excerpt.start_line <= 250_001 <= d.excerpt.end_line
    ref = java_readlines(data)
    for n, text in d.excerpt_lines:
        assert text and text in ref[n - 1].decode(), (n, text)


# --------------------------------------------------------------------------- bounded memory

_GENERATOR = textwrap.dedent(
    r"""
    import random, sys
    path, target = sys.argv[1], int(sys.argv[2])
    rnd = random.Random(42)
    written = 0
    lines = 0
    with open(path, "wb") as f:
        def put(b):
            global written, lines
            f.write(b)
            written += len(b)
            lines += b.count(b"\n") + b.count(b"\r") - b.count(b"\r\n")
        put(b"2024-01-01T00:00:00.0000000Z ##[group]Run make test\r\n2024-01-01T00:00:00.0000000Z ##[endgroup]\r\n")
        block_no = 0
        while written < target:
            block_no += 1
            out = []
            for i in range(2000):
                ts = b"2024-01-01T%02d:%02d:%02d.%07dZ " % (block_no % 24, i % 60, block_no % 60, rnd.randrange(10**7))
                r = rnd.random()
                if r < 0.02:
                    out.append(ts + b"src/mod%d.c:%d:7: error: unknown type name 'T%d'\r\n" % (block_no, i, rnd.randrange(10**9)))
                elif r < 0.03:
                    out.append(ts + b"--- FAIL: TestCase%d_%d (%d.%02ds)\r\n" % (block_no, i, rnd.randrange(9), rnd.randrange(99)))
                elif r < 0.035:
                    out.append(ts + b"Downloading " + b"".join(b"\r%3d%%" % p for p in range(0, 101, 5)) + b"\r\n")
                elif r < 0.037:
                    out.append(ts + b"\xff\xfe invalid \xc3( utf-8 \x00 nul\r\n")
                else:
                    out.append(ts + b"ok  \texample.com/pkg/p%d\t0.%03ds\r\n" % (rnd.randrange(10**6), rnd.randrange(1000)))
            if block_no % 50 == 0:
                out.append(b"error: " + b"Z" * 300_000 + b"\r\n")  # a long line now and then
            put(b"".join(out))
        put(b"2024-01-02T00:00:00.0000000Z ##[error]Process completed with exit code 2.\r\n")
    print(written, lines)
    """
)

_MEASURE = textwrap.dedent(
    """
    import resource, subprocess, sys
    cmd = [sys.executable, "-c", "from cimedic.interfaces.cli.app import main; main()",
           "analyze", sys.argv[1], "--format", "json"]
    proc = subprocess.run(cmd, capture_output=True)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    sys.stderr.write(proc.stderr.decode(errors="replace"))
    sys.stdout.write(str(proc.returncode) + "\\n" + str(peak_kib) + "\\n" + proc.stdout.decode())
    """
)


def test_big_log_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    gen = subprocess.run(
        [sys.executable, "-c", _GENERATOR, str(path), str(200 * 1024 * 1024)],
        capture_output=True, check=True, timeout=600,
    )  # fmt: skip
    size, lines = map(int, gen.stdout.split())
    assert path.stat().st_size == size >= 200 * 1024 * 1024
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIMEDIC_")}
    env["CIMEDIC_CONFIG"] = os.devnull
    # measured in a wrapper process so that RUSAGE_CHILDREN only sees the analysis
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], capture_output=True, env=env, timeout=1200
    )
    rc, peak_kib, stdout = proc.stdout.decode().split("\n", 2)
    assert rc == "0", proc.stderr.decode(errors="replace")
    peak_mib = int(peak_kib) / 1024  # ru_maxrss is in KiB on Linux
    assert peak_mib < 400, f"peak RSS {peak_mib:.0f} MiB"
    out = json.loads(stdout)
    assert out["log"]["bytes"] == size
    assert out["log"]["lines"] == lines
    assert out["category"] != "none"
    assert 1 <= len(out["error_lines"]) <= 40
    for e in out["error_lines"]:
        assert 1 <= e["line"] <= lines and len(e["text"]) <= 500
