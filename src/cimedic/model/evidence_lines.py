"""Which log lines may be cited as evidence of a failure (pure).

A diagnosis ranks error lines by score; some of them only record what the runner or a tool
was doing and never explain a failure, even when they hold an error word:

- a module download: ``go: downloading github.com/x/y v1.2.3+incompatible`` (the Go command
  prints one per module it fetches; ``cmd/go`` "Module downloading");
- the step's own script echoed back: GitHub prints a ``run:`` script under its
  ``##[group]Run …`` header, so ``echo >&2 "ERROR: …"`` appears once as script and once as
  output; ``set -x`` traces print it as ``+ echo …``; PowerShell's ``Write-Output`` /
  ``Write-Host`` and ``printf`` likewise;
- GitHub's log grouping commands ``##[group]`` and ``##[endgroup]`` (workflow commands
  "Grouping log lines").

:func:`is_bookkeeping` says whether a line is one of these; :func:`evidence_lines` picks the
cited lines of a diagnosis without them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cimedic.model.diagnosis import Diagnosis

__all__ = ["evidence_lines", "is_bookkeeping"]

_BOOKKEEPING = re.compile(
    r"^\s*(?:"
    r"##\[(?:group|endgroup)\]"
    r"|go: downloading\s"
    r"|(?:[+$]+\s*)?(?:echo|printf|Write-Output|Write-Host)(?:\s|$)"
    r")",
    re.IGNORECASE,
)


def is_bookkeeping(text: str) -> bool:
    """True when log line ``text`` (timestamp prefix removed) is a module download
    (``go: downloading …``), an echoed script command (``echo …``, ``+ echo …``, ``printf``,
    ``Write-Output``, ``Write-Host``, after optional ``+``/``$`` trace prefixes) or a
    ``##[group]`` / ``##[endgroup]`` line; such a line is never evidence."""
    return _BOOKKEEPING.match(text) is not None


def evidence_lines(diagnosis: Diagnosis, limit: int = 3) -> tuple[int, ...]:
    """Up to ``limit`` line numbers of ``diagnosis`` to cite as evidence, strongest first: its
    ranked error lines that are not :func:`is_bookkeeping`; empty when every error line is."""
    out: list[int] = []
    for e in diagnosis.error_lines:
        if len(out) >= limit:
            break
        if e.line not in out and not is_bookkeeping(e.text):
            out.append(e.line)
    return tuple(out)
