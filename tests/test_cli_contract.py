"""The ``cimedic analyze`` command-line contract, run as a real subprocess.

JSON output: exactly one object with the documented keys and types; exit status 0 whenever
the input could be read, 2 (empty stdout, one ``cimedic: error:`` stderr line) when it cannot
be opened or decompressed; stable failure signatures.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import random
import re
import subprocess
import sys
import uuid
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(60)  # `cimedic analyze` subprocesses

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "logs"
GHA = FIXTURES / "gha_terraform_quick_checks_run104_fail.log"
GHA_PASS = FIXTURES / "gha_terraform_quick_checks_run104_pass.log"
GHA_TIDY = FIXTURES / "gha_terraform_quick_checks_run107_fail.log"
GH_RUN_VIEW = FIXTURES / "gh_run_view_cidiff_11_fail.log"
JENKINS = FIXTURES / "jenkins_cocospoon_1754_fail.log"
TRAVIS = FIXTURES / "travis_freecodecamp_565987238.log"
FAILING = sorted(p for p in FIXTURES.iterdir() if not p.name.endswith("_pass.log"))

CLI = [sys.executable, "-c", "from cimedic.interfaces.cli.app import main; main()"]
CATEGORIES = {
    "compilation", "dependency", "test", "lint", "type_check", "security_scan", "workflow_config",
    "secrets_env", "permissions", "runner_lost", "oom", "timeout", "cancelled", "network", "registry",
    "rate_limit", "disk", "infrastructure", "unknown", "none",
}  # fmt: skip
FORMATS = {"github-actions", "gh-run-view", "github-zip", "gitlab", "jenkins", "travis", "plain"}
TOP_KEYS = {
    "log", "failed_step", "error_lines", "excerpt", "category", "transient", "confidence", "signature",
    "cause", "summary", "elapsed_ms",
}  # fmt: skip
ISO_PREFIX = re.compile(r"^\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d")
SIGNATURE = re.compile(r"^[0-9a-f]{32}$")


def java_line_count(data: bytes) -> int:
    """Number of lines ``BufferedReader.readLine`` returns (breaks: \\n, \\r\\n, lone \\r)."""
    breaks = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return breaks + (1 if data and data[-1:] not in (b"\n", b"\r") else 0)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIMEDIC_")}
    env["CIMEDIC_CONFIG"] = os.devnull  # not a regular file: no user configuration is read
    env["COLUMNS"] = "200"
    return env


def run_cli(*args: str, tmp_path: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*CLI, "analyze", *args], input=stdin, capture_output=True, env=_env(), timeout=180, cwd=tmp_path
    )


def analyze_json(path: str, tmp_path: Path, *extra: str, stdin: bytes | None = None) -> dict[str, Any]:
    if stdin is None and Path(path).is_absolute() and Path(path).parent == FIXTURES:
        return json.loads(_fixture_json(path, extra))  # fresh copy of a cached run
    proc = run_cli(path, "--format", "json", *extra, tmp_path=tmp_path, stdin=stdin)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return parse_single_object(proc.stdout.decode("utf-8"))


@functools.cache
def _fixture_json(path: str, extra: tuple[str, ...]) -> str:
    """JSON output for a (read-only) fixture, computed once per test session."""
    proc = subprocess.run(
        [*CLI, "analyze", path, "--format", "json", *extra], capture_output=True, env=_env(), timeout=180
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return json.dumps(parse_single_object(proc.stdout.decode("utf-8")))


def parse_single_object(stdout: str) -> dict[str, Any]:
    """stdout must hold exactly one JSON object (and nothing else but white space)."""
    obj, end = json.JSONDecoder().raw_decode(stdout.lstrip())
    assert stdout.lstrip()[end:].strip() == "", "extra output after the JSON object"
    assert isinstance(obj, dict)
    return obj


def is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def check_contract(out: dict[str, Any]) -> None:
    """Keys, types and invariants of the JSON contract."""
    assert set(out) == TOP_KEYS

    log = out["log"]
    assert set(log) == {"path", "format", "lines", "bytes", "lf_lines"}
    assert type(log["lf_lines"]) is int and 0 <= log["lf_lines"] <= log["lines"]
    assert isinstance(log["path"], str) and log["path"]
    assert log["format"] in FORMATS
    assert type(log["lines"]) is int and log["lines"] >= 0
    assert type(log["bytes"]) is int and log["bytes"] >= 0
    total = log["lines"]

    step = out["failed_step"]
    if step is not None:
        assert set(step) == {"name", "start_line", "end_line", "lf_start_line", "lf_end_line"}
        assert 1 <= step["lf_start_line"] <= step["lf_end_line"] <= step["end_line"]
        assert isinstance(step["name"], str) and step["name"]
        assert type(step["start_line"]) is int and type(step["end_line"]) is int
        assert 1 <= step["start_line"] <= step["end_line"] <= total

    errors = out["error_lines"]
    assert isinstance(errors, list) and len(errors) <= 40
    for e in errors:
        assert set(e) == {"line", "lf_line", "text", "score"}
        assert type(e["lf_line"]) is int and 1 <= e["lf_line"] <= e["line"]
        assert type(e["line"]) is int and 1 <= e["line"] <= total
        assert isinstance(e["text"], str) and len(e["text"]) <= 500
        assert "\x1b" not in e["text"], e["text"]
        assert not ISO_PREFIX.match(e["text"]), e["text"]
        assert is_number(e["score"])
    scores = [e["score"] for e in errors]
    assert scores == sorted(scores, reverse=True), "error_lines must be best first"

    excerpt = out["excerpt"]
    if excerpt is not None:
        assert set(excerpt) == {"start_line", "end_line", "lf_start_line", "lf_end_line"}
        assert 1 <= excerpt["lf_start_line"] <= excerpt["lf_end_line"] <= excerpt["end_line"]
        assert type(excerpt["start_line"]) is int and type(excerpt["end_line"]) is int
        assert 1 <= excerpt["start_line"] <= excerpt["end_line"] <= total

    assert out["category"] in CATEGORIES
    assert isinstance(out["transient"], bool)
    assert is_number(out["confidence"]) and 0.0 <= out["confidence"] <= 1.0
    assert isinstance(out["signature"], str)
    cause = out["cause"]
    if cause is not None:
        assert set(cause) == {"id", "name", "fix"}
        assert all(isinstance(cause[k], str) for k in ("id", "name", "fix"))
    assert isinstance(out["summary"], str) and out["summary"]
    assert is_number(out["elapsed_ms"]) and out["elapsed_ms"] >= 0

    if out["category"] == "none":
        assert out["excerpt"] is None
        assert out["error_lines"] == []
        assert out["cause"] is None
        assert out["transient"] is False
    else:
        assert SIGNATURE.match(out["signature"]), out["signature"]
        assert out["excerpt"] is not None
        assert out["error_lines"]


def check_error_exit(proc: subprocess.CompletedProcess[bytes]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == b""
    err = proc.stderr.decode("utf-8", "replace")
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("cimedic: error: "), err
    assert len(lines[0]) > len("cimedic: error: ")
    return lines[0]


# --------------------------------------------------------------------------- JSON contract


@pytest.mark.parametrize("fixture", FAILING, ids=lambda p: p.name)
def test_json_contract_on_failing_fixtures(tmp_path: Path, fixture: Path) -> None:
    out = analyze_json(str(fixture), tmp_path)
    check_contract(out)
    data = fixture.read_bytes()
    assert out["log"]["path"] == str(fixture)
    assert out["log"]["lines"] == java_line_count(data)
    assert out["log"]["bytes"] == len(data)
    assert out["category"] != "none", "a failing log must be diagnosed as a failure"


def test_json_contract_with_relative_path(tmp_path: Path) -> None:
    (tmp_path / "job.log").write_bytes(GHA.read_bytes())
    out = analyze_json("job.log", tmp_path)
    check_contract(out)
    assert out["log"]["path"] == "job.log"


def test_stdin_dash(tmp_path: Path) -> None:
    data = JENKINS.read_bytes()
    out = analyze_json("-", tmp_path, stdin=data)
    check_contract(out)
    assert out["log"]["path"] == "-"
    assert out["log"]["lines"] == java_line_count(data)
    assert out["log"]["bytes"] == len(data)
    assert out == {**analyze_json(str(JENKINS), tmp_path), "log": out["log"], "elapsed_ms": out["elapsed_ms"]}


def test_gzip_input_counts_decompressed_bytes(tmp_path: Path) -> None:
    data = TRAVIS.read_bytes()
    path = tmp_path / "travis.log.gz"
    path.write_bytes(gzip.compress(data))
    out = analyze_json(str(path), tmp_path)
    check_contract(out)
    assert out["log"]["bytes"] == len(data)
    assert out["log"]["lines"] == java_line_count(data)
    assert out["log"]["format"] == "travis"


def test_many_error_lines_are_capped_and_cleaned(tmp_path: Path) -> None:
    lines = ["2024-03-01T10:00:00.0000000Z ##[group]Run make", "2024-03-01T10:00:00.1000000Z ##[endgroup]"]
    for i in range(120):
        lines.append(
            f"2024-03-01T10:00:{i % 60:02d}.{i:07d}Z \x1b[31msrc/mod{i}.c:{i + 1}:5: error: 'var{i}' undeclared"
            f" (first use in this function)\x1b[0m"
        )
    lines.append("2024-03-01T10:01:00.0000000Z \x1b[1;31merror: " + "x" * 3000 + " failed\x1b[0m")
    lines.append("2024-03-01T10:01:01.0000000Z ##[error]Process completed with exit code 2.")
    path = tmp_path / "many.log"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    out = analyze_json(str(path), tmp_path)
    check_contract(out)
    assert out["category"] != "none"
    assert len(out["error_lines"]) == 40


# --------------------------------------------------------------------------- no failure


def test_passing_log_gives_none(tmp_path: Path) -> None:
    out = analyze_json(str(GHA_PASS), tmp_path)
    check_contract(out)
    assert out["category"] == "none"
    assert out["excerpt"] is None and out["error_lines"] == [] and out["cause"] is None
    assert out["transient"] is False
    assert out["log"]["lines"] == java_line_count(GHA_PASS.read_bytes())


def test_empty_file_gives_none(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    out = analyze_json(str(path), tmp_path)
    check_contract(out)
    assert out["category"] == "none"
    assert out["log"]["lines"] == 0 and out["log"]["bytes"] == 0
    assert out["excerpt"] is None and out["error_lines"] == [] and out["cause"] is None
    assert out["transient"] is False


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_passing_log_other_formats(tmp_path: Path, fmt: str) -> None:
    proc = run_cli(str(GHA_PASS), "--format", fmt, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert proc.stdout.strip()


# --------------------------------------------------------------------------- other outputs


@pytest.mark.parametrize("fixture", [GHA, TRAVIS], ids=lambda p: p.name)
@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_text_and_markdown_name_the_category(tmp_path: Path, fixture: Path, fmt: str) -> None:
    category = analyze_json(str(fixture), tmp_path)["category"]
    proc = run_cli(str(fixture), "--format", fmt, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = proc.stdout.decode("utf-8")
    assert category in out
    if fmt == "markdown":
        assert out.lstrip().startswith("#")


def test_default_format_is_text(tmp_path: Path) -> None:
    proc = run_cli(str(GHA), tmp_path=tmp_path)
    assert proc.returncode == 0
    assert b"test" in proc.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(proc.stdout)


def test_baseline(tmp_path: Path) -> None:
    out = analyze_json(str(GHA), tmp_path, "--baseline", str(GHA_PASS))
    check_contract(out)
    assert out["category"] != "none"
    assert out["log"]["path"] == str(GHA)


# --------------------------------------------------------------------------- exit status 2


def test_missing_file(tmp_path: Path) -> None:
    check_error_exit(run_cli(str(tmp_path / "nope.log"), "--format", "json", tmp_path=tmp_path))


@pytest.mark.parametrize("fmt", ["json", "text", "markdown"])
def test_corrupt_gzip(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "bad.log.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"definitely not deflate" * 50)
    check_error_exit(run_cli(str(path), "--format", fmt, tmp_path=tmp_path))


def test_truncated_gzip(tmp_path: Path) -> None:
    # decompression fails after some batches were already analysed: still nothing on stdout
    blob = gzip.compress(GHA.read_bytes() * 20)
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: int(len(blob) * 0.8)])
    check_error_exit(run_cli(str(path), "--format", "json", tmp_path=tmp_path))


def test_corrupt_gzip_on_stdin(tmp_path: Path) -> None:
    check_error_exit(run_cli("-", "--format", "json", tmp_path=tmp_path, stdin=b"\x1f\x8b\x08\x00garbage"))


def test_corrupt_zip(tmp_path: Path) -> None:
    path = tmp_path / "logs.zip"
    path.write_bytes(b"PK\x03\x04" + b"\x00garbage" * 40)
    check_error_exit(run_cli(str(path), "--format", "json", tmp_path=tmp_path))


def test_zip_with_damaged_member(tmp_path: Path) -> None:
    path = tmp_path / "logs.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("1_build.txt", GHA.read_bytes())
    blob = bytearray(path.read_bytes())
    i = blob.find(b"Requested labels")
    blob[i] ^= 0x20
    path.write_bytes(bytes(blob))
    check_error_exit(run_cli(str(path), "--format", "json", tmp_path=tmp_path))


def test_directory_argument(tmp_path: Path) -> None:
    check_error_exit(run_cli(str(tmp_path), "--format", "json", tmp_path=tmp_path))


def test_missing_baseline(tmp_path: Path) -> None:
    check_error_exit(
        run_cli(str(GHA), "--format", "json", "--baseline", str(tmp_path / "nope.log"), tmp_path=tmp_path)
    )


# --------------------------------------------------------------------------- signatures

_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_HEX = re.compile(r"\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,64}\b")
_TMP = re.compile(r"/tmp/[^\s:'\"]+")
_DUR = re.compile(r"\b\d+\.\d+(?=m?s\b)")


def random_uuid(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def perturb(data: bytes, seed: int) -> bytes:
    """The same log as another run would print it: other timestamps, durations, hex ids,
    temporary paths and UUIDs; everything else (and every line break) unchanged."""
    rnd = random.Random(seed)
    text = data.decode("utf-8", "surrogateescape")
    shift = timedelta(days=3, hours=5, minutes=7, seconds=11)

    def new_ts(m: re.Match[str]) -> str:
        head, frac = m.group(0)[:-1].split(".")
        when = datetime.fromisoformat(head) + shift
        return f"{when.isoformat()}.{''.join(rnd.choice('0123456789') for _ in frac)}Z"

    def new_hex(m: re.Match[str]) -> str:
        n = len(m.group(0))
        return "9a" + "".join(rnd.choice("0123456789abcdef") for _ in range(n - 2))

    def new_digits(m: re.Match[str]) -> str:
        k = rnd.randint(1, 9)
        return "".join(str((int(c) + k) % 10) if c.isdigit() else c for c in m.group(0))

    text = _TS.sub(new_ts, text)
    text = _UUID.sub(lambda m: random_uuid(rnd), text)
    text = _TMP.sub(
        lambda m: "/tmp/" + "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12)),
        text,
    )
    text = _HEX.sub(new_hex, text)
    text = _DUR.sub(new_digits, text)
    return text.encode("utf-8", "surrogateescape")


@pytest.mark.parametrize("fixture", [GHA, GH_RUN_VIEW, TRAVIS, JENKINS], ids=lambda p: p.name)
def test_signature_stable_across_runs(tmp_path: Path, fixture: Path) -> None:
    data = fixture.read_bytes()
    other = perturb(data, seed=7)
    assert other != data
    assert java_line_count(other) == java_line_count(data)
    copy = tmp_path / ("other-run-" + fixture.name)
    copy.write_bytes(other)
    a = analyze_json(str(fixture), tmp_path)
    b = analyze_json(str(copy), tmp_path)
    assert SIGNATURE.match(a["signature"])
    assert a["signature"] == b["signature"]
    assert a["category"] == b["category"]
    assert [e["line"] for e in a["error_lines"][:5]] == [e["line"] for e in b["error_lines"][:5]]


def test_perturbation_touches_the_primary_error_line(tmp_path: Path) -> None:
    # guard for the test above: on the GHA fixture the top error line itself carries a
    # duration ("(0.00s)") and a timestamp that the perturbation changes
    a = analyze_json(str(GHA), tmp_path)
    line = a["error_lines"][0]["line"]
    raw = GHA.read_bytes().split(b"\r\n")[line - 1]
    assert raw != perturb(GHA.read_bytes(), seed=7).split(b"\r\n")[line - 1]


def _volatile_failure(tmp_path: Path, name: str, seed: int, message: str) -> Path:
    rnd = random.Random(seed)
    tmpdir = f"/tmp/go-build{rnd.randint(10**8, 10**9)}/b{rnd.randint(1, 999):03d}"
    request = random_uuid(rnd)
    sha = "".join(rnd.choice("0123456789abcdef") for _ in range(39)) + "a"
    dur = f"{rnd.randint(1, 99)}.{rnd.randint(100, 999)}s"
    day = 1 + seed % 27
    lines = [
        f"2024-05-{day:02d}T08:00:00.1234567Z ##[group]Run make test",
        f"2024-05-{day:02d}T08:00:00.2234567Z ##[endgroup]",
        f"2024-05-{day:02d}T08:00:01.{rnd.randint(10**6, 10**7 - 1)}Z ok   example.com/app/util {dur}",
        f"2024-05-{day:02d}T08:00:02.{rnd.randint(10**6, 10**7 - 1)}Z Error: open {tmpdir}/testlog.txt: "
        f"{message} (request {request}, commit {sha}, after {dur})",
        f"2024-05-{day:02d}T08:00:03.1234567Z ##[error]Process completed with exit code 1.",
    ]
    path = tmp_path / name
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path


def test_signature_masks_volatile_tokens_in_the_error_line(tmp_path: Path) -> None:
    # in-process (same code path as the command, minus the process start-up)
    from cimedic.interfaces.cli.render import contract
    from cimedic.services.diagnose import analyze_path, make_diagnoser

    diagnoser, _ = make_diagnoser()

    def run(path: Path) -> dict[str, Any]:
        return contract(analyze_path(str(path), diagnoser=diagnoser).diagnosis)

    a = run(_volatile_failure(tmp_path, "a.log", 1, "no such file or directory"))
    b = run(_volatile_failure(tmp_path, "b.log", 2, "no such file or directory"))
    c = run(_volatile_failure(tmp_path, "c.log", 3, "permission denied"))
    for out in (a, b, c):
        check_contract(out)
    assert a["error_lines"][0]["line"] == b["error_lines"][0]["line"] == 4
    assert a["error_lines"][0]["text"] != b["error_lines"][0]["text"]
    assert a["signature"] == b["signature"]
    assert a["signature"] != c["signature"]


def test_different_failures_have_different_signatures(tmp_path: Path) -> None:
    sigs = {p.name: analyze_json(str(p), tmp_path)["signature"] for p in FAILING}
    assert all(SIGNATURE.match(s) for s in sigs.values()), sigs
    assert len(set(sigs.values())) == len(sigs), sigs


# --------------------------------------------------------------------------- escape sequences


def test_error_text_has_no_escape_sequences(tmp_path: Path) -> None:
    # escape sequences seen in real CI output besides CSI colours: tput sgr0 ("ESC(B ESC[m",
    # an ISO 2022 charset designation), save/restore cursor (ESC 7 / ESC 8), OSC 8 hyperlinks,
    # and a colour code cut at the end of the line. None of their bytes may remain.
    esc = "\x1b"
    lines = [
        "2024-03-01T10:00:00.0000000Z ##[group]Run make",
        "2024-03-01T10:00:00.1000000Z ##[endgroup]",
        f"2024-03-01T10:00:01.0000000Z {esc}[1m{esc}[31merror:{esc}(B{esc}[m src/a.c:1:2: unknown type 'T'{esc}(B{esc}[m",
        f"2024-03-01T10:00:01.1000000Z {esc}7{esc}[2Kfatal error: linking failed{esc}8",
        f"2024-03-01T10:00:01.2000000Z {esc}]8;;https://example.org/x{esc}\\error: see docs{esc}]8;;{esc}\\",
        f"2024-03-01T10:00:01.3000000Z error: output cut in the middle of a colour code {esc}[3",
        "2024-03-01T10:00:02.0000000Z ##[error]Process completed with exit code 2.",
    ]
    path = tmp_path / "esc.log"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    out = analyze_json(str(path), tmp_path)
    check_contract(out)
    texts = {e["line"]: e["text"] for e in out["error_lines"]}
    assert texts.get(3) == "error: src/a.c:1:2: unknown type 'T'"
    assert texts.get(4) == "fatal error: linking failed"
    assert texts.get(5) == "error: see docs"
    assert texts.get(6) == "error: output cut in the middle of a colour code"
