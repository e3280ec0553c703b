"""Extension points: one :class:`Registry` per kind (CI providers, findings analyzers, ...),
filled from an entry-point group.

The built-ins register through the same entry points as third-party plug-ins (see
``[project.entry-points]`` in ``pyproject.toml``), so adding one needs no central edit. Loading
is fault-isolated: a plug-in that cannot be imported, or whose object does not pass the
registry's check, is recorded in :attr:`Registry.problems` and skipped, never fatal (anchors:
Prefect's ``safe_load_entrypoints``, simonw/llm and datasette loading their default plug-ins
through the same mechanism as third-party ones). Tests build a fresh registry with
:func:`load_registry` (``entry_points=``) or :meth:`Registry.register` instead of mutating a
global one.

Groups: ``cimedic.providers`` (:class:`cimedic.model.providers.ProviderPlugin`),
``cimedic.analyzers`` (:class:`cimedic.services.analyzers.FindingsAnalyzer`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from cimedic.model.providers import ProviderPlugin

__all__ = ["PLUGIN_ID", "Registry", "load_registry", "provider_registry"]

T = TypeVar("T")

PLUGIN_ID = re.compile(r"[a-z0-9_]{1,16}")
"""What a registry id looks like: 1 to 16 lower-case letters, digits or ``_``."""


@dataclass
class Registry(Generic[T]):
    """Plug-ins of one ``group`` by id, in registration order; ``problems`` lists the plug-ins
    that were skipped and why (one line each, naming the entry point)."""

    group: str
    items: dict[str, T] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def register(self, plugin_id: str, item: T) -> None:
        """Add ``item`` under ``plugin_id``. Raises ``ValueError`` for an id that is not
        :data:`PLUGIN_ID` or is already taken."""
        if not PLUGIN_ID.fullmatch(plugin_id):
            raise ValueError(f"{self.group}: id {plugin_id!r} is not [a-z0-9_]{{1,16}}")
        if plugin_id in self.items:
            raise ValueError(f"{self.group}: id {plugin_id!r} is registered twice")
        self.items[plugin_id] = item

    def get(self, plugin_id: str) -> T | None:
        return self.items.get(plugin_id)

    def __getitem__(self, plugin_id: str) -> T:
        try:
            return self.items[plugin_id]
        except KeyError:
            raise KeyError(
                f"no {self.group} plug-in {plugin_id!r}; registered: {', '.join(self.ids) or 'none'}"
            ) from None

    def __contains__(self, plugin_id: object) -> bool:
        return plugin_id in self.items

    def __iter__(self) -> Iterator[T]:
        return iter(self.items.values())

    def __len__(self) -> int:
        return len(self.items)

    @property
    def ids(self) -> list[str]:
        return list(self.items)


def load_registry(
    group: str,
    check: Callable[[str, Any], T],
    *,
    entry_points: Iterable[Any] | None = None,
) -> Registry[T]:
    """A registry of every entry point of ``group`` (``importlib.metadata``; or the given
    ``entry_points``, objects with ``name`` and ``load()``), sorted by name.

    ``check(name, loaded)`` validates what an entry point loaded and returns the item to
    register (raise ``TypeError`` or ``ValueError`` with the reason to skip it). Any exception
    while importing or checking a plug-in becomes a line in ``problems``; this function does not
    raise for a broken plug-in.
    """
    if entry_points is None:
        from importlib.metadata import entry_points as installed

        entry_points = installed(group=group)
    registry: Registry[T] = Registry(group)
    seen: dict[str, str] = {}  # id -> the value of its first entry point
    for ep in sorted(entry_points, key=lambda e: str(e.name)):
        name, value = str(ep.name), str(getattr(ep, "value", ""))
        if name in seen:  # the same distribution seen twice on sys.path (editable installs) is fine
            if value != seen[name]:
                registry.problems.append(
                    f"{group} plug-in {name!r} skipped: {value} claims the id of {seen[name]}"
                )
            continue
        seen[name] = value
        try:
            item = check(name, ep.load())
            registry.register(name, item)
        except Exception as exc:  # a broken plug-in is reported, never fatal
            registry.problems.append(f"{group} plug-in {name!r} skipped: {type(exc).__name__}: {exc}")
    return registry


@cache
def provider_registry() -> Registry[ProviderPlugin]:
    """The installed CI providers (group ``cimedic.providers``), loaded once per process;
    broken plug-ins are listed in ``problems``."""
    from cimedic.model.providers import check_provider

    return load_registry("cimedic.providers", check_provider)
