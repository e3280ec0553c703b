"""The agent's tools: one :class:`Tool` protocol, an injectable :class:`ToolRegistry`, and the
built-ins, each a thin wrapper over a service (typed reads of the history in
:mod:`cimedic.services.history`; ``failures``, ``flaky``, ``stats``).

A tool gets the store at run time as an opaque :data:`~cimedic.agent.ports.StoreHandle` (the loop
forwards what the interface passed to ``chat_turn``) and only hands it to services: the agent
never imports ``cimedic.store`` (:mod:`cimedic.agent.ports`).

Tools return :class:`ToolOutput`: compact text for the model (a few lines, no raw logs) and the
references (``run <provider id>``, ``job <id>``, ``cluster <id>``) the answer may cite. Text that
comes from build logs (diagnosis summaries, error lines, cluster titles) goes through
:func:`cimedic.analysis.redact.redact` first; while that redactor is not installed, such text is
withheld rather than passed on unredacted (build logs are untrusted: field notes,
``shared/docs/field-notes.md``, "redact before any text reaches a model").

Field notes: small local models call tools unreliably; "design so a small model only has to pick
among few, well-described tools" — hence few tools, flat optional string/integer arguments.

``rerun`` is the one side-effecting tool: the loop runs it only when its approval callback
allows it, and by default it has no executor and answers "not allowed by policy" as data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cimedic.agent.ports import StoreHandle

#: Most rows a listing tool returns (keeps a tool result well inside its share of the context).
MAX_ROWS = 10
#: Default window of the listing tools, matching ``cimedic stats``/``failures`` (7 days).
DEFAULT_SINCE = "7d"
WITHHELD = "[log text withheld: redactor unavailable]"
#: Run conclusions the ``search_runs`` tool accepts (GitHub's check-run conclusions).
CONCLUSIONS = ("success", "failure", "cancelled", "timed_out", "skipped", "startup_failure")


@dataclass(frozen=True)
class ToolOutput:
    """What a tool returns: ``text`` for the model, ``refs`` it may cite."""

    text: str
    refs: tuple[str, ...] = ()


class Tool(Protocol):
    """A tool: ``name``, a one-line ``description``, ``parameters`` (a JSON Schema object with
    only optional properties), ``side_effect`` (True: runs only with approval). ``run`` raises on
    bad arguments; the loop turns exceptions into data for the model."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def parameters(self) -> dict[str, Any]: ...

    @property
    def side_effect(self) -> bool: ...

    def run(self, store: StoreHandle, **arguments: Any) -> ToolOutput: ...


@dataclass(frozen=True)
class FunctionTool:
    """A :class:`Tool` backed by a function ``fn(store, **arguments)``."""

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., ToolOutput]
    side_effect: bool = False

    def run(self, store: StoreHandle, **arguments: Any) -> ToolOutput:
        allowed = set(self.parameters.get("properties", {}))
        unknown = sorted(set(arguments) - allowed)
        if unknown:
            raise ValueError(f"unknown argument(s) {unknown}; allowed: {sorted(allowed)}")
        return self.fn(store, **arguments)


@dataclass
class ToolRegistry:
    """Tools by name, in registration order."""

    tools: dict[str, Tool] = field(default_factory=dict)

    def register(self, tool: Tool) -> None:
        self.tools[tool.name] = tool

    def get(self, name: str) -> Tool | None:
        return self.tools.get(name)

    @property
    def names(self) -> list[str]:
        return list(self.tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.tools.values())

    def __len__(self) -> int:
        return len(self.tools)


# ------------------------------------------------------------------------------------ helpers
def _params(**props: tuple[str, ...]) -> dict[str, Any]:
    """A parameters schema; a property is ``(type, description[, *enum values])``."""
    properties: dict[str, Any] = {}
    for k, (typ, desc, *enum) in props.items():
        properties[k] = {"type": typ, "description": desc} | ({"enum": list(enum)} if enum else {})
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _repository(store: StoreHandle, value: str | None) -> str | None:
    """``value`` when it names a stored repository (None when empty); raises ``ValueError``
    listing the known ones otherwise, so the model can correct itself."""
    if value in (None, ""):
        return None
    from cimedic.services.history import repository_names

    known = repository_names(store)
    if value not in known:
        raise ValueError(f"unknown repository {value!r}; known: {', '.join(known) or 'none'}")
    return str(value)


def _empty_hint(count: int) -> str:
    return "" if count else "\n(none match: widen since, e.g. 30d or all, or drop filters)"


