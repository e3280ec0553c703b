"""Matching a knowledge base of failure causes against log lines.

Modelled on the Jenkins Build Failure Analyzer (``FailureCause``: name, description,
categories, single- or multi-line regex indications). Single-line patterns are matched on
every candidate line through one multi-pattern matcher; multi-line patterns on the window
of lines around the failure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cimedic.analysis.diagnosis.matcher import DatabaseCache, Matcher, ReMatcher, build_matcher
from cimedic.model import FailureCause

_CASELESS_PREFIX = "(?i)"


def _split_flags(pattern: str) -> tuple[str, bool]:
    if pattern.startswith(_CASELESS_PREFIX):
        return pattern[len(_CASELESS_PREFIX) :], True
    return pattern, False


def _is_multiline(pattern: str) -> bool:
    return "\\n" in pattern or "\n" in pattern or pattern.startswith(("(?m)", "(?s)", "(?ms)", "(?sm)"))


@dataclass(frozen=True)
class KBHit:
    """A cause matched at a line (1-based)."""

    cause_id: str
    line: int


class CompiledKB:
    """A knowledge base ready for matching; causes keep their order of priority.

    ``causes`` with a higher ``priority`` win over others matched on the same line.
    """

    def __init__(self, causes: Sequence[FailureCause], cache: DatabaseCache | None = None) -> None:
        self.causes: dict[str, FailureCause] = {c.id: c for c in causes}
        single: list[tuple[str, str, bool]] = []
        multi: list[tuple[str, re.Pattern[str]]] = []
        for cause in causes:
            for pattern in cause.patterns:
                if _is_multiline(pattern):
                    multi.append((cause.id, re.compile(pattern, re.M)))
                else:
                    body, caseless = _split_flags(pattern)
                    single.append((cause.id, body, caseless))
        self._single_ids = [cid for cid, _, _ in single]
        self._multi = multi
        self._matcher: Matcher | None = None
        if single:
            exprs = [body for _, body, _ in single]
            flags = [ci for _, _, ci in single]
            try:
                self._matcher = build_matcher(exprs, flags, cache=cache, use="ids")
            except re.error:
                self._matcher = ReMatcher(exprs, flags)
        self._single = single

    def single_patterns(self) -> list[tuple[str, str, bool]]:
        """``(cause id, pattern body, caseless)`` of every single-line pattern."""
        return list(self._single)

    def prefilter_patterns(self) -> list[str]:
        """Single-line patterns (bodies), so that their lines are always candidates."""
        return [body for _, body, _ in self._single if _hyperscan_safe(body)]

    def match_line(self, data: bytes) -> tuple[str, ...]:
        """Ids of causes whose single-line patterns match ``data`` (UTF-8 text), by priority."""
        if self._matcher is None:
            return ()
        ids = self._matcher.matching_ids(data)
        if not ids:
            return ()
        found = {self._single_ids[i] for i in ids}
        return tuple(sorted(found, key=lambda cid: (-self.causes[cid].priority, cid)))

    def match_window(self, lines: Sequence[tuple[int, str]]) -> list[KBHit]:
        """Multi-line cause hits in consecutive ``(line number, text)`` pairs."""
        if not self._multi or not lines:
            return []
        text = "\n".join(t for _, t in lines)
        offsets = []
        pos = 0
        for _, t in lines:
            offsets.append(pos)
            pos += len(t) + 1
        hits = []
        for cid, rx in self._multi:
            m = rx.search(text)
            if m:
                idx = max(0, _bisect(offsets, m.start()))
                hits.append(KBHit(cid, lines[idx][0]))
        return hits


def _bisect(offsets: list[int], pos: int) -> int:
    import bisect

    return bisect.bisect_right(offsets, pos) - 1


def _hyperscan_safe(body: str) -> bool:
    # look-arounds and back-references are not supported by Hyperscan
    return not re.search(r"\(\?[=!<]|\\[1-9]", body)
