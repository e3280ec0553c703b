"""Incremental reading of one JUnit-style XML report: :class:`JunitStream`, the one parser.

The rules (shape, outcomes, reruns, repeats, dialects, units) are in :mod:`cimedic.inputs.junit`;
:func:`cimedic.inputs.junit.parse_junit` collects this stream into a whole
:class:`~cimedic.model.ci.TestReport`.

Memory. ``defusedxml.ElementTree.iterparse`` reads 16 KiB at a time, and every element is
removed from its parent once read, so the XML held is about one ``<testcase>`` (with its
``system-out``) at a time. Cases are held per suite until the suite closes, because repeats of
one test may be anywhere in the suite (the merge rule). They are held as compact records (about
250 bytes for a passing case, plus its message and, with ``keep_details``, its failure text) and
only become :class:`~cimedic.model.ci.TestCase` objects ``batch_size`` at a time when handed out.
So a report of many suites (Surefire, Gradle, go) is held one suite at a time; a report with all
its cases in one suite (pytest's single ``<testsuite name="pytest">``) holds that suite's records.

Malformed XML in the middle of a file: the parts of the suites closed before the error have
already been handed out, then iteration raises :class:`TestReportError` with the line and the
column. :meth:`JunitStream.report` (and so ``parse_junit``) raises and returns nothing; the store
(``save_test_report_stream``) writes a report in one transaction, so a broken file stores no
case at all and an earlier report of the same source is kept.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, NamedTuple
from xml.etree.ElementTree import Element, ParseError
from xml.parsers import expat

import defusedxml
import defusedxml.ElementTree as SafeET

from cimedic.inputs.junit_rules import (
    MAX_DETAILS_CHARS,
    MAX_PROBLEMS,
    CaseRun,
    Problems,
    attr_status,
    clip,
    local_name,
    merge_repeats,
    outcome_text,
    seconds,
    shared,
    timestamp,
)
from cimedic.model.ci import TestCase, TestReport, TestStatus, TestSuite

BATCH_SIZE = 5_000  # test cases per part handed out (and per insert in the store)

_REPORT_ROOTS = frozenset({"testsuites", "testsuite"})
_RERUN_TAGS = frozenset({"flakyFailure", "flakyError", "rerunFailure", "rerunError"})


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


class SuitePart(NamedTuple):
    """Some cases of one suite. ``position`` numbers the kept suites in report order (0-based);
    the parts of one suite come one after another and share it; a suite with no case comes
    as one part with ``suite.cases == ()``."""

    position: int
    suite: TestSuite


class JunitStream:
    """One report read incrementally from ``reader`` (a binary file object), named ``source``.

    Iterate :meth:`parts` or :meth:`batches` once; :attr:`dialect` and :attr:`problems` are
    final when the iteration ends (``problems`` keeps the first :data:`MAX_PROBLEMS` plus one
    line counting the rest). ``merge_retries`` as in ``parse_junit``. ``keep_details=False``
    leaves ``TestCase.details`` empty (the store does not keep it; this saves memory).
    ``max_bytes``: reading more than this raises :class:`TestReportError` (a file that grew
    after its size was checked). Iteration raises :class:`TestReportError` for empty input,
    malformed XML (with line and column), entity declarations (refused, see defusedxml), and
    :class:`NotATestReportError` for a root that is not a test report.
    """

    __test__ = False

    def __init__(
        self,
        reader: BinaryIO,
        source: str,
        *,
        merge_retries: bool = True,
        keep_details: bool = True,
        batch_size: int = BATCH_SIZE,
        max_bytes: int | None = None,
    ) -> None:
        self.source = source
        self._reader = _Reader(reader, source, max_bytes)
        self._walk = _Walk(source, merge_retries, keep_details)
        self._batch_size = max(1, batch_size)
        self._started = False

    @property
    def dialect(self) -> str:
        return self._walk.dialect()

    @property
    def problems(self) -> tuple[str, ...]:
        return self._walk.problems.final()

    @property
    def bytes_read(self) -> int:
        return self._reader.size

    def parts(self) -> Iterator[SuitePart]:
        """The kept suites in report order (the order in which they close), each in parts of
        at most ``batch_size`` cases."""
        if self._started:
            raise RuntimeError(f"{self.source}: a JunitStream is read once")
        self._started = True
        walk = self._walk
        index = 0
        try:
            for event, elem in SafeET.iterparse(self._reader, events=("start", "end")):
                if event == "start":
                    walk.start(elem)
                    continue
                walk.end(elem)
                while walk.ready:
                    yield from self._split(index, walk.ready.popleft())
                    index += 1
        except ParseError as exc:
            if not self._reader.content:
                raise TestReportError(f"{self.source} is empty") from exc
            line, column = exc.position
            reason = expat.ErrorString(exc.code) if isinstance(exc.code, int) else str(exc)
            raise TestReportError(
                f"{self.source}: malformed XML at line {line}, column {column + 1}: {reason}",
                line=line,
                column=column + 1,
            ) from exc
        except defusedxml.DefusedXmlException as exc:
            raise TestReportError(
                f"{self.source}: refused: the XML declares entities or external references ({exc}); "
                "test reports never need them and they enable entity-expansion and XXE attacks"
            ) from exc
        walk.close_all()  # the implicit suite of <testcase>s directly under the root
        while walk.ready:
            yield from self._split(index, walk.ready.popleft())
            index += 1

    def batches(self) -> Iterator[list[TestSuite]]:
        """The same parts grouped into lists of at most ``batch_size`` cases (empty suites
        included); what the store inserts per statement."""
        batch: list[TestSuite] = []
        count = 0
        for part in self.parts():
            size = len(part.suite.cases)
            if batch and count + size > self._batch_size:
                yield batch
                batch, count = [], 0
            batch.append(part.suite)
            count += size
        if batch:
            yield batch

    def report(self) -> TestReport:
        """The whole report in memory (what ``parse_junit`` returns)."""
        heads: list[TestSuite] = []
        cases: list[list[TestCase]] = []
        for index, suite in self.parts():
            if index == len(heads):
                heads.append(suite)
                cases.append([])
            cases[index].extend(suite.cases)
        suites = tuple(
            head.model_copy(update={"cases": tuple(kept)}) for head, kept in zip(heads, cases, strict=True)
        )
        return TestReport(source=self.source, dialect=self.dialect, suites=suites, problems=self.problems)

    def _split(self, index: int, builder: _SuiteBuilder) -> Iterator[SuitePart]:
        walk = self._walk
        runs = merge_repeats(builder.runs, walk.keep_details) if walk.merge_retries else builder.runs
        builder.runs = []
        head = TestSuite(name=builder.name, timestamp=builder.timestamp, duration=builder.duration)
        if not runs:
            yield SuitePart(index, head)
            return
        size = self._batch_size
        for start in range(0, len(runs), size):
            chunk = [case for run in runs[start : start + size] if (case := self._case(run, builder.name))]
            yield SuitePart(index, head.model_copy(update={"cases": tuple(chunk)}))

    def _case(self, run: CaseRun, suite: str) -> TestCase | None:
        try:
            return TestCase(
                name=run.name,
                classname=run.classname,
                file=run.file,
                status=run.status,
                duration=run.duration,
                retries=run.retries,
                message=run.message,
                failure_type=run.failure_type,
                details=run.details,
            )
        except ValueError as exc:  # pydantic validation: keep the rest of the report
            self._walk.problems.append(
                f"testcase #{run.number} in suite {suite!r} ({run.name!r}): {exc}; skipped"
            )
            return None


class _Reader:
    """The file object iterparse reads: counts bytes, notes whether any is not whitespace, and
    refuses to read past ``max_bytes``."""

    def __init__(self, raw: BinaryIO, source: str, max_bytes: int | None) -> None:
        self.raw = raw
        self.source = source
        self.max_bytes = max_bytes
        self.size = 0
        self.content = False

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.size += len(data)
        if not self.content and data.strip():
            self.content = True
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise TestReportError(f"{self.source}: over the {self.max_bytes} byte limit when read")
        return data


# --------------------------------------------------------------------------- the walk


@dataclass
class _SuiteBuilder:
    name: str
    timestamp: datetime | None
    duration: float | None
    file: str | None
    runs: list[CaseRun] = field(default_factory=list)
    has_child_suite: bool = False


class _Walk:
    """Streaming state: open elements, open suites, closed suites not handed out yet
    (``ready``), problems, dialect hints."""

    def __init__(self, source: str, merge_retries: bool, keep_details: bool) -> None:
        self.source = source
        self.merge_retries = merge_retries
        self.keep_details = keep_details
        self.stack: list[Element] = []
        self.suites: list[_SuiteBuilder] = []
        self.ready: deque[_SuiteBuilder] = deque()
        self.problems = Problems()
        self.hints: set[str] = set()
        self.bare_root = False
        self.in_case = 0
        self.case_number = 0

    def start(self, elem: Element) -> None:
        tag = local_name(elem.tag)
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
                    timestamp=timestamp(elem.get("timestamp"), what, self.problems),
                    duration=seconds(elem.get("time"), what, self.problems),
                    file=shared(elem.get("file")) or (self.suites[-1].file if self.suites else None),
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
        tag = local_name(elem.tag)
        if self.in_case:
            self.in_case -= 1
            if self.in_case:
                return  # inside a testcase: read with the testcase
            self.case_number += 1
            if not self.suites:  # a <testcase> directly under <testsuites>: closed by close_all()
                self.suites.append(_SuiteBuilder(self.source, None, None, None))
            run = self._run(elem, self.suites[-1])
            if run is not None:
                self.suites[-1].runs.append(run)
        elif tag == "testsuite":
            self._close_suite()
        if self.stack:  # free what has been read: memory stays bounded by one testcase
            self.stack[-1].remove(elem)

    def close_all(self) -> None:
        while self.suites:
            self._close_suite()

    def _root_hints(self, root: Element) -> None:
        schema = " ".join(v for k, v in root.attrib.items() if k.endswith("SchemaLocation"))
        if "surefire" in schema:
            self.hints.add("surefire")
        self.bare_root = local_name(root.tag) == "testsuites" and not root.attrib
        name = root.get("name") or ""
        if local_name(root.tag) == "testsuites" and name == "jest tests":  # jest-junit's default suiteName
            self.hints.add("jest")
        if name == "nextest-run":  # cargo-nextest
            self.hints.add("nextest")

    def _close_suite(self) -> None:
        builder = self.suites.pop()
        if builder.runs or not builder.has_child_suite:
            self.ready.append(builder)

    def _run(self, elem: Element, suite: _SuiteBuilder) -> CaseRun | None:
        name = elem.get("name")
        where = f"testcase #{self.case_number} in suite {suite.name!r}"
        if name is None:  # name="" is kept: jest-junit writes it for a test with an empty title
            self.problems.append(f"{where}: no name attribute; skipped")
            return None
        outcomes: list[tuple[TestStatus, Element]] = []
        skipped: Element | None = None
        reruns: list[Element] = []
        for child in elem:
            tag = local_name(child.tag)
            if tag == "failure":
                outcomes.append((TestStatus.FAILED, child))
            elif tag == "error":
                outcomes.append((TestStatus.ERROR, child))
            elif tag == "skipped" and skipped is None:
                skipped = child
            elif tag in _RERUN_TAGS:
                reruns.append(child)
                self.hints.add("rerun")
        keep = self.keep_details
        deciding: Element | None = None
        details: str | None = None
        if outcomes:
            status, deciding = outcomes[0]
            if keep:
                details = "\n\n".join(t for _, e in outcomes if (t := outcome_text(e))) or None
        elif skipped is not None:
            status, deciding = TestStatus.SKIPPED, skipped
            details = outcome_text(skipped) if keep else None
        else:
            status = attr_status(elem) or TestStatus.PASSED
        if reruns and status is TestStatus.PASSED:
            status, deciding = TestStatus.FLAKY, reruns[0]
            details = outcome_text(reruns[0]) if keep else None
        return CaseRun(
            number=self.case_number,
            name=name,
            classname=shared((elem.get("classname") or elem.get("class") or "").strip() or None),
            file=shared(elem.get("file")) or suite.file,
            status=status,
            duration=seconds(elem.get("time"), f"{where} ({name!r})", self.problems),
            retries=len(reruns),
            message=deciding.get("message") if deciding is not None else None,
            failure_type=shared(deciding.get("type") or None) if deciding is not None else None,
            details=clip(details),
        )

    def dialect(self) -> str:
        for dialect in ("surefire", "pytest", "jest", "go", "phpunit", "nextest"):
            if dialect in self.hints:
                return dialect
        return "surefire" if "rerun" in self.hints else "junit"


__all__ = [
    "BATCH_SIZE",
    "MAX_DETAILS_CHARS",
    "MAX_PROBLEMS",
    "JunitStream",
    "NotATestReportError",
    "SuitePart",
    "TestReportError",
]
