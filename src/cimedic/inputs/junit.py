"""Reading JUnit-style XML test reports into :class:`~cimedic.model.ci.TestReport`.

Parser: ``defusedxml.ElementTree.iterparse``, used directly rather than ``junitparser``.
junitparser 5 parses with the standard library's unprotected ``xml.etree`` and builds the whole
tree. It also has no types for Surefire's ``flakyFailure`` / ``flakyError`` / ``rerunFailure`` /
``rerunError`` elements. The streaming walk here refuses every entity declaration, which blocks
billion-laughs and external-entity (XXE) attacks. It frees each ``<testcase>`` once it has been
read and records problems per case. The parser is :class:`~cimedic.inputs.junit_stream.JunitStream`
(incremental, batches of cases; memory notes there); :func:`parse_junit` collects it.

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
import os
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from cimedic.inputs.junit_stream import (
    BATCH_SIZE,
    MAX_DETAILS_CHARS,
    MAX_PROBLEMS,
    JunitStream,
    NotATestReportError,
    SuitePart,
    TestReportError,
)
from cimedic.model.ci import TestReport

MAX_REPORT_BYTES = 200 * 1024 * 1024  # one report file or zip member, uncompressed (200 MiB)
MAX_ZIP_MEMBERS = 10_000  # XML members of one archive that are read


def parse_junit(data: bytes, source: str, *, merge_retries: bool = True) -> TestReport:
    """Parse one JUnit-style XML report (the bytes of a file) into a :class:`TestReport`.

    ``source`` names the file or archive member in messages and in ``TestReport.source``.
    ``merge_retries=False`` keeps repeated ``<testcase>`` elements apart (see the module doc).
    Malformed test cases and values are skipped and listed in ``problems``.

    Raises :class:`TestReportError` when ``data`` is empty, is not well-formed XML (with the
    parser's line and column), declares entities (refused, see defusedxml), or when its root
    is not a test report (:class:`NotATestReportError`).
    """
    return JunitStream(io.BytesIO(data), source, merge_retries=merge_retries).report()


def _limit_text() -> str:
    return f"{MAX_REPORT_BYTES / 2**20:g} MiB ({MAX_REPORT_BYTES} byte) limit for one test report"


def check_report_file(path: str | os.PathLike[str], source: str | None = None) -> int:
    """Size in bytes of the report file at ``path``, from ``stat`` (nothing is read).

    Raises :class:`TestReportError` when it cannot be stat'ed, is not a regular file, or is
    larger than :data:`MAX_REPORT_BYTES` (the message names the limit).
    """
    name = source or os.fspath(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise TestReportError(f"{name}: cannot read: {exc.strerror or exc}") from exc
    if not os.path.isfile(path):
        raise TestReportError(f"{name}: cannot read: not a regular file")
    if info.st_size > MAX_REPORT_BYTES:
        raise TestReportError(f"{name}: {info.st_size} bytes, over the {_limit_text()}; not read")
    return info.st_size


@contextmanager
def open_junit_file(
    path: str | os.PathLike[str],
    *,
    source: str | None = None,
    merge_retries: bool = True,
    keep_details: bool = True,
    batch_size: int = BATCH_SIZE,
) -> Iterator[JunitStream]:
    """A :class:`JunitStream` over the report file at ``path`` (``source`` defaults to the path
    as given), open for the ``with`` block. The size is checked with ``stat`` before anything
    is read (:func:`check_report_file`), and reading stops with an error past
    :data:`MAX_REPORT_BYTES` should the file grow meanwhile.

    Raises :class:`TestReportError` when the file cannot be opened or is too large; iterating
    the stream raises it as :class:`JunitStream` says.
    """
    name = source or os.fspath(path)
    check_report_file(path, name)
    with ExitStack() as stack:
        try:
            fh = stack.enter_context(Path(path).open("rb"))
        except OSError as exc:
            raise TestReportError(f"{name}: cannot read: {exc.strerror or exc}") from exc
        yield JunitStream(
            fh,
            name,
            merge_retries=merge_retries,
            keep_details=keep_details,
            batch_size=batch_size,
            max_bytes=MAX_REPORT_BYTES,
        )


def parse_junit_file(path: str | os.PathLike[str], *, merge_retries: bool = True) -> TestReport:
    """Read and parse the report at ``path`` (``source`` is the path as given), incrementally.

    Raises :class:`TestReportError` as :func:`parse_junit` does, and also when the file cannot be
    read or is larger than :data:`MAX_REPORT_BYTES`.
    """
    try:
        with open_junit_file(path, merge_retries=merge_retries) as stream:
            return stream.report()
    except OSError as exc:  # a read error in the middle of the file
        raise TestReportError(f"{os.fspath(path)}: cannot read: {exc.strerror or exc}") from exc


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


__all__ = [
    "BATCH_SIZE",
    "MAX_DETAILS_CHARS",
    "MAX_PROBLEMS",
    "MAX_REPORT_BYTES",
    "MAX_ZIP_MEMBERS",
    "JunitStream",
    "NotATestReportError",
    "SuitePart",
    "TestReportError",
    "check_report_file",
    "open_junit_file",
    "parse_junit",
    "parse_junit_file",
    "reports_from_zip",
]
