"""A coherent, deterministic GitHub Actions history for the demo repository ``hashicorp-demo/terraform``.

It replays the CI of a Go project modelled on hashicorp/terraform's 2022 workflows, using that
project's real job logs (bundled in ``demo_data/logs``, see ``demo_data/SOURCES.md``):

- ``Quick Checks`` (``.github/workflows/checks.yml``; push to ``main`` and ``pull_request``):
  jobs ``Unit Tests`` and ``Code Consistency Checks``; successful runs upload a ``test-results``
  artifact (a zip of Surefire JUnit reports; three of them hold a ``<flakyFailure>``).
- ``Build Terraform CLI Packages`` (``.github/workflows/build.yml``; push and pull_request):
  ``Build for linux_amd64``, ``Build for linux_arm64`` and ``Build Docker image for linux_amd64``
  (which ``needs`` the amd64 build, and is skipped when it fails).
- ``Deploy`` (``.github/workflows/deploy.yml``; push to ``main``, environment ``production``):
  ``Deploy to production``; one deployment fails and the next one restores service.

Scripted events: pull requests fixed after a red push, superseded pushes whose runs are
cancelled (``concurrency: cancel-in-progress``), a dependency bump that breaks ``go mod tidy``
on ``main`` for several runs in a row (the same failing log each time), two failed runs whose
attempt 2 on the same ``head_sha`` succeeds, a network failure of a build. Job and step times
come from the logs' own timestamps (plus a seeded extra wait for a runner); the whole history
is shifted so that its last update is ``now``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib import resources

from cimedic.testing.demo_logs import LogStep, profile
from cimedic.testing.demo_model import (
    DemoArtifact,
    DemoAttempt,
    DemoCommit,
    DemoHistory,
    DemoJob,
    DemoLog,
    DemoPullRequest,
    DemoRepo,
    DemoRun,
    DemoStep,
    DemoUser,
    DemoWorkflow,
)

__all__ = [
    "DemoArtifact",
    "DemoAttempt",
    "DemoCommit",
    "DemoHistory",
    "DemoJob",
    "DemoLog",
    "DemoPullRequest",
    "DemoRepo",
    "DemoRun",
    "DemoStep",
    "DemoUser",
    "DemoWorkflow",
    "append_run",
    "build_demo_history",
]

QUICK_CHECKS, BUILD, DEPLOY = "Quick Checks", "Build Terraform CLI Packages", "Deploy"
_QC, _BD = "quick-checks", "build-terraform-cli-packages"


@dataclass(frozen=True)
class _JobSpec:
    name: str
    passes: tuple[str, ...]
    needs: str | None = None


_WORKFLOWS: dict[str, tuple[int, str, tuple[_JobSpec, ...]]] = {
    QUICK_CHECKS: (
        25149377,
        ".github/workflows/checks.yml",
        (
            _JobSpec("Unit Tests", (f"{_QC}.run104.pass", f"{_QC}.run122.pass")),
            _JobSpec("Code Consistency Checks", (f"{_QC}.run107.pass", f"{_QC}.run568.pass")),
        ),
    ),
    BUILD: (
        26803466,
        ".github/workflows/build.yml",
        (
            _JobSpec("Build for linux_amd64", (f"{_BD}.run452.pass",)),
            _JobSpec("Build for linux_arm64", (f"{_BD}.run407.pass",)),
            _JobSpec(
                "Build Docker image for linux_amd64", (f"{_BD}.run312.pass",), needs="Build for linux_amd64"
            ),
        ),
    ),
    DEPLOY: (
        31977245,
        ".github/workflows/deploy.yml",
        (_JobSpec("Deploy to production", (f"{_BD}.run312.pass",)),),
    ),
}
_FIRST_RUN_NUMBER = {QUICK_CHECKS: 3412, BUILD: 1873, DEPLOY: 512}
# Failing logs by cause (job name, bundled log).
FAILURES: dict[str, tuple[str, str]] = {
    "unit-env": ("Unit Tests", f"{_QC}.run104.fail"),  # TestCloud_configWithEnvVars: missing API token
    "unit-compile": ("Unit Tests", f"{_QC}.run616.fail"),  # undefined: command.TfversionCommand
    "tidy": ("Code Consistency Checks", f"{_QC}.run107.fail"),  # go.mod/go.sum are not up-to-date
    "tidy-pr": ("Code Consistency Checks", f"{_QC}.run292.fail"),  # same cause, another real log
    "staticcheck": ("Code Consistency Checks", f"{_QC}.run568.fail"),  # U1000 unused function
    "arm64-net": ("Build for linux_arm64", f"{_BD}.run407.fail"),  # module download: Get https://...
    "amd64-net": ("Build for linux_amd64", f"{_BD}.run452.fail"),
    "registry": ("Deploy to production", f"{_BD}.run312.fail"),  # docker: could not fetch content descriptor
}
_DAYS = 10
ORG = DemoUser("hashicorp-demo", 98314162, "HashiCorp Demo", "", "Organization")
_PEOPLE = [
    DemoUser("mira-okafor", 31000417, "Mira Okafor", "31000417+mira-okafor@users.noreply.github.com"),
    DemoUser(
        "jonas-lindqvist", 5827703, "Jonas Lindqvist", "5827703+jonas-lindqvist@users.noreply.github.com"
    ),
    DemoUser("priya-raman", 44127690, "Priya Raman", "44127690+priya-raman@users.noreply.github.com"),
    DemoUser("tom-baptiste", 12093344, "Tom Baptiste", "12093344+tom-baptiste@users.noreply.github.com"),
]
_BOT = DemoUser(
    "dependabot[bot]", 49699333, "dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com", "Bot"
)
_CANCEL, _RERUN = "cancel", "rerun"
_AFTER_FIX = "after-fix"  # a push made once main is green again
_FLAKY = {"unit-env", "arm64-net"}  # failures that pass when the run is re-run
# (title, branch, author index or -1 for dependabot, pushes: failure causes / markers per push)
_PRS: list[tuple[str, str, int, list[tuple[str, ...]]]] = [
    ("command/init: clarify the provider lock file error", "init-lock-message", 0, [()]),
    ("command: add tfversion alias of the version command", "f-tfversion-alias", 1, [("unit-compile",), ()]),
    ("lang: remove the experimentalFunction hook", "remove-experimental-fn", 2, [("staticcheck",), ()]),
    ("backend/remote: check the workspace Terraform version", "remote-version-check", 3, [(_CANCEL,), ()]),
    ("docs: update CLI configuration examples", "docs-cli-config", 2, [()]),
    (
        "build(deps): bump github.com/hashicorp/go-tfe from 1.1.0 to 1.2.0",
        "dependabot/go_modules/github.com/hashicorp/go-tfe-1.2.0",
        -1,
        [()],
    ),
    (
        "cloud: read TF_CLOUD_ORGANIZATION from the environment",
        "cloud-env-org",
        0,
        [(_CANCEL,), (), (_AFTER_FIX,)],
    ),
    ("internal/getproviders: retry registry requests", "retry-registry", 1, [("arm64-net", _RERUN)]),
    ("states/statemgr: tighten lock file permissions", "statemgr-lock-perms", 3, [()]),
    ("command: streamline the apply summary", "apply-summary", 2, [(), ()]),
    ("website: document provisioner deprecations", "docs-provisioners", 3, [()]),
    ("addrs: parse module source subdirectories", "module-source-subdirs", 0, [(), ()]),
    ("plans: render deferred changes", "plans-deferred", 2, [(), ()]),
    ("configs: validate moved blocks across modules", "moved-cross-module", 1, [()]),
    ("command/fmt: keep heredoc indentation", "fmt-heredoc", 0, [(), ()]),
    ("terraform: prune unused provider nodes", "prune-provider-nodes", 3, [()]),
]
_DIRECT = [
    "Update CHANGELOG.md",
    "Update CHANGELOG.md for #{n}",
    "website: fix a broken link",
    "Bump version to 1.3.0-dev",
]


def _sha(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()


@dataclass
class _Push:
    t: float  # seconds after the anchor
    message: str
    author: DemoUser
    pr: DemoPullRequest | None = None
    causes: set[str] = field(default_factory=set)
    cancel_at: float | None = None
    sha: str = ""
    commit: DemoCommit | None = None


class _Builder:
    def __init__(self, seed: int, anchor: datetime, history: DemoHistory | None = None) -> None:
        self.rng = random.Random(seed)
        self.broken = (0.0, 0.0)  # main is red between these times (seconds after the anchor)
        self.anchor = anchor
        if history is None:
            repo = DemoRepo(502134769, ORG, "terraform", "Terraform enables you to safely and predictably "
                            "create, change, and improve infrastructure.", "main",
                            anchor - timedelta(days=900), anchor)  # fmt: skip
            workflows = [
                DemoWorkflow(
                    wid, repo.full_name, name, path, anchor - timedelta(days=700), anchor - timedelta(days=40)
                )
                for name, (wid, path, _) in _WORKFLOWS.items()
            ]
            history = DemoHistory([repo], workflows, [], [], {}, [])
        self.h = history
        self.repo = history.repos[0]
        self.run_id = max((r.id for r in history.runs), default=9_412_873_455)
        self.job_id = max((j.id for j in history.jobs), default=25_806_544_012)
        self.suite_id = max((r.check_suite_id for r in history.runs), default=24_120_553_901)
        self.artifact_id = max((a.id for a in history.artifacts), default=1_203_551_877)
        self.numbers = {
            w.name: max(
                (r.run_number for r in history.runs if r.workflow_id == w.id),
                default=_FIRST_RUN_NUMBER[w.name] - 1,
            )
            for w in history.workflows
        }

    def at(self, t: float) -> datetime:
        return self.anchor + timedelta(seconds=int(t))

    # -- plan -------------------------------------------------------------------------------
    def plan(self) -> list[_Push]:
        rng, pushes = self.rng, []
        cursor, main_sha = 3600.0 * rng.uniform(1, 3), _sha("base", self.repo.id)
        for k, (title, branch, who, script) in enumerate(_PRS):
            author = _BOT if who < 0 else _PEOPLE[who]
            number = 31150 + 3 * k + rng.randint(0, 2)
            pr = DemoPullRequest(1_880_000_000 + number * 17, number, self.repo.full_name, title, author, branch, [],
                                 "main", main_sha, self.at(cursor), self.at(cursor))  # fmt: skip
            self.h.pull_requests.append(pr)
            t = cursor
            for i, causes in enumerate(script):
                if _AFTER_FIX in causes:
                    t = max(t, self.broken[1] + rng.uniform(900, 2400))
                push = _Push(t, title if i == 0 else rng.choice(["Address review comments", "Fix tests", "Rebase"]),
                             author, pr, set(causes))  # fmt: skip
                push.sha = _sha("pr", number, i)
                pr.head_shas.append(push.sha)
                pushes.append(push)
                gap = rng.uniform(100, 160) if _CANCEL in causes else rng.uniform(1500, 7200)
                if _CANCEL in causes:
                    push.cancel_at = t + gap + 2
                t += gap
            pr.updated_at = self.at(pushes[-1].t)
            if k < len(_PRS) - 2:  # the last two stay open
                merger = _PEOPLE[(who + 1) % len(_PEOPLE)]
                merge = _Push(t + rng.uniform(1800, 9000), f"Merge pull request #{number} from "
                              f"{ORG.login}/{branch}\n\n{title}", merger)  # fmt: skip
                merge.sha = _sha("merge", number)
                pr.state, pr.merged_at, pr.merge_commit_sha = "closed", self.at(merge.t), merge.sha
                pr.updated_at = self.at(merge.t)
                pushes.append(merge)
                main_sha = merge.sha
                if who < 0:  # the dependency bump breaks `go mod tidy` on main until a fix lands
                    for d in (rng.uniform(2400, 3600), rng.uniform(8000, 10000)):
                        pushes.append(_Push(merge.t + d, rng.choice(_DIRECT).format(n=number), _PEOPLE[2]))
                    fix = _Push(merge.t + rng.uniform(15000, 17000), "go mod tidy\n\nRun go mod tidy after the go-tfe bump.",
                                _PEOPLE[1])  # fmt: skip
                    pushes.append(fix)
                    self.broken = (merge.t, fix.t)
                    cursor = merge.t + rng.uniform(1800, 5400)  # the next pull request sees main broken
                    continue
            cursor += 3600.0 * rng.uniform(13, 21)
        for _ in range(8):
            pushes.append(
                _Push(rng.uniform(0, cursor), rng.choice(_DIRECT).format(n=31150), rng.choice(_PEOPLE))
            )
        pushes.sort(key=lambda p: p.t)
        main = [p for p in pushes if p.pr is None]
        for i, p in enumerate(main):
            p.sha = p.sha or _sha("main", i, p.message)
            if self.broken[0] <= p.t < self.broken[1]:
                p.causes.add("tidy")
        for p in pushes:
            if p.pr is not None and self.broken[0] <= p.t < self.broken[1]:
                p.causes.add("tidy-pr")
        healthy = [p for p in main if not p.causes]
        healthy[len(healthy) // 4].causes |= {"unit-env", _RERUN}
        healthy[len(healthy) // 2].causes.add("amd64-net")
        healthy[(len(healthy) * 3) // 4].causes.add("registry")
        return pushes

    # -- materialize ------------------------------------------------------------------------
    def run_for(self, push: _Push, workflow: str, created: datetime) -> DemoRun:
        wid, path, _ = _WORKFLOWS[workflow]
        pr = push.pr
        self.run_id += self.rng.randint(40_000, 400_000)
        self.suite_id += self.rng.randint(50_000, 900_000)
        self.numbers[workflow] += 1
        if push.commit is None:
            stamp = created - timedelta(seconds=self.rng.randint(20, 600))
            push.commit = DemoCommit(push.sha, _sha("tree", push.sha), push.message, stamp, push.author)
        commit = push.commit
        run = DemoRun(
            id=self.run_id, repo=self.repo.full_name, workflow_id=wid, name=workflow, path=path,
            run_number=self.numbers[workflow], event="pull_request" if pr else "push",
            head_branch=pr.head_ref if pr else self.repo.default_branch, head_commit=commit,
            display_title=pr.title if pr else push.message.split("\n", 1)[0], actor=push.author,
            created_at=created, check_suite_id=self.suite_id, attempts=[],
            pull_requests=[pr] if pr else [],
        )  # fmt: skip
        self.h.runs.append(run)
        return run

    def attempt(self, run: DemoRun, start: datetime, causes: set[str], cancel_at: datetime | None,
                actor: DemoUser) -> DemoAttempt:  # fmt: skip
        rng, number = self.rng, len(run.attempts) + 1
        ref = (
            f"refs/pull/{run.pull_requests[0].number}/merge"
            if run.pull_requests
            else f"refs/heads/{run.head_branch}"
        )
        done: dict[str, DemoJob] = {}
        for spec in _WORKFLOWS[run.name][2]:
            created = start + timedelta(seconds=rng.randint(1, 4))
            dep = done.get(spec.needs or "")
            if dep is not None:
                assert dep.completed_at is not None
                created = dep.completed_at + timedelta(seconds=rng.randint(3, 8))
            if cancel_at is not None and created >= cancel_at:
                continue
            self.job_id += rng.randint(3, 900)
            source = next(
                (FAILURES[c][1] for c in sorted(causes) if FAILURES.get(c, ("",))[0] == spec.name), None
            )
            source = source or rng.choice(spec.passes)
            prof = profile(source)
            roll = rng.random()
            extra = float(
                rng.randint(0, 8)
                if roll < 0.7
                else rng.randint(15, 90)
                if roll < 0.95
                else rng.randint(120, 400)
            )
            job = DemoJob(self.job_id, run.id, number, run.repo, run.name, spec.name, run.head_sha, run.head_branch,
                          "completed", None, created, created, None, [], list(prof.labels),
                          None, None)  # fmt: skip
            done[spec.name] = job
            self.h.jobs.append(job)
            if dep is not None and dep.conclusion != "success":
                job.conclusion, job.completed_at, job.runner_group_id, job.runner_group_name = (
                    "skipped",
                    created,
                    None,
                    None,
                )
                continue
            digits = "".join(ch for ch in prof.runner_name if ch.isdigit())
            job.runner_id, job.runner_name = int(digits or 2), prof.runner_name
            log = DemoLog(job.id, source, created, extra, f"{run.repo}/{run.path}@{ref}")
            self.h.logs[job.id] = log
            cut = None if cancel_at is None else (cancel_at - created).total_seconds()
            if cut is not None and cut >= prof.end + extra:
                cut = None
            log.cancel_after = cut
            self._steps(job, source, spec, extra, cut)
        jobs = list(done.values())
        conclusions = {j.conclusion for j in jobs}
        concl = next(c for c in ("cancelled", "failure", "success") if c in conclusions or c == "success")
        end = max(j.completed_at or j.created_at for j in jobs) + timedelta(seconds=rng.randint(1, 3))
        attempt = DemoAttempt(number, start, end, "completed", concl, actor)
        run.attempts.append(attempt)
        return attempt

    def _steps(self, job: DemoJob, source: str, spec: _JobSpec, extra: float, cut: float | None) -> None:
        prof = profile(source)

        def when(offset: float) -> datetime:
            return job.created_at + timedelta(
                seconds=int(offset + (extra if offset >= prof.queued_until else 0))
            )

        plan = list(prof.steps)
        if prof.failed:  # the steps the failure skipped, as the passing log of the same job shows them
            ran = len(prof.main_steps)
            skipped = list(profile(spec.passes[0]).main_steps[ran:])
            at = next(i for i, s in enumerate(plan) if s.post or s.name == "Complete job")
            plan[at:at] = [LogStep(s.name, plan[at - 1].end, plan[at - 1].end, "skipped") for s in skipped]
        job.started_at = when(prof.setup_at)
        job.completed_at = when(prof.end)
        job.conclusion = "failure" if prof.failed else "success"
        stop = None if cut is None else job.created_at + timedelta(seconds=int(cut))
        for s in plan:
            start, end, concl = when(s.start), when(s.end), s.outcome
            if stop is not None:
                if s.post:
                    continue
                if start >= stop:
                    start = end = stop
                    concl = "skipped" if s.name != "Complete job" else "success"
                elif end > stop:
                    end, concl = stop, "cancelled"
            job.steps.append(DemoStep(len(job.steps) + 1, s.name, "completed", concl, start, end))
        if stop is not None:
            job.conclusion, job.completed_at = "cancelled", stop
            job.started_at = min(job.started_at, stop)

    def artifact(self, run: DemoRun, flaky: bool) -> None:
        unit = next((j for j in self.h.jobs_of(run.id, run.run_attempt) if j.name == "Unit Tests"), None)
        if unit is None or unit.conclusion != "success" or unit.completed_at is None:
            return
        junit = resources.files("cimedic.testing") / "demo_data" / "junit"
        files = {"target/surefire-reports/TEST-action.surefire.report.calc.AllOkTest.xml":
                 (junit / "TEST-action.surefire.report.calc.AllOkTest.xml").read_bytes()}  # fmt: skip
        if flaky:
            name = "TEST-io.sodadata.dependson.soda.integrations.msteams.MicrosoftTeamsCrudTest.xml"
            files[f"target/surefire-reports/{name}"] = (junit / "surefire-report.xml").read_bytes()
        self.artifact_id += self.rng.randint(200, 20_000)
        created = unit.completed_at - timedelta(seconds=3)
        self.h.artifacts.append(DemoArtifact(self.artifact_id, run.repo, self.repo.id, run.id, "test-results", files,
                                             created, created + timedelta(days=90), run.head_branch, run.head_sha))  # fmt: skip

    def build(self) -> DemoHistory:
        rng = self.rng
        for push in self.plan():
            created = self.at(push.t + rng.randint(3, 9))
            cancel = None if push.cancel_at is None else self.at(push.cancel_at)
            workflows = [QUICK_CHECKS, BUILD] + ([DEPLOY] if push.pr is None else [])
            for wf in workflows:
                run = self.run_for(push, wf, created + timedelta(seconds=rng.randint(0, 2)))
                first = self.attempt(run, run.created_at, push.causes, cancel, push.author)
                flaky = {FAILURES[c][0] for c in push.causes & _FLAKY}
                if (
                    _RERUN in push.causes
                    and first.conclusion == "failure"
                    and flaky & {j.name for j in _WORKFLOWS[wf][2]}
                ):
                    again = first.updated_at + timedelta(seconds=rng.randint(600, 2400))
                    self.attempt(run, again, set(), None, _PEOPLE[1])
        qc_ok = [r for r in self.h.runs if r.name == QUICK_CHECKS and r.conclusion == "success"]
        flaky_runs = {r.id for r in rng.sample(qc_ok, 3)}
        for run in qc_ok:
            self.artifact(run, run.id in flaky_runs)
        return self.h


def _finish(h: DemoHistory, end: datetime) -> DemoHistory:
    # GitHub's job ids grow with time: renumber the jobs in creation order (re-run jobs come last).
    jobs = sorted(h.jobs, key=lambda j: (j.created_at, j.id))
    ids = sorted(j.id for j in h.jobs)
    logs = {}
    for job, new in zip(jobs, ids, strict=True):
        log = h.logs.get(job.id)
        job.id = new
        if log is not None:
            log.job_id = new
            logs[new] = log
    h.jobs, h.logs, h.now = jobs, logs, end
    h.repos[0] = replace(h.repos[0], pushed_at=max(r.created_at for r in h.runs if r.event == "push"))
    return h


def build_demo_history(now: datetime | None = None, seed: int = 7) -> DemoHistory:
    """Build the demo history; its last run update is ``now`` (UTC; a naive value is taken as UTC;
    default: the current time, truncated to the second).

    The same ``seed`` and ``now`` give the same history. With the default seed: 1 repository,
    3 workflows, 125 runs over about 10.5 days, 278 jobs, 16 pull requests, 42 artifacts.
    """
    when = now or datetime.now(UTC)
    end = (when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)).replace(microsecond=0)
    draft = _Builder(seed, end - timedelta(days=_DAYS)).build()
    last = max(r.updated_at for r in draft.runs)
    anchor = end - timedelta(days=_DAYS) + (end - last)
    return _finish(_Builder(seed, anchor).build(), end)


def append_run(
    history: DemoHistory,
    workflow: str = QUICK_CHECKS,
    *,
    failure: str | None = None,
    created_at: datetime | None = None,
    seed: int = 0,
) -> DemoRun:
    """Append a new push run on ``main`` of ``workflow`` (a name in ``_WORKFLOWS``) to ``history``.

    ``failure``: a key of :data:`FAILURES` to make the run fail with that real log (default: all
    jobs pass). ``created_at`` defaults to 30 s after the newest run's creation or ``history.now``.
    Returns the new run (its jobs, logs and artifact are appended too).
    """
    newest = max([r.created_at for r in history.runs] + ([history.now] if history.now else []))
    created = (created_at or newest + timedelta(seconds=30)).astimezone(UTC).replace(microsecond=0)
    b = _Builder(seed + len(history.runs), created, history)
    message = b.rng.choice(_DIRECT).format(n=31150)
    push = _Push(0, message, _PEOPLE[0], causes={failure} if failure else set())
    push.sha = _sha("appended", len(history.runs), seed)
    run = b.run_for(push, workflow, created)
    b.attempt(run, created, push.causes, None, push.author)
    if workflow == QUICK_CHECKS:
        b.artifact(run, flaky=False)
    return run
