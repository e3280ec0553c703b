"""Use case: ingest test reports (JUnit-style XML) from anywhere: ``cimedic ingest junit``.

Each file is stored raw first (source ``junit``, keyed by its SHA-256), then parsed and
attached to the run; a file that cannot be parsed is kept raw with status ``failed`` and the
reason, and the other files are still ingested.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cimedic.model import Repository, Status, WorkflowRun
from cimedic.store.repository import Store

__test__ = False


@dataclass
class IngestReport:
    """Reports stored, test cases by status, and problems (file: what went wrong)."""

    reports: int = 0
    cases: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    failed_files: int = 0
    problems: list[str] = field(default_factory=list)


def ingest_junit_files(
    store: Store, paths: list[Path], *, repository: str, run: str, provider: str = "github"
) -> IngestReport:
    """Parse ``paths`` and attach them to run ``run`` (provider id) of ``repository`` (the
    ``full_name``) of ``provider`` (a registry id).

    Unknown repositories and runs are created (status ``unknown``), so reports from a CI
    cimedic does not watch can be ingested too. Raises ``ValueError`` for a malformed
    ``repository``; ``OSError`` from unreadable files is reported per file, not raised.
    """
    from cimedic.inputs.junit import TestReportError, parse_junit

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
            data = path.read_bytes()
        except OSError as exc:
            out.failed_files += 1
            out.problems.append(f"{path}: cannot read: {exc.strerror or exc}")
            continue
        key = hashlib.sha256(data).hexdigest()
        raw_id, _ = store.add_raw_event(
            "junit",
            f"{repository}#{run}#{key}",
            "junit",
            data,
            meta={"repository": repository, "run": run, "path": str(path)},
        )
        try:
            report = parse_junit(data, path.name)
        except TestReportError as exc:
            store.mark_raw_event(raw_id, "failed", str(exc))
            out.failed_files += 1
            out.problems.append(str(exc))
            continue
        store.save_test_report(run_id, report)
        store.mark_raw_event(raw_id, "done")
        out.reports += 1
        out.problems.extend(f"{report.source}: {p}" for p in report.problems)
        for case in report.cases:
            out.cases += 1
            out.by_status[case.status.value] = out.by_status.get(case.status.value, 0) + 1
    return out
