"""Batches of whole log lines, the unit the diagnosis analyzer consumes.

A line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (Java ``readLine`` semantics).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from io import IncrementalNewlineDecoder
from itertools import accumulate, chain, repeat
from operator import add, sub

BREAK_RE = re.compile(rb"\r\n|\r|\n")


def count_breaks(data: bytes, start: int = 0, end: int | None = None) -> int:
    """Number of line breaks in ``data[start:end]`` (``\\r\\n`` counts once)."""
    if end is None:
        end = len(data)
    return data.count(b"\n", start, end) + data.count(b"\r", start, end) - data.count(b"\r\n", start, end)


def split_lines(data: bytes) -> list[bytes]:
    """Split raw bytes into lines without their breaks (no empty last element)."""
    parts = BREAK_RE.split(data)
    if parts and parts[-1] == b"":
        parts.pop()
    return parts


def normalize_breaks(data: bytes) -> bytes:
    """Replace ``\\r\\n`` and lone ``\\r`` by ``\\n`` (same line count, one break byte)."""
    if b"\r" not in data:
        return data
    # io's universal-newline translator (C, one pass) over a lossless latin-1 view of the
    # bytes: a third faster than two bytes.replace calls on logs with a break every line
    return normalize_text_breaks(data.decode("latin-1")).encode("latin-1")


def normalize_text_breaks(text: str) -> str:
    """:func:`normalize_breaks` for text (``\\r\\n`` and lone ``\\r`` become ``\\n``)."""
    return IncrementalNewlineDecoder(None, translate=True).decode(text, final=True)


# a lone "\r" and the rest of its LF line (a "\r" followed by "\n" is the CR of a CRLF)
_LONE_CR_RUN = re.compile(rb"\r(?:[^\n]+|\Z)")

LoneCrRuns = tuple[tuple[int, ...], tuple[int, ...]]
"""Lines that ended at a lone ``\\r``: (0-based first line of each run, length of each run)."""


def lone_cr_runs(data: bytes | bytearray, end: int | None = None) -> LoneCrRuns:
    """The lines of ``data[:end]`` whose break is a lone ``\\r`` (not ``\\r\\n``), as runs.

    Lines are numbered from 0 as :func:`normalize_breaks` leaves them (every break one
    ``\\n``). These lines share their *LF line* (the numbering of editors and of GitHub's and
    Travis's log pages, where only ``\\n`` ends a line) with the line after them; the lone
    ``\\r`` of one LF line (a progress bar) are one run of consecutive lines. Returns
    ``(firsts, lengths)``; a ``\\r`` at ``end`` is a lone one. The regular expression's
    search over the bytes costs most (about 10 ms an 8 MiB batch, measured on the Travis logs
    of ``bench/diagnosis_speed.py``); the work a run is done in C (``map``, ``accumulate``).
    The reader calls this only for batches that hold a lone ``\\r``.
    """
    if end is None:
        end = len(data)
    spans = list(map(re.Match.span, _LONE_CR_RUN.finditer(data, 0, end)))
    if not spans:
        return (), ()
    starts = [a for a, _ in spans]
    ends = [b for _, b in spans]
    crs = list(map(data.count, repeat(b"\r"), starts, ends))
    # a run that stops before a "\n" and ends with "\r": that "\r" belongs to the "\r\n"
    crlf = list(map(data.endswith, repeat(b"\r"), starts, ends))
    if ends[-1] == end:
        crlf[-1] = False  # the batch ends there: a final "\r" is a lone one
    lengths = tuple(map(sub, crs, crlf))
    newlines = accumulate(map(data.count, repeat(b"\n"), chain((0,), ends), starts))
    before = accumulate(chain((0,), lengths[:-1]))
    return tuple(map(add, newlines, before)), lengths


@dataclass(frozen=True, slots=True)
class LineBatch:
    """Raw bytes of consecutive whole lines; ``first_line`` is the 1-based number of the first.

    Line breaks are normalized to ``\\n`` by the producer (:func:`normalize_breaks`), so
    lines are counted with ``data.count(b"\\n")``; content bytes are untouched. Only a batch
    cut inside an over-long line (or the last batch of a file without a final break) does
    not end with a break.
    """

    first_line: int
    data: bytes
    offset: int = 0  # byte offset of the batch in the (decompressed) original, for re-reading
    # the lines (0-based from ``first_line``) whose break was a lone "\r" in the original, as
    # runs (see :func:`lone_cr_runs`); empty when there was none or it is not known
    lone_cr: LoneCrRuns = ((), ())

    @classmethod
    def from_lines(cls, lines: Iterable[str], first_line: int = 1) -> LineBatch:
        """Build a batch from text lines (joined with ``\\n``), e.g. in tests."""
        text = "".join(f"{line}\n" for line in lines)
        return cls(first_line, text.encode("utf-8", "surrogateescape"))


def batches_from_bytes(data: bytes, batch_bytes: int = 8 * 1024 * 1024) -> Iterator[LineBatch]:
    """Cut an in-memory log into :class:`LineBatch` es at line breaks."""
    line = 1
    pos = 0
    n = len(data)
    while pos < n:
        end = min(pos + batch_bytes, n)
        if end < n:
            cut = data.rfind(b"\n", pos, end)
            if cut < 0:
                cut = data.rfind(b"\r", pos, end - 1)
            end = cut + 1 if cut >= 0 else end
        chunk = data[pos:end]
        lone = lone_cr_runs(chunk) if b"\r" in chunk else ((), ())
        chunk = normalize_breaks(chunk)
        yield LineBatch(line, chunk, 0, lone)
        line += chunk.count(b"\n")
        pos = end
