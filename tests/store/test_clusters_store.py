"""Failure clusters in the store, on SQLite and PostgreSQL (the ``store`` fixture): placement at
ingest (new vs recurring), backfill order, listing filters, ``recluster`` idempotence, links.

Histories are crafted through ``Store.ingest_run`` + ``Store.save_diagnosis``; one test goes
through ``diagnose_job`` with the real engine on a small GitHub Actions log.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import select

from cimedic.analysis.diagnosis.text import mask
from cimedic.model import (
    Category,
    Conclusion,
    Diagnosis,
    ErrorLine,
    Excerpt,
    Job,
    LogFormat,
    LogInfo,
    Repository,
    RunAttempt,
    Status,
    WorkflowRun,
)
from cimedic.model.clusters import MatchKind
from cimedic.services.failures import (
    ClusterNotFound,
    assign_cluster,
    cluster_detail,
    link_cluster,
    list_clusters,
    recluster,
    resolve_cluster_id,
)
from cimedic.store import clusters as db
from cimedic.store import schema as t
from cimedic.store.repository import Store

NOW = datetime.now(UTC).replace(microsecond=0)
GO_MOD = "ERROR: go.mod/go.sum are not up-to-date. Run 'go mod tidy' and then commit the updated files."
XCTEST_1 = "\t Executed 5 tests, with 1 failure (0 unexpected) in 1.310 (1.314) seconds"
XCTEST_2 = "\t Executed 5 tests, with 2 failures (0 unexpected) in 2.316 (2.320) seconds"
GO_FAIL = "--- FAIL: TestRemote_applyBasic (0.00s)"
_ids = count(5000)


def _sig(text: str) -> str:
    return hashlib.sha256(mask(text.strip()).encode("utf-8")).hexdigest()[:32]


def _diagnosis(summary: str, category: Category) -> Diagnosis:
    return Diagnosis(
        log=LogInfo(path="job.log", format=LogFormat.GITHUB_ACTIONS, lines=10, bytes=100),
        failed_step=None,
        error_lines=(ErrorLine(line=5, text=summary, score=9.0),) if summary else (),
        excerpt=Excerpt(start_line=5, end_line=5) if summary else None,
        category=category,
        transient=category is Category.NETWORK,
        confidence=0.8 if summary else 0.0,
        signature=_sig(summary) if summary else "",
        cause=None,
        summary=f"{category.value} failure: {summary}" if summary else "no failure found",
    )


def add_failure(
    store: Store,
    summary: str,
    *,
    days_ago: float,
    repo: str = "acme/app",
    job: str = "build",
    category: Category = Category.TEST,
    branch: str = "main",
) -> int:
    """A failed run with one failed job, created ``days_ago`` days before now, with its
    diagnosis stored; returns the job's store id (not yet clustered)."""
    owner, name = repo.split("/")
    repo_id = store.upsert_repository(Repository(owner=owner, name=name, default_branch="main"))
    run_pid, job_pid = str(next(_ids)), str(next(_ids))
    created = NOW - timedelta(days=days_ago)
    run = WorkflowRun(
        provider_id=run_pid,
        repository=repo,
        workflow_name="CI",
        workflow_path=".github/workflows/ci.yml",
        branch=branch,
        head_sha=f"{next(_ids):040x}",
        status=Status.COMPLETED,
        conclusion=Conclusion.FAILURE,
        created_at=created,
        updated_at=created + timedelta(minutes=5),
        html_url=f"https://github.com/{repo}/actions/runs/{run_pid}",
    )
    attempt = RunAttempt(
        run_provider_id=run_pid, attempt=1, status=Status.COMPLETED, conclusion=Conclusion.FAILURE
    )
    j = Job(
        provider_id=job_pid,
        run_provider_id=run_pid,
        name=job,
        workflow_name="CI",
        status=Status.COMPLETED,
        conclusion=Conclusion.FAILURE,
        created_at=created,
        started_at=created,
        completed_at=created + timedelta(minutes=4),
    )
    store.ingest_run(repo_id, run, [attempt], [j])
    with store.engine.connect() as conn:
        job_id = int(
            conn.execute(
                select(t.jobs.c.id).where(t.jobs.c.repo_id == repo_id, t.jobs.c.provider_id == job_pid)
            ).scalar_one()
        )
    store.save_diagnosis(job_id, _diagnosis(summary, category), engine_version="test")
    return job_id


def _state(store: Store) -> tuple[list[tuple[str, str, str, str | None]], list[tuple[int, str, bool]]]:
    clusters = [
        (c.cluster_id, c.title, c.representative, c.link.url if c.link else None)
        for c in db.stored_clusters(store.engine)
    ]
    members = sorted(
        (m.failure.job_id, m.cluster_id, m.first_seen)
        for c in clusters
        for m in db.cluster_members(store.engine, c[0])
    )
    return clusters, members


