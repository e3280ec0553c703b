"""Failure diagnosis of one CI log: where it failed, what kind of failure, re-runnable or not.

``diagnose`` makes two streaming passes over a re-iterable source of line batches:

1. :class:`~.scan.Scanner` finds candidate error lines (prefilter + scored line patterns +
   knowledge-base causes) and step boundaries;
2. after ranking, only the lines around the best candidates and the log's tail are
   decoded again to build the excerpt (the smallest window a person needs to read).

Small logs (<= 16 MiB) are kept in memory between the passes; bigger ones are read twice.
"""

from __future__ import annotations

import bisect
import hashlib
import time
from collections import Counter
from collections.abc import Iterable

from cimedic.analysis.diagnosis.evidence import (
    EVIDENCE_CATEGORY,
    CauseLine,
    block_after,
    deterministic_evidence,
    is_transient,
)
from cimedic.analysis.diagnosis.excerpt import build_excerpt
from cimedic.analysis.diagnosis.kb import CompiledKB
from cimedic.analysis.diagnosis.lflines import with_lf_numbers
from cimedic.analysis.diagnosis.matcher import DatabaseCache
from cimedic.analysis.diagnosis.passes import BatchSource, CachingSource, fetch_lines, windows
from cimedic.analysis.diagnosis.patterns import LINE_PATTERNS, Kind, is_marker_line
from cimedic.analysis.diagnosis.scan import (
    Candidate,
    LineScorer,
    Scanner,
    ScanResult,
    SectionStart,
    repetition_penalty,
)
from cimedic.analysis.diagnosis.step_output import step_tail
from cimedic.analysis.diagnosis.text import mask
from cimedic.model import (
    Category,
    CauseMatch,
    Diagnosis,
    ErrorLine,
    Excerpt,
    FailedStep,
    FailureCause,
    LogFormat,
    LogInfo,
    Section,
)
from cimedic.model.diagnosis import Evidence

MAX_ERROR_LINES = 40
MIN_ERROR_SCORE = 4.0
# position evidence: inside a step that ended in a failure marker, outside it, closeness to the marker
_P_IN, _P_OUT, _P_NEAR = 0.75, -4.0, 0.75
# bonus of the first strong error (score >= STRONG) inside a failed step
_P_FIRST, STRONG = 1.5, 8.5
JOB_LEVEL_MARKERS = frozenset({"jenkins.finished", "gitlab.job_failed"})
TRANSIENT_CATEGORIES = frozenset(
    {Category.NETWORK, Category.RATE_LIMIT, Category.RUNNER_LOST, Category.REGISTRY, Category.INFRASTRUCTURE}
)
# line patterns that report a transient (network, DNS, TLS, registry...) error
_TRANSIENT_PATTERNS = frozenset(p.id for p in LINE_PATTERNS if p.category in TRANSIENT_CATEGORIES)


