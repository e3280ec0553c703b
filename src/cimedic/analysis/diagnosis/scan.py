"""First pass over a log: candidate error lines and step/section structure, streaming.

Only lines that match the loose prefilter (see :mod:`.patterns`) are decoded and scored;
everything else is counted and skipped, so memory is bounded by the batch size plus the
capped candidate list, whatever the log size.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from cimedic.analysis.diagnosis.kb import CompiledKB
from cimedic.analysis.diagnosis.lflines import LfMap
from cimedic.analysis.diagnosis.matcher import DatabaseCache, HyperscanMatcher, Matcher, build_matcher
from cimedic.analysis.diagnosis.patterns import LINE_PATTERNS, PREFILTER, Kind, LinePattern
from cimedic.analysis.diagnosis.text import clean_line, parse_ts
from cimedic.model import Category, LogFormat
from cimedic.model.batches import LineBatch, normalize_breaks

MAX_CANDIDATES = 20000  # kept in full; beyond it only the strongest and the latest are kept
_EVIDENCE_MEMO = 4096  # distinct sets of matching pattern ids remembered (a log has few hundred)
TEXT_MEMO = 20000  # cleaned lines whose scores a Scanner remembers (0: none); emptied when full
_TEXT_MEMO_CHARS = 1000  # only lines up to this length are remembered (bounds the memory)
_STRUCTURE_PREFILTER = (
    r"^\$ ",
    r"\[0K\$ ",
    r"Post job cleanup",
    r"\[Pipeline\] \{ \(",
)


@dataclass(slots=True)
class Candidate:
    """A line that matched the prefilter, with its evidence."""

    line: int
    text: str
    base: float
    noise: float
    kinds: frozenset[Kind]
    category: Category | None
    patterns: tuple[str, ...]
    causes: tuple[str, ...]
    in_header: bool = False
    score: float = 0.0


@dataclass(slots=True)
class SectionStart:
    """A step/section boundary seen in the log (level 0: CI step, 1: build-tool phase)."""

    line: int
    name: str
    level: int
    ts: datetime | None = None


@dataclass
class ScanResult:
    """Everything the first pass learnt about a log."""

    fmt: LogFormat
    candidates: list[Candidate] = field(default_factory=list)
    terminals: list[Candidate] = field(default_factory=list)
    starts: list[SectionStart] = field(default_factory=list)
    lines: int = 0
    bytes: int = 0
    last_ts: datetime | None = None
    dropped: int = 0
    lf: LfMap = field(default_factory=LfMap)  # lines that ended at a lone "\r" (LF numbering)


Evidence = tuple[float, float, frozenset[Kind], Category | None, tuple[str, ...], tuple[str, ...]]
# evidence, whether the line is a candidate (some weight or a cause), whether it is a terminal marker
Judged = tuple[Evidence, bool, bool]


class LineScorer:
    """Compiled prefilter and line patterns (build once, reuse for many logs)."""

    def __init__(self, kb: CompiledKB, cache: DatabaseCache | None = None) -> None:
        pre = list(PREFILTER) + list(_STRUCTURE_PREFILTER) + kb.prefilter_patterns()
        self.prefilter: Matcher = build_matcher(
            pre, [True] * len(pre), multiline=True, cache=cache, use="ends"
        )
        self.patterns: tuple[LinePattern, ...] = LINE_PATTERNS
        # one database for the generic line patterns and the knowledge base: one scan a line
        singles = kb.single_patterns()
        self._n_generic = len(self.patterns)
        self._cause_of = [cid for cid, _, _ in singles]
        exprs = [p.regex for p in self.patterns] + [body for _, body, _ in singles]
        flags = [p.caseless for p in self.patterns] + [ci for _, _, ci in singles]
        self.line_matcher: Matcher = build_matcher(exprs, flags, cache=cache, use="ids")
        self.kb = kb
        # evidence depends only on the set of matching ids (and, for ties, on the set's
        # iteration order, which the insertion order fixes): it is remembered per id sequence
        self._memo: dict[tuple[int, ...], Judged] = {}
        m = self.line_matcher
        self._ids: Callable[[bytes], list[int]] | None = (
            m.id_scanner() if isinstance(m, HyperscanMatcher) else None
        )

    def score_texts(self, texts: list[str]) -> list[Evidence]:
        """:meth:`score_text` for many lines.

        One scan per line: scanning the lines joined in multi-line mode was tried and
        dropped, as Hyperscan then missed some matches (seen with the full pattern set).
        """
        return [self.score_bytes(t.encode("utf-8", "replace")) for t in texts]

    def score_text(self, text: str) -> Evidence:
        """Evidence for one cleaned line: (base, noise, kinds, category hint, pattern ids, cause ids)."""
        return self.score_bytes(text.encode("utf-8", "replace"))

    def score_bytes(self, data: bytes) -> Evidence:
        """:meth:`score_text` of a cleaned line given as UTF-8 bytes."""
        return self.judge_bytes(data)[0]

    def judge_bytes(self, data: bytes) -> Judged:
        """:meth:`score_bytes` plus whether the line is a candidate and a terminal marker."""
        if self._ids is not None:
            key = tuple(self._ids(data))
            got = self._memo.get(key)
            if got is None:
                got = self._remember(key, set(key))
            return got
        ids = self.line_matcher.matching_ids(data)
        key = tuple(ids)
        got = self._memo.get(key)
        if got is None:
            got = self._remember(key, ids)
        return got

    def _remember(self, key: tuple[int, ...], ids: set[int]) -> Judged:
        ev = self._evidence(ids)
        got = (ev, ev[0] > 0 or bool(ev[5]), Kind.TERMINAL in ev[2])
        if len(self._memo) >= _EVIDENCE_MEMO:
            self._memo.clear()
        self._memo[key] = got
        return got

    def _evidence(self, ids: set[int]) -> Evidence:
        base = 0.0
        noise = 0.0
        second = 0.0
        kinds: set[Kind] = set()
        category: Category | None = None
        cat_weight = -1.0
        top_kind: Kind | None = None
        names: list[str] = []
        cause_ids: set[str] = set()
        for i in ids:
            if i >= self._n_generic:
                cause_ids.add(self._cause_of[i - self._n_generic])
                continue
            p = self.patterns[i]
            names.append(p.id)
            kinds.add(p.kind)
            if p.weight < 0:
                noise = min(noise, p.weight)
                continue
            if p.weight > base:
                second = base
                base = p.weight
                top_kind = p.kind
            elif p.weight > second:
                second = p.weight
            if p.category is not None and p.weight > cat_weight:
                category, cat_weight = p.category, p.weight
        if second:
            base += min(1.0, second / 8)
        causes = tuple(sorted(cause_ids, key=lambda cid: (-self.kb.causes[cid].priority, cid)))
        if causes:
            # a known cause is strong evidence, less so on a tool's summary line
            base = max(base, 6.0) + (0.5 if top_kind is Kind.SUMMARY else 1.5)
            kinds.add(Kind.ERROR)
        return base, noise, frozenset(kinds), category, tuple(sorted(names)), causes


_MARKER_HEADS = (
    "##[",
    "Post job cleanup",
    "section_",
    "travis_",
    "$ ",
    "[Pipeline] ",
    "[INFO] --- ",
    "> Task :",
)
_GHA_RUN = re.compile(r"^##\[group\]Run (.*)")
_GITLAB_START = re.compile(r"^section_start:(\d+):([^\s\[]+)")
_GITLAB_END = re.compile(r"^section_end:(\d+):([^\s\[]+)")
_TRAVIS_FOLD = re.compile(r"^travis_fold:(start|end):(\S+)")
_JENKINS_STAGE = re.compile(r"^\[Pipeline\] \{ \((.*)\)$")
_MAVEN_GOAL = re.compile(r"^\[INFO\] --- (\S+?)(:[\d.]+\S*)?:(\S+) \((\S+)\) @ (\S+) ---")
_GRADLE_TASK = re.compile(r"^> Task (:\S+)")


class Scanner:
    """Runs the first pass of :func:`~cimedic.analysis.diagnosis.engine.diagnose`."""

    def __init__(self, scorer: LineScorer, fmt: LogFormat) -> None:
        self.scorer = scorer
        self.fmt = fmt
        self.res = ScanResult(fmt)
        self._in_header = False
        self._fold_depth = 0
        self._gitlab_depth = 0
        self._last_step: str | None = None
        self._heap: list[tuple[float, int, Candidate]] = []
        self._first_ts: datetime | None = None
        # cleaned text -> what the scorer said (a log repeats many lines); bounded
        self._text_memo: dict[str, Judged] = {}

    def feed(self, batches: Iterable[LineBatch]) -> ScanResult:
        """Consume all batches and return the scan result."""
        last_data = b""
        first = True
        for batch in batches:
            if first and batch.data:
                first = False
                self._first_ts = parse_ts(clean_line(_first_line(batch.data), self.fmt)[1])
            breaks = self._batch(batch)
            self.res.bytes += len(batch.data)
            last_data = batch.data or last_data
            self.res.lines = batch.first_line - 1 + breaks
        if last_data and last_data[-1:] not in (b"\n", b"\r"):
            self.res.lines += 1
        if last_data:
            when = parse_ts(clean_line(_last_line(last_data), self.fmt)[1])
            self.res.last_ts = when or self.res.last_ts
        for s in self.res.starts:
            if s.line == 1 and s.ts is None:
                s.ts = self._first_ts
        if self._heap:
            extra = [c for _, _, c in self._heap]
            self.res.candidates = sorted(extra + self.res.candidates, key=lambda c: c.line)
        return self.res

    def _batch(self, batch: LineBatch) -> int:
        """Scan one batch; returns the number of ``\\n`` in ``batch.data``."""
        data = batch.data
        if self.fmt is LogFormat.GH_RUN_VIEW:
            self._gh_steps(batch)
        if batch.lone_cr[0]:  # lines that ended at a lone "\r" (LF numbering, see .lflines)
            self.res.lf.add(batch.first_line, batch.lone_cr)
        data = normalize_breaks(data)  # a no-op for batches from the reader
        ends = self.scorer.prefilter.line_ends(data)
        if not ends:
            return batch.data.count(b"\n")
        ends.sort()  # already in order as a rule; the line walk below needs it
        n = len(data)
        find = data.find
        rfind = data.rfind
        count = data.count
        fmt = self.fmt
        judge = self.scorer.judge_bytes
        memo = self._text_memo
        memo_chars = _TEXT_MEMO_CHARS if TEXT_MEMO > 0 else -1
        cands = self.res.candidates
        terminals = self.res.terminals
        line = batch.first_line  # number of the line that starts at ``pos``
        pos = 0
        stop = -1  # end (break offset) of the last line handled
        for end in ends:
            # the line holding the last byte of the match (a break belongs to its line)
            last = end - 1 if end > 0 else 0
            if last <= stop:
                continue  # a further match on the line just handled
            start = rfind(b"\n", 0, last) + 1
            stop = find(b"\n", last)
            if stop < 0:
                stop = n
            line += count(b"\n", pos, start)
            pos = start
            text, ts, _ = clean_line(data[start:stop], fmt)
            if not text:
                continue  # blank (cleaned text is right-stripped)
            if text.startswith(_MARKER_HEADS) and self._structure(text, line, ts):
                continue
            got = memo.get(text)
            if got is None:
                got = judge(text.encode("utf-8", "replace"))
                if len(text) <= memo_chars:
                    if len(memo) >= TEXT_MEMO:
                        memo.clear()
                    memo[text] = got
            if got[1]:
                ev = got[0]
                cand = Candidate(line, text, ev[0], ev[1], ev[2], ev[3], ev[4], ev[5], self._in_header)
                if got[2]:
                    terminals.append(cand)
                cands.append(cand)
                if len(cands) > MAX_CANDIDATES:
                    self._spill()
        if data is not batch.data:
            return batch.data.count(b"\n")
        return line - batch.first_line + count(b"\n", pos)

    def _gh_steps(self, batch: LineBatch) -> None:
        line = batch.first_line
        for raw in normalize_breaks(batch.data).split(b"\n"):
            tab = raw.find(b"\t")
            if tab >= 0:
                tab2 = raw.find(b"\t", tab + 1)
                if tab2 > 0:
                    step = raw[tab + 1 : tab2].decode("utf-8", "replace")
                    if step != self._last_step:
                        _, ts, _ = clean_line(raw, self.fmt)
                        self.res.starts.append(SectionStart(line, step, 0, parse_ts(ts)))
                        self._last_step = step
            line += 1

    def _spill(self) -> None:
        """Past ``MAX_CANDIDATES``: move the older half into a bounded heap of the strongest."""
        cands = self.res.candidates
        if len(cands) > MAX_CANDIDATES:
            half = cands[: MAX_CANDIDATES // 2]
            del cands[: MAX_CANDIDATES // 2]
            for c in half:
                item = (c.base + c.noise, -c.line, c)
                if len(self._heap) < MAX_CANDIDATES // 2:
                    heapq.heappush(self._heap, item)
                else:
                    if heapq.heappushpop(self._heap, item) is not item:
                        self.res.dropped += 1
                    else:
                        self.res.dropped += 1

    def _structure(self, text: str, line: int, ts: str) -> bool:
        """Track step boundaries; True when the line is a pure marker (not a candidate)."""
        starts = self.res.starts
        if not text.startswith(_MARKER_HEADS):
            return False
        when = parse_ts(ts) if ts else None
        if text.startswith("##[group]"):
            m = _GHA_RUN.match(text)
            if m and self.fmt is not LogFormat.GH_RUN_VIEW:
                if not starts and line > 1:
                    starts.append(SectionStart(1, "Set up job", 0, self._first_ts))
                starts.append(SectionStart(line, m.group(1).strip()[:200], 0, when))
            self._in_header = m is not None
            return True
        if text.startswith("##[endgroup]"):
            self._in_header = False
            return True
        if text.startswith("Post job cleanup") and self.fmt is LogFormat.GITHUB_ACTIONS:
            starts.append(SectionStart(line, "Post job cleanup", 0, when))
            return True
        if text.startswith("section_"):
            m = _GITLAB_START.match(text)
            if m:
                if self._gitlab_depth == 0:
                    starts.append(SectionStart(line, m.group(2), 0, _epoch(m.group(1))))
                self._gitlab_depth += 1
                return True
            m = _GITLAB_END.match(text)
            if m:
                self._gitlab_depth = max(0, self._gitlab_depth - 1)
                if self._gitlab_depth == 0:
                    starts.append(SectionStart(line + 1, "", 0, _epoch(m.group(1))))
                return True
        if text.startswith("travis_"):
            m = _TRAVIS_FOLD.match(text)
            if m:
                if m.group(1) == "start":
                    if self._fold_depth == 0:
                        starts.append(SectionStart(line, m.group(2), 0, when))
                    self._fold_depth += 1
                else:
                    self._fold_depth = max(0, self._fold_depth - 1)
                return True
            return text.startswith("travis_time:")
        if text.startswith("$ ") and self._fold_depth == 0 and self.fmt is LogFormat.TRAVIS:
            starts.append(SectionStart(line, text[2:].strip()[:200], 0, when))
            return True
        if text.startswith("[Pipeline] "):
            m = _JENKINS_STAGE.match(text)
            if m:
                starts.append(SectionStart(line, m.group(1)[:200], 0, when))
            elif text.startswith("[Pipeline] // stage"):
                starts.append(SectionStart(line + 1, "", 0, when))  # end of the stage
            return True
        if text.startswith("[INFO] --- "):
            m = _MAVEN_GOAL.match(text)
            if m:
                starts.append(
                    SectionStart(line, f"{m.group(1)}:{m.group(3)} ({m.group(4)}) @ {m.group(5)}", 1, when)
                )
                return True
        if text.startswith("> Task :"):
            m = _GRADLE_TASK.match(text)
            if m and " FAILED" not in text:
                starts.append(SectionStart(line, m.group(1), 1, when))
                return True
        return False


def _first_line(data: bytes) -> bytes:
    cut = min((i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0), default=len(data))
    return data[: min(cut, 4096)]


def _last_line(data: bytes) -> bytes:
    body = data.rstrip(b"\r\n")
    cut = max(body.rfind(b"\n"), body.rfind(b"\r")) + 1
    return body[cut : cut + 4096]


def _epoch(value: str) -> datetime | None:
    from datetime import UTC

    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def repetition_penalty(count: int) -> float:
    """Demotion of a line whose masked text repeats ``count`` times in the log."""
    return 0.0 if count <= 3 else min(3.0, 0.8 * math.log2(count / 3))
