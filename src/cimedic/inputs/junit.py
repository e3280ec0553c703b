"""Reading JUnit-style XML test reports into :class:`~cimedic.model.ci.TestReport`.

Parser: ``defusedxml.ElementTree.iterparse``, used directly rather than ``junitparser``.
junitparser 5 parses with the standard library's unprotected ``xml.etree`` and builds the whole
tree. It also has no types for Surefire's ``flakyFailure`` / ``flakyError`` / ``rerunFailure`` /
``rerunError`` elements. The streaming walk here refuses every entity declaration, which blocks
billion-laughs and external-entity (XXE) attacks. It frees each ``<testcase>`` once it has been
read and records problems per case.

Shape (JUnit XML schema, Jenkins xunit-plugin ``junit-10.xsd``): the root is ``<testsuites>`` or
``<testsuite>``, and suites may nest. Every suite that holds ``<testcase>`` elements directly, or
holds nothing, becomes one flat :class:`~cimedic.model.ci.TestSuite`; a suite that only wraps
other suites is dropped. A suite with no ``name`` is named after ``source``. A ``<testcase>``
with no ``name`` attribute is skipped with a problem. ``name=""`` is kept, because jest-junit
writes it for an empty test title.

Outcome of one ``<testcase>``: the first ``<failure>`` (status ``failed``) or ``<error>``
(status ``error``) child decides, then ``<skipped>`` (status ``skipped``). With none of these, a
``status`` / ``result`` attribute known to :func:`cimedic.model.vocab.test_status_of` decides,
as do googletest's ``notrun`` / ``suppressed``, which mean ``skipped``. Otherwise the case
``passed``. ``message`` / ``failure_type`` come from the deciding element's ``message`` /
``type``. ``details`` joins the text of all failure/error elements and is cut at
:data:`MAX_DETAILS_CHARS`.

Reruns inside one ``<testcase>`` follow the Maven Surefire/Failsafe docs ("Rerun Failing
Tests"). Gradle with ``mergeReruns`` and marathon write the same elements. A test that passed on
a rerun has only ``flakyFailure`` / ``flakyError`` children: it becomes ``flaky``, with
``retries`` = their number. A test that failed every run keeps ``failure`` / ``error`` plus one
``rerunFailure`` / ``rerunError`` per rerun: it stays failed, with ``retries`` = their number.

Reruns as repeated ``<testcase>`` elements, one per execution, come from several tools: Gradle
(by default, ``mergeReruns = false``), gotestsum ``--rerun-fails`` (gotestsum issue #384),
pytest-rerunfailures (issue #170) and the ``flaky_retries`` fixtures of
mikepenz/action-junit-report. Within one suite, repeats of the same ``(classname, name)`` merge
into one case when at least one of them failed or errored and none was skipped. The merged case
is ``flaky`` if a passing execution follows a failing one. Otherwise it keeps the status of its
final execution. ``retries`` = executions - 1 and ``duration`` = their sum. Repeats that all
passed, or that include a skip, stay apart as parameterised runs: TestNG data providers in
Apache Pulsar's report, jest-junit's duplicate titles, ``go test -count``. Repeats in different
suites, such as one suite per browser, are never merged.

Dialect (``TestReport.dialect``):
- ``surefire``: the root names the Surefire XSD, or rerun elements occur.
- ``pytest``: a suite is named ``pytest``, pytest's ``junit_suite_name`` default.
- ``jest``: ``<testsuites name="jest tests">``, jest-junit's default.
- ``go``: a ``go.version`` property, written by go-junit-report and gotestsum.
- ``phpunit``: suites with ``assertions`` under a bare ``<testsuites>``.
- ``nextest``: ``name="nextest-run"``.
- ``junit``: everything else. JUnit 4/5, Gradle, TestNG and Catch2 carry no reliable marker.

Units: ``time`` is seconds. A decimal comma is accepted; ``1,234`` is read as Surefire 2.x digit
grouping, and with both separators the last one is the decimal point. Garbage, negative or
non-finite times become ``None`` with a problem. ``timestamp`` is ISO 8601, optionally ending in
``Z`` or `` UTC``. It becomes an aware UTC ``datetime``; the schema's zone-less values are read
as UTC.
"""