class Diagnoser:
    """Compiled patterns and knowledge base; call :meth:`diagnose` for each log."""

    def __init__(self, causes: Iterable[FailureCause] = (), cache: DatabaseCache | None = None) -> None:
        """``cache`` keeps compiled pattern databases between runs (see :mod:`.matcher`)."""
        self.kb = CompiledKB(list(causes), cache)
        self.scorer = LineScorer(self.kb, cache)

    def diagnose(
        self,
        source: BatchSource,
        fmt: LogFormat,
        path: str = "-",
        baseline: BatchSource | None = None,
        baseline_fmt: LogFormat | None = None,
    ) -> Diagnosis:
        """Diagnose the log produced by ``source`` (called once or twice).

        ``baseline`` is a passing log of the same job: failing-log lines whose masked text
        also occurs there are demoted (CiDiff, ISSTA'25). Returns a :class:`Diagnosis`;
        never raises on malformed content.
        """
        t0 = time.perf_counter()
        cached = CachingSource(source)
        scan = Scanner(self.scorer, fmt).feed(cached.first())
        known: set[str] = set()
        if baseline is not None:
            base_scan = Scanner(self.scorer, baseline_fmt or fmt).feed(baseline())
            known = {mask(c.text) for c in base_scan.candidates}
        _rank(scan, known)
        return with_lf_numbers(self._finish(scan, cached, path, t0), scan.lf)

    def _finish(self, scan: ScanResult, cached: CachingSource, path: str, t0: float) -> Diagnosis:
        sections = _sections(scan)
        ranked = sorted(
            (c for c in scan.candidates if c.score >= MIN_ERROR_SCORE), key=lambda c: (-c.score, c.line)
        )
        failed = bool(scan.terminals) or any(c.score >= 6.0 for c in ranked)
        info = LogInfo(path=path, format=scan.fmt, lines=scan.lines, bytes=scan.bytes)
        if not failed or (not ranked and not scan.terminals):
            return _no_failure(info, sections, t0)
        if not ranked:
            ranked = _weak_fallback(scan)
        anchors = ranked[:3]
        want = windows([a.line for a in anchors], scan.lines)
        texts = fetch_lines(cached, want, scan.fmt)
        evidence = self._evidence(scan, ranked, texts)
        anchor = anchors[0]
        cand_by_line = {c.line: c for c in scan.candidates}
        if Kind.TERMINAL in anchor.kinds:
            start, end = _step_tail(anchor.line, texts, sections_starts(scan))
        else:
            start, end = build_excerpt(anchor.line, texts, cand_by_line, sections_starts(scan))
        window = [(n, texts[n]) for n in range(max(1, start - 5), end + 6) if n in texts]
        step_range = next((r for r in _merge(_failed_ranges(scan)) if r[0] <= anchor.line <= r[1]), None)
        if scan.fmt is not LogFormat.GITHUB_ACTIONS:
            step_range = None  # exact step bounds (##[group]Run .. ##[error]) only on GitHub
        cause = self._cause(ranked, start, end, window, deterministic=bool(evidence), step=step_range)
        category = _category(cause, ranked, anchor, scan)
        if evidence and category in TRANSIENT_CATEGORIES:  # the evidence line's own hint, else its kind's
            first = cand_by_line.get(evidence[0].line)
            hint = first.category if first is not None else None
            category = (
                hint if hint and hint not in TRANSIENT_CATEGORIES else EVIDENCE_CATEGORY[evidence[0].kind]
            )
        transient = is_transient(cause.transient if cause else category in TRANSIENT_CATEGORIES, evidence)
        step = _failed_step(sections, scan, anchor)
        errors = [ErrorLine(line=c.line, text=c.text[:500], score=round(c.score, 3)) for c in ranked]
        if Kind.TERMINAL in anchor.kinds:
            # only the CI marker is known: the failed command's last output lines come first
            tail = [n for n in range(end, start - 1, -1) if texts.get(n, "").strip()][:5]
            errors = [
                ErrorLine(line=n, text=texts[n][:500], score=round(anchor.score + 0.5 - 0.1 * i, 3))
                for i, n in enumerate(tail)
            ] + [e for e in errors if e.line not in tail]
        error_lines = tuple(errors[:MAX_ERROR_LINES])
        primary = anchor.text.strip()
        signature = hashlib.sha256(mask(primary).encode("utf-8")).hexdigest()[:32]
        margin = anchor.score - (ranked[1].score if len(ranked) > 1 else 0.0)
        confidence = min(0.99, 0.35 + 0.04 * anchor.score + 0.03 * min(margin, 3) + (0.15 if cause else 0.0))
        what = cause.name if cause else primary[:160]
        where = f"step '{step.name}'" if step else f"line {anchor.line}"
        summary = f"{category.value} failure in {where}: {what}"
        return Diagnosis(
            log=info,
            failed_step=step,
            error_lines=error_lines,
            excerpt=Excerpt(start_line=start, end_line=end),
            category=category,
            transient=transient,
            confidence=round(confidence, 3),
            signature=signature,
            cause=cause,
            summary=summary,
            elapsed_ms=round((time.perf_counter() - t0) * 1000, 2),
            sections=tuple(sections),
            excerpt_lines=tuple((n, texts.get(n, "")) for n in range(start, end + 1)),
            deterministic_evidence=evidence[:MAX_ERROR_LINES],
        )

    def _is_transient_line(self, c: Candidate) -> bool:
        """The line reports a transient error (a transient KB cause or line pattern)."""
        return any(self.kb.causes[cid].transient for cid in c.causes) or bool(
            _TRANSIENT_PATTERNS.intersection(c.patterns)
        )

    def _evidence(
        self, scan: ScanResult, ranked: list[Candidate], texts: dict[int, str]
    ) -> tuple[Evidence, ...]:
        """Deterministic evidence (:mod:`.evidence`) among the ranked lines inside failed steps
        (all when none). An exception line's message block is read from ``texts`` (the lines
        around the anchors and the tail, already read: no extra pass over the log)."""
        ranges = _merge(_failed_ranges(scan))
        lines = [
            c
            for c in ranked[:MAX_ERROR_LINES]
            if Kind.TERMINAL not in c.kinds and (not ranges or any(a <= c.line <= b for a, b in ranges))
        ]
        return deterministic_evidence(
            CauseLine(c.line, c.text, self._is_transient_line(c), block_after(c.line, texts)) for c in lines
        )

    def _cause(
        self,
        ranked: list[Candidate],
        start: int,
        end: int,
        window: list[tuple[int, str]],
        deterministic: bool = False,
        step: tuple[int, int] | None = None,
    ) -> CauseMatch | None:
        """The best KB cause near the excerpt. With ``deterministic`` evidence, transient causes
        are left out (an ``ECONNRESET`` printed after an assertion is not the cause); without
        it, a transient cause wins over a cause seen only on a runner's summary or per-test
        marker line (``FAIL pkg [setup failed]``), which says that, not why, it failed.
        ``step``: the failed step's inclusive line range, when exact (GitHub Actions); a line
        outside it names no cause, and a transient cause anywhere in it counts against a
        marker-only cause however far above the summary (issue 12 step 3: ``dial tcp ... i/o
        timeout`` logged inside ``go test -v`` output)."""
        best: tuple[float, int, str, int] | None = None
        best_transient: tuple[float, int, str, int] | None = None
        on_markers: set[tuple[float, int, str, int]] = set()
        for rank, c in enumerate(ranked[:MAX_ERROR_LINES]):
            inside = start <= c.line <= end
            if step is not None and not inside and not step[0] <= c.line <= step[1]:
                continue  # a later step's line does not name the failed step's cause
            if rank >= 3 and not start - 20 <= c.line <= end + 20:
                # a cause far from the failure (e.g. a setup 404) is not its cause, unless it is
                # a transient error inside the failed step when only markers say why
                if deterministic or step is None:
                    continue
                for cid in c.causes:
                    key = (c.score + self.kb.causes[cid].priority * 0.5, -rank, cid, c.line)
                    if self.kb.causes[cid].transient and (best_transient is None or key > best_transient):
                        best_transient = key
                continue
            marker = not deterministic and is_marker_line(c.text, c.patterns)
            for cid in c.causes:
                cause = self.kb.causes[cid]
                if deterministic and cause.transient:
                    continue
                key = (c.score + (3.0 if inside else 0.0) + cause.priority * 0.5, -rank, cid, c.line)
                if marker and not cause.transient:
                    on_markers.add(key)
                if cause.transient and (best_transient is None or key > best_transient):
                    best_transient = key
                if best is None or key > best:
                    best = key
        for hit in self.kb.match_window(window):
            cause = self.kb.causes[hit.cause_id]
            if deterministic and cause.transient:
                continue
            key = (20.0 + cause.priority * 0.5, 0, hit.cause_id, hit.line)
            if best is None or key > best:
                best = key
        if best in on_markers and best_transient is not None:
            best = best_transient
        if best is None:
            return None
        cause = self.kb.causes[best[2]]
        return CauseMatch(
            id=cause.id,
            name=cause.name,
            fix=cause.fix,
            category=cause.category,
            transient=cause.transient,
            line=best[3],
        )


