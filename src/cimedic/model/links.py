"""Links to a line of a GitHub Actions job log (pure).

GitHub's job page opens a step's log at a line with the anchor ``#step:N:L``:
``<web base>/<owner>/<repo>/actions/runs/<run id>/job/<job id>#step:<N>:<L>``, where ``N`` is
the step's ``number`` in the REST API (``GET /repos/{owner}/{repo}/actions/jobs/{job_id}``,
``steps[].number``, from 1) and ``L`` the line's 1-based position inside that step's log.
The link is built from the provider's web base URL (:func:`cimedic.model.escape.web_base_of`
of ``github_api_url``) and ids, never from a payload URL (:func:`cimedic.model.escape.run_link`).

Which step holds a log section (:class:`cimedic.model.diagnosis.Section`, as the analyzer
splits a job log; :func:`step_numbers`), in this order:

1. **By name**, walking sections and steps in order (the k-th section of a name goes to the
   k-th step of that name, never back to an earlier step). A raw job log
   (``GET .../jobs/{id}/logs``) prints ``##[group]Run <uses: or first script line>`` at the
   start of every ``uses:`` and ``run:`` step, and the analyzer names that section after the
   text behind ``Run ``; GitHub names a step without ``name:`` ``Run <the same text>``
   (workflow syntax, ``jobs.<job_id>.steps[*].name``), so a section ``go mod tidy`` is the step
   ``Run go mod tidy``. ``Set up job`` is the section before the first header and the step of
   that name; each ``Post job cleanup.`` line starts a post step (API name ``Post <step>``;
   skipped post steps print nothing). Logs of ``gh run view --log`` name sections after the
   step itself (exact match). Names are compared on their first line, and a section name the
   analyzer cut at 200 characters matches a step name it starts.
2. **By time**, for a section no step name matches (a step with a ``name:``, an inner step of
   a composite action): the step whose ``started_at``-``completed_at`` holds the section's
   first timestamp, one second of slack on each side (the API reports whole seconds, the log
   tenths of microseconds), among the steps between the name-matched neighbours of the
   section; the latest-starting such step wins, then the one no section holds yet. Skipped
   steps are never matched by time (they print no log).
3. **No match**: no anchor; the link is the job page.

``L`` is the line's position in the step's log, counted as GitHub does, at ``\\n`` only (the
analyzer also breaks at a lone ``\\r``: the caller passes ``lf`` to convert). ``L = 1`` is the
first line of the first of the consecutive sections held by the step (its ``##[group]Run …``
header; a composite action's inner ``Run`` sections continue its count). Known gap: the
``Set up job`` section starts at the log's line 1, while GitHub's ``Set up job`` step log
starts at ``Current runner version``, so ``L`` there is a few lines high.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from cimedic.model.diagnosis import Section
from cimedic.model.escape import run_link, safe_link

__all__ = [
    "NAME_CUT",
    "TIME_SLACK",
    "ApiStep",
    "job_link",
    "lf_line_numbers",
    "log_line_link",
    "section_of_line",
    "step_numbers",
]

NAME_CUT = 200
"""Characters the analyzer keeps of a section name (``##[group]Run`` text)."""
TIME_SLACK = timedelta(seconds=1)
"""Slack around an API step's times: GitHub reports them in whole seconds."""


@dataclass(frozen=True, slots=True)
class ApiStep:
    """A job step as the REST API lists it: ``number`` (from 1), ``name``, aware UTC
    ``started_at``/``completed_at`` (None when unknown) and ``conclusion``
    (``success``, ``failure``, ``skipped``, ... or None)."""

    number: int
    name: str
    started_at: datetime | None = None
    completed_at: datetime | None = None
    conclusion: str | None = None

    @property
    def skipped(self) -> bool:
        """True when the step did not run (its conclusion is ``skipped``)."""
        return self.conclusion == "skipped"


def job_link(web_base: str, repository: str, run_id: str | int, job_id: str | int) -> str | None:
    """The job's page ``<web_base>/<owner>/<name>/actions/runs/<run_id>/job/<job_id>`` (ids
    percent-encoded); None when it is not a :func:`cimedic.model.escape.safe_link` of
    ``web_base``."""
    return run_link(web_base, repository, run_id, suffix="/job/" + quote(str(job_id), safe=""))


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0].strip()


def _names_match(section: str, step: ApiStep) -> bool:
    sec, name = _first_line(section), _first_line(step.name)
    if not sec:
        return False
    if sec == "Post job cleanup":
        return name.startswith("Post ") and not step.skipped
    if name in (sec, f"Run {sec}"):
        return True
    return len(sec) >= NAME_CUT and (name.startswith(sec) or name.startswith(f"Run {sec}"))


