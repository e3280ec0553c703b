"""The excerpt: the smallest block of lines around the best error line that explains it.

Starting at the anchor line, the block grows over lines that belong to the same message:
other error lines, indented continuation lines (stack frames, compiler carets, assertion
details), and at most one blank line between them. It stops at shell commands, CI markers,
step boundaries and after ``MAX_EXCERPT`` lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from cimedic.analysis.diagnosis.patterns import Kind
from cimedic.analysis.diagnosis.scan import Candidate, SectionStart

MAX_EXCERPT = 40
MAX_UP = 12
_CONTINUATION = re.compile(
    r"^(\s+\S|\s*at [\w.$<>]|\s*\.\.\. \d+ more|Caused by|\s*[\^~]+\s*$|\s*\|\s|E\s|\s*File \"|"
    r"\s*\d+ \||\s*-->|\s*= |\s*#\d+ |\s*[-+] |Stack trace|stacktrace|\s*\(|\})"
)
_STOP = re.compile(
    r"^(\$ |\+ |##\[|::|\[command\]|\[Pipeline\]|travis_|section_|The command \"|Done\. Your build exited"
    r"|Post job cleanup|Finished: |ERROR: Job failed|\[INFO\] ---|> Task :|BUILD (SUCCESS|FAILURE)|={5,}|-{20,})"
)


def _is_errorish(c: Candidate | None) -> bool:
    return c is not None and c.score >= 3.0 and Kind.TERMINAL not in c.kinds


def build_excerpt(
    anchor: int,
    texts: Mapping[int, str],
    candidates: Mapping[int, Candidate],
    starts: Sequence[SectionStart],
) -> tuple[int, int]:
    """Inclusive ``(start_line, end_line)`` of the excerpt around ``anchor``.

    ``texts`` maps line numbers to cleaned text (at least +-80 lines around the anchor),
    ``candidates`` the scored candidate lines, ``starts`` the step boundaries.
    """
    boundaries = {s.line for s in starts}
    start = end = anchor
    anchor_text = texts.get(anchor, "")
    # grow downwards
    blank_run = 0
    n = anchor + 1
    while n in texts and n - start < MAX_EXCERPT:
        t = texts[n]
        if n in boundaries or _STOP.match(t):
            break
        c = candidates.get(n)
        if not t.strip():
            blank_run += 1
            if blank_run > 1:
                break
            n += 1
            continue
        if _is_errorish(c) or _CONTINUATION.match(t):
            end = n
            blank_run = 0
            n += 1
            continue
        break
    # grow upwards: a header for indented anchors, and adjacent error lines
    n = anchor - 1
    indented = bool(_CONTINUATION.match(anchor_text))
    while n in texts and anchor - n <= MAX_UP and end - n < MAX_EXCERPT:
        t = texts[n]
        if (n + 1) in boundaries or _STOP.match(t) or not t.strip():
            break
        c = candidates.get(n)
        if _is_errorish(c):
            start = n
            indented = bool(_CONTINUATION.match(t))
            n -= 1
            continue
        if indented:
            start = n
            indented = bool(_CONTINUATION.match(t))
            n -= 1
            continue
        break
    return start, end
