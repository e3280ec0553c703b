"""The incremental JUnit parser (:class:`cimedic.inputs.junit_stream.JunitStream`).

"Same result as before": :data:`BEFORE` holds, for every JUnit file among the fixtures
(``tests/fixtures/junit``, the demo's ``cimedic/testing/demo_data/junit``, and the shared real
reports under ``/work/shared/data/test_reports`` when present), a digest of what the whole-file
parser of cimedic before the incremental one returned: the ``TestReport`` as JSON (or the error
class and message) with ``merge_retries`` on and off, the source being the file name. The
digests were computed with that parser (git 3c32d4c, ``src/cimedic/inputs/junit.py``); the
current parser must reproduce them exactly, and its parts and batches must add up to the same.

Malformed XML in the middle of a file: the suites closed before the error are handed out, then
iteration raises ``TestReportError`` with the line and the column; the store writes a report in
one transaction, so nothing of such a file is stored (tests/cli/test_ingest_junit_limits.py).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from cimedic.inputs import junit_stream
from cimedic.inputs.junit import (
    MAX_DETAILS_CHARS,
    JunitStream,
    TestReportError,
    open_junit_file,
    parse_junit,
)
from cimedic.model.ci import TestCase, TestReport, TestStatus, TestSuite

TESTS = Path(__file__).resolve().parents[1]
ROOTS = {
    "fixtures": TESTS / "fixtures" / "junit",
    "demo": TESTS.parent / "src" / "cimedic" / "testing" / "demo_data" / "junit",
    "shared": TESTS.parents[1] / "shared" / "data" / "test_reports",
}

# "root/relative path": sha256[:16] of the whole-file parser's output (module docstring)
BEFORE = {
    "fixtures/flaky_retries_with_classname_file.xml": "d343db559d602047",
    "fixtures/surefire_flaky.xml": "40d25aec084e0569",
    "fixtures/testng_pulsar_AddMissingPatchVersionTest.xml": "1ab64fe996237621",
    "demo/TEST-action.surefire.report.calc.AllOkTest.xml": "b05fb1db448e117e",
    "demo/surefire-report.xml": "9d74318110d13e63",
    "shared/dorny_test-reporter/dotnet-nunit.xml": "971076b92b8e1b0b",
    "shared/dorny_test-reporter/empty/java-junit.xml": "6a56ee3a51292d97",
    "shared/dorny_test-reporter/empty/jest-junit-empty-testsuite.xml": "fcc2c8656d3fccfe",
    "shared/dorny_test-reporter/empty/jest-junit.xml": "0ea5a1bc60e0a6be",
    "shared/dorny_test-reporter/empty/phpunit-empty.xml": "73cd06f83d0acc9a",
    "shared/dorny_test-reporter/external/java/TEST-org.apache.pulsar.AddMissingPatchVersionTest.xml": "affa654e12b935ef",
    "shared/dorny_test-reporter/external/java/empty_failures.xml": "eb673fb7c520cd5f",
    "shared/dorny_test-reporter/external/java/junit4-basic.xml": "13bb3829818555f0",
    "shared/dorny_test-reporter/external/java/junit4-complete.xml": "f1e673e424d1149e",
    "shared/dorny_test-reporter/external/java/pulsar-test-report.xml": "7db444a74ca402ce",
    "shared/dorny_test-reporter/external/jest/jest-react-component-test-results.xml": "bad5b0f837a6a687",
    "shared/dorny_test-reporter/external/jest/jest-test-results.xml": "860b2ec928e785ab",
    "shared/dorny_test-reporter/external/nunit-sample.xml": "1675b9169923d80c",
    "shared/dorny_test-reporter/external/phpunit/junit-basic.xml": "f61bc9575b292de0",
    "shared/dorny_test-reporter/external/phpunit/phpcheckstyle-phpunit.xml": "269c80da82d8ad6f",
    "shared/dorny_test-reporter/jest-junit-eslint.xml": "7ae14bdb8cf74ca5",
    "shared/dorny_test-reporter/jest-junit.xml": "c08ca1eaf933ddb8",
    "shared/dorny_test-reporter/junit-with-message.xml": "2e278016799bc666",
    "shared/dorny_test-reporter/nette-tester/BootstrapFormRenderer-report.xml": "fadb17be0644accc",
    "shared/dorny_test-reporter/nette-tester/tester-v1.7-report.xml": "56d4ef5af268e193",
    "shared/dorny_test-reporter/phpunit/phpunit-paths.xml": "c76ec6ed7766d43c",
    "shared/dorny_test-reporter/phpunit/phpunit.xml": "d782018878b559fa",
    "shared/dorny_test-reporter/python-xunit-pytest.xml": "5867d5e27c7de231",
    "shared/dorny_test-reporter/python-xunit-unittest.xml": "3dcf888b2c74b107",
    "shared/dorny_test-reporter/swift-xunit.xml": "0888a6b1f39feb11",
    "shared/dorny_test-reporter/test-errors/jest/jest-test-results.xml": "fbf6e54ff8cc518f",
    "shared/mikepenz_action-junit-report/catch2/report.xml": "12bc0fc9c8d78a40",
    "shared/mikepenz_action-junit-report/container-structure/test.xml": "2aa66225a0dc7716",
    "shared/mikepenz_action-junit-report/corrupt-junit/e2e-tests/corrupt/target/sf-reports/TEST-test.CorruptTest.xml": "5420352ea48614c9",
    "shared/mikepenz_action-junit-report/cunit/testEmpty.xml": "d8bc85ed3d47f334",
    "shared/mikepenz_action-junit-report/cunit/testFailure.xml": "3c5ce1b2516ce894",
    "shared/mikepenz_action-junit-report/flaky_retries/flaky_all_failures.xml": "de2aba7b6fda1c1f",
    "shared/mikepenz_action-junit-report/flaky_retries/flaky_success_first.xml": "2004cc9710f4713d",
    "shared/mikepenz_action-junit-report/flaky_retries/flaky_with_classname_file.xml": "150a14eefb768582",
    "shared/mikepenz_action-junit-report/issues/testDisabled.xml": "5786def9aa38949a",
    "shared/mikepenz_action-junit-report/issues/testFailedDisabled.xml": "3b57c81b0a7eb607",
    "shared/mikepenz_action-junit-report/junit-server-test/report.xml": "0c23293f989d6bcc",
    "shared/mikepenz_action-junit-report/junit-web-test/expected.xml": "8d3605dea72ef8e3",
    "shared/mikepenz_action-junit-report/junit-web-test/expectedRetries.xml": "9097d7ac33ba9af1",
    "shared/mikepenz_action-junit-report/junit_flaky_failure/marathon_junit_report.xml": "becb541cd69c343b",
    "shared/mikepenz_action-junit-report/junit_flaky_failure/mixed_flaky_and_passed.xml": "786e01f779647dc9",
    "shared/mikepenz_action-junit-report/marathon_tests/com.mikepenz.DummyTest#test_02_dummy.xml": "9a80633f53af2f74",
    "shared/mikepenz_action-junit-report/marathon_tests/com.mikepenz.DummyTest3#test_01.xml": "448fbb061b1d9311",
    "shared/mikepenz_action-junit-report/marathon_tests/com.mikepenz.DummyUtilTest#test_01_dummy.xml": "a3f40e7d791c5da9",
    "shared/mikepenz_action-junit-report/maven_surefire_flaky/surefire-report.xml": "9d74318110d13e63",
    "shared/mikepenz_action-junit-report/mocha/mocha.xml": "cf4ac0477788e0ab",
    "shared/mikepenz_action-junit-report/multiple/test_10.xml": "fafe210f10183563",
    "shared/mikepenz_action-junit-report/multiple/test_11.xml": "a8f7e633ec276ece",
    "shared/mikepenz_action-junit-report/multiple/test_12.xml": "a1538b290cdd5810",
    "shared/mikepenz_action-junit-report/multiple_failures/test_multiple_errors.xml": "44442fcdf63854b0",
    "shared/mikepenz_action-junit-report/multiple_failures/test_multiple_failures.xml": "e3cc272d7ed6bf98",
    "shared/mikepenz_action-junit-report/nested/junit.xml": "ca36c5c50a0dd475",
    "shared/mikepenz_action-junit-report/nested/multi-level.xml": "842de1afe3d22bb5",
    "shared/mikepenz_action-junit-report/nextest/basic.xml": "6c2c26df0d8fe797",
    "shared/mikepenz_action-junit-report/perl/result.xml": "ba110b4d35ecf191",
    "shared/mikepenz_action-junit-report/python/report.xml": "d37a63e6b9470e1d",
    "shared/mikepenz_action-junit-report/python/report_flaky.xml": "c7f2872b2f010c54",
    "shared/mikepenz_action-junit-report/tests/email/target/surefire-reports/TEST-action.surefire.report.email.EmailAddressTest.xml": "0f83851d077da4ee",
    "shared/mikepenz_action-junit-report/tests/utils/target/surefire-reports/TEST-action.surefire.report.calc.AllOkTest.xml": "b05fb1db448e117e",
    "shared/mikepenz_action-junit-report/tests/utils/target/surefire-reports/TEST-action.surefire.report.calc.CalcUtilsTest.xml": "488098226fa7c0e2",
    "shared/mikepenz_action-junit-report/tests/utils/target/surefire-reports/TEST-action.surefire.report.calc.StringUtilsTest.xml": "e747e33278bc3c85",
    "shared/mikepenz_action-junit-report/xunit/report.xml": "e214e0bd56bbffdf",
    "shared/mikepenz_action-junit-report/xunit/report_fl_on_f.xml": "f000bba38485df52",
}


def _files() -> list[object]:
    params: list[object] = []
    for key, root in ROOTS.items():
        names = sorted(k.split("/", 1)[1] for k in BEFORE if k.startswith(key + "/"))
        for name in names:
            path = root / name
            mark = pytest.mark.skipif(not path.is_file(), reason=f"{root} is absent")
            params.append(pytest.param(f"{key}/{name}", path, id=f"{key}/{name}", marks=mark))
    return params


def _dump(data: bytes, name: str, merge: bool) -> object:
    try:
        return parse_junit(data, name, merge_retries=merge).model_dump(mode="json")
    except TestReportError as exc:
        return ["error", type(exc).__name__, str(exc)]


def _collect(stream: JunitStream) -> TestReport:
    """The report rebuilt from ``parts()`` by hand (not through ``report()``)."""
    suites: dict[int, list[TestCase]] = {}
    heads: dict[int, TestSuite] = {}
    for part in stream.parts():
        heads.setdefault(part.position, part.suite)
        suites.setdefault(part.position, []).extend(part.suite.cases)
    assert list(suites) == list(range(len(suites)))  # parts of one suite are consecutive, in order
    return TestReport(
        source=stream.source,
        dialect=stream.dialect,
        suites=tuple(heads[i].model_copy(update={"cases": tuple(suites[i])}) for i in suites),
        problems=stream.problems,
    )


@pytest.mark.parametrize(("key", "path"), _files())
def test_same_result_as_the_whole_file_parser(key: str, path: Path) -> None:
    data = path.read_bytes()
    both = {"merged": _dump(data, path.name, True), "apart": _dump(data, path.name, False)}
    assert hashlib.sha256(json.dumps(both, sort_keys=True).encode()).hexdigest()[:16] == BEFORE[key]
    if isinstance(both["merged"], list):  # an error: the file-based stream raises it too
        with (
            pytest.raises(TestReportError, match="^" + path.name),
            open_junit_file(path, source=path.name) as s,
        ):
            _collect(s)
        return
    whole = parse_junit(data, path.name)
    for size in (1, 3, 5_000):  # parts of any size add up to the same report
        with open_junit_file(path, source=path.name, batch_size=size) as stream:
            assert _collect(stream) == whole
    with open_junit_file(path, source=path.name, keep_details=False) as stream:
        lean = stream.report()
    assert lean.cases == tuple(c.model_copy(update={"details": None}) for c in whole.cases)


def test_every_fixture_is_listed() -> None:
    for key, root in ROOTS.items():
        if root.is_dir():
            found = {f"{key}/{p.relative_to(root).as_posix()}" for p in root.rglob("*.xml")}
            assert found == {k for k in BEFORE if k.startswith(key + "/")}


def _suite(name: str, cases: int, *, fail_every: int = 0) -> str:
    body = "".join(
        f'<testcase classname="{name}" name="t{i}" time="0.5">'
        + ("<failure message='boom'>trace</failure>" if fail_every and i % fail_every == 0 else "")
        + "<system-out>"
        + "o" * 50
        + "</system-out></testcase>\n"
        for i in range(cases)
    )
    return f'<testsuite name="{name}">\n{body}</testsuite>\n'


def test_a_big_suite_comes_in_parts_and_batches_of_at_most_batch_size() -> None:
    xml = f"<testsuites>{_suite('A', 12_001, fail_every=1000)}{_suite('B', 2)}<testsuite name='C'/></testsuites>"
    stream = JunitStream(io.BytesIO(xml.encode()), "big.xml", batch_size=5_000)
    parts = [(p.position, p.suite.name, len(p.suite.cases)) for p in stream.parts()]
    assert parts == [(0, "A", 5_000), (0, "A", 5_000), (0, "A", 2_001), (1, "B", 2), (2, "C", 0)]
    batches = list(JunitStream(io.BytesIO(xml.encode()), "big.xml", batch_size=5_000).batches())
    sizes = [sum(len(s.cases) for s in batch) for batch in batches]
    assert sizes == [5_000, 5_000, 2_003] and [s.name for s in batches[-1]] == ["A", "B", "C"]
    statuses = {c.status for batch in batches for s in batch for c in s.cases}
    assert statuses == {TestStatus.PASSED, TestStatus.FAILED}


def test_repeats_far_apart_in_one_suite_still_merge_across_batches() -> None:
    cases = "".join(f'<testcase classname="C" name="t{i}"/>' for i in range(30))
    xml = (
        '<testsuite name="S"><testcase classname="C" name="flaky"><failure message="first"/></testcase>'
        f'{cases}<testcase classname="C" name="flaky" time="1"/></testsuite>'
    )
    parts = list(JunitStream(io.BytesIO(xml.encode()), "r.xml", batch_size=4).parts())
    merged = [c for p in parts for c in p.suite.cases if c.name == "flaky"]
    assert len(merged) == 1 and merged[0].status is TestStatus.FLAKY and merged[0].retries == 1
    assert sum(len(p.suite.cases) for p in parts) == 31


def test_malformed_xml_mid_file_hands_out_the_suites_before_then_raises() -> None:
    xml = (
        f"<testsuites>{_suite('A', 3)}{_suite('B', 2)}<testsuite name='C'>\n<testcase name='x'>\n</testsuite>"
    )
    stream = JunitStream(io.BytesIO(xml.encode()), "dir/broken.xml")
    seen: list[str] = []
    with pytest.raises(TestReportError) as info:
        seen.extend(f"{p.suite.name}:{len(p.suite.cases)}" for p in stream.parts())
    assert seen == ["A:3", "B:2"]
    line = xml.count("\n", 0, xml.index("</testsuite>", xml.index("name='C'"))) + 1
    assert str(info.value).startswith(
        f"dir/broken.xml: malformed XML at line {line}, column 3: mismatched tag"
    )
    assert (info.value.line, info.value.column) == (line, 3)  # expat: just after "</"
    with pytest.raises(TestReportError, match="mismatched tag"):
        parse_junit(xml.encode(), "dir/broken.xml")  # the whole-report form returns nothing


def test_a_stream_is_read_once() -> None:
    stream = JunitStream(io.BytesIO(_suite("A", 1).encode()), "r.xml")
    assert len(stream.report().cases) == 1
    with pytest.raises(RuntimeError, match="read once"):
        stream.report()


def test_reading_past_max_bytes_is_an_error() -> None:
    data = _suite("A", 2_000).encode()
    stream = JunitStream(io.BytesIO(data), "grown.xml", max_bytes=len(data) // 2)
    with pytest.raises(
        TestReportError, match=rf"^grown\.xml: over the {len(data) // 2} byte limit when read$"
    ):
        stream.report()
    assert len(JunitStream(io.BytesIO(data), "ok.xml", max_bytes=len(data)).report().cases) == 2_000


def test_problems_are_capped_with_a_closing_count() -> None:
    cases = "".join(f'<testcase name="t{i}" time="soon"/>' for i in range(junit_stream.MAX_PROBLEMS + 7))
    stream = JunitStream(io.BytesIO(f'<testsuite name="S">{cases}</testsuite>'.encode()), "r.xml")
    assert len(list(stream.batches())) == 1
    assert len(stream.problems) == junit_stream.MAX_PROBLEMS + 1
    assert (
        stream.problems[0]
        == "testcase #1 in suite 'S' ('t0'): time='soon' is not a duration in seconds; left empty"
    )
    assert stream.problems[-1] == "... and 7 more problems"


def test_keep_details_false_drops_only_the_details() -> None:
    trace = "x" * (MAX_DETAILS_CHARS + 10)
    xml = f'<testsuite name="S"><testcase name="a" classname="C"><failure message="m" type="T">{trace}</failure></testcase></testsuite>'
    full = JunitStream(io.BytesIO(xml.encode()), "r.xml").report().cases[0]
    lean = JunitStream(io.BytesIO(xml.encode()), "r.xml", keep_details=False).report().cases[0]
    assert (
        full.details is not None
        and full.details.startswith("x" * 100)
        and "truncated by cimedic" in full.details
    )
    assert lean == full.model_copy(update={"details": None})
    assert (lean.status, lean.message, lean.failure_type) == (TestStatus.FAILED, "m", "T")


@pytest.mark.parametrize("data", [b"", b" \n\t "])
def test_empty_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "empty.xml"
    path.write_bytes(data)
    with (
        pytest.raises(TestReportError, match=r"^empty\.xml is empty$"),
        open_junit_file(path, source="empty.xml") as s,
    ):
        s.report()


def test_entity_declarations_are_refused_when_streamed(tmp_path: Path) -> None:
    path = tmp_path / "evil.xml"
    path.write_bytes(
        b'<?xml version="1.0"?>\n<!DOCTYPE testsuite [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        b'<testsuite name="s"><testcase name="&xxe;"/></testsuite>\n'
    )
    with (
        pytest.raises(TestReportError, match=r"^evil\.xml: refused: the XML declares entities") as info,
        open_junit_file(path, source="evil.xml") as stream,
    ):
        list(stream.batches())
    assert "root:" not in str(info.value)
