"""The output of a failed CI step, without the CI system's own bookkeeping lines.

When the only failure evidence is the CI system's "step failed" marker (``##[error]Process
completed with exit code 1.``, ``The command "make" exited with 2.``), the excerpt is the
last output of the failed step. The lines the CI system writes around that output are not
part of it:

- GitHub Actions opens every ``run`` step with a header group: ``##[group]Run CMD``, the
  command, ``shell: /usr/bin/bash -e {0}``, ``env:`` and indented ``KEY: value`` lines (or
  ``with:`` and the action's inputs), then ``##[endgroup]`` (the runner's log format; see
  "Workflow commands for GitHub Actions", ``group`` / ``endgroup``). A step that printed
  nothing ends at that ``##[endgroup]``: its output is empty, not its header.
- Travis CI writes ``travis_time:`` and ``travis_fold:`` markers around each command.

A passing log given as ``--baseline`` can demote every output line of the failed step
(they occur in the passing run too); the marker then anchors the excerpt and these rules keep
the header lines out of it and out of ``error_lines``.
"""

from __future__ import annotations

_GROUP = "##[group]"
_ENDGROUP = "##[endgroup]"
_BOOKKEEPING_HEADS = (_GROUP, _ENDGROUP, "travis_time:", "travis_fold:")
TAIL_LINES = 12  # at most this many lines: the last paragraph of the command's output


def is_bookkeeping(text: str) -> bool:
    """True for a line the CI system writes around a step's output (group and fold markers)."""
    return text.startswith(_BOOKKEEPING_HEADS)


def step_tail(marker: int, texts: dict[int, str], starts: list[int]) -> tuple[int, int]:
    """Inclusive 1-based ``(start, end)`` of the failed step's last output lines.

    ``marker`` is the line of the CI failure marker, ``texts`` the cleaned lines known by
    number (a missing line counts as blank), ``starts`` the first lines of the steps. Returns
    ``(marker, marker)`` when the step printed nothing: its last non-blank line before the
    marker is the ``##[endgroup]`` that closes its own ``##[group]Run`` header (no other
    group opened in between), or there is no line before the marker inside the step.
    """
    begin = max([s for s in starts if s < marker] or [1])
    end = marker - 1
    while end > begin:
        text = texts.get(end, "")
        if text.startswith(_ENDGROUP) and not _group_between(texts, begin + 1, end):
            return marker, marker  # the step's own header: it printed nothing
        if text.strip() and not is_bookkeeping(text):
            break
        end -= 1
    if end < begin or is_bookkeeping(texts.get(end, "")):
        return marker, marker
    start = end
    while start - 1 >= max(begin, end - (TAIL_LINES - 1)):
        text = texts.get(start - 1, "")
        if not text.strip() or is_bookkeeping(text):
            break
        start -= 1
    return start, end


def _group_between(texts: dict[int, str], first: int, last: int) -> bool:
    """A ``##[group]`` line among ``first..last - 1`` (a group the step's command opened)."""
    return any(texts.get(n, "").startswith(_GROUP) for n in range(first, last))
