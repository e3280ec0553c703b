"""What the findings analyzers report, generically (any analyzer, built-in or plug-in: see
:mod:`cimedic.services.analyzers`):

- :class:`AnalyzerResult`: what one refresh of an analyzer found (``refresh_findings``);
- :class:`FindingsSection`: one analyzer's part of the summary that ``cimedic stats`` and the
  reports show (counts with their labels, a note, the top lines, the command that shows more);
- :class:`FindingsSummary`: the sections in order (failure clusters first, then the analyzers).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FindingLine(_Frozen):
    """One finding worth a line: what (``title``), where, and the command that shows more."""

    kind: str
    title: str
    detail: str = ""
    command: str = ""


class FindingCount(_Frozen):
    """One count of findings: ``key`` (stable, for JSON consumers: ``flaky_tests``), ``count``,
    and the words people read: ``singular`` (``flaky test``) and ``plural`` (``flaky tests``)."""

    key: str
    count: int
    singular: str
    plural: str

    @property
    def text(self) -> str:
        """``1 flaky test``, ``2 flaky tests``, ``0 flaky tests``."""
        return f"{self.count} {self.singular if self.count == 1 else self.plural}"


class AnalyzerResult(_Frozen):
    """What one refresh of analyzer ``name`` found: its counts and a one-phrase ``text`` for
    people (``1 flaky, 1 broken``; empty: the counts joined)."""

    name: str
    counts: tuple[FindingCount, ...] = ()
    text: str = ""

    def count(self, key: str) -> int | None:
        """The count of ``key``, or ``None`` when the result has none of that key."""
        return next((c.count for c in self.counts if c.key == key), None)

    @property
    def line(self) -> str:
        """``text``, or the counts joined (``1 flaky, 1 broken``)."""
        return self.text or ", ".join(c.text for c in self.counts)


class FindingsSection(_Frozen):
    """One kind of findings in the summary: ``name`` (the analyzer's registry id, or
    ``clusters``), ``title`` for people (``failure clusters``), the ``command`` that shows
    them, the ``counts`` over the window, a ``note`` (``model risk-...``; may be empty) and
    the ``top`` lines (at most the summary's ``top`` per section)."""

    name: str
    title: str
    command: str = ""
    counts: tuple[FindingCount, ...] = ()
    note: str = ""
    top: tuple[FindingLine, ...] = ()

    def count(self, key: str) -> int | None:
        """The count of ``key``, or ``None`` when the section has none of that key."""
        return next((c.count for c in self.counts if c.key == key), None)

    @property
    def text(self) -> str:
        """The counts joined, then the note: ``1 flaky test, 2 flaky jobs; model ...``."""
        counts = ", ".join(c.text for c in self.counts)
        return "; ".join(part for part in (counts, self.note) if part)


class FindingsSummary(_Frozen):
    """The stored findings over the stats window, one section per kind: failure clusters
    (assigned at ingest), then each analyzer in registry order (flaky, anomalies, culprits,
    failure risk, then plug-ins by name). ``problems``: analyzers whose summary failed or
    plug-ins that could not be loaded (one line each); their sections are missing."""

    sections: tuple[FindingsSection, ...] = ()
    problems: tuple[str, ...] = ()

    def section(self, name: str) -> FindingsSection | None:
        return next((s for s in self.sections if s.name == name), None)

    def count(self, name: str, key: str) -> int | None:
        """The count ``key`` of section ``name`` (``count("flaky", "flaky_tests")``), or ``None``."""
        section = self.section(name)
        return section.count(key) if section is not None else None

    @property
    def top(self) -> tuple[FindingLine, ...]:
        """The top lines of every section, in section order."""
        return tuple(line for s in self.sections for line in s.top)
