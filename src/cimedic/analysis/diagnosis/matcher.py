"""Multi-pattern matching engines (one Protocol, two implementations).

:class:`HyperscanMatcher` compiles all patterns into one Hyperscan database (Intel's
multi-pattern regex engine, GB/s on x86-64); :class:`ReMatcher` is the portable fallback
built on Python ``re`` that gives the same answers, slower. Hyperscan is an optional
dependency, imported lazily.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol


class Matcher(Protocol):
    """Finds which of a fixed list of patterns occur in a byte string."""

    def line_ends(self, data: bytes) -> list[int]:
        """Sorted, de-duplicated end offsets of all matches in ``data``."""
        ...

    def matching_ids(self, data: bytes) -> set[int]:
        """Indexes of the patterns that match anywhere in ``data``."""
        ...


class ReMatcher:
    """Pure-Python matcher: one alternation for scanning, one regex per id for matching."""

    def __init__(self, patterns: Sequence[str], caseless: Sequence[bool], multiline: bool = False) -> None:
        flags = re.M if multiline else 0
        self._each = [re.compile(p.encode(), flags | (re.I if ci else 0)) for p, ci in zip(patterns, caseless, strict=True)]
        parts = [f"(?i:{p})" if ci else f"(?:{p})" for p, ci in zip(patterns, caseless, strict=True)]
        self._any = re.compile("|".join(parts).encode(), flags) if parts else None

    def line_ends(self, data: bytes) -> list[int]:
        if self._any is None:
            return []
        return [m.end() for m in self._any.finditer(data)]

    def matching_ids(self, data: bytes) -> set[int]:
        return {i for i, rx in enumerate(self._each) if rx.search(data)}


class HyperscanMatcher:
    """Hyperscan-backed matcher (block mode); raises ``ImportError`` if unavailable."""

    def __init__(self, patterns: Sequence[str], caseless: Sequence[bool], multiline: bool = False) -> None:
        import hyperscan

        self._hs: Any = hyperscan
        base = hyperscan.HS_FLAG_ALLOWEMPTY
        if multiline:
            base |= hyperscan.HS_FLAG_MULTILINE
        exprs = [p.encode() for p in patterns]
        ids = list(range(len(exprs)))
        scan_flags = [base | (hyperscan.HS_FLAG_CASELESS if ci else 0) for ci in caseless]
        self._scan_db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._scan_db.compile(expressions=exprs, ids=ids, elements=len(exprs), flags=scan_flags)
        one_flags = [f | hyperscan.HS_FLAG_SINGLEMATCH for f in scan_flags]
        self._one_db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._one_db.compile(expressions=exprs, ids=ids, elements=len(exprs), flags=one_flags)
        self._scratch = hyperscan.Scratch(self._scan_db)
        self._scratch2 = hyperscan.Scratch(self._one_db)

    def line_ends(self, data: bytes) -> list[int]:
        ends: list[int] = []
        append = ends.append
        nl = data.find
        state = [-1]  # end of the line of the last recorded match

        def on_match(_id: int, _start: int, end: int, _flags: int, _ctx: object) -> bool | None:
            if end <= state[0]:
                return None
            append(end)
            a = nl(b"\n", end)
            b = nl(b"\r", end)
            if a < 0:
                a = len(data)
            state[0] = b if 0 <= b < a else a
            return None

        if data:
            self._scan_db.scan(data, match_event_handler=on_match, scratch=self._scratch)
        return ends

    def matching_ids(self, data: bytes) -> set[int]:
        found: set[int] = set()

        def on_match(pid: int, _start: int, _end: int, _flags: int, _ctx: object) -> bool | None:
            found.add(pid)
            return None

        if data:
            self._one_db.scan(data, match_event_handler=on_match, scratch=self._scratch2)
        return found


class HybridMatcher:
    """Hyperscan for the patterns it accepts, Python ``re`` for the rest; same answers."""

    def __init__(self, fast: Matcher, fast_ids: list[int], slow: Matcher, slow_ids: list[int]) -> None:
        self._fast, self._fast_ids, self._slow, self._slow_ids = fast, fast_ids, slow, slow_ids

    def line_ends(self, data: bytes) -> list[int]:
        return sorted(set(self._fast.line_ends(data)) | set(self._slow.line_ends(data)))

    def matching_ids(self, data: bytes) -> set[int]:
        return {self._fast_ids[i] for i in self._fast.matching_ids(data)} | {
            self._slow_ids[i] for i in self._slow.matching_ids(data)
        }


def build_matcher(patterns: Sequence[str], caseless: Sequence[bool], multiline: bool = False) -> Matcher:
    """Hyperscan when it imports (patterns it rejects go to a ``re`` fallback), else ``re``."""
    try:
        return HyperscanMatcher(patterns, caseless, multiline)
    except ImportError:
        return ReMatcher(patterns, caseless, multiline)
    except Exception:
        pass
    ok: list[int] = []
    bad: list[int] = []
    for i, (p, ci) in enumerate(zip(patterns, caseless, strict=True)):
        try:
            HyperscanMatcher([p], [ci], multiline)
            ok.append(i)
        except Exception:
            bad.append(i)
    if not ok:
        return ReMatcher(patterns, caseless, multiline)
    fast = HyperscanMatcher([patterns[i] for i in ok], [caseless[i] for i in ok], multiline)
    slow = ReMatcher([patterns[i] for i in bad], [caseless[i] for i in bad], multiline)
    return HybridMatcher(fast, ok, slow, bad)
