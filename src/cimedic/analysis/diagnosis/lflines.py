"""LF line numbers: the numbering of editors and of GitHub's and Travis's log pages.

A diagnosis numbers lines as Java's ``readLine`` does (``\\n``, ``\\r\\n`` and a lone ``\\r``
end a line: the *contract* numbering of ``docs/analyze-json.md``). Editors, ``awk`` and the CI
web pages end a line only at ``\\n``, so a log with ``\\r`` progress output (a php-src Travis
log of LogChunks: 32,893 contract lines, 3,042 in an editor) has smaller *LF line* numbers
there. The LF line of
contract line ``L`` is ``L`` minus the number of lines before ``L`` that ended at a lone
``\\r`` (each such line shares its LF line with the next one).

:class:`LfMap` collects those lines while the log is scanned (from
:attr:`~cimedic.model.batches.LineBatch.lone_cr`) as runs of consecutive lines, and
:func:`with_lf_numbers` adds the LF numbers to a finished :class:`~cimedic.model.Diagnosis`.
"""

from __future__ import annotations

import bisect
from array import array
from itertools import accumulate, chain, repeat
from operator import add

from cimedic.model import Diagnosis
from cimedic.model.batches import LoneCrRuns

# Runs of lone-"\r" lines kept (16 bytes each: 32 MiB at most). A progress bar is one run: a
# 60 MB bench log of Travis jobs has 62,000 runs of 383,000 lines. Past the cap, the lines
# after the last run kept have no LF number (None).
MAX_RUNS = 1 << 21


class LfMap:
    """The contract lines that ended at a lone ``\\r``, as sorted runs of consecutive lines;
    answers :meth:`lf_line`. Batches must be added in increasing line order (as the scan
    meets them)."""

    __slots__ = ("_before", "_known_until", "_starts", "_total")

    def __init__(self) -> None:
        self._starts = array("q")  # first line of each run
        self._before = array("q")  # lone-"\r" lines before each run
        self._total = 0  # lone-"\r" lines in all runs
        self._known_until: int | None = None  # set when runs were dropped: last line answered

    def add(self, first_line: int, runs: LoneCrRuns) -> None:
        """Add a batch's :attr:`~cimedic.model.batches.LineBatch.lone_cr` (runs numbered from
        ``first_line``), in C (``map``, ``accumulate``), not line by line."""
        firsts, lengths = runs
        if self._known_until is not None or not firsts:
            return
        room = MAX_RUNS - len(self._starts)
        if len(firsts) > room:
            self._known_until = first_line + firsts[room]
            firsts, lengths = firsts[:room], lengths[:room]
        self._starts.extend(map(add, firsts, repeat(first_line)))
        self._before.extend(accumulate(chain((self._total,), lengths[:-1])))
        self._total += sum(lengths)

    @property
    def empty(self) -> bool:
        """No line ended at a lone ``\\r``: every LF line equals its contract line."""
        return not self._starts

    def lf_line(self, line: int) -> int | None:
        """The LF line (1-based) that holds contract line ``line``; ``None`` past the runs kept
        (see ``MAX_RUNS``). ``lf_line(0)`` is 0 (an empty log)."""
        if line <= 0:
            return 0
        if self._known_until is not None and line > self._known_until:
            return None
        starts, before = self._starts, self._before
        i = bisect.bisect_right(starts, line - 1) - 1  # the last run that starts before ``line``
        if i < 0:
            return line
        length = (before[i + 1] if i + 1 < len(starts) else self._total) - before[i]
        return line - before[i] - min(length, line - starts[i])


def with_lf_numbers(d: Diagnosis, lf: LfMap) -> Diagnosis:
    """``d`` with ``lf_line``/``lf_start_line``/``lf_end_line`` (and ``log.lf_lines``,
    ``excerpt_lf_lines``) filled in from ``lf``."""
    at = lf.lf_line
    update: dict[str, object] = {
        "log": d.log.model_copy(update={"lf_lines": at(d.log.lines)}),
        "error_lines": tuple(e.model_copy(update={"lf_line": at(e.line)}) for e in d.error_lines),
        "sections": tuple(
            s.model_copy(update={"lf_start_line": at(s.start_line), "lf_end_line": at(s.end_line)})
            for s in d.sections
        ),
        "deterministic_evidence": tuple(
            e.model_copy(update={"lf_line": at(e.line)}) for e in d.deterministic_evidence
        ),
        "excerpt_lf_lines": tuple(at(n) for n, _ in d.excerpt_lines),
    }
    if d.failed_step is not None:
        s = d.failed_step
        update["failed_step"] = s.model_copy(
            update={"lf_start_line": at(s.start_line), "lf_end_line": at(s.end_line)}
        )
    if d.excerpt is not None:
        x = d.excerpt
        update["excerpt"] = x.model_copy(
            update={"lf_start_line": at(x.start_line), "lf_end_line": at(x.end_line)}
        )
    if d.cause is not None:
        update["cause"] = d.cause.model_copy(update={"lf_line": at(d.cause.line)})
    return d.model_copy(update=update)
