"""Use case: diagnose a CI log file (or stdin, .gz, a GitHub run-log zip)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cimedic.analysis.diagnosis import Diagnoser, detect_format
from cimedic.inputs.dbcache import FileDatabaseCache
from cimedic.inputs.kb import load_kb
from cimedic.inputs.logs import LogMember, LogReadError, open_log
from cimedic.model import Category, Diagnosis, FailureCause, LogFormat

__all__ = ["AnalyzeResult", "LogReadError", "analyze_path", "make_diagnoser"]


@dataclass
class AnalyzeResult:
    """The diagnosis plus warnings for stderr (knowledge-base problems and the like)."""

    diagnosis: Diagnosis
    warnings: list[str] = field(default_factory=list)


def make_diagnoser(kb_dirs: Iterable[Path] = ()) -> tuple[Diagnoser, list[str]]:
    """A :class:`Diagnoser` with the bundled and user causes; returns it with KB problems."""
    kb = load_kb(kb_dirs)
    cache = None if os.environ.get("CIMEDIC_NO_PATTERN_CACHE") else FileDatabaseCache()
    return Diagnoser(kb.causes, cache), kb.problems


def load_causes(kb_dirs: Iterable[Path] = ()) -> tuple[list[FailureCause], list[str]]:
    """Bundled plus user causes (user ids override) and the problems found loading them."""
    kb = load_kb(kb_dirs)
    return kb.causes, kb.problems


def _resolve_format(member: LogMember, forced: LogFormat | None) -> LogFormat:
    if forced is not None and forced is not LogFormat.GITHUB_ZIP:
        return forced
    fmt = detect_format(member.load_head())
    return fmt


def analyze_path(
    path: str,
    *,
    baseline: str | None = None,
    log_format: LogFormat | None = None,
    kb_dirs: Iterable[Path] = (),
    diagnoser: Diagnoser | None = None,
) -> AnalyzeResult:
    """Diagnose the log at ``path`` (``-`` for stdin).

    For a zip archive every member is analysed and the one holding the failure (highest
    top error score) is returned, with ``log.path`` = ``ARCHIVE!MEMBER`` and its
    ``log.format`` = ``github-zip``. Raises :class:`LogReadError` when the input cannot be
    opened or decompressed.
    """
    warnings: list[str] = []
    if diagnoser is None:
        diagnoser, problems = make_diagnoser(kb_dirs)
        warnings.extend(f"knowledge base: {p}" for p in problems)
    members, tmp = open_log(path)
    base_members: list[LogMember] = []
    base_tmp = None
    try:
        if baseline is not None:
            base_members, base_tmp = open_log(baseline)
        if not members:
            raise LogReadError(f"no log files in archive {path}")
        best: Diagnosis | None = None
        for member in members:
            fmt = _resolve_format(member, log_format)
            base_src = None
            base_fmt = None
            if base_members:
                bm = _matching_member(member, base_members)
                base_src = bm.batches
                base_fmt = _resolve_format(bm, log_format)
            diag = diagnoser.diagnose(member.batches, fmt, member.display_path, base_src, base_fmt)
            # the analyzer sees batches with normalized line breaks; the size is the reader's
            diag = diag.model_copy(update={"log": diag.log.model_copy(update={"bytes": member.bytes_read})})
            if member.in_zip:
                diag = diag.model_copy(update={"log": diag.log.model_copy(update={"format": LogFormat.GITHUB_ZIP})})
            if best is None or _rank_key(diag) > _rank_key(best):
                best = diag
        assert best is not None
        return AnalyzeResult(best, warnings)
    finally:
        for t in (tmp, base_tmp):
            if t is not None:
                t.unlink(missing_ok=True)


def _matching_member(member: LogMember, candidates: list[LogMember]) -> LogMember:
    name = member.display_path.rsplit("!", 1)[-1]
    for c in candidates:
        if c.display_path.rsplit("!", 1)[-1] == name:
            return c
    return candidates[0]


def _rank_key(d: Diagnosis) -> tuple[int, float]:
    found = 0 if d.category is Category.NONE else 1
    top = d.error_lines[0].score if d.error_lines else 0.0
    return found, top
