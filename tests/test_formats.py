"""Log dialects: detection on real fixtures, ``--log-format`` override, sections (steps) with
names and times, and the failed step.

Fixtures are real logs (see ``NOTICE``) except ``synthetic_*`` ones. Expected line numbers are
found by searching the fixture text, split the Java ``readLine`` way.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cimedic.analysis.diagnosis.text import detect_format
from cimedic.model import Diagnosis, LogFormat
from cimedic.services.diagnose import analyze_path, make_diagnoser
from javalines import java_readlines

pytestmark = pytest.mark.timeout(180)  # `cimedic analyze` subprocesses (120 s each at most)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "logs"
GHA = FIXTURES / "gha_terraform_quick_checks_run104_fail.log"
GHA_TIDY = FIXTURES / "gha_terraform_quick_checks_run107_fail.log"
GH_RUN_VIEW = FIXTURES / "gh_run_view_cidiff_11_fail.log"
JENKINS = FIXTURES / "jenkins_cocospoon_1754_fail.log"
JENKINS_PIPELINE = FIXTURES / "synthetic_jenkins_pipeline.log"
TRAVIS = FIXTURES / "travis_freecodecamp_565987238.log"
GITLAB = FIXTURES / "synthetic_gitlab.log"
CLI = [sys.executable, "-c", "from cimedic.interfaces.cli.app import main; main()"]

EXPECTED_FORMAT = {
    "gha_terraform_quick_checks_run104_fail.log": "github-actions",
    "gha_terraform_quick_checks_run104_pass.log": "github-actions",
    "gha_terraform_quick_checks_run107_fail.log": "github-actions",
    "gh_run_view_cidiff_11_fail.log": "gh-run-view",
    "jenkins_cocospoon_1754_fail.log": "jenkins",
    "synthetic_jenkins_pipeline.log": "jenkins",
    "travis_freecodecamp_565987238.log": "travis",
    "synthetic_gitlab.log": "gitlab",
}

DIAGNOSER, _PROBLEMS = make_diagnoser()
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)Z ")


def text_lines(path: Path) -> list[str]:
    """Decoded lines without ANSI codes (index 0 is line 1)."""
    return [ANSI.sub("", raw.decode("utf-8", "replace")) for raw in java_readlines(path.read_bytes())]


def line_of(lines: list[str], needle: str, start: int = 1) -> int:
    """1-based number of the first line at or after ``start`` containing ``needle``."""
    for i in range(start - 1, len(lines)):
        if needle in lines[i]:
            return i + 1
    raise AssertionError(f"{needle!r} not found")


def ts_of(line: str) -> datetime:
    """The ISO timestamp prefix of a GitHub Actions line (cut to microseconds)."""
    m = TS.search(line)
    assert m, line
    return datetime.fromisoformat(f"{m.group(1)}.{m.group(2)[:6].ljust(6, '0')}+00:00")


def diagnose(path: Path | str, fmt: LogFormat | None = None) -> Diagnosis:
    return analyze_path(str(path), log_format=fmt, diagnoser=DIAGNOSER).diagnosis


def run_cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIMEDIC_")}
    env["CIMEDIC_CONFIG"] = os.devnull
    return subprocess.run([*CLI, "analyze", *args], capture_output=True, env=env, timeout=120)


# --------------------------------------------------------------------------- detection


def test_every_fixture_has_an_expected_format() -> None:
    assert sorted(p.name for p in FIXTURES.iterdir()) == sorted(EXPECTED_FORMAT)


@pytest.mark.parametrize("name", sorted(EXPECTED_FORMAT))
def test_detect_format_on_head(name: str) -> None:
    head = (FIXTURES / name).read_bytes()[:65536]
    assert detect_format(head).value == EXPECTED_FORMAT[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_FORMAT))
def test_analyze_reports_detected_format(name: str) -> None:
    d = diagnose(FIXTURES / name)
    assert d.log.format.value == EXPECTED_FORMAT[name]
    assert d.log.lines == len(java_readlines((FIXTURES / name).read_bytes()))


def test_plain_maven_output_is_plain() -> None:
    # the Maven part of the real Jenkins console, without the Jenkins preamble and trailer
    lines = java_readlines(JENKINS.read_bytes())
    start = next(i for i, raw in enumerate(lines) if raw.startswith(b"[INFO] Scanning for projects"))
    end = next(i for i, raw in enumerate(lines) if raw.startswith(b"[ERROR] [Help 1]"))
    body = b"\n".join(lines[start : end + 1]) + b"\n"
    assert detect_format(body) is LogFormat.PLAIN


def test_plain_and_empty_detection() -> None:
    assert detect_format(b"") is LogFormat.PLAIN
    assert detect_format(b"hello\nworld\n") is LogFormat.PLAIN
    assert detect_format(b"\x00\xff\xfe garbage \r\r\n") is LogFormat.PLAIN


def test_gha_detected_without_group_markers() -> None:
    # timestamp-prefixed lines alone are enough
    lines = [raw for raw in java_readlines(GHA.read_bytes()) if b"##[" not in raw][:50]
    assert detect_format(b"\r\n".join(lines) + b"\r\n") is LogFormat.GITHUB_ACTIONS


# --------------------------------------------------------------------------- github-zip


def gha_run_zip(path: Path, *, with_job_file: bool) -> int:
    """A run-log zip laid out as GitHub serves it, from the real GHA fixture.

    ``1_build.txt`` is the whole job log; ``build/1_Set up job.txt`` and
    ``build/2_Run tests.txt`` are per-step files. Returns the fixture line number at which
    the second step file starts.
    """
    data = GHA.read_bytes()
    lines = data.split(b"\r\n")
    cut = next(i for i, raw in enumerate(lines) if b"##[group]Run go test ./..." in raw)
    step1 = b"\r\n".join(lines[:cut]) + b"\r\n"
    step2 = b"\r\n".join(lines[cut:])
    assert step1 + step2 == data
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("build/"), b"")
        zf.writestr("build/2_Run tests.txt", step2)
        zf.writestr("build/1_Set up job.txt", step1)
        if with_job_file:
            zf.writestr("1_build.txt", data)
    path.write_bytes(buf.getvalue())
    return cut + 1


def test_github_zip_whole_job_file(tmp_path: Path) -> None:
    archive = tmp_path / "logs_1234.zip"
    gha_run_zip(archive, with_job_file=True)
    d = diagnose(archive)
    plain = diagnose(GHA)
    assert d.log.format is LogFormat.GITHUB_ZIP
    assert d.log.path == f"{archive}!1_build.txt"
    assert d.log.lines == plain.log.lines
    assert d.log.bytes == GHA.stat().st_size
    assert d.failed_step is not None and d.failed_step.name == "go test ./..."
    assert [e.line for e in d.error_lines] == [e.line for e in plain.error_lines]


def test_github_zip_step_files_number_lines_within_member(tmp_path: Path) -> None:
    archive = tmp_path / "logs_1234.zip"
    offset = gha_run_zip(archive, with_job_file=False) - 1
    d = diagnose(archive)
    assert d.log.format is LogFormat.GITHUB_ZIP
    assert d.log.path == f"{archive}!build/2_Run tests.txt"
    whole = text_lines(GHA)
    member = whole[offset:]
    assert d.log.lines == len(member)
    assert d.error_lines
    for e in d.error_lines:
        assert 1 <= e.line <= len(member)
        assert e.text.strip() in member[e.line - 1], (e.line, e.text)
    assert d.excerpt is not None and 1 <= d.excerpt.start_line <= d.excerpt.end_line <= len(member)
    assert d.failed_step is not None and 1 <= d.failed_step.start_line <= d.failed_step.end_line <= len(
        member
    )


def test_github_zip_via_cli(tmp_path: Path) -> None:
    archive = tmp_path / "run.zip"
    gha_run_zip(archive, with_job_file=True)
    proc = run_cli(str(archive), "--format", "json", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = json.loads(proc.stdout)
    assert out["log"]["format"] == "github-zip"
    assert out["log"]["path"] == f"{archive}!1_build.txt"


# --------------------------------------------------------------------------- --log-format


@pytest.mark.parametrize(
    ("fixture", "forced"),
    [
        (GHA, LogFormat.PLAIN),
        (GHA, LogFormat.TRAVIS),
        (GHA, LogFormat.GITLAB),
        (JENKINS, LogFormat.GITHUB_ACTIONS),
        (TRAVIS, LogFormat.JENKINS),
        (GITLAB, LogFormat.PLAIN),
        (GH_RUN_VIEW, LogFormat.GITHUB_ACTIONS),
        (JENKINS, LogFormat.GH_RUN_VIEW),
    ],
)
def test_log_format_override(fixture: Path, forced: LogFormat) -> None:
    d = diagnose(fixture, forced)
    assert d.log.format is forced
    assert d.log.lines == len(java_readlines(fixture.read_bytes()))


@pytest.mark.parametrize(("fixture", "forced"), [(GHA, "plain"), (JENKINS, "gh-run-view")])
def test_log_format_option_on_the_command_line(tmp_path: Path, fixture: Path, forced: str) -> None:
    proc = run_cli(str(fixture), "--format", "json", "--log-format", forced, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = json.loads(proc.stdout)
    assert out["log"]["format"] == forced
    assert out["log"]["lines"] == len(java_readlines(fixture.read_bytes()))


def test_log_format_auto_equals_detection(tmp_path: Path) -> None:
    proc = run_cli(str(TRAVIS), "--format", "json", "--log-format", "auto", tmp_path=tmp_path)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["log"]["format"] == "travis"


def test_forcing_gh_run_view_changes_the_analysis() -> None:
    # forced to plain, the TSV columns stay in the text; as gh-run-view they are removed
    as_plain = diagnose(GH_RUN_VIEW, LogFormat.PLAIN)
    as_view = diagnose(GH_RUN_VIEW)
    assert as_view.error_lines and as_plain.error_lines
    assert not as_view.error_lines[0].text.startswith("build-test-deploy\t")
    assert any(e.text.startswith("build-test-deploy\t") for e in as_plain.error_lines)


# --------------------------------------------------------------------------- sections


def assert_sections_well_formed(d: Diagnosis) -> None:
    assert d.sections, "no sections found"
    prev_end = 0
    for s in d.sections:
        assert s.name.strip(), s
        assert 1 <= s.start_line <= s.end_line <= d.log.lines, s
        assert s.start_line > prev_end, f"sections overlap: {s}"
        prev_end = s.end_line
        if s.started_at is not None and s.finished_at is not None:
            assert s.started_at <= s.finished_at, s


def test_github_actions_sections_have_names_and_times() -> None:
    d = diagnose(GHA)
    lines = text_lines(GHA)
    assert_sections_well_formed(d)
    names = [s.name for s in d.sections]
    for expected in ("actions/checkout@v2", "actions/setup-go@v2", "actions/cache@v3", "go test ./..."):
        assert expected in names
    assert names.index("actions/checkout@v2") < names.index("go test ./...")
    go_test = d.sections[names.index("go test ./...")]
    start = line_of(lines, "##[group]Run go test ./...")
    assert go_test.start_line == start
    assert go_test.end_line >= line_of(lines, "##[error]Process completed with exit code 1.")
    assert go_test.started_at == ts_of(lines[start - 1])
    # ends between the last timestamp inside the step and the first one of the next step
    assert go_test.finished_at is not None
    assert ts_of(lines[go_test.end_line - 1]) <= go_test.finished_at <= ts_of(lines[go_test.end_line])


def test_github_actions_every_section_has_a_start_time() -> None:
    # every line of a raw GitHub Actions log is timestamped, so every section (including the
    # implicit "Set up job" before the first "##[group]Run") starts at its first line's time
    d = diagnose(GHA)
    lines = text_lines(GHA)
    for s in d.sections:
        assert s.started_at == ts_of(lines[s.start_line - 1]), s


def test_github_actions_every_section_has_an_end_time() -> None:
    # ... and ends no earlier than the timestamp of its last line (also the last section)
    d = diagnose(GHA)
    lines = text_lines(GHA)
    for s in d.sections:
        assert s.finished_at is not None, s
        assert s.finished_at >= ts_of(lines[s.end_line - 1]), s


def test_github_actions_failed_step() -> None:
    d = diagnose(GHA)
    lines = text_lines(GHA)
    assert d.failed_step is not None
    assert d.failed_step.name == "go test ./..."
    assert d.failed_step.start_line == line_of(lines, "##[group]Run go test ./...")
    assert d.failed_step.start_line <= d.error_lines[0].line <= d.failed_step.end_line

    d2 = diagnose(GHA_TIDY)
    lines2 = text_lines(GHA_TIDY)
    assert d2.failed_step is not None
    assert d2.failed_step.name == "go mod tidy"
    assert d2.failed_step.start_line == line_of(lines2, "##[group]Run go mod tidy")
    assert d2.failed_step.end_line >= line_of(lines2, "go.mod/go.sum are not up-to-date")


def test_gh_run_view_steps_from_second_column() -> None:
    d = diagnose(GH_RUN_VIEW)
    assert_sections_well_formed(d)
    raw = java_readlines(GH_RUN_VIEW.read_bytes())
    steps: list[str] = []
    for line in raw:
        step = line.split(b"\t")[1].decode()
        if not steps or steps[-1] != step:
            steps.append(step)
    assert [s.name for s in d.sections] == steps
    build = next(s for s in d.sections if s.name == "build cidiff")
    first = next(i for i, line in enumerate(raw) if line.split(b"\t")[1] == b"build cidiff") + 1
    assert build.start_line == first
    assert build.started_at == ts_of(raw[first - 1].split(b"\t", 2)[2].decode())
    assert d.failed_step is not None and d.failed_step.name == "build cidiff"


def test_gitlab_sections_with_times() -> None:
    d = diagnose(GITLAB)
    lines = text_lines(GITLAB)
    assert_sections_well_formed(d)
    assert [s.name for s in d.sections] == [
        "prepare_executor",
        "prepare_script",
        "get_sources",
        "step_script",
        "cleanup_file_variables",
    ]
    script = d.sections[3]
    assert script.start_line == line_of(lines, "section_start:1700000017:step_script")
    assert script.end_line == line_of(lines, "section_end:1700000031:step_script")
    assert script.started_at == datetime.fromtimestamp(1700000017, UTC)
    assert script.finished_at == datetime.fromtimestamp(1700000031, UTC)
    prep = d.sections[0]
    assert prep.started_at == datetime.fromtimestamp(1700000000, UTC)
    assert prep.finished_at == datetime.fromtimestamp(1700000012, UTC)
    assert d.failed_step is not None and d.failed_step.name == "step_script"
    assert d.log.lines == len(lines)  # the \r inside section markers breaks lines


def test_jenkins_pipeline_stages() -> None:
    d = diagnose(JENKINS_PIPELINE)
    lines = text_lines(JENKINS_PIPELINE)
    assert_sections_well_formed(d)
    assert [s.name for s in d.sections] == ["Checkout", "Build", "Test", "Deploy"]
    test = d.sections[2]
    assert test.start_line == line_of(lines, "[Pipeline] { (Test)")
    assert test.end_line < line_of(lines, "[Pipeline] { (Deploy)")
    assert d.failed_step is not None and d.failed_step.name == "Test"


def test_jenkins_freestyle_maven_phases() -> None:
    d = diagnose(JENKINS)
    assert_sections_well_formed(d)
    names = [s.name for s in d.sections]
    assert any("maven-compiler-plugin:compile" in n for n in names)
    assert d.failed_step is not None and "maven-compiler-plugin:compile" in d.failed_step.name
    assert all(s.started_at is None for s in d.sections)  # no timestamps in this console


def test_travis_folds_and_failed_command() -> None:
    d = diagnose(TRAVIS)
    lines = text_lines(TRAVIS)
    assert_sections_well_formed(d)
    names = [s.name for s in d.sections]
    for fold in ("worker_info", "git.checkout", "install"):
        assert fold in names
    assert "npm run lint" in names
    assert d.failed_step is not None
    assert d.failed_step.name == "npm run lint"
    assert d.failed_step.start_line == line_of(lines, "$ npm run lint")
    assert d.failed_step.end_line == line_of(lines, 'The command "npm run lint" exited with 1.')
