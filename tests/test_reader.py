"""The streaming log reader: line counting (Java ``readLine`` semantics), batching, gzip,
zip, stdin and read errors.

Every expectation is computed by :func:`java_readlines`, an independent re-implementation of
``java.io.BufferedReader.readLine`` over bytes (``\\n``, ``\\r\\n`` and a lone ``\\r`` end a
line; nothing else does).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cimedic.inputs.logs as logs_mod
from cimedic.inputs.logs import LogMember, LogReadError, open_log
from cimedic.model.batches import LineBatch, normalize_breaks, split_lines
from javalines import java_readlines

pytestmark = pytest.mark.timeout(60)  # `cimedic analyze` subprocesses

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "logs"
GHA_FIXTURE = FIXTURES / "gha_terraform_quick_checks_run104_fail.log"
MAGICS = (b"\x1f\x8b", b"PK\x03\x04", b"PK\x05\x06")
CLI = [sys.executable, "-c", "from cimedic.interfaces.cli.app import main; main()"]


# --------------------------------------------------------------------------- reference


def java_breaks_before(data: bytes, offset: int) -> int:
    """Number of complete line terminators in ``data[:offset]`` (a ``\\r\\n`` counts once)."""
    prefix = data[:offset]
    return prefix.count(b"\n") + prefix.count(b"\r") - prefix.count(b"\r\n")


def test_reference_implementation_sanity() -> None:
    assert java_readlines(b"") == []
    assert java_readlines(b"\n") == [b""]
    assert java_readlines(b"a") == [b"a"]
    assert java_readlines(b"a\r\nb\rc\nd") == [b"a", b"b", b"c", b"d"]
    assert java_readlines(b"a\r\r\nb") == [b"a", b"", b"b"]
    assert java_readlines(b"a\n\rb") == [b"a", b"", b"b"]
    assert java_readlines("x\x0by\x0cz\x1cw\x85v\u2028u\u2029".encode()) == [
        "x\x0by\x0cz\x1cw\x85v\u2028u\u2029".encode()
    ]


# --------------------------------------------------------------------------- helpers


def read_member(member: LogMember, batch_bytes: int | None = None) -> list[LineBatch]:
    return list(member.batches() if batch_bytes is None else member.batches(batch_bytes))


def numbered_lines(batches: list[LineBatch]) -> dict[int, bytes]:
    """Line number -> raw text, as the analyzer sees it (``split_lines`` per batch)."""
    out: dict[int, bytes] = {}
    for batch in batches:
        for i, raw in enumerate(split_lines(batch.data)):
            n = batch.first_line + i
            assert n not in out, f"line {n} delivered twice"
            out[n] = raw
    return out


def check_batches(data: bytes, batches: list[LineBatch], *, whole_lines: bool = True) -> None:
    """Invariants of a batch stream over ``data``."""
    # the reader normalizes \r\n and lone \r to \n (same line count); content bytes are kept
    assert b"".join(b.data for b in batches) == normalize_breaks(data), (
        "batches must concatenate to the input"
    )
    for i, batch in enumerate(batches):
        assert batch.data, "no empty batches"
        offset = batch.offset  # byte offset of the batch in the original input
        assert batch.first_line == 1 + java_breaks_before(data, offset), (
            f"batch {i} at byte {offset} has first_line {batch.first_line}"
        )
        if i + 1 < len(batches):
            nxt = batches[i + 1].offset
            # a \r\n pair is never split between two batches
            assert not (data[nxt - 1 : nxt] == b"\r" and data[nxt : nxt + 1] == b"\n"), (
                f"\\r\\n split after batch {i}"
            )
            assert normalize_breaks(data[offset:nxt]) == batch.data, (
                f"batch {i} is not its slice of the input"
            )
        if whole_lines and i < len(batches) - 1:
            assert batch.data[-1:] == b"\n", f"batch {i} does not end at a line break"
    if whole_lines:
        assert numbered_lines(batches) == dict(enumerate(java_readlines(data), start=1))


def open_one(path: Path) -> LogMember:
    members, tmp = open_log(str(path))
    assert tmp is None
    assert len(members) == 1
    return members[0]


# --------------------------------------------------------------------------- line counting

CASES = {
    "lf": b"alpha\nbeta\ngamma\n",
    "crlf": b"alpha\r\nbeta\r\ngamma\r\n",
    "lone_cr": b"alpha\rbeta\rgamma\r",
    "mixed": b"a\nb\r\nc\rd\n\re\r\r\nf",
    "no_final_newline": b"first\nsecond\nthird",
    "no_final_newline_crlf": b"first\r\nsecond",
    "empty": b"",
    "only_lf": b"\n",
    "only_cr": b"\r",
    "only_crlf": b"\r\n",
    "blank_lines": b"\n\n\r\n\r\r\n\n",
    "single_line_no_break": b"just one line",
    "cr_progress_bar": b"Downloading\r 10%\r 50%\r100%\ndone\n",
    "unicode_separators_not_breaks": (
        "vt\x0bff\x0cfs\x1cgs\x1drs\x1enel\x85ls\u2028ps\u2029end\nnext\x0b\n".encode()
    ),
    "raw_c1_byte_not_break": b"latin1 NEL \x85 here\nsecond \x1c line\n",
    "nul_and_invalid_utf8": b"nul\x00byte\n\xff\xfe\xc3(\n\x00\n",
    "ansi": b"\x1b[31mERROR\x1b[0m x\r\n\x1b[0K\r\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_line_count_matches_java_readline(tmp_path: Path, name: str) -> None:
    data = CASES[name]
    path = tmp_path / "log.txt"
    path.write_bytes(data)
    member = open_one(path)
    assert member.display_path == str(path)
    batches = read_member(member)
    check_batches(data, batches)
    assert member.lines == len(java_readlines(data))
    assert member.bytes_read == len(data)


def test_unicode_separators_do_not_break_lines(tmp_path: Path) -> None:
    text = "a\x0bb\x0cc\x1cd\x1de\x1ef\x85g\u2028h\u2029i"
    assert len(text.splitlines()) > 1  # what must NOT happen
    path = tmp_path / "sep.log"
    path.write_bytes(text.encode() + b"\n")
    member = open_one(path)
    batches = read_member(member)
    assert member.lines == 1
    assert numbered_lines(batches) == {1: text.encode()}


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    member = open_one(path)
    assert read_member(member) == []
    assert member.lines == 0
    assert member.bytes_read == 0
    assert member.load_head() == b""


def test_load_head_is_a_prefix(tmp_path: Path) -> None:
    data = GHA_FIXTURE.read_bytes()
    path = tmp_path / "x.log"
    path.write_bytes(data)
    head = open_one(path).load_head()
    assert head and data.startswith(head)
    assert len(head) <= logs_mod.HEAD_BYTES


# --------------------------------------------------------------------------- batch boundaries


@pytest.mark.parametrize("batch_bytes", [1, 2, 3, 4, 5, 7, 16, 64])
@pytest.mark.parametrize("name", sorted(CASES))
def test_small_batches_keep_numbering(tmp_path: Path, name: str, batch_bytes: int) -> None:
    data = CASES[name] * 3
    path = tmp_path / "log.txt"
    path.write_bytes(data)
    member = open_one(path)
    batches = read_member(member, batch_bytes)
    check_batches(data, batches)
    assert member.lines == len(java_readlines(data))
    assert member.bytes_read == len(data)


@pytest.mark.parametrize("batch_bytes", [3, 4, 6])
def test_crlf_split_across_read_boundary(tmp_path: Path, batch_bytes: int) -> None:
    # with batch_bytes=3 the first read is b"ab\r": the \n arrives with the next read
    data = b"ab\r\ncd\r\nef\r\ngh"
    path = tmp_path / "crlf.log"
    path.write_bytes(data)
    member = open_one(path)
    batches = read_member(member, batch_bytes)
    check_batches(data, batches)
    assert member.lines == 4
    assert numbered_lines(batches) == {1: b"ab", 2: b"cd", 3: b"ef", 4: b"gh"}


def test_lone_cr_at_read_boundary_then_text(tmp_path: Path) -> None:
    data = b"ab\rcd\ref"
    path = tmp_path / "cr.log"
    path.write_bytes(data)
    member = open_one(path)
    batches = read_member(member, 3)
    check_batches(data, batches)
    assert member.lines == 3


def test_final_cr_at_end_of_file(tmp_path: Path) -> None:
    data = b"abc\r"
    path = tmp_path / "cr.log"
    path.write_bytes(data)
    for bb in (1, 2, 3, 4, 100):
        member = open_one(path)
        batches = read_member(member, bb)
        check_batches(data, batches)
        assert member.lines == 1


@pytest.mark.parametrize("batch_bytes", [97, 1000, 4096])
def test_real_fixture_in_small_batches(tmp_path: Path, batch_bytes: int) -> None:
    # the GitHub Actions fixture has \r\n line ends everywhere, so many reads end between \r and \n
    data = GHA_FIXTURE.read_bytes()
    path = tmp_path / "gha.log"
    path.write_bytes(data)
    member = open_one(path)
    batches = read_member(member, batch_bytes)
    assert len(batches) > 5
    check_batches(data, batches)
    assert member.lines == len(java_readlines(data)) == 353


def test_overlong_line_is_cut_but_keeps_its_number(tmp_path: Path) -> None:
    # shrink the hard cap so that a 50-byte line exceeds it
    data = b"short\r\n" + b"x" * 50 + b"\r\n" + b"y" * 30 + b"\rlast"
    path = tmp_path / "long.log"
    path.write_bytes(data)
    with mock.patch.object(logs_mod, "MAX_BATCH_BYTES", 8):
        member = open_one(path)
        batches = read_member(member, 4)
    check_batches(data, batches, whole_lines=False)
    assert member.lines == len(java_readlines(data)) == 4
    # every piece of line 2 is numbered 2
    pieces = [b for b in batches if b"x" in b.data]
    assert len(pieces) > 1
    assert {b.first_line for b in pieces if not b.data.startswith(b"short")} == {2}


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(
        st.one_of(
            st.sampled_from(
                [b"\n", b"\r", b"\r\n", b"\x0b", b"\x0c", b"\x1c", b"\xc2\x85", b"\xe2\x80\xa8", b"\x00"]
            ),
            st.binary(min_size=1, max_size=12),
        ),
        max_size=40,
    )
    .map(b"".join)
    .filter(lambda d: not d.startswith(MAGICS)),  # gzip/zip magic bytes select a decompressor
    batch_bytes=st.integers(min_value=1, max_value=24),
    cap=st.sampled_from([None, 6, 16]),
)
def test_property_batches_equal_reference(data: bytes, batch_bytes: int, cap: int | None) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.log"
        path.write_bytes(data)
        if cap is None:
            member = open_one(path)
            batches = read_member(member, batch_bytes)
            check_batches(data, batches)
        else:
            with mock.patch.object(logs_mod, "MAX_BATCH_BYTES", cap):
                member = open_one(path)
                batches = read_member(member, batch_bytes)
            check_batches(data, batches, whole_lines=False)
        assert member.lines == len(java_readlines(data))
        assert member.bytes_read == len(data)


# --------------------------------------------------------------------------- gzip


def test_gzip_detected_by_magic_bytes(tmp_path: Path) -> None:
    data = GHA_FIXTURE.read_bytes()
    for name in ("job.log.gz", "job.txt"):  # the extension does not matter
        path = tmp_path / name
        path.write_bytes(gzip.compress(data))
        member = open_one(path)
        assert member.display_path == str(path)
        assert not member.in_zip
        assert data.startswith(member.load_head())
        batches = read_member(member, 1000)
        check_batches(data, batches)
        assert member.lines == len(java_readlines(data))
        assert member.bytes_read == len(data)  # decompressed size


def test_empty_gzip(tmp_path: Path) -> None:
    path = tmp_path / "empty.gz"
    path.write_bytes(gzip.compress(b""))
    member = open_one(path)
    assert read_member(member) == []
    assert member.lines == 0 and member.bytes_read == 0


def test_corrupt_gzip_raises_logreaderror(tmp_path: Path) -> None:
    path = tmp_path / "bad.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"this is not deflate data" * 10)
    members, _ = open_log(str(path))
    with pytest.raises(LogReadError):
        members[0].load_head()
    members, _ = open_log(str(path))
    with pytest.raises(LogReadError):
        read_member(members[0])


def test_truncated_gzip_raises_logreaderror(tmp_path: Path) -> None:
    blob = gzip.compress(GHA_FIXTURE.read_bytes())
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: len(blob) // 2])
    members, _ = open_log(str(path))
    with pytest.raises(LogReadError):
        read_member(members[0], 4096)


# --------------------------------------------------------------------------- zip


def make_zip(path: Path, files: dict[str, bytes], dirs: tuple[str, ...] = ()) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for d in dirs:
            zf.writestr(zipfile.ZipInfo(d.rstrip("/") + "/"), b"")
        for name, content in files.items():
            zf.writestr(name, content)


def test_zip_prefers_top_level_job_logs_in_natural_order(tmp_path: Path) -> None:
    archive = tmp_path / "logs_42.zip"
    make_zip(
        archive,
        {
            "10_lint.txt": b"lint\n",
            "2_test.txt": b"test\r\nline2\r\n",
            "1_build.txt": b"build\n",
            "build/1_Set up job.txt": b"setup\n",
            "build/2_Run tests.txt": b"run\n",
        },
        dirs=("build",),
    )
    members, tmp = open_log(str(archive))
    assert tmp is None
    assert [m.display_path for m in members] == [
        f"{archive}!1_build.txt",
        f"{archive}!2_test.txt",
        f"{archive}!10_lint.txt",
    ]
    assert all(m.in_zip for m in members)
    batches = read_member(members[1])
    assert members[1].lines == 2 and members[1].bytes_read == len(b"test\r\nline2\r\n")
    assert numbered_lines(batches) == {1: b"test", 2: b"line2"}


def test_zip_with_only_step_files(tmp_path: Path) -> None:
    archive = tmp_path / "steps.zip"
    make_zip(
        archive,
        {
            "build/10_Post Run actions_checkout@v2.txt": b"post\n",
            "build/2_Run tests.txt": b"a\r\nb\rc\n",
            "build/1_Set up job.txt": b"setup\n",
            "build/3_Empty.txt": b"",  # empty members are skipped
        },
        dirs=("build",),
    )
    members, _ = open_log(str(archive))
    assert [m.display_path.split("!", 1)[1] for m in members] == [
        "build/1_Set up job.txt",
        "build/2_Run tests.txt",
        "build/10_Post Run actions_checkout@v2.txt",
    ]
    run = members[1]
    batches = read_member(run, 2)
    check_batches(b"a\r\nb\rc\n", batches)
    assert run.lines == 3


def test_corrupt_zip_raises_logreaderror(tmp_path: Path) -> None:
    path = tmp_path / "bad.zip"
    path.write_bytes(b"PK\x03\x04" + b"garbage" * 20)
    with pytest.raises(LogReadError):
        open_log(str(path))


def test_zip_member_with_bad_crc_raises_logreaderror(tmp_path: Path) -> None:
    path = tmp_path / "crc.zip"
    content = b"hello world, this member will be damaged\n" * 4
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("1_build.txt", content)
    blob = bytearray(path.read_bytes())
    i = blob.find(b"damaged")
    blob[i] = ord("D")
    path.write_bytes(bytes(blob))
    members, _ = open_log(str(path))
    with pytest.raises(LogReadError):
        read_member(members[0])


# --------------------------------------------------------------------------- open errors


def test_missing_file_raises_logreaderror(tmp_path: Path) -> None:
    with pytest.raises(LogReadError, match="no such file"):
        open_log(str(tmp_path / "does-not-exist.log"))


def test_directory_raises_logreaderror(tmp_path: Path) -> None:
    with pytest.raises(LogReadError):
        open_log(str(tmp_path))


def test_unreadable_file_raises_logreaderror(tmp_path: Path) -> None:
    path = tmp_path / "secret.log"
    path.write_bytes(b"x\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            # running as root: permissions are not enforced, so simulate the EACCES that a
            # normal user gets from open()
            denied = PermissionError(13, "Permission denied", str(path))
            with mock.patch.object(Path, "open", side_effect=denied), pytest.raises(LogReadError):
                open_log(str(path))
        else:
            with pytest.raises(LogReadError):
                open_log(str(path))
    finally:
        path.chmod(0o644)


def test_logreaderror_message_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage\n\nmore")
    members, _ = open_log(str(path))
    with pytest.raises(LogReadError) as info:
        read_member(members[0])
    assert "\n" not in str(info.value) and str(info.value)


# --------------------------------------------------------------------------- stdin


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIMEDIC_")}
    env["CIMEDIC_CONFIG"] = os.devnull
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    env["TMPDIR"] = str(spool)
    return env


@pytest.mark.parametrize("compress", [False, True])
def test_stdin_is_spooled_and_counted(tmp_path: Path, compress: bool) -> None:
    data = GHA_FIXTURE.read_bytes()
    payload = gzip.compress(data) if compress else data
    proc = subprocess.run(
        [*CLI, "analyze", "-", "--format", "json"],
        input=payload,
        capture_output=True,
        env=_env(tmp_path),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = json.loads(proc.stdout)
    assert out["log"]["path"] == "-"
    assert out["log"]["lines"] == len(java_readlines(data))
    assert out["log"]["bytes"] == len(data)
    assert out["log"]["format"] == "github-actions"
    # the spooled copy of stdin is removed afterwards
    assert list((tmp_path / "spool").iterdir()) == []


def test_stdin_empty(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*CLI, "analyze", "-", "--format", "json"],
        input=b"",
        capture_output=True,
        env=_env(tmp_path),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = json.loads(proc.stdout)
    assert out["log"] == {"path": "-", "format": out["log"]["format"], "lines": 0, "bytes": 0, "lf_lines": 0}
    assert out["category"] == "none"
