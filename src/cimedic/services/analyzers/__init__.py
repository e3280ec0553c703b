"""Extension point: findings analyzers (entry-point group ``cimedic.analyzers``).

An analyzer reads the stored history, stores its findings (``refresh``) and summarizes the
stored findings of a window (``summary``); :func:`cimedic.services.findings.refresh_findings`
and :func:`cimedic.services.findings.findings_summary` loop over the analyzers, one failing
analyzer never stopping the others. An analyzer receives the :class:`Store` and what it needs
from outside the store (:class:`AnalyzerDeps`), never the application context.

A new analyzer is one module with a factory ``make(deps: AnalyzerDeps) -> FindingsAnalyzer``,
one entry point naming it, and one test::

    [project.entry-points."cimedic.analyzers"]
    hello = "hello_plugin:make"

The built-ins (``flaky``, ``anomalies``, ``culprits``, ``risk``: one module each in this
package) register the same way in cimedic's ``pyproject.toml`` and run first, in that order;
plug-ins follow by name. A plug-in that cannot be imported, whose entry point is not callable,
or whose factory fails or returns something else than an analyzer named like its entry point,
is reported (:attr:`cimedic.plugins.Registry.problems`, ``build_analyzers(problems=...)``) and
skipped, never fatal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from cimedic.model.findings import AnalyzerResult, FindingsSection
    from cimedic.plugins import Registry
    from cimedic.services.culprits import CompareFn
    from cimedic.store.repository import Store

__all__ = [
    "BUILTINS",
    "GROUP",
    "AnalyzerDeps",
    "AnalyzerFactory",
    "FindingsAnalyzer",
    "analyzer_registry",
    "build_analyzers",
    "check_factory",
]

GROUP = "cimedic.analyzers"
BUILTINS = ("flaky", "anomalies", "culprits", "risk")
"""The built-in analyzers, in the order they run (before any plug-in)."""


@dataclass(frozen=True)
class AnalyzerDeps:
    """What an analyzer may need from outside the store. ``compare``: the CI provider's
    compare API (``compare(full_name, base_sha, head_sha)`` → commits, oldest first), or
    ``None`` when no provider client is configured (culprits then use the stored runs only)."""

    compare: CompareFn | None = None


@runtime_checkable
class FindingsAnalyzer(Protocol):
    """One analyzer of the stored history. ``name`` equals its entry point's name (its
    registry id: ``[a-z0-9_]{1,16}``).

    ``refresh`` analyses the runs of ``repository`` (``owner/name``; ``None``: every stored
    repository) created in the ``window`` before ``now`` (aware UTC), stores the findings and
    returns what it found. ``summary`` reads the stored findings of ``[since, now)`` (``since``
    ``None``: all) and returns its section with at most ``top`` lines. Both may raise; the
    callers report the exception as a problem and go on with the other analyzers.
    """

    @property
    def name(self) -> str: ...

    def refresh(
        self, store: Store, *, window: timedelta, now: datetime, repository: str | None = None
    ) -> AnalyzerResult: ...

    def summary(
        self,
        store: Store,
        *,
        since: datetime | None,
        now: datetime,
        repository: str | None = None,
        top: int = 3,
    ) -> FindingsSection: ...


AnalyzerFactory = Callable[[AnalyzerDeps], FindingsAnalyzer]
"""What a ``cimedic.analyzers`` entry point names: ``make(deps) -> FindingsAnalyzer``."""


def check_factory(name: str, obj: Any) -> AnalyzerFactory:
    """The factory an entry point loaded, checked: it is callable (``TypeError`` otherwise).
    What it builds is checked by :func:`build_analyzers`."""
    if not callable(obj):
        raise TypeError(f"{type(obj).__name__} object is not callable: not an analyzer factory make(deps)")
    return obj  # type: ignore[no-any-return]


@cache
def analyzer_registry() -> Registry[AnalyzerFactory]:
    """The installed analyzer factories (loaded once per process; broken plug-ins in
    ``problems``)."""
    from cimedic.plugins import load_registry

    return load_registry(GROUP, check_factory)


def _check_analyzer(plugin_id: str, analyzer: object) -> FindingsAnalyzer:
    if not isinstance(analyzer, FindingsAnalyzer):  # has name, refresh and summary
        raise TypeError(f"its factory returned a {type(analyzer).__name__}, not a FindingsAnalyzer")
    if analyzer.name != plugin_id:
        raise ValueError(f"its analyzer is named {analyzer.name!r}, not like the entry point")
    return analyzer


def build_analyzers(
    deps: AnalyzerDeps,
    registry: Registry[AnalyzerFactory] | None = None,
    *,
    problems: list[str] | None = None,
) -> list[FindingsAnalyzer]:
    """The analyzers of ``registry`` (default: :func:`analyzer_registry`) built with ``deps``:
    the :data:`BUILTINS` first in that order, then the others by name.

    Never raises for a broken plug-in: the registry's load problems, factories that fail or
    build something else than a :class:`FindingsAnalyzer` named like their entry point, and
    (default registry) built-ins missing from the installed entry points are appended to
    ``problems`` (one line each) and left out.
    """
    default = registry is None
    reg = analyzer_registry() if registry is None else registry
    out: list[FindingsAnalyzer] = []
    notes = list(reg.problems)
    if default:
        notes += [
            f"{GROUP}: built-in analyzer {b!r} is not registered (reinstall cimedic: its entry points are missing)"
            for b in BUILTINS
            if b not in reg
        ]
    ids = [b for b in BUILTINS if b in reg] + sorted(i for i in reg.ids if i not in BUILTINS)
    for plugin_id in ids:
        try:
            out.append(_check_analyzer(plugin_id, reg[plugin_id](deps)))
        except Exception as exc:  # a broken plug-in is reported, never fatal
            notes.append(f"{GROUP} plug-in {plugin_id!r} skipped: {type(exc).__name__}: {exc}")
    if problems is not None:
        problems.extend(notes)
    return out
