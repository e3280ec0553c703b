"""The types of the line-pattern tables (:mod:`.patterns`, :mod:`.patterns_env`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cimedic.model import Category


class Kind(StrEnum):
    """What a line pattern says about its line."""

    ERROR = "error"  # an error message
    SUMMARY = "summary"  # a tool's failure summary ("3 failed", "BUILD FAILURE")
    TERMINAL = "terminal"  # the CI system's own "this step failed" marker
    CONTEXT = "context"  # part of a failure block (stack frame), weak on its own
    NOISE = "noise"  # looks like an error, is not one


@dataclass(frozen=True, slots=True)
class LinePattern:
    """One precise pattern: ``regex`` on a cleaned line, ``caseless`` for ``re.I``."""

    id: str
    regex: str
    weight: float
    kind: Kind = Kind.ERROR
    category: Category | None = None
    caseless: bool = False
