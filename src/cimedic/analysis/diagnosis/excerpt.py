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

MAX_EXCERPT = 100
MAX_UP = 40
MAX_BLANKS = 1
_CONTINUATION = re.compile(
    r"^(\s+\S|\s*at [\w.$<>]|\s*\.\.\. \d+ more|Caused by|\s*[\^~]+\s*$|\s*\|\s|E\s|\s*File \"|"
    r"\s*\d+ \||\s*-->|\s*= |\s*#\d+ |[-+]{3} |[-+]\S|[-+]$|@@ |\s*\(|\}|In file included from|Reason: |"
    r"\d{3}[+-] |Stack ?trace|Traceback|Call Stack|/[\w.@~+-]+/\S*:\d+\s*$|[\w.-]+\.\w+:\d+(:\d+)?\s*$|"
    r"[\w.-]+\.\w+:\d+(:\d+)?:? (in |at )|(Expected|Actual|Received|Difference|Diff)\b|\[\w+\] {2,}\S|\S+:\d+:in [`'\w]|(?i:stack ?trace)|#\s+\S+:\d+|\w*(Error|Exception):$)"
)
_STOP = re.compile(
    r"^(\$ |\+ |##\[(group|endgroup|section)|::(group|endgroup)|\[command\]|\[Pipeline\]|travis_|section_|The command \"|Done\. Your build exited"
    r"|Post job cleanup|Finished: |ERROR: Job failed|\[INFO\] ---|> Task :|BUILD (SUCCESS|FAILURE)|={5,}|-{20,}"
    r"|\[INFO\] (Tests run|Results|BUILD)|Ran \d+ tests?|npm ERR! (code|errno|A complete)|\s*(warnings summary|short test summary))"
)
_ITEM_HEADER = re.compile(
    "^\\s*(\\d+\\) \\S|[\u25cf\u2716\u2717\u2718\u00d7\u274c] |--- FAIL|FAIL:|ERROR:|Failure:|Error:|not ok \\d)"
)
_CARET = re.compile(r"^\s*[\^~]+\s*$")
_PYTEST_HEADER = re.compile(r"^_{3,} .+ _{3,}$")
_HEADER_END = re.compile(r"[:!]\s*$")
# cargo test (libtest): "test a::b ... FAILED" is printed before the "failures:" block that holds
# "---- a::b stdout ----", "thread 'a::b' panicked at src/lib.rs:10:5:" and the panic message
_CARGO_FAILED = re.compile(r"^test (\S+) \.\.\. FAILED\s*$")
_CARGO_PANIC_NOTE = re.compile(
    r"^note: run with `RUST_BACKTRACE|^stack backtrace:|^---- \S+ std(out|err) ----"
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

    ``texts`` maps line numbers to cleaned text (at least +-MAX_EXCERPT lines around the anchor),
    ``candidates`` the scored candidate lines, ``starts`` the step boundaries.
    """
    boundaries = {s.line for s in starts}
    start = end = anchor

    def stop(n: int) -> bool:
        t = texts[n]
        return n in boundaries or bool(_STOP.match(t)) or (n != anchor and bool(_PYTEST_HEADER.match(t)))

    # grow downwards over error lines, continuation lines and short blank gaps
    n = anchor + 1
    blanks = 0
    # after a header line ("Failure:", "rake aborted!") its paragraph belongs to the message
    paragraph = bool(_HEADER_END.search(texts.get(anchor, "")))
    while n in texts and n - start < MAX_EXCERPT and not stop(n):
        t = texts[n]
        if not t.strip():
            blanks += 1
            paragraph = False
            if blanks > MAX_BLANKS:
                break
            n += 1
            continue
        header = bool(_HEADER_END.search(t)) and blanks == 0
        c = candidates.get(n)
        if blanks and _is_errorish(c) and c is not None and Kind.ERROR not in c.kinds:
            break  # a summary after a blank line starts the next section ("1 problem", "3 tests")
        if _is_errorish(c) or _CONTINUATION.match(t) or paragraph or header:
            end = n
            blanks = 0
            paragraph = paragraph or bool(_HEADER_END.search(t))
            n += 1
            continue
        break
    # grow upwards: headers of indented blocks, adjacent error lines, a pytest section header
    n = anchor - 1
    cont = bool(_CONTINUATION.match(texts.get(anchor, "")))
    blanks = 0
    while n in texts and anchor - n <= MAX_UP and end - n < MAX_EXCERPT:
        t = texts[n]
        if (n + 1) in boundaries or _STOP.match(t):
            break
        if _PYTEST_HEADER.match(t):
            start = n
            break
        if not t.strip():
            blanks += 1
            above = n - 1
            caret = bool(_CARET.match(texts.get(above, "")))  # Node.js/V8: "file:line", code, "^", blank
            if blanks > 1 or not (cont or caret or _is_errorish(candidates.get(above))):
                break
            cont = cont or caret
            n -= 1
            continue
        if _is_errorish(candidates.get(n)) or cont:
            start = n
            blanks = 0
            if _ITEM_HEADER.match(t):
                break  # the header of this failure ("1) test ...", "● test", "--- FAIL")
            cont = bool(_CONTINUATION.match(t))
            n -= 1
            continue
        break
    return start, _cargo_panic_end(anchor, end, texts, boundaries)


def _cargo_panic_end(anchor: int, end: int, texts: Mapping[int, str], boundaries: set[int]) -> int:
    """With a libtest ``test x ... FAILED`` anchor, the end line of x's panic message below it
    (``thread 'x' panicked at ...`` and its message lines, up to a blank line or libtest's
    ``note: run with `RUST_BACKTRACE=1```), else ``end``. Format: Rust's libtest output."""
    m = _CARGO_FAILED.match(texts.get(anchor, ""))
    if m is None:
        return end
    head = f"thread '{m.group(1)}' panicked at"
    n = anchor + 1
    while n in texts and n - anchor < MAX_EXCERPT and n not in boundaries and not _STOP.match(texts[n]):
        if texts[n].startswith(head):
            n += 1
            while n in texts and n - anchor < MAX_EXCERPT and texts[n].strip():
                if _CARGO_PANIC_NOTE.match(texts[n]):
                    break
                n += 1
            return max(end, n - 1)
        n += 1
    return end