def _rank(scan: ScanResult, known: set[str]) -> None:
    failed_ranges = _merge(_failed_ranges(scan))
    range_starts = [a for a, _ in failed_ranges]
    counts = Counter(_shape(c.text) for c in scan.candidates)
    last_terminal = max((t.line for t in scan.terminals), default=scan.lines)
    seen_patterns: set[str] = set()
    first_strong: set[int] = set()
    for c in scan.candidates:
        score = c.base + c.noise
        top = c.patterns[0] if c.patterns else ""
        if top and top not in seen_patterns and c.base >= 7:
            score += 0.5  # the first failure of its kind is where the trouble started
        seen_patterns.update(c.patterns)
        if Kind.TERMINAL in c.kinds and c.category is None and not c.causes:
            # the CI system's "step failed" marker: the place, not the reason
            c.score = min(score, MIN_ERROR_SCORE - 0.5)
            continue
        if c.in_header:
            score -= 6.0
        score -= repetition_penalty(counts[_shape(c.text)])
        if known and mask(c.text) in known:
            score -= 6.0
        if failed_ranges:
            i = bisect.bisect_right(range_starts, c.line) - 1
            inside = i >= 0 and c.line <= failed_ranges[i][1]
            score += _P_IN if inside else _P_OUT
            if inside and i not in first_strong and c.base + c.noise >= STRONG and not c.in_header:
                first_strong.add(i)
                score += _P_FIRST  # the first strong error of a failed step: where it started
        if c.line > last_terminal:
            score -= 2.0
        else:
            distance = last_terminal - c.line
            score += _P_NEAR / (1.0 + distance / 150.0)
        c.score = score