from __future__ import annotations

import io
import math
import os
import re
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError
from xml.parsers import expat

import defusedxml
import defusedxml.ElementTree as SafeET

from cimedic.model.ci import TestCase, TestReport, TestStatus, TestSuite
from cimedic.model.vocab import TEST_STATUS_MAP, test_status_of

MAX_REPORT_BYTES = 200 * 1024 * 1024  # one report file or zip member, uncompressed
MAX_ZIP_MEMBERS = 10_000  # XML members of one archive that are read
MAX_DETAILS_CHARS = 64 * 1024
MAX_PROBLEMS = 200  # per report; the rest are counted in one closing line

_REPORT_ROOTS = frozenset({"testsuites", "testsuite"})
_FAILING = frozenset({TestStatus.FAILED, TestStatus.ERROR})
_RERUN_TAGS = frozenset({"flakyFailure", "flakyError", "rerunFailure", "rerunError"})
_EXTRA_STATUS_WORDS = {"notrun": TestStatus.SKIPPED, "suppressed": TestStatus.SKIPPED}
_TRUNCATED = "\n[... truncated by cimedic: {} more characters]"


class TestReportError(ValueError):
    """A test report cannot be read at all. ``str(exc)`` names the source and the reason.

    ``line`` and ``column`` (1-based) locate malformed XML when the parser reported them.
    """

    __test__ = False

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class NotATestReportError(TestReportError):
    """Well-formed XML whose root is not ``<testsuites>`` / ``<testsuite>``."""


def parse_junit(data: bytes, source: str, *, merge_retries: bool = True) -> TestReport:
    """Parse one JUnit-style XML report (the bytes of a file) into a :class:`TestReport`.

    ``source`` names the file or archive member in messages and in ``TestReport.source``.
    ``merge_retries=False`` keeps repeated ``<testcase>`` elements apart (see the module doc).
    Malformed test cases and values are skipped and listed in ``problems``.

    Raises :class:`TestReportError` when ``data`` is empty, is not well-formed XML (with the
    parser's line and column), declares entities (refused, see defusedxml), or when its root
    is not a test report (:class:`NotATestReportError`).
    """
    if not data.strip():
        raise TestReportError(f"{source} is empty")
    walk = _Walk(source, merge_retries)
    try:
        for event, elem in SafeET.iterparse(io.BytesIO(data), events=("start", "end")):
            walk.start(elem) if event == "start" else walk.end(elem)
    except ParseError as exc:
        line, column = exc.position
        reason = expat.ErrorString(exc.code) if isinstance(exc.code, int) else str(exc)
        raise TestReportError(
            f"{source}: malformed XML at line {line}, column {column + 1}: {reason}",
            line=line,
            column=column + 1,
        ) from exc
    except defusedxml.DefusedXmlException as exc:
        raise TestReportError(
            f"{source}: refused: the XML declares entities or external references ({exc}); "
            "test reports never need them and they enable entity-expansion and XXE attacks"
        ) from exc
    return walk.report()


def parse_junit_file(path: str | os.PathLike[str], *, merge_retries: bool = True) -> TestReport:
    """Read and parse the report at ``path`` (``source`` is the path as given).

    Raises :class:`TestReportError` as :func:`parse_junit` does, and also when the file cannot be
    read or is larger than :data:`MAX_REPORT_BYTES`.
    """
    source = os.fspath(path)
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise TestReportError(f"{source}: cannot read: {exc.strerror or exc}") from exc
    if len(data) > MAX_REPORT_BYTES:
        raise TestReportError(f"{source}: larger than the {MAX_REPORT_BYTES} byte limit")
    return parse_junit(data, source, merge_retries=merge_retries)


