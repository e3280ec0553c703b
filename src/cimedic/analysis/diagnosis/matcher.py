"""Multi-pattern matching engines (one Protocol, two implementations).

:class:`HyperscanMatcher` compiles all patterns into one Hyperscan database (Intel's
multi-pattern regex engine, GB/s on x86-64); :class:`ReMatcher` is the portable fallback
built on Python ``re`` that gives the same answers, slower. Hyperscan is an optional
dependency, imported lazily.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol


class Matcher(Protocol):
    """Finds which of a fixed list of patterns occur in a byte string."""

    def line_ends(self, data: bytes) -> list[int]:
        """End offsets of matches in ``data``, in order; at least one per matching line.

        ``data`` uses ``\\n`` as its only line break.
        """
        ...

    def matching_ids(self, data: bytes) -> set[int]:
        """Indexes of the patterns that match anywhere in ``data``."""
        ...


class ReMatcher:
    """Pure-Python matcher: one alternation for scanning, one regex per id for matching."""

    def __init__(self, patterns: Sequence[str], caseless: Sequence[bool], multiline: bool = False) -> None:
        flags = re.M if multiline else 0
        self._each = [
            re.compile(p.encode(), flags | (re.I if ci else 0))
            for p, ci in zip(patterns, caseless, strict=True)
        ]
        parts = [f"(?i:{p})" if ci else f"(?:{p})" for p, ci in zip(patterns, caseless, strict=True)]
        self._any = re.compile("|".join(parts).encode(), flags) if parts else None

    def line_ends(self, data: bytes) -> list[int]:
        if self._any is None:
            return []
        return [m.end() for m in self._any.finditer(data)]

    def matching_ids(self, data: bytes) -> set[int]:
        return {i for i, rx in enumerate(self._each) if rx.search(data)}


class DatabaseCache(Protocol):
    """Stores compiled pattern databases between runs (an injected I/O adapter)."""

    def get(self, key: str) -> bytes | None:
        """Serialized database for ``key`` or None."""
        ...

    def put(self, key: str, blob: bytes) -> None:
        """Remember a serialized database (errors are ignored by implementations)."""
        ...


class HyperscanMatcher:
    """Hyperscan-backed matcher (block mode); raises ``ImportError`` if unavailable.

    Each database is compiled on first use (compiling a few hundred patterns takes about a
    second); with a :class:`DatabaseCache` the serialized database is reused across runs.
    """

    def __init__(
        self,
        patterns: Sequence[str],
        caseless: Sequence[bool],
        multiline: bool = False,
        cache: DatabaseCache | None = None,
        eager: str = "",
    ) -> None:
        import hyperscan

        self._hs: Any = hyperscan
        base = hyperscan.HS_FLAG_ALLOWEMPTY
        if multiline:
            base |= hyperscan.HS_FLAG_MULTILINE
        self._exprs = [p.encode() for p in patterns]
        self._flags = [base | (hyperscan.HS_FLAG_CASELESS if ci else 0) for ci in caseless]
        self._cache = cache
        self._dbs: dict[bool, tuple[Any, Any]] = {}
        if eager:  # compile now ("ends" or "ids"): raises on a pattern Hyperscan rejects
            self._db(eager == "ids")

    def _key(self, single: bool) -> str:
        import hashlib

        h = hashlib.sha256(repr((self._exprs, self._flags, single, self._hs.__version__)).encode())
        return h.hexdigest()[:32]

    def _db(self, single: bool) -> tuple[Any, Any]:
        got = self._dbs.get(single)
        if got is not None:
            return got
        hs = self._hs
        db = None
        key = self._key(single)
        if self._cache is not None:
            blob = self._cache.get(key)
            if blob:
                try:
                    db = hs.loadb(blob, mode=hs.HS_MODE_BLOCK)
                except Exception:
                    db = None
        if db is None:
            flags = [f | hs.HS_FLAG_SINGLEMATCH for f in self._flags] if single else self._flags
            db = hs.Database(mode=hs.HS_MODE_BLOCK)
            db.compile(
                expressions=self._exprs,
                ids=list(range(len(self._exprs))),
                elements=len(self._exprs),
                flags=flags,
            )
            if self._cache is not None:
                self._cache.put(key, hs.dumpb(db))
        pair = (db, hs.Scratch(db))
        self._dbs[single] = pair
        return pair

    def line_ends(self, data: bytes) -> list[int]:
        ends: list[int] = []
        if not data:
            return ends
        db, scratch = self._db(False)
        append = ends.append
        find = data.find
        size = len(data)
        limit = -1  # end of the line of the last recorded match

        def on_match(_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            nonlocal limit
            if end > limit:
                append(end)
                a = find(b"\n", end)
                limit = a if a >= 0 else size

        db.scan(data, on_match, 0, None, scratch)
        return ends

    def matching_ids(self, data: bytes) -> set[int]:
        found: set[int] = set()
        if not data:
            return found
        db, scratch = self._db(True)

        def on_match(pid: int, _start: int, _end: int, _flags: int, _ctx: object) -> bool | None:
            found.add(pid)
            return None

        db.scan(data, match_event_handler=on_match, scratch=scratch)
        return found

    def id_scanner(self) -> Callable[[bytes], list[int]]:
        """A reusable :meth:`matching_ids` for hot loops: each call returns the ids in the
        order Hyperscan reports them (each once), in a list that the next call overwrites.

        ``set(ids)`` is exactly the set :meth:`matching_ids` builds (same insertion order);
        one callback and one result list serve all calls, which saves their set-up per line.
        """
        db, scratch = self._db(True)
        scan = db.scan
        hits: list[int] = []
        append = hits.append
        clear = hits.clear

        def on_match(pid: int, _start: int, _end: int, _flags: int, _ctx: object) -> None:
            append(pid)

        def run(data: bytes) -> list[int]:
            clear()
            if data:
                scan(data, on_match, 0, None, scratch)  # (data, handler, flags, context, scratch)
            return hits

        return run


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


def build_matcher(
    patterns: Sequence[str],
    caseless: Sequence[bool],
    multiline: bool = False,
    cache: DatabaseCache | None = None,
    use: str = "ids",
) -> Matcher:
    """Hyperscan when it imports (patterns it rejects go to a ``re`` fallback), else ``re``.

    ``use`` says which operation will be called (``ids``: :meth:`Matcher.matching_ids`,
    ``ends``: :meth:`Matcher.line_ends`), so that only that database is compiled. Patterns
    are checked one by one only when the whole set fails to compile.
    """
    try:
        return HyperscanMatcher(patterns, caseless, multiline, cache, eager=use)
    except ImportError:
        return ReMatcher(patterns, caseless, multiline)
    except Exception:
        pass
    ok: list[int] = []
    bad: list[int] = []
    for i, (p, ci) in enumerate(zip(patterns, caseless, strict=True)):
        try:
            HyperscanMatcher([p], [ci], multiline, eager=use)
            ok.append(i)
        except Exception:
            bad.append(i)
    if not ok:
        return ReMatcher(patterns, caseless, multiline)
    fast = HyperscanMatcher([patterns[i] for i in ok], [caseless[i] for i in ok], multiline, cache)
    slow = ReMatcher([patterns[i] for i in bad], [caseless[i] for i in bad], multiline)
    return HybridMatcher(fast, ok, slow, bad)