def _step_tail(marker: int, texts: dict[int, str], starts: list[SectionStart]) -> tuple[int, int]:
    """Excerpt when only a CI failure marker is known: the failed step's last output lines,
    without the CI system's bookkeeping lines (:func:`.step_output.step_tail`)."""
    return step_tail(marker, texts, [s.line for s in starts])


def _weak_fallback(scan: ScanResult) -> list[Candidate]:
    """No strong error line: the best weak candidate inside a failed step, else the marker."""
    ranges = _failed_ranges(scan)
    weak = [
        c
        for c in scan.candidates
        if c.score > 0 and Kind.TERMINAL not in c.kinds and any(a <= c.line <= b for a, b in ranges)
    ]
    if weak:
        return sorted(weak, key=lambda c: (-c.score, -c.line))[:MAX_ERROR_LINES]
    return sorted(scan.terminals, key=lambda c: (-c.score, c.line))[:1]


_DIGITS = str.maketrans("0123456789", "0000000000")


def _shape(text: str) -> str:
    """Cheap repetition key: digits folded (full masking is kept for signatures)."""
    return text.translate(_DIGITS)


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _failed_ranges(scan: ScanResult) -> list[tuple[int, int]]:
    """Line ranges of the steps that end in a CI failure marker."""
    starts = sections_starts(scan)
    out = []
    for t in scan.terminals:
        if JOB_LEVEL_MARKERS.intersection(t.patterns):
            continue  # "Finished: FAILURE" closes the job, not a step
        begin = 1
        for s in starts:
            if s.line <= t.line:
                begin = s.line
        out.append((begin, t.line))
    return out


def sections_starts(scan: ScanResult) -> list[SectionStart]:
    """Step starts of the most specific level present (CI steps, else build-tool phases)."""
    top = [s for s in scan.starts if s.level == 0]
    return top if top else [s for s in scan.starts if s.level == 1]


def _sections(scan: ScanResult) -> list[Section]:
    all_starts = sorted(sections_starts(scan), key=lambda s: s.line)
    out = []
    for i, s in enumerate(all_starts):
        if not s.name:
            continue
        j = i + 1
        while j < len(all_starts) and all_starts[j].line <= s.line:
            j += 1
        nxt = all_starts[j] if j < len(all_starts) else None
        end = nxt.line - 1 if nxt else max(scan.lines, s.line)
        finished = nxt.ts if nxt and nxt.ts else (scan.last_ts if nxt is None else None)
        out.append(
            Section(
                name=s.name,
                start_line=s.line,
                end_line=max(s.line, end),
                started_at=s.ts,
                finished_at=finished,
            )
        )
    return out


def _failed_step(sections: list[Section], scan: ScanResult, anchor: Candidate) -> FailedStep | None:
    if scan.fmt is LogFormat.TRAVIS:
        for t in scan.terminals:
            if t.text.startswith("The command "):
                name = t.text.split('"', 2)[1] if t.text.count('"') >= 2 else t.text
                for s in sections:
                    if s.name == name and s.start_line <= t.line:
                        return FailedStep(name=name, start_line=s.start_line, end_line=t.line)
    target = anchor.line
    terms = [t.line for t in scan.terminals if t.line >= anchor.line]
    for s in sections:
        if s.start_line <= target <= s.end_line:
            return FailedStep(name=s.name, start_line=s.start_line, end_line=s.end_line)
    if terms:
        for s in sections:
            if s.start_line <= terms[0] <= s.end_line:
                return FailedStep(name=s.name, start_line=s.start_line, end_line=s.end_line)
    return None


def _category(
    cause: CauseMatch | None, ranked: list[Candidate], anchor: Candidate, scan: ScanResult
) -> Category:
    if cause is not None:
        return cause.category
    for t in scan.terminals:
        if t.category in (Category.TIMEOUT, Category.CANCELLED, Category.RUNNER_LOST):
            return t.category
    if anchor.category is not None:
        return anchor.category
    votes: dict[Category, float] = {}
    for c in ranked[:10]:
        if c.category is not None:
            votes[c.category] = votes.get(c.category, 0.0) + c.score
    if votes:
        return max(votes.items(), key=lambda kv: kv[1])[0]
    return Category.UNKNOWN


def _no_failure(info: LogInfo, sections: list[Section], t0: float) -> Diagnosis:
    return Diagnosis(
        log=info,
        failed_step=None,
        error_lines=(),
        excerpt=None,
        category=Category.NONE,
        transient=False,
        confidence=0.5,
        signature="",
        cause=None,
        summary="no failure found",
        elapsed_ms=round((time.perf_counter() - t0) * 1000, 2),
        sections=tuple(sections),
    )