def _holds(step: ApiStep, moment: datetime) -> bool:
    if step.skipped or step.started_at is None or step.completed_at is None:
        return False
    return step.started_at - TIME_SLACK <= moment <= step.completed_at + TIME_SLACK


def step_numbers(sections: Sequence[Section], steps: Sequence[ApiStep]) -> list[int | None]:
    """The API step ``number`` holding each of ``sections`` (same order), None where none
    matches; the rule is in the module docstring."""
    ordered = sorted(steps, key=lambda s: s.number)
    by_name: list[int | None] = [None] * len(sections)
    cursor = 0
    for i, sec in enumerate(sections):
        for k in range(cursor, len(ordered)):
            if _names_match(sec.name, ordered[k]):
                by_name[i] = k
                cursor = k + 1
                break
    out: list[int | None] = [None if k is None else ordered[k].number for k in by_name]
    used = {k for k in by_name if k is not None}
    for i, sec in enumerate(sections):
        if by_name[i] is not None or sec.started_at is None:
            continue
        before = max((k for k in by_name[:i] if k is not None), default=0)
        after = min((k for k in by_name[i + 1 :] if k is not None), default=len(ordered))
        moment = sec.started_at
        window = [k for k in range(before, after) if _holds(ordered[k], moment)]
        if not window:
            continue
        latest = max(ordered[k].started_at or moment for k in window)
        best = [k for k in window if ordered[k].started_at == latest]
        k = next((k for k in best if k not in used), best[0])
        used.add(k)
        out[i] = ordered[k].number
    return out


_BREAK = re.compile(rb"\r\n|\r|\n")


def lf_line_numbers(content: bytes, lines: Iterable[int]) -> dict[int, int]:
    """GitHub's line number of each of ``lines`` of ``content`` (a raw log): ``lines`` count
    breaks at ``\\n``, ``\\r\\n`` and a lone ``\\r`` (the diagnosis numbering,
    :mod:`cimedic.model.diagnosis`), GitHub's at ``\\n`` only. A line past the end maps to
    itself shifted like the last line. Reads ``content`` once; without a lone ``\\r`` the
    numbers are unchanged."""
    wanted = sorted({n for n in lines if n >= 1})
    if not wanted or content.count(b"\r") == content.count(b"\r\n"):
        return {n: n for n in wanted}
    out: dict[int, int] = {}
    line, lf, i = 1, 1, 0
    for m in _BREAK.finditer(content):
        while i < len(wanted) and wanted[i] <= line:
            out[wanted[i]] = lf
            i += 1
        if i == len(wanted):
            return out
        line += 1
        lf += m.group() != b"\r"
    for n in wanted[i:]:
        out[n] = lf + (n - line)
    return out


def section_of_line(sections: Sequence[Section], line: int) -> int | None:
    """Index in ``sections`` of the last section whose ``start_line <= line <= end_line``;
    None when no section holds ``line``."""
    found = None
    for i, sec in enumerate(sections):
        if sec.start_line <= line <= sec.end_line:
            found = i
    return found


def log_line_link(
    web_base: str,
    repository: str,
    run_id: str | int,
    job_id: str | int,
    steps: Sequence[ApiStep],
    sections: Sequence[Section],
    line: int,
    *,
    lf: Callable[[int], int] | None = None,
    numbers: Sequence[int | None] | None = None,
) -> str | None:
    """The page of job ``job_id`` of run ``run_id`` of ``repository`` (``owner/name``) under
    ``web_base``, opened at log line ``line`` (1-based, as the diagnosis numbers lines):
    ``…/actions/runs/RUN/job/JOB#step:N:L`` when a step holds the section holding ``line``
    (:func:`step_numbers`; pass ``numbers`` to reuse its result), ``L`` counted from the first
    of the consecutive sections of that step, else the job page without an anchor. ``lf`` maps a diagnosis line number to GitHub's (``\\n``-only) line number
    (identity when None). None when the URL is not a safe link of ``web_base``."""
    page = job_link(web_base, repository, run_id, job_id)
    if page is None:
        return None
    index = section_of_line(sections, line)
    if index is None:
        return page
    numbers_of = numbers if numbers is not None else step_numbers(sections, steps)
    number = numbers_of[index]
    if number is None:
        return page
    first = index
    while first > 0 and numbers_of[first - 1] == number:
        first -= 1  # a step's log holds every section it printed (a composite action's inner steps)
    to_lf = lf or (lambda n: n)
    position = to_lf(line) - to_lf(sections[first].start_line) + 1
    if position < 1:
        return page
    return safe_link(f"{page}#step:{number}:{position}", web_base) or page
