"""A busy repository for the GitHub replay: ``runs`` push runs on ``main``, three jobs and three
artifacts each, spread over the last ``days`` days (request-budget benchmark, crash tests).

Every run is one of the demo's ``Build Terraform CLI Packages`` workflow
(:mod:`cimedic.testing.demo_history`): jobs ``Build for linux_amd64``, ``Build for linux_arm64``
and ``Build Docker image for linux_amd64``, with the real terraform job logs, steps and times
the demo uses; every ``failure_every``-th run fails its arm64 or amd64 build with the real
network-failure log (the Docker job is then skipped, as GitHub shows a job whose ``needs``
failed). Each run uploads three artifacts: ``terraform_1.3.0-dev_linux_amd64`` and
``terraform_1.3.0-dev_linux_arm64`` (stand-in packages, a few bytes) and ``test-results`` (a
zip of the bundled Surefire JUnit report), so one artifact in three matches the default
``test_artifact_patterns``. The JSON the replay serves for them has GitHub's shapes
(:mod:`cimedic.testing.replay_objects`).

:class:`IndexedHistory` answers the replay's lookups by id from indexes, so a history of
thousands of runs is served without scanning it per request.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib import resources

# the demo's own run builder (same package), so the busy runs have the demo's jobs, steps and logs
from cimedic.testing.demo_history import _PEOPLE, BUILD, _Builder, _Push, _sha
from cimedic.testing.demo_model import DemoArtifact, DemoHistory, DemoJob, DemoRun

__all__ = ["ARTIFACTS_PER_RUN", "TEST_ARTIFACT", "IndexedHistory", "build_busy_history"]

TEST_ARTIFACT = "test-results"
"""Name of each run's test-report artifact."""
PACKAGES = ("terraform_1.3.0-dev_linux_amd64", "terraform_1.3.0-dev_linux_arm64")
ARTIFACTS_PER_RUN = len(PACKAGES) + 1
_JUNIT = "TEST-action.surefire.report.calc.AllOkTest.xml"
_MESSAGES = ("Update CHANGELOG.md", "website: fix a broken link", "Bump version to 1.3.0-dev")


@dataclass
class IndexedHistory(DemoHistory):
    """A :class:`DemoHistory` whose lookups by id use indexes (rebuilt when a list grows)."""

    _sizes: tuple[int, int, int] = field(default=(-1, -1, -1), repr=False, compare=False)
    _runs: dict[int, DemoRun] = field(default_factory=dict, repr=False, compare=False)
    _jobs: dict[int, DemoJob] = field(default_factory=dict, repr=False, compare=False)
    _run_jobs: dict[int, list[DemoJob]] = field(default_factory=dict, repr=False, compare=False)
    _artifacts: dict[int, DemoArtifact] = field(default_factory=dict, repr=False, compare=False)
    _run_artifacts: dict[int, list[DemoArtifact]] = field(default_factory=dict, repr=False, compare=False)

    def _index(self) -> None:
        sizes = (len(self.runs), len(self.jobs), len(self.artifacts))
        if sizes == self._sizes:
            return
        self._runs = {r.id: r for r in self.runs}
        self._jobs = {j.id: j for j in self.jobs}
        self._run_jobs = {}
        for j in sorted(self.jobs, key=lambda j: j.id):
            self._run_jobs.setdefault(j.run_id, []).append(j)
        self._artifacts = {a.id: a for a in self.artifacts}
        self._run_artifacts = {}
        for a in self.artifacts:
            self._run_artifacts.setdefault(a.run_id, []).append(a)
        self._sizes = sizes

    def run(self, run_id: int) -> DemoRun | None:
        self._index()
        return self._runs.get(run_id)

    def job(self, job_id: int) -> DemoJob | None:
        self._index()
        return self._jobs.get(job_id)

    def jobs_of(self, run_id: int, attempt: int | None = None) -> list[DemoJob]:
        self._index()
        return [j for j in self._run_jobs.get(run_id, []) if attempt is None or j.run_attempt == attempt]

    def artifacts_of(self, run_id: int) -> list[DemoArtifact]:
        self._index()
        return list(self._run_artifacts.get(run_id, []))

    def artifact(self, artifact_id: int) -> DemoArtifact | None:
        self._index()
        return self._artifacts.get(artifact_id)


def build_busy_history(
    runs: int = 2500,
    *,
    now: datetime | None = None,
    days: float = 29.0,
    failure_every: int = 25,
    seed: int = 11,
) -> IndexedHistory:
    """The busy history (see the module docstring): ``runs`` runs created evenly between
    ``now - days`` and ``now - 1 h`` (UTC; default now: the current second), each completed
    within minutes; ``failure_every``: every n-th run fails (0: none). The same arguments give
    the same history."""
    end = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    start = end - timedelta(days=days)
    b = _Builder(seed, start)
    spacing = (days * 86400 - 3600) / max(runs, 1)
    junit = (resources.files("cimedic.testing") / "demo_data" / "junit" / _JUNIT).read_bytes()
    for i in range(runs):
        created = start + timedelta(seconds=int(i * spacing))
        causes = set()
        if failure_every and i % failure_every == failure_every - 1:
            causes.add("arm64-net" if (i // failure_every) % 2 else "amd64-net")
        author = b.rng.choice(_PEOPLE)
        push = _Push(0, b.rng.choice(_MESSAGES), author, causes=causes)
        push.sha = _sha("busy", seed, i)
        run = b.run_for(push, BUILD, created)
        b.attempt(run, created, causes, None, author)
        _add_artifacts(b, run, junit)
    h = b.h
    history = IndexedHistory(h.repos, h.workflows, h.runs, h.jobs, h.logs, h.artifacts, h.pull_requests, end)
    history.repos[0] = replace(
        history.repos[0], pushed_at=max(r.created_at for r in h.runs) if h.runs else end
    )
    return history


def _add_artifacts(b: _Builder, run: DemoRun, junit: bytes) -> None:
    """The run's two packages and its ``test-results`` zip, uploaded as its last job ends."""
    created = run.updated_at - timedelta(seconds=3)
    for name in (*PACKAGES, TEST_ARTIFACT):
        b.artifact_id += b.rng.randint(200, 20_000)
        if name == TEST_ARTIFACT:
            files = {f"target/surefire-reports/{_JUNIT}": junit}
        else:
            files = {"terraform": f"#!/bin/sh\n# stand-in for {name} of run {run.id}\n".encode()}
        expires = created + timedelta(days=90)
        art = DemoArtifact(b.artifact_id, run.repo, b.repo.id, run.id, name, files, created, expires,
                           run.head_branch, run.head_sha)  # fmt: skip
        b.h.artifacts.append(art)