def redact_text(text: str) -> str:
    """``text`` through :func:`cimedic.analysis.redact.redact`; :data:`WITHHELD` while that
    redactor is not installed (never the raw text)."""
    try:
        from cimedic.analysis.redact import redact  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return WITHHELD if text else text
    return str(redact(text).text)


def _since(value: str | None) -> datetime | None:
    from cimedic.services.timewindow import parse_since, resolve_since

    if value == "all":
        return None
    return resolve_since(parse_since(str(value) if value else DEFAULT_SINCE))


def _limit(value: Any) -> int:
    n = int(value) if value not in (None, "") else MAX_ROWS
    return max(1, min(n, MAX_ROWS))


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "?"


def _opt(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


# ---------------------------------------------------------------------------------- built-ins
def search_runs(
    store: StoreHandle,
    repository: str | None = None,
    workflow: str | None = None,
    branch: str | None = None,
    conclusion: str | None = None,
    since: str | None = None,
    limit: int | None = None,
) -> ToolOutput:
    """Recent workflow runs, newest first (``services.history.recent_runs``)."""
    from cimedic.model.history import HistoryFilter
    from cimedic.services.history import recent_runs

    f = HistoryFilter(
        repository=_repository(store, repository),
        workflow=_opt(workflow),
        branch=_opt(branch),
        since=_since(since),
    )
    runs = recent_runs(store, f, conclusion=str(conclusion) if conclusion else None)
    shown = runs[: _limit(limit)]
    lines = [f"{len(runs)} run(s) match; newest {len(shown)}:"]
    for r in shown:
        lines.append(
            f"run {r.provider_id}: {r.repository} {r.workflow_name or '?'} branch={r.branch or '?'} "
            f"{r.conclusion.value if r.conclusion else r.status.value} attempt={r.run_attempt} "
            f"created={_when(r.created_at)} sha={r.head_sha[:8]}"
        )
    return ToolOutput("\n".join(lines) + _empty_hint(len(runs)), tuple(f"run {r.provider_id}" for r in shown))


def search_failures(
    store: StoreHandle, repository: str | None = None, since: str | None = None, limit: int | None = None
) -> ToolOutput:
    """Failure clusters by impact (``services.failures.list_clusters``)."""
    from cimedic.services.failures import list_clusters

    result = list_clusters(
        store, since=_since(since), repository=_repository(store, repository), top=_limit(limit)
    )
    lines = [f"{result.total} failure cluster(s) in the window; top {len(result.clusters)}:"]
    for c in result.clusters:
        lines.append(
            f"cluster {c.id[:12]}: {redact_text(c.title)} [{c.category}] occurrences={c.occurrences} "
            f"runs={c.runs} trend={c.trend.value} last_seen={_when(c.last_seen)} "
            f"jobs={', '.join(c.job_names[:3])}"
        )
    return ToolOutput(
        "\n".join(lines) + _empty_hint(result.total), tuple(f"cluster {c.id[:12]}" for c in result.clusters)
    )


def get_diagnosis(store: StoreHandle, job_id: int | str | None = None) -> ToolOutput:
    """The stored diagnosis of one failed job (by the store's job id), redacted."""
    if job_id in (None, ""):
        raise ValueError("job_id is required (a job id from search_failures or cluster_history)")
    from cimedic.services.history import diagnosis as stored_diagnosis

    diagnosis = stored_diagnosis(store, int(job_id))
    if diagnosis is None:
        return ToolOutput(f"job {job_id} has no stored diagnosis")
    lines = [
        f"job {job_id}: category={diagnosis.category.value} transient={diagnosis.transient} "
        f"confidence={diagnosis.confidence:.2f}",
        f"summary: {redact_text(diagnosis.summary)}",
    ]
    if diagnosis.failed_step is not None:
        lines.append(f"failed step: {redact_text(diagnosis.failed_step.name)}")
    if diagnosis.cause is not None:
        lines.append(f"known cause: {diagnosis.cause.name}; fix: {diagnosis.cause.fix}")
    for e in diagnosis.error_lines[:3]:
        lines.append(f"error line {e.line}: {redact_text(e.text[:200])}")
    return ToolOutput("\n".join(lines), (f"job {job_id}",))


def cluster_history(store: StoreHandle, cluster_id: str | None = None) -> ToolOutput:
    """One failure cluster over the whole history (``services.failures.cluster_detail``)."""
    from cimedic.services.failures import cluster_detail

    if not cluster_id:
        raise ValueError("cluster_id is required (an id from search_failures)")
    d = cluster_detail(store, str(cluster_id), occurrences=5)
    c = d.cluster
    lines = [
        f"cluster {c.id[:12]}: {redact_text(c.title)} [{c.category}] total_occurrences={c.total_occurrences} "
        f"first_seen={_when(c.first_seen)} last_seen={_when(c.last_seen)} trend={c.trend.value} "
        f"transient_share={c.transient_share:.2f} variants={len(d.variants)}",
    ]
    for o in d.occurrences:
        lines.append(
            f"job {o.job_id} in run {o.run_id} (attempt {o.run_attempt}): {o.repository} "
            f"{o.workflow or '?'} / {o.job} branch={o.branch or '?'} at {_when(o.created_at)}"
        )
    refs = (f"cluster {c.id[:12]}", *(f"run {o.run_id}" for o in d.occurrences))
    return ToolOutput("\n".join(lines), refs)


def flaky_tests(store: StoreHandle, repository: str | None = None, limit: int | None = None) -> ToolOutput:
    """Stored flaky verdicts (``services.history.flaky_findings``)."""
    from cimedic.model.flaky import Verdict
    from cimedic.services.history import flaky_findings

    found = flaky_findings(store, repository=_repository(store, repository), verdicts=[Verdict.FLAKY])
    found = sorted(found, key=lambda x: x.flip_rate or 0.0, reverse=True)
    shown = found[: _limit(limit)]
    lines = [f"{len(found)} flaky test(s)/job(s); top {len(shown)}:"]
    for x in shown:
        rate = f"{x.flip_rate:.2f}" if x.flip_rate is not None else "?"
        lines.append(
            f"{x.kind.value} {x.subject}{' [' + x.variant + ']' if x.variant else ''} in {x.repository}: "
            f"executions={x.executions} failures={x.failures} flaky_commits={x.flaky_commits} flip_rate={rate}"
        )
    return ToolOutput("\n".join(lines))


def stats(
    store: StoreHandle,
    repository: str | None = None,
    workflow: str | None = None,
    branch: str | None = None,
    since: str | None = None,
) -> ToolOutput:
    """Pipeline metrics, compact (``services.stats.pipeline_stats``)."""
    from cimedic.services.stats import pipeline_stats

    s = pipeline_stats(
        store,
        repository=_repository(store, repository),
        workflow=_opt(workflow),
        branch=_opt(branch),
        since=_since(since),
        top=5,
        findings=False,
    )
    r, d = s.runs, s.duration
    rate = f"{r.failure_rate:.1%}" if r.failure_rate is not None else "?"
    p50 = f"{d.p50_seconds:.0f}s" if d.p50_seconds is not None else "?"
    lines = [
        f"window {_when(s.since)} .. {_when(s.until)} UTC: runs={r.total} completed={r.completed} "
        f"succeeded={r.succeeded} failed={r.failed} failure_rate={rate} jobs={r.jobs} median_duration={p50}",
    ]
    for item in s.failing_jobs:
        lines.append(f"failing job {item.workflow or '?'} / {item.job}: {item.failures} of {item.count}")
    for cat in s.categories[:5]:
        lines.append(f"category {cat.category}: {cat.count} ({cat.share:.0%})")
    return ToolOutput("\n".join(lines))


def culprits(
    store: StoreHandle, repository: str | None = None, branch: str | None = None, since: str | None = None
) -> ToolOutput:
    """Stored culprit reports: failure episodes and suspect commits (``services.history.culprit_reports``)."""
    from cimedic.services.history import culprit_reports

    reports = culprit_reports(
        store, repository=_repository(store, repository), branch=_opt(branch), since=_since(since)
    )
    shown = reports[:MAX_ROWS]
    lines = [f"{len(reports)} failure episode(s); newest {len(shown)}:"]
    refs: list[str] = []
    for rep in shown:
        top = rep.suspects[0] if rep.suspects else None
        suspect = f"suspect {top.sha[:8]} {redact_text(top.title)[:80]}" if top else "no suspect"
        first = rep.first_red.run_provider_id or str(rep.first_red.run_id)
        refs.append(f"run {first}")
        lines.append(
            f"{rep.repository} {rep.branch} job {rep.key.job}: first red run {first} at "
            f"{_when(rep.first_red.created_at)}, red_runs={rep.red_runs} ongoing={rep.ongoing}; {suspect}"
        )
    return ToolOutput("\n".join(lines), tuple(refs))


def quarantine_list(store: StoreHandle, repository: str | None = None) -> ToolOutput:
    """Active quarantine entries (``services.flaky.quarantine_list``)."""
    from cimedic.services.flaky import quarantine_list as service

    entries = service(store, _repository(store, repository))
    lines = [f"{len(entries)} quarantined test(s):"]
    for e in entries[:MAX_ROWS]:
        lines.append(
            f"{e.test_id} in {e.repository} by {e.owner} since {_when(e.created_at)} "
            f"expires={_when(e.expires_at) if e.expires_at else 'never'}: {e.reason}"
        )
    return ToolOutput("\n".join(lines))


def make_rerun(executor: Callable[[str], str] | None = None) -> FunctionTool:
    """The side-effecting ``rerun`` tool. ``executor(run_id)`` performs the re-run (the
    remediation policy's service, wired by the interface); without one the tool answers
    "not allowed by policy" as data."""

    def rerun(store: StoreHandle, run_id: str | None = None) -> ToolOutput:
        if not run_id:
            raise ValueError("run_id is required")
        if executor is None:
            return ToolOutput(f"re-run of run {run_id} not allowed by policy (no re-run executor configured)")
        return ToolOutput(executor(str(run_id)), (f"run {run_id}",))

    return FunctionTool(
        "rerun",
        "Re-run the failed jobs of a workflow run (side effect; needs approval by policy).",
        _params(run_id=("string", "the provider's run id, as in 'run 123'")),
        rerun,
        side_effect=True,
    )


_REPO = ("string", "owner/name, optional")
_SINCE = ("string", "optional; omit for the last 7 days; else like 24h, 30d or 'all'")
_LIMIT = ("integer", f"at most {MAX_ROWS}")

BUILTINS: Sequence[FunctionTool] = (
    FunctionTool(
        "search_runs",
        "List recent workflow runs (newest first) with conclusion, branch and time.",
        _params(
            repository=_REPO,
            workflow=("string", "workflow name or file, optional"),
            branch=("string", "branch, optional"),
            conclusion=("string", "optional", *CONCLUSIONS),
            since=_SINCE,
            limit=_LIMIT,
        ),
        search_runs,
    ),
    FunctionTool(
        "search_failures",
        "List recurring failure clusters by impact, with occurrence counts and trend.",
        _params(repository=_REPO, since=_SINCE, limit=_LIMIT),
        search_failures,
    ),
    FunctionTool(
        "get_diagnosis",
        "Show the diagnosis (category, summary, error lines) of one failed job by job id.",
        _params(job_id=("integer", "the job id")),
        get_diagnosis,
    ),
    FunctionTool(
        "cluster_history",
        "Show one failure cluster's history and recent occurrences by cluster id.",
        _params(cluster_id=("string", "cluster id or prefix from search_failures")),
        cluster_history,
    ),
    FunctionTool(
        "flaky_tests",
        "List tests and jobs judged flaky, with failure counts and flip rates.",
        _params(repository=_REPO, limit=_LIMIT),
        flaky_tests,
    ),
    FunctionTool(
        "stats",
        "Pipeline metrics: run counts, failure rate, durations, most failing jobs.",
        _params(
            repository=_REPO,
            workflow=("string", "workflow name or file, optional"),
            branch=("string", "branch, optional"),
            since=_SINCE,
        ),
        stats,
    ),
    FunctionTool(
        "culprits",
        "List failure episodes on branches with the suspect commits that started them.",
        _params(repository=_REPO, branch=("string", "branch, optional"), since=_SINCE),
        culprits,
    ),
    FunctionTool(
        "quarantine_list",
        "List the tests currently quarantined.",
        _params(repository=_REPO),
        quarantine_list,
    ),
)


def default_registry(
    *, rerun_executor: Callable[[str], str] | None = None, repositories: Sequence[str] = ()
) -> ToolRegistry:
    """The built-in tools plus ``rerun`` (with ``rerun_executor`` when given). With
    ``repositories`` (the stored ``owner/name``s) every ``repository`` argument becomes an enum
    of them, so a constrained model cannot invent one."""
    registry = ToolRegistry()
    for tool in BUILTINS:
        props = tool.parameters["properties"]
        if repositories and "repository" in props:
            narrowed = {**props, "repository": {**props["repository"], "enum": list(repositories)}}
            tool = replace(tool, parameters={**tool.parameters, "properties": narrowed})
        registry.register(tool)
    registry.register(make_rerun(rerun_executor))
    return registry
