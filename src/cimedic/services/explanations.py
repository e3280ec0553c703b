"""What explanations of failed jobs read and keep in the store: the job look-ups of ``cimedic
explain`` (:func:`resolve_jobs`), ``GET /api/v1/jobs/{job_id}/explanation``
(:func:`job_repository`) and :func:`cimedic.agent.explain.job_context` (:func:`cluster_of_job`),
and the explanation cache (``explanations``: accepted explanations by diagnosis signature,
cimedic engine version and model).

Links of cited log lines (:func:`log_line_links`): for a job collected from GitHub, each line
opens the job's log page at that line (``…/actions/runs/RUN/job/JOB#step:N:L``; the rule is
:mod:`cimedic.model.links`).

Used by the agent (which reaches the store only through services) and by the interfaces;
delegates to :mod:`cimedic.store.llm` and :mod:`cimedic.store.log_links`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from cimedic.model.escape import GITHUB_WEB
from cimedic.model.explanations import Explanation
from cimedic.model.links import lf_line_numbers, log_line_link, step_numbers
from cimedic.store import llm as db
from cimedic.store.log_links import job_place
from cimedic.store.repository import Store

if TYPE_CHECKING:
    from cimedic.model.diagnosis import Diagnosis

__all__ = [
    "cache_explanation",
    "cached_explanation",
    "cluster_of_job",
    "job_repository",
    "log_line_links",
    "resolve_jobs",
]


def resolve_jobs(store: Store, target: str) -> list[int]:
    """Store job ids of ``target``: ``<store job id>``, ``run:<provider run id>`` (the failed jobs
    of every attempt of that run, oldest first) or ``job:<provider job id>``; a bare number that
    is no store job id is tried as a provider job id. Empty when nothing matches.

    Raises ``ValueError`` for a bare number outside 1..2^63-1 or a provider id that is not 1 to
    64 of ``A-Z a-z 0-9 . _ : -`` (the store's ``provider_id`` columns hold 64 characters)."""
    return db.resolve_jobs(store, target)


def job_repository(store: Store, job_id: int) -> str | None:
    """``owner/name`` of the repository of the stored job ``job_id`` (store id); None when the
    job is unknown (as any id outside 1..2^63-1 is)."""
    return db.job_repository(store, job_id)


def cluster_of_job(store: Store, job_id: int) -> str | None:
    """The public id of the failure cluster holding job ``job_id``; None when it is not clustered."""
    return db.cluster_of_job(store, job_id)


def cached_explanation(store: Store, signature: str, engine_version: str, model: str) -> Explanation | None:
    """The cached explanation of (diagnosis ``signature``, ``engine_version``, ``model``), counting
    the hit in the cache row; None when there is none."""
    return db.get_explanation(store, signature, engine_version, model)


def cache_explanation(store: Store, explanation: Explanation, engine_version: str, model: str) -> None:
    """Cache ``explanation`` under (its signature, ``engine_version``, ``model``), replacing an
    earlier one."""
    db.save_explanation(store, explanation, engine_version, model)


def log_line_links(
    store: Store, job_id: int, lines: Iterable[int], web_base: str = GITHUB_WEB
) -> dict[int, str]:
    """Line number -> link of each of ``lines`` (1-based, as the job's diagnosis numbers them)
    of the stored job ``job_id`` (store id), under ``web_base`` (the provider's web base URL,
    :func:`cimedic.model.escape.web_base_of` of ``github_api_url``):
    ``<web_base>/OWNER/REPO/actions/runs/RUN/job/JOB#step:N:L`` when an API step of the job
    holds the log section of the line, else the job page
    (:func:`cimedic.model.links.log_line_link`). ``L`` counts lines at ``\\n`` only, as GitHub
    does: converted from the stored log when it is there (its diagnosis counts a lone ``\\r``
    too). Empty when the job is unknown or was not collected from GitHub."""
    wanted = sorted({n for n in lines if n >= 1})
    place = job_place(store, job_id)
    if place is None or place.provider != "github" or not wanted:
        return {}
    diagnosis = store.get_diagnosis(job_id)
    sections = diagnosis.sections if diagnosis is not None else ()
    numbers = step_numbers(sections, place.steps)
    lf: dict[int, int] = {}
    if sections:
        log = store.get_log(job_id)
        if log is not None:
            lf = lf_line_numbers(log.content, [*wanted, *(s.start_line for s in sections)])
        elif diagnosis is not None:
            lf = _recorded_lf_lines(diagnosis)
    out: dict[int, str] = {}
    for n in wanted:
        url = log_line_link(
            web_base,
            place.repository,
            place.run_id,
            place.job_id,
            place.steps,
            sections,
            n,
            lf=lambda k: lf.get(k, k),
            numbers=numbers,
        )
        if url is not None:
            out[n] = url
    return out


def _recorded_lf_lines(diagnosis: Diagnosis) -> dict[int, int]:
    """Line -> LF line as the diagnosis recorded them (its ``lf_*`` fields; absent in diagnoses
    stored before they existed), for a job whose log is no longer stored."""
    out: dict[int, int] = {}
    pairs = [(e.line, getattr(e, "lf_line", None)) for e in diagnosis.error_lines]
    pairs += [(s.start_line, getattr(s, "lf_start_line", None)) for s in diagnosis.sections]
    recorded = getattr(diagnosis, "excerpt_lf_lines", ())
    if len(recorded) == len(diagnosis.excerpt_lines):
        pairs += [(n, m) for (n, _), m in zip(diagnosis.excerpt_lines, recorded, strict=True)]
    for line, lf_line in pairs:
        if isinstance(lf_line, int):
            out[line] = lf_line
    return out
