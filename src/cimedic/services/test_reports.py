"""Use case: ingest test reports (JUnit-style XML) from anywhere: ``cimedic ingest junit``.

Each file's size is checked with ``stat`` first: a file over
:data:`cimedic.inputs.junit.MAX_REPORT_BYTES` (200 MiB) is refused unread. Then it is recorded
raw by reference (source ``junit``, keyed by its SHA-256, computed over 1 MiB chunks; the
payload is empty and ``meta`` holds ``path``, ``sha256`` and ``size``), parsed incrementally
and stored batch by batch in one transaction (:meth:`Store.save_test_report_stream`), so memory
does not grow with the report. A file that cannot be parsed is kept raw with status ``failed``
and the reason, stores no case, and the other files are still ingested.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cimedic.model import Repository, Status, WorkflowRun
from cimedic.services.redacted_reports import RedactedStream
from cimedic.store.repository import Store

__test__ = False

HASH_CHUNK_BYTES = 1024 * 1024


@dataclass
class IngestReport:
    """Reports stored, test cases by status, files not ingested (``failed_files``, one line each
    in ``errors``: unreadable, over the size cap, not well-formed, not a test report) and
    problems inside stored reports (``"file: what was skipped"``)."""

    reports: int = 0
    cases: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    failed_files: int = 0
    problems: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def ingest_junit_files(
    store: Store, paths: list[Path], *, repository: str, run: str, provider: str = "github"
) -> IngestReport:
    """Parse ``paths`` and attach them to run ``run`` (provider id) of ``repository`` (the
    ``full_name``) of ``provider`` (a registry id).

    Unknown repositories and runs are created (status ``unknown``), so reports from a CI
    cimedic does not watch can be ingested too. Raises ``ValueError`` for a malformed
    ``repository``; a file that cannot be read, is too large or cannot be parsed is reported in
    ``errors``, not raised.
    """
    from cimedic.inputs.junit import MAX_REPORT_BYTES, TestReportError, check_report_file, open_junit_file

    owner, _, name = repository.rpartition("/")
    if not owner or not name:
        raise ValueError(f"--repo must be OWNER/NAME, got {repository!r}")
    repo_id = store.repository_id(repository, provider)
    if repo_id is None:
        repo_id = store.upsert_repository(Repository(provider=provider, owner=owner, name=name))
    run_id = store.run_id(repo_id, run)
    if run_id is None:
        run_id = store.upsert_run(
            repo_id, WorkflowRun(provider_id=run, repository=repository, head_sha="", status=Status.UNKNOWN)
        )
    out = IngestReport()
    for path in paths:
        try:
            size = check_report_file(path)
            digest = _sha256(path, MAX_REPORT_BYTES)
        except TestReportError as exc:
            out.failed_files += 1
            out.errors.append(str(exc))
            continue
        except OSError as exc:
            out.failed_files += 1
            out.errors.append(f"{path}: cannot read: {exc.strerror or exc}")
            continue
        raw_id, _ = store.add_raw_event(
            "junit",
            f"{repository}#{run}#{digest}",
            "junit",
            b"",  # by reference: the report is the file at meta["path"] with this sha256
            meta={
                "repository": repository,
                "run": run,
                "path": str(path.absolute()),
                "sha256": digest,
                "size": str(size),
            },
        )
        try:
            with open_junit_file(path, source=path.name, keep_details=False) as stream:
                saved = store.save_test_report_stream(run_id, RedactedStream(stream))
                problems = stream.problems
        except (TestReportError, OSError) as exc:
            reason = str(exc) if isinstance(exc, TestReportError) else f"{path}: cannot read: {exc}"
            store.mark_raw_event(raw_id, "failed", reason)
            out.failed_files += 1
            out.errors.append(reason)
            continue
        store.mark_raw_event(raw_id, "done")
        out.reports += 1
        out.problems.extend(f"{path.name}: {p}" for p in problems)
        out.cases += saved.cases
        for status, count in saved.by_status.items():
            out.by_status[status] = out.by_status.get(status, 0) + count
    return out


def _sha256(path: Path, max_bytes: int) -> str:
    """SHA-256 (hex) of the file, read in :data:`HASH_CHUNK_BYTES` chunks. Raises ``OSError``,
    and ``TestReportError`` past ``max_bytes`` (a file that grew after its size was checked)."""
    from cimedic.inputs.junit import TestReportError

    digest = hashlib.sha256()
    read = 0
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK_BYTES):
            read += len(chunk)
            if read > max_bytes:
                raise TestReportError(f"{path}: grew over the {max_bytes} byte limit while read")
            digest.update(chunk)
    return digest.hexdigest()
