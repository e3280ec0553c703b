"""Domain types of a failure diagnosis (the result of ``cimedic analyze``).

All line numbers are 1-based and count lines of the original file, where a line ends at
``\\n``, ``\\r\\n`` or a lone ``\\r`` (as Java's ``BufferedReader.readLine`` counts), except
the ``lf_*`` fields: they number *LF lines*, where only ``\\n`` ends a line (editors, ``awk``,
GitHub's and Travis's log pages), so a log with lone ``\\r`` progress output has fewer of them.
An ``lf_*`` field is ``None`` in a diagnosis stored before the field existed (and past the
limit of :data:`cimedic.analysis.diagnosis.lflines.MAX_RUNS`): readers then show the contract
number. Times are timezone-aware UTC ``datetime`` values; durations are seconds.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Category(StrEnum):
    """Failure category of a diagnosis or a knowledge-base cause (exactly these values)."""

    COMPILATION = "compilation"
    DEPENDENCY = "dependency"
    TEST = "test"
    LINT = "lint"
    TYPE_CHECK = "type_check"
    SECURITY_SCAN = "security_scan"
    WORKFLOW_CONFIG = "workflow_config"
    SECRETS_ENV = "secrets_env"
    PERMISSIONS = "permissions"
    RUNNER_LOST = "runner_lost"
    OOM = "oom"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    NETWORK = "network"
    REGISTRY = "registry"
    RATE_LIMIT = "rate_limit"
    DISK = "disk"
    INFRASTRUCTURE = "infrastructure"
    UNKNOWN = "unknown"
    NONE = "none"


CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)


class LogFormat(StrEnum):
    """Dialect of a CI log; ``auto`` is resolved by detection before analysis."""

    GITHUB_ACTIONS = "github-actions"
    GH_RUN_VIEW = "gh-run-view"
    GITHUB_ZIP = "github-zip"
    GITLAB = "gitlab"
    JENKINS = "jenkins"
    TRAVIS = "travis"
    PLAIN = "plain"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FailureCause(_Frozen):
    """One entry of the knowledge base of failure causes.

    ``patterns`` are Python regular expressions; a pattern containing a newline (or the
    ``(?m)``/``(?s)`` flags) is matched across consecutive lines (multi-line pattern), the
    others line by line. ``transient`` is true when a re-run is expected to pass.
    """

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str
    category: Category
    description: str = ""
    patterns: tuple[str, ...] = Field(min_length=1)
    transient: bool = False
    fix: str = ""
    references: tuple[str, ...] = ()
    priority: int = 0
    source: str = "bundled"

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:  # pragma: no cover - message path tested via loader
                raise ValueError(f"pattern {pattern!r} does not compile: {exc}") from exc
        return value

    @property
    def is_multiline(self) -> bool:
        """True when one of the patterns spans several lines."""
        return any("\n" in p or "\\n" in p for p in self.patterns)


class Section(_Frozen):
    """A step, group or stage of a log: ``[start_line, end_line]`` inclusive."""

    name: str
    start_line: int
    end_line: int
    started_at: datetime | None = None
    lf_start_line: int | None = None
    lf_end_line: int | None = None
    finished_at: datetime | None = None

    @property
    def duration_s(self) -> float | None:
        """Wall-clock seconds between the first and last timestamp of the section."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class ErrorLine(_Frozen):
    """A ranked error line: ``text`` without ANSI codes or timestamp prefix, <= 500 chars."""

    line: int
    text: str
    score: float
    lf_line: int | None = None


class Excerpt(_Frozen):
    """Inclusive line window a person reads to understand the failure."""

    start_line: int
    end_line: int
    lf_start_line: int | None = None
    lf_end_line: int | None = None


class FailedStep(_Frozen):
    """The step or section that failed, with inclusive line range."""

    name: str
    start_line: int
    end_line: int
    lf_start_line: int | None = None
    lf_end_line: int | None = None


class EvidenceKind(StrEnum):
    """What makes a log line deterministic evidence of a failure (a re-run repeats it).

    The rule is :func:`cimedic.analysis.diagnosis.evidence.deterministic_evidence`.
    """

    ASSERTION = "assertion"  # an assertion message (AssertionError, expected/got, t.Errorf, pytest "E")
    COMPILER = "compiler"  # a compiler, type checker or linker diagnostic
    LINTER = "linter"  # a linter diagnostic (file:line: rule)
    EXCEPTION = "exception"  # a panic or a named exception that is not a network error
    FORMATTER = "formatter"  # a formatter's diff or "would reformat"


class Evidence(_Frozen):
    """A line of deterministic evidence: ``line`` (1-based) and what kind it is (no text)."""

    line: int
    kind: EvidenceKind
    lf_line: int | None = None


class CauseMatch(_Frozen):
    """A knowledge-base cause matched on a log line."""

    id: str
    name: str
    fix: str
    category: Category
    transient: bool
    line: int
    lf_line: int | None = None


class LogInfo(_Frozen):
    """Where the analysed log came from: ``lines`` as defined above, ``bytes`` decompressed,
    ``lf_lines`` the number of LF lines."""

    path: str
    format: LogFormat
    lines: int
    bytes: int
    lf_lines: int | None = None


class Diagnosis(_Frozen):
    """The result of analysing one CI log (the JSON contract of ``cimedic analyze``).

    ``confidence`` is in [0, 1]; ``signature`` is 32 lowercase hex characters (first 16
    bytes of SHA-256 of the masked primary error text), empty when no failure was found.
    ``deterministic_evidence``: the failure's lines that a re-run would repeat (assertion,
    compiler/linter diagnostic, non-network exception, formatter diff), strongest first; when
    it is not empty, ``transient`` is false. Diagnoses stored before the field existed read
    as ``()``. ``excerpt_lf_lines``: the LF line of each of ``excerpt_lines`` (same order;
    ``()`` when not known).
    """

    log: LogInfo
    failed_step: FailedStep | None
    error_lines: tuple[ErrorLine, ...]
    excerpt: Excerpt | None
    category: Category
    transient: bool
    confidence: float
    signature: str
    cause: CauseMatch | None
    summary: str
    elapsed_ms: float = 0.0
    sections: tuple[Section, ...] = ()
    excerpt_lines: tuple[tuple[int, str], ...] = ()
    deterministic_evidence: tuple[Evidence, ...] = ()
    excerpt_lf_lines: tuple[int | None, ...] = ()