def reports_from_zip(data: bytes, source: str) -> list[TestReport]:
    """Parse every JUnit-style report in a CI artifact zip, in archive order.

    A member is considered when its name ends in ``.xml`` (any case). macOS ``__MACOSX/`` and
    ``._*`` metadata members are ignored. A member whose root is not a test report is skipped
    silently. A member that is empty, corrupt, oversized (over :data:`MAX_REPORT_BYTES`
    uncompressed) or cannot be decompressed becomes a report with no suites and one problem, so
    it is never silently lost. A report's ``source`` is ``"{source}!{member name}"``. Only the
    first :data:`MAX_ZIP_MEMBERS` XML members are read. When there are more, a final report
    with ``source`` = the archive itself says how many were left out.

    Raises :class:`TestReportError` only when ``data`` is not a zip archive.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        raise TestReportError(f"{source}: not a readable zip archive: {exc}") from exc
    members = [info for info in archive.infolist() if _is_xml_member(info)]
    reports: list[TestReport] = []
    with archive:
        for info in members[:MAX_ZIP_MEMBERS]:
            member_source = f"{source}!{info.filename}"
            try:
                reports.append(parse_junit(_read_member(archive, info, member_source), member_source))
            except NotATestReportError:
                continue
            except TestReportError as exc:
                reports.append(TestReport(source=member_source, problems=(str(exc),)))
    if len(members) > MAX_ZIP_MEMBERS:
        left = len(members) - MAX_ZIP_MEMBERS
        note = f"{source}: {len(members)} XML members; only the first {MAX_ZIP_MEMBERS} were read ({left} left out)"
        reports.append(TestReport(source=source, problems=(note,)))
    return reports


# --------------------------------------------------------------------------- zip helpers


def _is_xml_member(info: zipfile.ZipInfo) -> bool:
    name = info.filename
    base = name.rsplit("/", 1)[-1]
    return (
        not info.is_dir()
        and base.lower().endswith(".xml")
        and not base.startswith("._")
        and not name.startswith("__MACOSX/")
    )


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, member_source: str) -> bytes:
    if info.file_size > MAX_REPORT_BYTES:
        raise TestReportError(
            f"{member_source}: {info.file_size} bytes, over the {MAX_REPORT_BYTES} byte limit"
        )
    try:
        with archive.open(info) as fh:
            data = fh.read(MAX_REPORT_BYTES + 1)  # the header's size may lie (zip bomb)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
        raise TestReportError(f"{member_source}: cannot extract: {exc}") from exc
    if len(data) > MAX_REPORT_BYTES:
        raise TestReportError(f"{member_source}: over the {MAX_REPORT_BYTES} byte limit when extracted")
    return data


# --------------------------------------------------------------------------- values


_THOUSANDS_COMMA = re.compile(r"^[+-]?[1-9]\d{0,2}(,\d{3})+$")  # "1,234" (Surefire 2.x grouping)


def _seconds(raw: str | None, what: str, problems: list[str]) -> float | None:
    """``time`` attribute → seconds; ``None`` when absent, ``None`` + a problem when unusable."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip().replace("_", "")
    if "," in text and "." in text:  # the last separator is the decimal point
        text = (
            text.replace(",", "")
            if text.rfind(".") > text.rfind(",")
            else text.replace(".", "").replace(",", ".")
        )
    elif _THOUSANDS_COMMA.match(text):
        text = text.replace(",", "")
    else:
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        problems.append(f"{what}: time={raw!r} is not a duration in seconds; left empty")
        return None
    return value


def _timestamp(raw: str | None, what: str, problems: list[str]) -> datetime | None:
    """ISO 8601 ``timestamp`` → aware UTC datetime (zone-less values are taken as UTC)."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if text.upper().endswith("UTC"):
        text = text[:-3].strip() + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        problems.append(f"{what}: timestamp={raw!r} is not an ISO 8601 time; left empty")
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text(elem: Element) -> str | None:
    """Text of an outcome element: its own text, else that of a ``<stackTrace>`` child."""
    parts = [elem.text or ""]
    parts += [child.text or "" for child in elem if _local(child.tag) == "stackTrace"]
    text = "\n".join(p.strip() for p in parts if p.strip())
    return text or None


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_DETAILS_CHARS:
        return text
    return text[:MAX_DETAILS_CHARS] + _TRUNCATED.format(len(text) - MAX_DETAILS_CHARS)


def _local(tag: Any) -> str:
    """Tag without a ``{namespace}`` prefix (comments and PIs have non-str tags)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _attr_status(elem: Element) -> TestStatus | None:
    for attr in ("status", "result"):
        word = (elem.get(attr) or "").strip().lower()
        if word in TEST_STATUS_MAP:
            return test_status_of(word)
        if word in _EXTRA_STATUS_WORDS:
            return _EXTRA_STATUS_WORDS[word]
    return None


