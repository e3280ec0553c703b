"""Values and rules of JUnit-style reports, for :mod:`cimedic.inputs.junit_stream`: ``time``
and ``timestamp`` attributes, outcome texts, the capped problem list, and the merge of repeated
``<testcase>`` executions. The rules themselves are documented in :mod:`cimedic.inputs.junit`.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element

from cimedic.model.ci import TestStatus
from cimedic.model.vocab import TEST_STATUS_MAP, test_status_of

MAX_DETAILS_CHARS = 64 * 1024
MAX_PROBLEMS = 200  # per report; the rest are counted in one closing line

_FAILING = frozenset({TestStatus.FAILED, TestStatus.ERROR})
_EXTRA_STATUS_WORDS = {"notrun": TestStatus.SKIPPED, "suppressed": TestStatus.SKIPPED}
_TRUNCATED = "\n[... truncated by cimedic: {} more characters]"


class Problems:
    """Problems of one report: the first :data:`MAX_PROBLEMS` kept, the rest counted."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.more = 0

    def append(self, problem: str) -> None:
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(problem)
        else:
            self.more += 1

    def final(self) -> tuple[str, ...]:
        closing = (f"... and {self.more} more problems",) if self.more else ()
        return (*self.kept, *closing)


# --------------------------------------------------------------------------- values


_THOUSANDS_COMMA = re.compile(r"^[+-]?[1-9]\d{0,2}(,\d{3})+$")  # "1,234" (Surefire 2.x grouping)


def seconds(raw: str | None, what: str, problems: Problems) -> float | None:
    """``time`` attribute → seconds; ``None`` when absent, ``None`` + a problem when unusable."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip().replace("_", "")
    if "," in text and "." in text:  # the last separator is the decimal point
        text = (
            text.replace(",", "")
            if text.rfind(".") > text.rfind(",")
            else text.replace(".", "").replace(",", ".")
        )
    elif _THOUSANDS_COMMA.match(text):
        text = text.replace(",", "")
    else:
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        problems.append(f"{what}: time={raw!r} is not a duration in seconds; left empty")
        return None
    return value


def timestamp(raw: str | None, what: str, problems: Problems) -> datetime | None:
    """ISO 8601 ``timestamp`` → aware UTC datetime (zone-less values are taken as UTC)."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if text.upper().endswith("UTC"):
        text = text[:-3].strip() + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        problems.append(f"{what}: timestamp={raw!r} is not an ISO 8601 time; left empty")
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def outcome_text(elem: Element) -> str | None:
    """Text of an outcome element: its own text, else that of a ``<stackTrace>`` child."""
    parts = [elem.text or ""]
    parts += [child.text or "" for child in elem if local_name(child.tag) == "stackTrace"]
    text = "\n".join(p.strip() for p in parts if p.strip())
    return text or None


def clip(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_DETAILS_CHARS:
        return text
    return text[:MAX_DETAILS_CHARS] + _TRUNCATED.format(len(text) - MAX_DETAILS_CHARS)


def local_name(tag: Any) -> str:
    """Tag without a ``{namespace}`` prefix (comments and PIs have non-str tags)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def shared(text: str | None) -> str | None:
    """One string object per distinct class name / file (they repeat across cases)."""
    return sys.intern(text) if text else text


def attr_status(elem: Element) -> TestStatus | None:
    for attr in ("status", "result"):
        word = (elem.get(attr) or "").strip().lower()
        if word in TEST_STATUS_MAP:
            return test_status_of(word)
        if word in _EXTRA_STATUS_WORDS:
            return _EXTRA_STATUS_WORDS[word]
    return None


@dataclass(slots=True)
class CaseRun:
    """One ``<testcase>`` execution as read: the fields of :class:`TestCase`, compactly."""

    number: int
    name: str
    classname: str | None
    file: str | None
    status: TestStatus
    duration: float | None
    retries: int
    message: str | None
    failure_type: str | None
    details: str | None


def merge_repeats(runs: Sequence[CaseRun], keep_details: bool = True) -> list[CaseRun]:
    """Merge repeated ``(classname, name)`` executions of one suite (rules: the module doc of
    :mod:`cimedic.inputs.junit`); ``keep_details=False`` leaves the merged details empty.

    Order: each group of repeats where its first execution was, the other cases in place. Only
    the repeats are grouped; finding them takes one hash per case (a group per case would add
    about 200 bytes per case at the close of a suite of hundreds of thousands)."""
    seen: set[int] = set()
    twice: set[int] = set()
    for run in runs:
        key_hash = hash((run.classname, run.name))
        (twice if key_hash in seen else seen).add(key_hash)
    seen.clear()
    if not twice:
        return list(runs)
    groups: dict[tuple[str | None, str], list[CaseRun]] = {}
    for run in runs:
        if hash(key := (run.classname, run.name)) in twice:
            groups.setdefault(key, []).append(run)
    merged: list[CaseRun] = []
    for run in runs:
        group = groups.get((run.classname, run.name))
        if group is None:
            merged.append(run)
        elif group[0] is run:  # the whole group goes where its first execution was
            merged.extend(_merge_group(group, keep_details))
    return merged


def _merge_group(group: list[CaseRun], keep_details: bool) -> list[CaseRun]:
    statuses = [run.status for run in group]
    if len(group) == 1 or TestStatus.SKIPPED in statuses or not _FAILING.intersection(statuses):
        return group
    first_fail = next(i for i, s in enumerate(statuses) if s in _FAILING)
    passed_later = any(s in (TestStatus.PASSED, TestStatus.FLAKY) for s in statuses[first_fail:])
    failing = [(i, run) for i, run in enumerate(group, 1) if run.status in _FAILING]
    last_fail = failing[-1][1]
    details = "\n\n".join(
        f"[execution {i} of {len(group)}: {run.status.value}]\n{run.details or run.message or ''}".rstrip()
        for i, run in failing
    )
    durations = [run.duration for run in group if run.duration is not None]
    return [
        replace(
            group[0],
            status=TestStatus.FLAKY if passed_later else group[-1].status,
            retries=len(group) - 1 + sum(run.retries for run in group),
            duration=sum(durations) if durations else None,
            message=last_fail.message,
            failure_type=last_fail.failure_type,
            details=clip(details) if keep_details else None,
        )
    ]


__all__ = [
    "MAX_DETAILS_CHARS",
    "MAX_PROBLEMS",
    "CaseRun",
    "Problems",
    "attr_status",
    "clip",
    "local_name",
    "merge_repeats",
    "outcome_text",
    "seconds",
    "shared",
    "timestamp",
]