# ----------------------------------------------------------------------------- ingest
def test_assignment_at_ingest_knows_new_and_recurring(store: Store) -> None:
    a = add_failure(store, GO_MOD, days_ago=3, category=Category.DEPENDENCY)
    first = assign_cluster(store, a)
    assert first is not None and first.new and first.match is MatchKind.NEW and first.occurrences == 1
    assert first.title.startswith("dependency: ERROR: go.mod/go.sum")
    b = add_failure(store, GO_MOD, days_ago=2, category=Category.DEPENDENCY, branch="feature")
    again = assign_cluster(store, b)
    assert again is not None and not again.new and again.match is MatchKind.SIGNATURE
    assert again.cluster_id == first.cluster_id and again.occurrences == 2

    x1 = assign_cluster(store, add_failure(store, XCTEST_1, days_ago=2))
    x2 = assign_cluster(store, add_failure(store, XCTEST_2, days_ago=1))
    assert x1 is not None and x2 is not None
    assert (
        x2.match is MatchKind.SIMILAR and x2.distance == 1 and x2.cluster_id == x1.cluster_id and not x2.new
    )
    other = assign_cluster(store, add_failure(store, GO_FAIL, days_ago=1))
    assert other is not None and other.new and other.cluster_id not in (x1.cluster_id, first.cluster_id)
    # placing the same job again changes nothing
    assert assign_cluster(store, b) == again


def test_backfill_newest_first_still_marks_the_oldest_as_new(store: Store) -> None:
    newer = add_failure(store, GO_MOD, days_ago=1, category=Category.DEPENDENCY)
    older = add_failure(store, GO_MOD, days_ago=4, category=Category.DEPENDENCY)
    got_newer = assign_cluster(store, newer)
    got_older = assign_cluster(store, older)
    assert got_newer is not None and got_older is not None
    assert got_newer.new and got_older.new  # each was the earliest known when it arrived
    assert db.first_seen_job(store.engine, got_newer.cluster_id) == older
    flags = {m.failure.job_id: m.first_seen for m in db.cluster_members(store.engine, got_newer.cluster_id)}
    assert flags == {older: True, newer: False}


def test_a_job_without_failure_leaves_its_cluster(store: Store) -> None:
    job = add_failure(store, GO_FAIL, days_ago=1)
    placed = assign_cluster(store, job)
    assert placed is not None
    store.save_diagnosis(job, _diagnosis("", Category.NONE), engine_version="test")
    assert assign_cluster(store, job) is None
    assert db.member_count(store.engine, placed.cluster_id) == 0
    assert list_clusters(store, since=None).clusters == ()


def test_diagnose_job_places_the_failure(store: Store) -> None:
    from cimedic.services.analyze_jobs import diagnose_job
    from cimedic.services.diagnose import make_diagnoser

    diagnoser = make_diagnoser()[0]
    log = (
        "2024-05-01T10:00:00.0000000Z ##[group]Run make tidycheck\n"
        "2024-05-01T10:00:00.1000000Z make tidycheck\n"
        "2024-05-01T10:00:00.2000000Z shell: /usr/bin/bash -e {0}\n"
        "2024-05-01T10:00:00.3000000Z ##[endgroup]\n"
        "2024-05-01T10:00:03.0000000Z ==> Checking go.mod/go.sum...\n"
        f"2024-05-01T10:00:09.0000000Z {GO_MOD}\n"
        "2024-05-01T10:00:09.1000000Z make: *** [Makefile:30: tidycheck] Error 1\n"
        "2024-05-01T10:00:09.2000000Z ##[error]Process completed with exit code 2.\n"
    ).encode()
    ids = [add_failure(store, GO_MOD, days_ago=d, category=Category.DEPENDENCY) for d in (3, 2)]
    for job_id in ids:
        store.save_log(job_id, log, original_size=len(log), truncated=False)
        assert diagnose_job(store, diagnoser, job_id, f"acme/app/jobs/{job_id}")
    listed = list_clusters(store, since=timedelta(days=7))
    assert len(listed.clusters) == 1
    c = listed.clusters[0]
    assert c.occurrences == 2 and c.new and not c.recurring and GO_MOD in c.example  # first seen in the window


