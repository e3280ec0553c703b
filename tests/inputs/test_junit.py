"""JUnit-style XML test-report ingestion (:mod:`cimedic.inputs.junit`).

Core tests use the small real reports copied to ``tests/fixtures/junit/`` (see its
``SOURCES.md``) and inline XML. The conformance tests walk every ``.xml`` file under
``/work/shared/data/test_reports`` (skipped when that directory is absent). Their expectations
come from an independent stdlib ``xml.etree`` walk of each file, and from the file's own
``tests=`` / ``failures=`` / ``errors=`` / ``skipped=`` attributes wherever those agree with its
``<testcase>`` elements; the files where they disagree are listed in :data:`STATED_MISMATCH`.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

import cimedic.inputs.junit as junit_mod
from cimedic.inputs.junit import (
    MAX_DETAILS_CHARS,
    NotATestReportError,
    TestReportError,
    parse_junit,
    parse_junit_file,
    reports_from_zip,
)
from cimedic.model.ci import TestCase, TestReport, TestStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "junit"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
REPORTS = SHARED / "test_reports"
SHARED_ABSENT = f"{SHARED} is absent: conformance tests over the shared real reports are skipped"

P, F, E, S, FL = (
    TestStatus.PASSED,
    TestStatus.FAILED,
    TestStatus.ERROR,
    TestStatus.SKIPPED,
    TestStatus.FLAKY,
)


def _by_id(report: TestReport) -> dict[str, TestCase]:
    cases = {case.test_id: case for case in report.cases}
    assert len(cases) == len(report.cases), "test ids are not unique in this report"
    return cases


def _statuses(report: TestReport) -> Counter[str]:
    return Counter(case.status.value for case in report.cases)


def _suite(cases: str, name: str = "S", **attrs: str) -> bytes:
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f'<?xml version="1.0"?><testsuite name="{name}"{extra}>{cases}</testsuite>'.encode()


# --------------------------------------------------------------------------- real fixtures (always run)


def test_surefire_flaky_failure_is_flaky_with_one_retry() -> None:
    report = parse_junit_file(FIXTURES / "surefire_flaky.xml")
    assert report.dialect == "surefire" and report.problems == ()
    (suite,) = report.suites
    assert suite.name == "io.sodadata.dependson.soda.integrations.msteams.MicrosoftTeamsCrudTest"
    assert suite.duration == pytest.approx(0.683)
    (case,) = suite.cases
    assert case.name == "createWebhook" and case.status is FL and case.retries == 1
    assert case.failure_type == "java.lang.AssertionError"
    assert case.message is not None and "Expected: <false>" in case.message
    assert case.details is not None and "MicrosoftTeamsCrudTest.java:58" in case.details
    assert case.duration == pytest.approx(0.683)


def test_repeated_testcases_merge_into_one_flaky_case() -> None:
    report = parse_junit_file(FIXTURES / "flaky_retries_with_classname_file.xml")
    cases = _by_id(report)
    assert set(cases) == {
        "test_foo.TestFoo::test_foo",
        "test_bar.TestBar::test_foo",
        "test_baz.TestBaz::test_baz",
    }
    flaky = cases["test_foo.TestFoo::test_foo"]
    assert (flaky.status, flaky.retries) == (FL, 2)
    assert flaky.duration == pytest.approx(3 * 1.842)
    assert flaky.file == "/home/runner/work/foo/bar/test_foo.py"
    assert flaky.message == "it broke"  # the last failing execution
    assert flaky.details is not None
    assert "'NoneType' object is not iterable" in flaky.details and "oh no" in flaky.details
    # same name, other classname: a different test, not a retry
    assert cases["test_bar.TestBar::test_foo"].status is P
    assert cases["test_baz.TestBaz::test_baz"].status is P


def test_merge_retries_false_keeps_every_execution() -> None:
    report = parse_junit_file(FIXTURES / "flaky_retries_with_classname_file.xml", merge_retries=False)
    assert [c.status for c in report.cases] == [F, E, P, P, P]
    assert all(c.retries == 0 for c in report.cases)


def test_testng_skipped_then_failed_repeat_is_not_merged() -> None:
    report = parse_junit_file(FIXTURES / "testng_pulsar_AddMissingPatchVersionTest.xml")
    assert report.source == str(FIXTURES / "testng_pulsar_AddMissingPatchVersionTest.xml")
    (suite,) = report.suites
    assert suite.timestamp == datetime(2021, 3, 7, 10, 36, 56, tzinfo=UTC)  # "2021-03-07T10:36:56 UTC"
    assert [c.status for c in suite.cases] == [S, F]
    failed = suite.cases[1]
    assert failed.message == "expected [1.2.1] but found [1.2.0]"
    assert failed.failure_type == "java.lang.AssertionError"
    assert failed.details is not None and failed.details.startswith("java.lang.AssertionError")
    assert failed.duration == pytest.approx(0.017)


# --------------------------------------------------------------------------- outcome rules


def test_outcome_elements_and_status_attributes() -> None:
    xml = _suite(
        '<testcase name="ok" classname="C" time="0.5"/>'
        '<testcase name="f" classname="C"><failure message="m" type="T">trace</failure></testcase>'
        '<testcase name="e" classname="C"><error message="boom" type="X"/></testcase>'
        '<testcase name="s" classname="C"><skipped message="why"/></testcase>'
        '<testcase name="dis" classname="C" status="disabled"/>'
        '<testcase name="notrun" classname="C" status="notrun"/>'
        '<testcase name="run" classname="C" status="run"/>'
        '<testcase name="dis_but_failed" classname="C" status="disabled"><failure/></testcase>'
        '<testcase name="fe" classname="C"><failure message="first"/><error message="second"/></testcase>'
        '<testcase name="ef" classname="C"><error message="first"/><failure message="second"/></testcase>'
    )
    cases = _by_id(parse_junit(xml, "r.xml"))
    expected = {
        "ok": P,
        "f": F,
        "e": E,
        "s": S,
        "dis": S,
        "notrun": S,
        "run": P,
        "dis_but_failed": F,
        "fe": F,
        "ef": E,
    }
    assert {name: cases[f"C::{name}"].status for name in expected} == expected
    assert (cases["C::f"].message, cases["C::f"].failure_type, cases["C::f"].details) == ("m", "T", "trace")
    assert (cases["C::e"].message, cases["C::e"].failure_type, cases["C::e"].details) == ("boom", "X", None)
    assert cases["C::s"].message == "why"
    assert cases["C::fe"].message == "first"
    assert cases["C::ok"].duration == 0.5 and cases["C::ok"].message is None


def test_surefire_rerun_elements() -> None:
    xml = _suite(
        '<testcase name="always" classname="C"><failure message="third"/>'
        '<rerunFailure message="r1"/><rerunError message="r2"/></testcase>'
        '<testcase name="flaky_err" classname="C"><flakyError message="e1" type="IOException">'
        "<stackTrace>java.io.IOException: reset</stackTrace></flakyError></testcase>"
        '<testcase name="flaky2" classname="C"><flakyFailure/><flakyFailure/></testcase>'
    )
    report = parse_junit(xml, "r.xml")
    cases = _by_id(report)
    assert (cases["C::always"].status, cases["C::always"].retries, cases["C::always"].message) == (
        F,
        2,
        "third",
    )
    assert (cases["C::flaky_err"].status, cases["C::flaky_err"].retries) == (FL, 1)
    assert cases["C::flaky_err"].failure_type == "IOException"
    assert cases["C::flaky_err"].details == "java.io.IOException: reset"
    assert (cases["C::flaky2"].status, cases["C::flaky2"].retries) == (FL, 2)
    assert report.dialect == "surefire"


@pytest.mark.parametrize(
    ("outcomes", "status", "retries"),
    [
        pytest.param(["fail", "pass"], FL, 1, id="pass-after-failure-is-flaky"),
        pytest.param(["fail", "error", "pass"], FL, 2, id="failure-error-pass"),
        pytest.param(["fail", "fail", "error"], E, 2, id="all-failing-keeps-final-status"),
        pytest.param(["pass", "fail", "error"], E, 2, id="pass-before-any-failure-is-not-a-retry-pass"),
        # pytest-rerunfailures writes empty <testcase>s for failed attempts (issue #170)
        pytest.param(["pass", "pass", "fail"], F, 2, id="rerunfailures-placeholders"),
    ],
)
def test_merge_rule(outcomes: list[str], status: TestStatus, retries: int) -> None:
    body = {"pass": "", "fail": '<failure message="f"/>', "error": '<error message="e"/>'}
    xml = _suite("".join(f'<testcase name="t" classname="C" time="1">{body[o]}</testcase>' for o in outcomes))
    (case,) = parse_junit(xml, "r.xml").cases
    assert (case.status, case.retries) == (status, retries)
    assert case.duration == pytest.approx(len(outcomes))


def test_repeats_that_are_not_retries_stay_apart() -> None:
    xml = (
        b"<testsuites>"
        b'<testsuite name="chrome"><testcase name="t" classname="C"><failure/></testcase>'
        b'<testcase name="param" classname="C"/><testcase name="param" classname="C"/></testsuite>'
        b'<testsuite name="firefox"><testcase name="t" classname="C"/>'
        b'<testcase name="sk" classname="C"><skipped/></testcase><testcase name="sk" classname="C"><failure/></testcase>'
        b"</testsuite></testsuites>"
    )
    report = parse_junit(xml, "r.xml")
    chrome, firefox = report.suites
    assert [c.status for c in chrome.cases] == [F, P, P]  # all-passing repeats: parameterised runs
    assert [c.status for c in firefox.cases] == [P, S, F]  # other suite; a skip is involved
    assert all(c.retries == 0 for c in report.cases)


def test_durations_and_timestamps() -> None:
    times = ["1,5", "1,234.5", "1.234,5", "2,000", "1.4e-05", "", "garbage", "-1", "nan"]
    xml = _suite(
        "".join(f'<testcase name="t{i}" time="{t}"/>' for i, t in enumerate(times))
        + '<testcase name="none"/>',
        timestamp="2025-11-15T11:51:49.548396-05:00",
        time="1e400",
    )
    report = parse_junit(xml, "r.xml")
    got = [c.duration for c in report.cases]
    assert got == [1.5, 1234.5, 1234.5, 2000.0, pytest.approx(1.4e-05), None, None, None, None, None]
    assert report.suites[0].timestamp == datetime(2025, 11, 15, 16, 51, 49, 548396, tzinfo=UTC)
    assert report.suites[0].duration is None
    assert len(report.problems) == 4  # garbage, -1, nan and the suite's 1e400; blank/missing are not problems
    assert any("'garbage'" in p for p in report.problems)

    stamps = {
        "2020-10-12T18:46:11.226119": datetime(2020, 10, 12, 18, 46, 11, 226119, tzinfo=UTC),
        "2024-10-24T12:07:54Z": datetime(2024, 10, 24, 12, 7, 54, tzinfo=UTC),
        "2024-12-02T20:06:10.512+00:00": datetime(2024, 12, 2, 20, 6, 10, 512000, tzinfo=UTC),
        "yesterday": None,
    }
    for raw, expected in stamps.items():
        parsed = parse_junit(_suite("", timestamp=raw), "r.xml")
        assert parsed.suites[0].timestamp == expected
        assert bool(parsed.problems) == (expected is None)


def test_details_are_truncated() -> None:
    xml = _suite(f'<testcase name="t"><failure>{"x" * (MAX_DETAILS_CHARS + 10)}</failure></testcase>')
    (case,) = parse_junit(xml, "r.xml").cases
    assert case.details is not None
    assert case.details.startswith("x" * MAX_DETAILS_CHARS) and "truncated" in case.details
    assert "10 more characters" in case.details


def test_malformed_testcase_is_skipped_and_the_rest_kept() -> None:
    xml = _suite(
        '<testcase name="a"/><testcase classname="C" time="1"/><testcase name=""/><testcase name="b"/>'
    )
    report = parse_junit(xml, "r.xml")
    assert [c.name for c in report.cases] == ["a", "", "b"]  # name="" is a real (jest) test
    (problem,) = report.problems
    assert "testcase #2" in problem and "no name" in problem


def test_nested_suites_are_flattened() -> None:
    xml = (
        b'<testsuites><testsuite name="all"><testsuite name="A"><testcase name="x"/></testsuite>'
        b'<testsuite name="B"><testsuite name="B1"><testcase name="y"/></testsuite><testcase name="z"/></testsuite>'
        b'<testsuite name="empty"/></testsuite></testsuites>'
    )
    report = parse_junit(xml, "r.xml")
    assert [(s.name, [c.name for c in s.cases]) for s in report.suites] == [
        ("A", ["x"]),
        ("B1", ["y"]),
        ("B", ["z"]),
        ("empty", []),
    ]


def test_testcases_directly_under_testsuites_and_unnamed_suites() -> None:
    report = parse_junit(
        b'<testsuites><testcase name="x"/><testsuite><testcase name="y"/></testsuite></testsuites>', "r.xml"
    )
    assert sorted((s.name, c.name) for s in report.suites for c in s.cases) == [
        ("r.xml", "x"),
        ("r.xml", "y"),
    ]


def test_namespaces_and_declared_encoding() -> None:
    xml = '<?xml version="1.0" encoding="ISO-8859-1"?><testsuite xmlns="urn:x" name="s"><testcase name="café"><failure/></testcase></testsuite>'
    (case,) = parse_junit(xml.encode("latin-1"), "r.xml").cases
    assert (case.name, case.status) == ("café", F)


@pytest.mark.parametrize(
    ("xml", "dialect"),
    [
        (
            b'<testsuites><testsuite name="pytest"><testcase name="t" file="a.py"/></testsuite></testsuites>',
            "pytest",
        ),
        (b'<testsuites name="jest tests"><testsuite name="a.test.js"/></testsuites>', "jest"),
        (
            b'<testsuites><testsuite name="pkg"><properties><property name="go.version" value="go1.22"/>'
            b"</properties></testsuite></testsuites>",
            "go",
        ),
        (
            b'<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation='
            b'"https://maven.apache.org/surefire/maven-surefire-plugin/xsd/surefire-test-report-3.0.xsd" name="a"/>',
            "surefire",
        ),
        (b'<testsuites><testsuite name="p" assertions="3"/></testsuites>', "phpunit"),
        (b'<testsuites name="nextest-run"/>', "nextest"),
        (b'<testsuites name="x"><testsuite name="p" assertions="3"/></testsuites>', "junit"),
    ],
)
def test_dialects(xml: bytes, dialect: str) -> None:
    assert parse_junit(xml, "r.xml").dialect == dialect


def test_big_report_streams() -> None:
    cases = "".join(
        f'<testcase name="t{i}" classname="C" time="0.001"><system-out>{"o" * 100}</system-out></testcase>'
        for i in range(20_000)
    )
    report = parse_junit(_suite(cases), "big.xml")
    assert len(report.cases) == 20_000 and _statuses(report) == {"passed": 20_000}


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("data", [b"", b"  \n\t"])
def test_empty_input(data: bytes) -> None:
    with pytest.raises(TestReportError, match=r"^r\.xml is empty$"):
        parse_junit(data, "r.xml")


def test_malformed_xml_names_line_and_column() -> None:
    with pytest.raises(TestReportError) as info:
        parse_junit(b'<testsuite name="s">\n  <testcase name="a">\n</testsuite>', "dir/r.xml")
    assert str(info.value).startswith("dir/r.xml: malformed XML at line 3, column 3: mismatched tag")
    assert (info.value.line, info.value.column) == (3, 3)
    with pytest.raises(TestReportError, match=r"line 1, column \d+: no element found"):
        parse_junit(b'<testsuite name="s"><testcase name="a">', "r.xml")


@pytest.mark.parametrize("root", ["project", "test-run", "assemblies"])
def test_root_that_is_not_a_report(root: str) -> None:
    with pytest.raises(
        NotATestReportError, match=rf"r\.xml: root element <{root}> is not a JUnit-style test report"
    ):
        parse_junit(f"<{root}><testcase name='x'/></{root}>".encode(), "r.xml")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<testsuite name="&lol9;"><testcase name="&lol9;"/></testsuite>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE testsuite [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<testsuite name="s"><testcase name="&xxe;"/></testsuite>
"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "external-entity"])
def test_entity_declarations_are_refused(data: bytes) -> None:
    with pytest.raises(TestReportError, match=r"^evil\.xml: refused: the XML declares entities") as info:
        parse_junit(data, "evil.xml")
    assert "root:" not in str(info.value)  # nothing of /etc/passwd leaked into the message


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(TestReportError, match="cannot read"):
        parse_junit_file(tmp_path / "missing.xml")
    (tmp_path / "empty.xml").write_bytes(b"")
    with pytest.raises(TestReportError, match=r"empty\.xml is empty$"):
        parse_junit_file(tmp_path / "empty.xml")


def test_file_over_the_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(junit_mod, "MAX_REPORT_BYTES", 100)
    path = tmp_path / "big.xml"
    path.write_bytes(_suite('<testcase name="t"/>' * 20))
    with pytest.raises(TestReportError, match="limit"):
        parse_junit_file(path)


# --------------------------------------------------------------------------- zip artifacts


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def test_zip_with_reports_other_xml_and_a_corrupt_member() -> None:
    data = _zip(
        {
            "target/surefire-reports/TEST-a.xml": (FIXTURES / "surefire_flaky.xml").read_bytes(),
            "pom.xml": b"<project><modelVersion>4.0.0</modelVersion></project>",
            "reports/b.XML": (FIXTURES / "flaky_retries_with_classname_file.xml").read_bytes(),
            "reports/corrupt.xml": b'<testsuite name="x"><testcase name="a">',
            "reports/empty.xml": b"",
            "reports/notes.txt": b"<testsuite/>",
            "__MACOSX/reports/._b.XML": b"\x00\x05\x16\x07junk",
            "reports/": b"",
        }
    )
    reports = reports_from_zip(data, "artifact.zip")
    assert [r.source for r in reports] == [
        "artifact.zip!target/surefire-reports/TEST-a.xml",
        "artifact.zip!reports/b.XML",
        "artifact.zip!reports/corrupt.xml",
        "artifact.zip!reports/empty.xml",
    ]
    surefire, retries, corrupt, empty = reports
    assert surefire.dialect == "surefire" and [c.status for c in surefire.cases] == [FL]
    assert len(retries.cases) == 3 and retries.problems == ()
    assert corrupt.suites == () and "malformed XML at line 1" in corrupt.problems[0]
    assert empty.problems == ("artifact.zip!reports/empty.xml is empty",)


def test_zip_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    members = {f"r{i}.xml": _suite(f'<testcase name="t{i}"/>') for i in range(4)}
    members["big.xml"] = _suite('<testcase name="t"/>' * 50)
    monkeypatch.setattr(junit_mod, "MAX_REPORT_BYTES", 200)
    monkeypatch.setattr(junit_mod, "MAX_ZIP_MEMBERS", 5)
    members["r9.xml"] = _suite('<testcase name="late"/>')
    reports = reports_from_zip(_zip(members), "a.zip")
    assert [r.source for r in reports] == [
        "a.zip!r0.xml",
        "a.zip!r1.xml",
        "a.zip!r2.xml",
        "a.zip!r3.xml",
        "a.zip!big.xml",
        "a.zip",
    ]
    assert "over the 200 byte limit" in reports[4].problems[0]
    assert reports[5].problems == ("a.zip: 6 XML members; only the first 5 were read (1 left out)",)


def test_not_a_zip() -> None:
    with pytest.raises(TestReportError, match=r"^a\.zip: not a readable zip archive"):
        reports_from_zip(b"<testsuite/>", "a.zip")


# --------------------------------------------------------------------------- shared real reports

# Files that must raise, with a piece of the message.
BROKEN = {
    "dorny_test-reporter/dotnet-nunit.xml": "root element <test-run> is not a JUnit-style test report",  # NUnit 3
    "dorny_test-reporter/external/nunit-sample.xml": "root element <test-run> is not a JUnit-style test report",
    # truncated Surefire report (its upstream "corrupt" fixture)
    "mikepenz_action-junit-report/corrupt-junit/e2e-tests/corrupt/target/sf-reports/TEST-test.CorruptTest.xml": (
        "malformed XML at line 18, column 26: unclosed CDATA section"
    ),
    # templates with time="<<computed>>": '<' is not allowed in an attribute value
    "mikepenz_action-junit-report/junit-web-test/expected.xml": "malformed XML at line 9, column 59: not well-formed",
    "mikepenz_action-junit-report/junit-web-test/expectedRetries.xml": "malformed XML at line 9, column 59: not well-formed",
}

# Files whose stated totals disagree with their own <testcase> elements: {file: (stated, reason)}.
STATED_MISMATCH = {
    "dorny_test-reporter/nette-tester/tester-v1.7-report.xml": (
        {"errors": 1},
        "Nette Tester counts its <failure> as an error",
    ),
    "dorny_test-reporter/python-xunit-pytest.xml": ({"tests": 15}, "15 stated, 10 <testcase> elements"),
    "dorny_test-reporter/test-errors/jest/jest-test-results.xml": (
        {"tests": 0},
        "suites that failed to run count 0 tests",
    ),
    "mikepenz_action-junit-report/container-structure/test.xml": ({"tests": 8}, "trimmed fixture"),
    "mikepenz_action-junit-report/flaky_retries/flaky_with_classname_file.xml": (
        {"errors": 2},
        "hand-written",
    ),
    "mikepenz_action-junit-report/junit-server-test/report.xml": (
        {"tests": 3},
        "counts tests, not executions",
    ),
    "mikepenz_action-junit-report/mocha/mocha.xml": ({"tests": 15515, "skipped": 1}, "trimmed fixture"),
    "mikepenz_action-junit-report/multiple/test_10.xml": ({"tests": 8}, "trimmed fixture"),
    "mikepenz_action-junit-report/multiple/test_11.xml": (
        {"tests": 8, "failures": 0},
        "trimmed, hand-edited",
    ),
    "mikepenz_action-junit-report/multiple/test_12.xml": ({"tests": 8}, "trimmed fixture"),
    "mikepenz_action-junit-report/multiple_failures/test_multiple_errors.xml": (
        {"errors": 3},
        "counts elements",
    ),
    "mikepenz_action-junit-report/multiple_failures/test_multiple_failures.xml": (
        {"failures": 4},
        "counts elements",
    ),
    "mikepenz_action-junit-report/nested/junit.xml": ({"tests": 4, "failures": 0}, "hand-written"),
    "mikepenz_action-junit-report/nested/multi-level.xml": ({"tests": 57}, "trimmed fixture"),
    "mikepenz_action-junit-report/python/report_flaky.xml": (
        {"tests": 3},
        "a fourth testcase was added by hand",
    ),
}

SHARED_XML = sorted(REPORTS.rglob("*.xml")) if REPORTS.is_dir() else []
needs_shared = pytest.mark.skipif(not REPORTS.is_dir(), reason=SHARED_ABSENT)


def _shared_params() -> list[object]:
    if not SHARED_XML:
        return [pytest.param(None, marks=pytest.mark.skip(reason=SHARED_ABSENT), id="shared-data-absent")]
    return [pytest.param(path, id=path.relative_to(REPORTS).as_posix()) for path in SHARED_XML]


def _oracle(root: ET.Element) -> Counter[str]:
    """Status per <testcase> element, by a plain stdlib walk (trusted local files)."""
    counts: Counter[str] = Counter()
    for case in root.iter("testcase"):
        tags = [child.tag for child in case]
        outcome = next((t for t in tags if t in ("failure", "error")), None)
        if outcome:
            counts["failed" if outcome == "failure" else "error"] += 1
        elif "skipped" in tags or case.get("status") == "disabled":
            counts["skipped"] += 1
        elif {"flakyFailure", "flakyError"} & set(tags):
            counts["flaky"] += 1
        else:
            counts["passed"] += 1
    return counts


def _stated(root: ET.Element) -> dict[str, int]:
    """The report's own totals: the root's if it has any, else the sum over top-level suites."""
    tops = [root] if root.tag == "testsuite" or root.get("tests") is not None else root.findall("testsuite")
    keys = {
        "tests": ("tests",),
        "failures": ("failures",),
        "errors": ("errors",),
        "skipped": ("skipped", "skips", "disabled"),
    }
    stated: dict[str, int] = {}
    for key, names in keys.items():
        values = [next((t.get(n) for n in names if t.get(n) is not None), None) for t in tops]
        if tops and all(v is not None for v in values):
            stated[key] = sum(int(v) for v in values if v is not None)
    return stated


@pytest.mark.parametrize("path", _shared_params())
def test_every_shared_report(path: Path) -> None:
    rel = path.relative_to(REPORTS).as_posix()
    if rel in BROKEN:
        with pytest.raises(TestReportError, match=re.escape(str(path))) as info:
            parse_junit_file(path)
        assert BROKEN[rel] in str(info.value)
        return
    report = parse_junit_file(path, merge_retries=False)
    counts = _statuses(report)
    assert counts == _oracle(ET.parse(path).getroot())
    found = {
        "tests": len(report.cases),
        "failures": counts["failed"],
        "errors": counts["error"],
        "skipped": counts["skipped"],
    }
    stated = _stated(ET.parse(path).getroot())
    if rel in STATED_MISMATCH:
        mismatch, _reason = STATED_MISMATCH[rel]
        assert {k: v for k, v in stated.items() if found[k] != v} == mismatch
    else:
        assert {k: found[k] for k in stated} == stated
    merged = parse_junit_file(path)
    assert merged.problems == report.problems
    assert len(merged.cases) + sum(c.retries for c in merged.cases) >= len(report.cases)


@needs_shared
def test_shared_lists_name_existing_files() -> None:
    names = {p.relative_to(REPORTS).as_posix() for p in SHARED_XML}
    assert set(BROKEN) <= names and set(STATED_MISMATCH) <= names


@needs_shared
def test_pulsar_surefire_report() -> None:
    report = parse_junit_file(REPORTS / "dorny_test-reporter/external/java/pulsar-test-report.xml")
    assert len(report.cases) == 808 and len(report.suites) == 176
    assert _statuses(report) == {"passed": 793, "failed": 1, "skipped": 14}
    assert report.problems == () and report.dialect == "junit"
    (failed,) = [c for c in report.cases if c.status is F]
    assert failed.test_id == "org.apache.pulsar.AddMissingPatchVersionTest::testVersionStrings"


@needs_shared
def test_jest_report() -> None:
    report = parse_junit_file(REPORTS / "dorny_test-reporter/external/jest/jest-test-results.xml")
    assert len(report.cases) == 4239 and len(report.suites) == 400
    assert _statuses(report) == {"passed": 4207, "failed": 2, "skipped": 30}
    assert report.problems == () and report.dialect == "jest"


@needs_shared
@pytest.mark.parametrize(
    ("rel", "dialect", "expected"),
    [
        (
            "mikepenz_action-junit-report/maven_surefire_flaky/surefire-report.xml",
            "surefire",
            {
                "io.sodadata.dependson.soda.integrations.msteams.MicrosoftTeamsCrudTest::createWebhook": (
                    FL,
                    1,
                )
            },
        ),
        (
            "mikepenz_action-junit-report/junit_flaky_failure/marathon_junit_report.xml",
            "surefire",
            {"com.mikepenz.Class::testFlakyFailure": (FL, 1)},
        ),
        (
            "mikepenz_action-junit-report/junit_flaky_failure/mixed_flaky_and_passed.xml",
            "surefire",
            {
                "com.example.FlakyTest::testFlaky": (FL, 1),
                "com.example.PassedTest::testPassed": (P, 0),
                "com.example.PassedTest::testAnotherPassed": (P, 0),
            },
        ),
        (
            "mikepenz_action-junit-report/flaky_retries/flaky_all_failures.xml",
            "junit",
            {"test_always_fails.TestAlwaysFails::test_always_fails": (E, 2)},
        ),
        (
            "mikepenz_action-junit-report/flaky_retries/flaky_success_first.xml",
            "junit",
            {"test_order.TestOrder::test_success_first": (E, 2)},
        ),
        (
            "mikepenz_action-junit-report/flaky_retries/flaky_with_classname_file.xml",
            "junit",
            {
                "test_foo.TestFoo::test_foo": (FL, 2),
                "test_bar.TestBar::test_foo": (P, 0),
                "test_baz.TestBaz::test_baz": (P, 0),
            },
        ),
        (
            "mikepenz_action-junit-report/junit-server-test/report.xml",
            "go",
            {
                "github.com/example/example/server/v8/channels/api4::TestWebSocketReconnectRace": (FL, 1),
                "github.com/example/example/server/v8/channels/api4::TestCreateChannelBookmark": (S, 0),
                "github.com/example/example/server/v8/channels/api4::TestWebSocketUpgrade": (P, 0),
            },
        ),
        (
            "mikepenz_action-junit-report/python/report_flaky.xml",
            "pytest",
            {
                "python.test_sample::test_which_succeeds": (P, 0),
                "python.test_sample::test_which_fails": (F, 0),
                "python.test_sample::test_with_error": (F, 0),
                "python.test_sample::test_with_flaky_success": (P, 0),  # no rerun data in the file
            },
        ),
    ],
)
def test_shared_flaky_reports(rel: str, dialect: str, expected: dict[str, tuple[TestStatus, int]]) -> None:
    report = parse_junit_file(REPORTS / rel)
    assert report.dialect == dialect
    assert {tid: (c.status, c.retries) for tid, c in _by_id(report).items()} == expected


@needs_shared
def test_zip_of_every_shared_report() -> None:
    members = {p.relative_to(REPORTS).as_posix(): p.read_bytes() for p in SHARED_XML}
    reports = {r.source.split("!", 1)[1]: r for r in reports_from_zip(_zip(members), "all.zip")}
    not_reports = {rel for rel, msg in BROKEN.items() if "root element" in msg}
    assert set(reports) == set(members) - not_reports
    assert {rel for rel, r in reports.items() if r.problems and not r.suites} == set(BROKEN) - not_reports
    pulsar = reports["dorny_test-reporter/external/java/pulsar-test-report.xml"]
    assert len(pulsar.cases) == 808
