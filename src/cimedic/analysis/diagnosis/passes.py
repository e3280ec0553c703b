"""The two passes of :class:`~.engine.Diagnoser` over a log: the source that replays or
re-reads it, and the second pass that reads only the lines around the best candidates."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from cimedic.analysis.diagnosis.text import clean_line
from cimedic.model import LogFormat
from cimedic.model.batches import LineBatch, normalize_breaks

BatchSource = Callable[[], Iterable[LineBatch]]
CONTEXT_LINES = 110  # lines read on each side of an anchor in the second pass
_CACHE_BYTES = 16 * 1024 * 1024  # logs up to this size are replayed from memory


class CachingSource:
    """Replays a small log from memory on the second pass; re-reads a big one from the
    batch that holds the first wanted line (sources that accept ``start=(offset, line)``
    seek there, others are read from the beginning)."""

    def __init__(self, source: BatchSource) -> None:
        self._source = source
        self._cache: list[LineBatch] | None = []
        self._size = 0
        self._index: list[tuple[int, int]] = []  # (first_line, offset) of every batch

    def first(self) -> Iterator[LineBatch]:
        for batch in self._source():
            self._index.append((batch.first_line, batch.offset))
            if self._cache is not None:
                self._size += len(batch.data)
                if self._size <= _CACHE_BYTES:
                    self._cache.append(batch)
                else:
                    self._cache = None
            yield batch

    def again(self, from_line: int = 1) -> Iterable[LineBatch]:
        if self._cache is not None:
            return self._cache
        start = None
        for first_line, offset in self._index:
            if first_line <= from_line:
                start = (offset, first_line)
        if start is not None:  # resumed, even at offset 0: the reader then does not mark lone "\r"
            try:
                return self._source(start=start)  # type: ignore[call-arg]
            except TypeError:
                pass
        return self._source()


def windows(lines: list[int], total: int) -> list[tuple[int, int]]:
    spans = [(max(1, n - CONTEXT_LINES), min(total, n + CONTEXT_LINES)) for n in lines]
    spans.append((max(1, total - 40), total))
    return spans


def fetch_lines(source: CachingSource, spans: list[tuple[int, int]], fmt: LogFormat) -> dict[int, str]:
    """Second pass: cleaned text of the lines inside ``spans`` (inclusive ranges).

    Overlapping spans are merged and each is read on its own, so a big log is re-read only
    around the wanted lines.
    """
    out: dict[int, str] = {}
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    for lo, hi in merged:
        for batch in source.again(lo):
            first = batch.first_line
            if first > hi:
                break
            data = normalize_breaks(batch.data)
            # the last line of the batch (a final "\n" ends it; it starts no new line)
            last = first + data.count(b"\n") - (1 if data.endswith(b"\n") else 0)
            if last < lo:
                continue
            lines = data.split(b"\n")
            for n in range(max(lo, first), min(hi, last) + 1):
                i = n - first
                if 0 <= i < len(lines) and n not in out:
                    out[n] = clean_line(lines[i], fmt)[0]
    return out