# ----------------------------------------------------------------------------- listing
def test_list_filters_by_window_and_repository(store: Store) -> None:
    for d in (20, 5, 1):
        assign_cluster(
            store, add_failure(store, GO_MOD, days_ago=d, category=Category.DEPENDENCY, repo="acme/app")
        )
    assign_cluster(
        store,
        add_failure(store, GO_MOD, days_ago=2, category=Category.DEPENDENCY, repo="acme/lib", job="lint"),
    )
    assign_cluster(store, add_failure(store, GO_FAIL, days_ago=30, repo="acme/app"))

    week = list_clusters(store, since=timedelta(days=7))
    assert [c.occurrences for c in week.clusters] == [3]
    c = week.clusters[0]
    assert c.total_occurrences == 4 and c.recurring and not c.new
    assert c.repositories == ("acme/app", "acme/lib") and c.job_names == ("build", "lint")
    assert (c.recent, c.previous) == (3, 0)
    assert c.first_seen is not None and (NOW - c.first_seen) > timedelta(days=19)
    assert c.examples[0].job == "build"  # newest first

    lib = list_clusters(store, since=timedelta(days=7), repository="acme/lib")
    assert [(x.occurrences, x.repositories) for x in lib.clusters] == [(1, ("acme/lib",))]
    now = datetime.now(UTC)
    everything = list_clusters(store, since=None, now=now)
    assert everything.total == 2 and everything.clusters[0].id == c.id  # impact: recent, broad
    assert list_clusters(store, since=None, top=1, now=now).clusters == everything.clusters[:1]
    with pytest.raises(ValueError):
        list_clusters(store, top=0)


# ----------------------------------------------------------------------------- recluster
def test_recluster_matches_ingest_and_is_idempotent(store: Store) -> None:
    jobs = [
        add_failure(store, GO_MOD, days_ago=5, category=Category.DEPENDENCY),
        add_failure(store, XCTEST_1, days_ago=4),
        add_failure(store, GO_MOD, days_ago=3, category=Category.DEPENDENCY),
        add_failure(store, XCTEST_2, days_ago=2),
        add_failure(store, GO_FAIL, days_ago=1),
    ]
    for job in jobs:  # chronological ingest
        assign_cluster(store, job)
    link_cluster(
        store, list_clusters(store, since=None).clusters[0].id, "https://github.com/acme/app/issues/7"
    )
    at_ingest = _state(store)
    report = recluster(store)
    assert (report.failures, report.clusters, report.links_moved) == (5, 3, 0)
    assert report.by_match == {"new": 3, "signature": 1, "similar": 1}
    assert _state(store) == at_ingest
    recluster(store)
    assert _state(store) == at_ingest


def test_recluster_moves_a_link_when_the_founding_text_changes(store: Store) -> None:
    older = add_failure(store, XCTEST_1, days_ago=3)
    newer = add_failure(store, XCTEST_2, days_ago=1)
    founded = assign_cluster(store, newer)  # backfill: the newer job founds the cluster
    assign_cluster(store, older)
    assert founded is not None
    link_cluster(store, founded.cluster_id, "https://github.com/acme/app/issues/9", "flaky xctest")
    report = recluster(store)
    assert report.links_moved == 1
    (cluster,) = list_clusters(store, since=None).clusters
    assert cluster.id != founded.cluster_id  # now founded by the older text
    assert cluster.link is not None and cluster.link.url == "https://github.com/acme/app/issues/9"
    assert cluster.link.note == "flaky xctest"
    assert [c.cluster_id for c in db.stored_clusters(store.engine)] == [cluster.id]


# ----------------------------------------------------------------------------- links
def test_link_show_and_clear(store: Store) -> None:
    placed = assign_cluster(store, add_failure(store, GO_MOD, days_ago=1, category=Category.DEPENDENCY))
    assert placed is not None
    linked = link_cluster(
        store, placed.cluster_id[:6].upper(), "https://github.com/acme/app/issues/1", "known"
    )
    assert linked.link is not None and linked.link.url.endswith("/issues/1") and linked.link.note == "known"
    assert linked.link.linked_at is not None
    detail = cluster_detail(store, placed.cluster_id)
    assert detail.cluster.link == linked.link and detail.shown == 1 and detail.occurrences[0].first_seen
    assert detail.variants[0].count == 1
    cleared = link_cluster(store, placed.cluster_id, None, None)
    assert cleared.link is None
    with pytest.raises(ValueError, match="http"):
        link_cluster(store, placed.cluster_id, "javascript:alert(1)")
    with pytest.raises(ClusterNotFound):
        cluster_detail(
            store, "ffffffffffffffff" if not placed.cluster_id.startswith("f") else "0000000000000000"
        )
    with pytest.raises(ClusterNotFound, match="hex"):
        resolve_cluster_id(store, "not-an-id")


def test_a_link_survives_deleting_and_recollecting_a_repository(store: Store) -> None:
    placed = assign_cluster(store, add_failure(store, GO_MOD, days_ago=2, category=Category.DEPENDENCY))
    assert placed is not None
    link_cluster(store, placed.cluster_id, "https://github.com/acme/app/issues/3")
    assert store.delete_repository("acme/app")
    assert list_clusters(store, since=None).clusters == ()
    again = assign_cluster(store, add_failure(store, GO_MOD, days_ago=2, category=Category.DEPENDENCY))
    assert again is not None and again.new and again.cluster_id == placed.cluster_id
    (cluster,) = list_clusters(store, since=None).clusters
    assert cluster.link is not None and cluster.link.url.endswith("/issues/3")
