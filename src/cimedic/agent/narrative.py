"""An optional, grounded LLM narrative on top of a computed report (``cimedic report --narrative``).

The model gets the report's figures (never log text) and is asked for a short paragraph. The
narrative is **kept only when every number in it comes from the report**; otherwise it is
dropped and the reason says which numbers were invented.

Number-matching rule (:func:`allowed_numbers`, :func:`numbers_in`):

- a number in the text is a run of digits with an optional decimal part (``12``, ``12.5``,
  ``1,234``: thousands separators are removed), optionally followed by ``%``; digits inside
  words or ISO dates/times of the report's period are not numbers (``p95``, ``2024-05-01``,
  ``14:00``);
- an integer figure ``n`` allows ``n``;
- a rate ``r`` (a fraction, names ending ``rate`` or starting ``change.``) allows its percentage
  ``100 r`` rounded to 0 or 1 decimal, with or without ``%``;
- any other figure ``x`` (seconds, means) allows ``x`` rounded to 0, 1 or 2 decimals, and its
  value in minutes (``x / 60``) rounded to 0 or 1 decimal;
- the numbers 0 and 1 are always allowed ("one cluster", "0 failures" carry no figure), as is
  the period length (1 or 7, 24).

Numbers written as words are not checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cimedic.agent.llm.base import LLMClient, LLMError, Message
from cimedic.model.reports import Report

__all__ = ["NarrativeResult", "allowed_numbers", "check_grounded", "grounded_narrative", "numbers_in"]

MAX_TOKENS = 120
_NUMBER = re.compile(r"(?<![\w.\-:/])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(%?)(?![\w\-:/]|\.\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?|\d{2}:\d{2}")
_ALWAYS = {"0", "1", "7", "24"}


@dataclass(frozen=True)
class NarrativeResult:
    """``text`` is the kept narrative or None; ``reason`` why it was dropped; ``invented`` the
    numbers found in the text that no figure allows."""

    text: str | None
    reason: str | None = None
    invented: tuple[str, ...] = ()


def _norm(text: str) -> str:
    value = float(text)
    s = f"{value:.6f}".rstrip("0").rstrip(".")
    return s or "0"


def _forms(name: str, value: float) -> set[str]:
    out: set[str] = set()
    if value == int(value) and not name.endswith("rate"):
        out.add(_norm(str(int(value))))
    if name.endswith("rate") or name.startswith("change."):
        pct = value * 100
        for d in (0, 1):
            out.add(_norm(f"{abs(pct):.{d}f}"))
    else:
        for d in (0, 1, 2):
            out.add(_norm(f"{value:.{d}f}"))
        for d in (0, 1):
            out.add(_norm(f"{value / 60:.{d}f}"))
    return out


def allowed_numbers(report: Report) -> set[str]:
    """Every normalised number form the report's figures allow (rule in the module docstring)."""
    out = set(_ALWAYS)
    for name, value in report.figures().items():
        out |= _forms(name, value)
    return out


def numbers_in(text: str) -> list[str]:
    """The numbers of ``text`` (normalised: no thousands separators, no trailing zeros),
    leaving out dates and times."""
    cleaned = _DATE.sub(" ", text)
    return [_norm(m[1].replace(",", "") + (f".{m[2]}" if m[2] else "")) for m in _NUMBER.finditer(cleaned)]


def check_grounded(text: str, report: Report) -> tuple[str, ...]:
    """The numbers of ``text`` no figure of ``report`` allows (empty: grounded)."""
    allowed = allowed_numbers(report)
    return tuple(dict.fromkeys(n for n in numbers_in(text) if n not in allowed))


def _facts(report: Report) -> str:
    c, p = report.current, report.previous
    lines = [
        f"period: {report.period.value}" + (f", repository {report.repository}" if report.repository else ""),
        f"runs: {c.runs} (previous {p.runs}); succeeded {c.succeeded}, failed {c.failed}",
    ]
    if c.failure_rate is not None:
        lines.append(f"failure rate: {c.failure_rate * 100:.1f}%")
    if c.duration_mean_seconds is not None:
        lines.append(f"mean run duration: {c.duration_mean_seconds:.0f} seconds")
    lines.append(f"failure clusters: {report.new_clusters} new, {report.recurring_clusters} recurring")
    for cl in report.clusters[:3]:
        lines.append(f"- cluster '{cl.title}': {cl.occurrences} occurrences")
    lines.append(f"anomalies: {len(report.anomalies)}; actions: {len(report.actions)}")
    lines += [f"health {h.repository}: {h.state.value}" for h in report.health]
    return "\n".join(lines)


def grounded_narrative(report: Report, llm: LLMClient, *, max_tokens: int = MAX_TOKENS) -> NarrativeResult:
    """Ask ``llm`` for a 2-3 sentence narrative of ``report`` and keep it only when grounded.

    Never raises for the model: :class:`LLMError` (and ``LLMUnavailable``) give a dropped
    narrative with the reason.
    """
    messages = [
        Message(
            "system",
            "You summarise CI reports for engineers in 2-3 plain sentences. "
            "Use only the numbers given; do not compute new ones.",
        ),
        Message("user", _facts(report)),
    ]
    try:
        result = llm.complete_text(messages, max_tokens=max_tokens, temperature=0.0)
    except LLMError as exc:
        return NarrativeResult(None, f"model unavailable: {exc}")
    text = result.text.strip()
    if not text:
        return NarrativeResult(None, "the model returned no text")
    invented = check_grounded(text, report)
    if invented:
        return NarrativeResult(None, f"numbers not in the report: {', '.join(invented)}", invented)
    return NarrativeResult(text)