# --------------------------------------------------------------------------- the walk


@dataclass
class _SuiteBuilder:
    name: str
    timestamp: datetime | None
    duration: float | None
    file: str | None
    cases: list[TestCase] = field(default_factory=list)
    has_child_suite: bool = False


class _Walk:
    """Streaming state: open elements, open suites, finished suites, problems, dialect hints."""

    def __init__(self, source: str, merge_retries: bool) -> None:
        self.source = source
        self.merge_retries = merge_retries
        self.stack: list[Element] = []
        self.suites: list[_SuiteBuilder] = []
        self.done: list[TestSuite] = []
        self.problems: list[str] = []
        self.hints: set[str] = set()
        self.bare_root = False
        self.in_case = 0
        self.case_number = 0

    def start(self, elem: Element) -> None:
        tag = _local(elem.tag)
        if not self.stack:
            if tag not in _REPORT_ROOTS:
                raise NotATestReportError(
                    f"{self.source}: root element <{tag}> is not a JUnit-style test report "
                    "(expected <testsuites> or <testsuite>)"
                )
            self._root_hints(elem)
        self.stack.append(elem)
        if self.in_case or tag == "testcase":
            self.in_case += 1
        elif tag == "testsuite":
            if self.suites:
                self.suites[-1].has_child_suite = True
            what = f"testsuite {elem.get('name')!r}"
            self.suites.append(
                _SuiteBuilder(
                    name=elem.get("name") or self.source,
                    timestamp=_timestamp(elem.get("timestamp"), what, self.problems),
                    duration=_seconds(elem.get("time"), what, self.problems),
                    file=elem.get("file") or (self.suites[-1].file if self.suites else None),
                )
            )
            if elem.get("name") == "pytest":
                self.hints.add("pytest")
            if "assertions" in elem.attrib and self.bare_root:  # PHPUnit: bare <testsuites>
                self.hints.add("phpunit")
        elif tag == "property" and elem.get("name") == "go.version":
            self.hints.add("go")

    def end(self, elem: Element) -> None:
        self.stack.pop()
        tag = _local(elem.tag)
        if self.in_case:
            self.in_case -= 1
            if self.in_case:
                return  # inside a testcase: read with the testcase
            self.case_number += 1
            if not self.suites:  # a <testcase> directly under <testsuites>: closed by report()
                self.suites.append(_SuiteBuilder(self.source, None, None, None))
            case = self._case(elem, self.suites[-1])
            if case is not None:
                self.suites[-1].cases.append(case)
        elif tag == "testsuite":
            self._close_suite()
        if self.stack:  # free what has been read: memory stays bounded by one testcase
            self.stack[-1].remove(elem)

    def _root_hints(self, root: Element) -> None:
        schema = " ".join(v for k, v in root.attrib.items() if k.endswith("SchemaLocation"))
        if "surefire" in schema:
            self.hints.add("surefire")
        self.bare_root = _local(root.tag) == "testsuites" and not root.attrib
        name = root.get("name") or ""
        if _local(root.tag) == "testsuites" and name == "jest tests":  # jest-junit's default suiteName
            self.hints.add("jest")
        if name == "nextest-run":  # cargo-nextest
            self.hints.add("nextest")

    def _close_suite(self) -> None:
        builder = self.suites.pop()
        if builder.cases or not builder.has_child_suite:
            cases = _merge_repeats(builder.cases) if self.merge_retries else builder.cases
            self.done.append(
                TestSuite(
                    name=builder.name,
                    timestamp=builder.timestamp,
                    duration=builder.duration,
                    cases=tuple(cases),
                )
            )

    def _case(self, elem: Element, suite: _SuiteBuilder) -> TestCase | None:
        name = elem.get("name")
        where = f"testcase #{self.case_number} in suite {suite.name!r}"
        if name is None:  # name="" is kept: jest-junit writes it for a test with an empty title
            self.problems.append(f"{where}: no name attribute; skipped")
            return None
        what = f"{where} ({name!r})"
        outcomes: list[tuple[TestStatus, Element]] = []
        skipped: Element | None = None
        reruns: list[Element] = []
        for child in elem:
            tag = _local(child.tag)
            if tag == "failure":
                outcomes.append((TestStatus.FAILED, child))
            elif tag == "error":
                outcomes.append((TestStatus.ERROR, child))
            elif tag == "skipped" and skipped is None:
                skipped = child
            elif tag in _RERUN_TAGS:
                reruns.append(child)
                self.hints.add("rerun")
        deciding: Element | None = None
        details: str | None = None
        if outcomes:
            status, deciding = outcomes[0]
            texts = [t for _, e in outcomes if (t := _text(e))]
            details = "\n\n".join(texts) or None
        elif skipped is not None:
            status, deciding, details = TestStatus.SKIPPED, skipped, _text(skipped)
        else:
            status = _attr_status(elem) or TestStatus.PASSED
        if reruns and status is TestStatus.PASSED:
            status, deciding, details = TestStatus.FLAKY, reruns[0], _text(reruns[0])
        try:
            return TestCase(
                name=name,
                classname=(elem.get("classname") or elem.get("class") or "").strip() or None,
                file=elem.get("file") or suite.file,
                status=status,
                duration=_seconds(elem.get("time"), what, self.problems),
                retries=len(reruns),
                message=deciding.get("message") if deciding is not None else None,
                failure_type=(deciding.get("type") or None) if deciding is not None else None,
                details=_clip(details),
            )
        except ValueError as exc:  # pydantic validation: keep the rest of the report
            self.problems.append(f"{what}: {exc}; skipped")
            return None

    def _dialect(self) -> str:
        for dialect in ("surefire", "pytest", "jest", "go", "phpunit", "nextest"):
            if dialect in self.hints:
                return dialect
        return "surefire" if "rerun" in self.hints else "junit"

    def report(self) -> TestReport:
        while self.suites:  # the implicit suite of <testcase>s directly under the root
            self._close_suite()
        problems = self.problems[:MAX_PROBLEMS]
        if len(self.problems) > MAX_PROBLEMS:
            problems.append(f"... and {len(self.problems) - MAX_PROBLEMS} more problems")
        return TestReport(
            source=self.source,
            dialect=self._dialect(),
            suites=tuple(self.done),
            problems=tuple(problems),
        )


