"""The real GitHub Actions job logs bundled in ``demo_data/logs``: their timing, their steps, and
re-timed copies for the demo history.

Each bundled log is a raw job log as GitHub serves it from ``GET .../actions/jobs/{id}/logs``
(https://docs.github.com/en/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-job):
``\\r\\n`` line breaks, every line prefixed by an RFC 3339 UTC timestamp with 7 fractional digits
(``2022-04-12T19:19:37.9988416Z ``), one ``##[group]Run <step>`` header per step that GitHub
names after its ``uses:`` or the first line of its ``run:`` script when the step has no ``name``
(https://docs.github.com/en/actions/using-workflows/workflow-syntax-for-github-actions#jobsjob_idstepsname).

A source is named by its file stem, e.g. ``"quick-checks.run104.fail"``. Offsets are seconds
(``float``) from the log's first timestamp.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources

_TS = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{7})Z", re.MULTILINE)
_TICKS = 10_000_000  # 100 ns ticks per second, the resolution of the log timestamps
# Composite actions: their inner steps print their own "##[group]Run" headers but are one step of
# the job (value: how many inner headers follow; None = all of them up to the post steps).
_COMPOSITE = {"./.github/actions/go-version": 1, "hashicorp/actions-docker-build@v1": None}
# Actions that register a post step; ``actions/cache`` runs it only if the job succeeded
# (``post-if: success()`` in its action.yml).
_POST_ACTIONS = ("actions/checkout@", "actions/cache@")
_POST_ONLY_ON_SUCCESS = ("actions/cache@",)


@dataclass(frozen=True)
class LogStep:
    """One step as the log shows it: ``name`` (GitHub's step name), ``start``/``end`` offsets in
    seconds, ``outcome`` (``success`` | ``failure`` | ``skipped``), ``post`` for a post step."""

    name: str
    start: float
    end: float
    outcome: str
    post: bool = False


@dataclass(frozen=True)
class LogProfile:
    """What one bundled log says about its job.

    ``queued_until``: offset of the ``Job is about to start running`` line (the runner picked the
    job); ``setup_at``: offset of ``Current runner version`` (the job's ``started_at``, start of
    ``Set up job``); ``end``: offset of the last line; ``failed``: the log has an ``##[error]``
    line before the post steps; ``runner_name`` and ``labels`` as the log prints them.
    """

    source: str
    first: datetime
    queued_until: float
    setup_at: float
    end: float
    steps: tuple[LogStep, ...]
    failed: bool
    runner_name: str
    labels: tuple[str, ...]

    @property
    def main_steps(self) -> tuple[LogStep, ...]:
        """Steps other than ``Set up job``, post steps and ``Complete job``."""
        return tuple(s for s in self.steps[1:-1] if not s.post)


def log_sources() -> list[str]:
    """Names of the bundled logs (``<job family>.<case>.<fail|pass>``), sorted."""
    folder = resources.files("cimedic.testing") / "demo_data" / "logs"
    return sorted(p.name.removesuffix(".log.gz") for p in folder.iterdir() if p.name.endswith(".log.gz"))


@lru_cache(maxsize=32)
def load_log(source: str) -> bytes:
    """The raw bytes of a bundled log, as GitHub served them (``\\r\\n`` line breaks)."""
    path = resources.files("cimedic.testing") / "demo_data" / "logs" / f"{source}.log.gz"
    return gzip.decompress(path.read_bytes())


def _parse_ts(raw: bytes, frac: bytes) -> int:
    base = datetime.fromisoformat(raw.decode("ascii")).replace(tzinfo=UTC)
    return int(base.timestamp()) * _TICKS + int(frac)


def _lines(data: bytes) -> list[tuple[float | None, str]]:
    """Each line as (offset in seconds from the first timestamp or None, text after the prefix)."""
    out: list[tuple[float | None, str]] = []
    first: int | None = None
    for raw in data.split(b"\n"):
        line = raw.rstrip(b"\r")
        m = _TS.match(line)
        if m is None:
            out.append((None, line.decode("utf-8", "replace")))
            continue
        ticks = _parse_ts(m[1], m[2])
        first = ticks if first is None else first
        out.append(((ticks - first) / _TICKS, line[m.end() + 1 :].decode("utf-8", "replace")))
    return out


def _offset(lines: list[tuple[float | None, str]], index: int) -> float:
    for k in range(index, -1, -1):
        t = lines[k][0]
        if t is not None:
            return t
    return 0.0


def _find(lines: list[tuple[float | None, str]], needle: str, default: int) -> int:
    return next((i for i, (_, text) in enumerate(lines) if text.startswith(needle)), default)


@lru_cache(maxsize=32)
def profile(source: str) -> LogProfile:
    """Parse a bundled log into its timing and steps (cached)."""
    data = load_log(source)
    m = _TS.search(data)
    assert m is not None, source
    first = datetime.fromtimestamp(_parse_ts(m[1], m[2]) // _TICKS, UTC)
    lines = _lines(data)
    while lines and not lines[-1][1]:
        lines.pop()
    handoff = _find(lines, "Job is about to start running", 0)
    setup = _find(lines, "Current runner version", handoff)
    posts = [i for i, (_, text) in enumerate(lines) if text == "Post job cleanup."]
    cleanup = _find(lines, "Cleaning up orphan processes", len(lines) - 1)
    main_end = posts[0] if posts else cleanup
    # Main steps: every top-level "##[group]Run ..." header; composite actions swallow their inner headers.
    heads: list[tuple[int, str]] = []
    swallow: int | None = 0
    for i, (_, text) in enumerate(lines[:main_end]):
        if not text.startswith("##[group]Run "):
            continue
        name = text.removeprefix("##[group]")
        if swallow is None or swallow > 0:
            swallow = None if swallow is None else swallow - 1
            continue
        heads.append((i, name))
        swallow = _COMPOSITE.get(name.removeprefix("Run "), 0)
    errors = [i for i, (_, text) in enumerate(lines[:main_end]) if "##[error]" in text]
    failed = bool(errors)
    steps = [
        LogStep("Set up job", _offset(lines, setup), _offset(lines, heads[0][0]) if heads else 0.0, "success")
    ]
    failing = max((k for k, (i, _) in enumerate(heads) if errors and i <= errors[-1]), default=-1)
    for k, (i, name) in enumerate(heads):
        stop = heads[k + 1][0] if k + 1 < len(heads) else main_end
        outcome = "failure" if failed and k == failing else "success"
        steps.append(LogStep(name, _offset(lines, i), _offset(lines, stop), outcome))
    # Post steps run in reverse order of their main steps; the log prints "Post job cleanup." for
    # each one that runs.
    candidates = [s.name for s in reversed(steps[1:]) if any(a in s.name for a in _POST_ACTIONS)]
    ran = [n for n in candidates if not (failed and any(a in n for a in _POST_ONLY_ON_SUCCESS))]
    if len(ran) != len(posts):  # unknown actions: name the post steps generically
        candidates = ran = [f"Post job cleanup ({k + 1})" for k in range(len(posts))]
    cursor = _offset(lines, posts[0]) if posts else _offset(lines, cleanup)
    ran_index = 0
    for name in candidates:
        post_name = name if name.startswith("Post job cleanup") else f"Post {name}"
        if name in ran[ran_index : ran_index + 1]:
            i = posts[ran_index]
            stop = posts[ran_index + 1] if ran_index + 1 < len(posts) else cleanup
            cursor = _offset(lines, stop)
            steps.append(LogStep(post_name, _offset(lines, i), cursor, "success", post=True))
            ran_index += 1
        else:
            steps.append(LogStep(post_name, cursor, cursor, "skipped", post=True))
    steps.append(LogStep("Complete job", _offset(lines, cleanup), _offset(lines, len(lines) - 1), "success"))
    handoff_text = lines[handoff][1]
    runner = re.search(r"hosted runner: (.*?) \(hosted\)", handoff_text)
    labels = next(
        (t.removeprefix("Requested labels: ") for _, t in lines if t.startswith("Requested labels: ")), ""
    )
    return LogProfile(
        source=source,
        first=first,
        queued_until=_offset(lines, handoff),
        setup_at=_offset(lines, setup),
        end=_offset(lines, len(lines) - 1),
        steps=tuple(steps),
        failed=failed,
        runner_name=runner[1] if runner else "GitHub Actions 2",
        labels=tuple(x.strip() for x in labels.split(",") if x.strip()) or ("ubuntu-latest",),
    )


def _shift(data: bytes, delta_ticks: int) -> bytes:
    def repl(m: re.Match[bytes]) -> bytes:
        secs, frac = divmod(_parse_ts(m[1], m[2]) + delta_ticks, _TICKS)
        return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S").encode() + b".%07dZ" % frac

    return _TS.sub(repl, data)


def _stamp(when: datetime) -> bytes:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f").encode() + b"0Z "


def render_log(
    source: str,
    *,
    created_at: datetime,
    queue_extra: float = 0.0,
    job_defined_at: str | None = None,
    cancel_after: float | None = None,
) -> bytes:
    """The bundled log re-timed for a job created at ``created_at`` (UTC).

    The first line gets ``created_at``; lines from ``Job is about to start running`` on are
    shifted ``queue_extra`` seconds more (a longer wait for a runner). ``job_defined_at``
    (``owner/repo/.github/workflows/x.yml@ref``) replaces the ``Job defined at:`` value.
    ``cancel_after`` (seconds after ``created_at``) cuts the log there and ends it the way GitHub
    ends a cancelled job (``##[error]The operation was canceled.``).
    """
    data = load_log(source)
    m = _TS.search(data)
    assert m is not None
    first_ticks = _parse_ts(m[1], m[2])
    delta = int(created_at.timestamp() * _TICKS) - first_ticks
    cut = data.find(b"Job is about to start running")
    cut = data.rfind(b"\n", 0, cut) + 1 if cut > 0 else 0
    extra = int(queue_extra * _TICKS)
    out = _shift(data[:cut], delta) + _shift(data[cut:], delta + extra)
    if job_defined_at:
        out = re.sub(rb"(Job defined at: )\S+", lambda mm: mm[1] + job_defined_at.encode(), out, count=1)
    if cancel_after is not None:
        limit = created_at + timedelta(seconds=cancel_after)
        kept = []
        for raw in out.split(b"\n"):
            mm = _TS.match(raw)
            if mm is not None and _parse_ts(mm[1], mm[2]) > int(limit.timestamp() * _TICKS):
                break
            kept.append(raw)
        while kept and not kept[-1]:
            kept.pop()
        tail = [
            _stamp(limit) + b"##[error]The operation was canceled.",
            _stamp(limit) + b"Cleaning up orphan processes",
        ]
        out = b"\n".join(kept) + b"\n" + b"\r\n".join(tail) + b"\r\n"
    return out