def _merge_repeats(cases: Iterable[TestCase]) -> list[TestCase]:
    """Merge repeated ``(classname, name)`` executions of one suite (rules: module docstring)."""
    groups: dict[tuple[str | None, str], list[TestCase]] = {}
    for case in cases:
        groups.setdefault((case.classname, case.name), []).append(case)
    merged: list[TestCase] = []
    for runs in groups.values():
        statuses = [run.status for run in runs]
        if len(runs) == 1 or TestStatus.SKIPPED in statuses or not _FAILING.intersection(statuses):
            merged.extend(runs)
            continue
        first_fail = next(i for i, s in enumerate(statuses) if s in _FAILING)
        passed_later = any(s in (TestStatus.PASSED, TestStatus.FLAKY) for s in statuses[first_fail:])
        failing = [(i, run) for i, run in enumerate(runs, 1) if run.status in _FAILING]
        last_fail = failing[-1][1]
        details = "\n\n".join(
            f"[execution {i} of {len(runs)}: {run.status.value}]\n{run.details or run.message or ''}".rstrip()
            for i, run in failing
        )
        durations = [run.duration for run in runs if run.duration is not None]
        merged.append(
            runs[0].model_copy(
                update={
                    "status": TestStatus.FLAKY if passed_later else runs[-1].status,
                    "retries": len(runs) - 1 + sum(run.retries for run in runs),
                    "duration": sum(durations) if durations else None,
                    "message": last_fail.message,
                    "failure_type": last_fail.failure_type,
                    "details": _clip(details),
                }
            )
        )
    return merged


__all__ = [
    "MAX_DETAILS_CHARS",
    "MAX_REPORT_BYTES",
    "MAX_ZIP_MEMBERS",
    "NotATestReportError",
    "TestReportError",
    "parse_junit",
    "parse_junit_file",
    "reports_from_zip",
]
