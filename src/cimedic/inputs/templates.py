"""Markdown templates of notifications (Jinja2): the bundled ones and a user's overrides.

Each notification's body is a template named after its kind (:data:`TEMPLATE_NAMES`; a
recurrence of a known failure uses ``recurrence``). The bundled templates live in
``cimedic/inputs/notify_templates/<name>.md``; the ``notify_templates_dir`` setting names a
folder whose ``<name>.md`` files replace them one by one (``docs/notifications.md#templates``).

Templates are configuration written by people, the values they print come from build logs:
rendering uses :class:`jinja2.sandbox.SandboxedEnvironment` (no access to Python internals),
``StrictUndefined`` (a misspelt variable is an error, not an empty string) and Jinja's default
whitespace handling. Values are passed as data and never compiled, so a ``{{ ... }}`` inside a
log line prints as is. Jinja's autoescape is HTML-only, so it stays off; instead every value
reaches a template already escaped as inert Markdown text
(:func:`cimedic.model.escape.markdown`: no markup, link nor chat mention can come from a
log or a job name). ``raw`` holds the same values unescaped, for the filters ``code``
(:func:`cimedic.model.escape.markdown_code`, an inline code span) and ``md``
(:func:`cimedic.model.escape.markdown`); ``url`` is the event's link, only ever an
``http(s)`` URL (``""`` otherwise).

Errors: a user template that cannot be read or parsed raises :class:`TemplateError` at load
time (``<file>:<line>: <problem>``); one that fails to render (unknown variable, sandbox
violation, ...) is logged as a warning and the bundled template of that kind is used instead,
so a notification is never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import TracebackType

from jinja2 import BaseLoader, Environment, StrictUndefined, Template, TemplateNotFound, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from cimedic.model.escape import http_link, markdown, markdown_code
from cimedic.model.notify import NotificationEvent

__all__ = [
    "TEMPLATE_NAMES",
    "NotifyTemplates",
    "TemplateError",
    "bundled_template_path",
    "load_templates",
    "template_name",
]

log = logging.getLogger(__name__)

TEMPLATE_NAMES: tuple[str, ...] = (
    "new_cluster",
    "recurrence",
    "health_change",
    "new_flaky_test",
    "action_taken",
    "digest",
)
"""The template of each kind of notification, file ``<name>.md``."""

_BUNDLED = "bundled/"
_USER = "user/"


class TemplateError(Exception):
    """A notification template (or the folder of them) that cannot be used; the message names
    the file and, for a syntax error, the line: ``notify template <file>:<line>: <problem>``."""


@dataclass(frozen=True)
class _Source:
    text: str
    filename: str


class _Loader(BaseLoader):
    """Templates by name (``bundled/<name>.md``, ``user/<name>.md``) from sources read at load
    time: rendering never touches the disk."""

    def __init__(self, sources: Mapping[str, _Source]) -> None:
        self._sources = dict(sources)

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        src = self._sources.get(template)
        if src is None:
            raise TemplateNotFound(template)
        return src.text, src.filename, lambda: True


def template_name(event: NotificationEvent) -> str:
    """The template of ``event``: ``recurrence`` for a recurrence, else its kind's value."""
    return "recurrence" if event.recurrence else event.kind.value


def bundled_template_path(name: str) -> Path:
    """Path of the bundled template ``name`` (one of :data:`TEMPLATE_NAMES`)."""
    return Path(str(resources.files("cimedic.inputs") / "notify_templates" / f"{name}.md"))


@lru_cache(maxsize=1)
def _bundled_sources() -> dict[str, _Source]:
    out: dict[str, _Source] = {}
    for name in TEMPLATE_NAMES:
        path = bundled_template_path(name)
        out[f"{_BUNDLED}{name}.md"] = _Source(path.read_text(encoding="utf-8"), str(path))
    return out


def _read_folder(folder: Path) -> dict[str, _Source]:
    if not folder.is_dir():
        raise TemplateError(f"notify template folder {folder}: not a folder (notify_templates_dir)")
    out: dict[str, _Source] = {}
    for path in sorted(folder.glob("*.md")):
        if path.stem not in TEMPLATE_NAMES:
            raise TemplateError(
                f"notify template {path}: unknown template name {path.stem!r}; "
                f"expected one of {', '.join(n + '.md' for n in TEMPLATE_NAMES)}"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"notify template {path}: cannot read: {exc}") from None
        out[f"{_USER}{path.stem}.md"] = _Source(text, str(path))
    return out


def _line_of(tb: TracebackType | None, filename: str) -> int | None:
    """The template line of a render error: Jinja rewrites tracebacks so that the frames of a
    template carry its file name and line."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _iso(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _raw(event: NotificationEvent) -> dict[str, str]:
    """The unescaped values of an event (untrusted: names and lines from logs and payloads)."""
    return {
        **event.fact_map(),
        "title": event.title,
        "repository": event.repository or "",
        "dedup_key": event.dedup_key,
    }


def _common(event: NotificationEvent) -> dict[str, str]:
    """The per-event variables other than the facts, escaped (``docs/notifications.md#templates``)."""
    return {
        "kind": event.kind.value,
        "title": markdown(event.title),
        "url": http_link(event.url) or "",
        "repository": markdown(event.repository or ""),
        "severity": event.severity.value,
        "dedup_key": markdown(event.dedup_key),
        "occurred_at": _iso(event.occurred_at),
        "pull_requests": ", ".join(f"#{n}" for n in event.pull_requests),
    }


def _facts(event: NotificationEvent) -> dict[str, str]:
    return {name: markdown(value) for name, value in event.fact_map().items()}


class NotifyTemplates:
    """A loaded set of notification templates: the bundled ones, and ``overrides`` (template
    name -> file) from a user's folder. Build it with :func:`load_templates`."""

    def __init__(self, user: Mapping[str, _Source] | None = None) -> None:
        sources = {**_bundled_sources(), **(user or {})}
        self._env = SandboxedEnvironment(
            loader=_Loader(sources),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
        )
        self._env.filters["code"] = markdown_code
        self._env.filters["md"] = markdown
        self._bundled: dict[str, Template] = {}
        self._user: dict[str, Template] = {}
        for key, src in sources.items():
            try:
                compiled = self._env.get_template(key)
            except TemplateSyntaxError as exc:
                where = f"{exc.filename or src.filename}:{exc.lineno}"
                raise TemplateError(f"notify template {where}: {exc.message}") from None
            name = key.split("/", 1)[1].removesuffix(".md")
            (self._user if key.startswith(_USER) else self._bundled)[name] = compiled
        self.overrides: dict[str, Path] = {
            name: Path(t.filename or name) for name, t in sorted(self._user.items())
        }

    def _render(self, name: str, context: Mapping[str, object], about: str) -> str | None:
        custom = self._user.get(name)
        if custom is not None:
            try:
                return custom.render(context)
            except Exception as exc:  # a user's template: any failure falls back to the bundled one
                filename = custom.filename or name
                line = _line_of(exc.__traceback__, filename)
                log.warning(
                    "notify template %s%s: %s: %s; using the bundled %s template for %s",
                    filename,
                    f":{line}" if line else "",
                    type(exc).__name__,
                    exc,
                    name,
                    about,
                )
        try:
            return self._bundled[name].render(context)
        except Exception as exc:
            log.error(
                "bundled notify template %s failed for %s: %s: %s", name, about, type(exc).__name__, exc
            )
            return None

    def render_event(self, event: NotificationEvent) -> str | None:
        """The Markdown of ``event`` from its template (:func:`template_name`), or None when
        even the bundled template failed (the caller then composes a plain text).

        Variables: the event's ``facts`` (each by name, and all in ``facts``), plus ``kind``,
        ``title``, ``url``, ``repository``, ``severity``, ``dedup_key``, ``occurred_at``
        (ISO 8601 UTC) and ``pull_requests`` (``#12, #15``); all strings, ``""`` when absent,
        escaped as Markdown text; ``raw``: the facts, ``title``, ``repository`` and
        ``dedup_key`` unescaped (print them through ``| code`` or ``| md``).
        """
        facts = _facts(event)
        context: dict[str, object] = {**facts, **_common(event), "facts": facts, "raw": _raw(event)}
        return self._render(template_name(event), context, event.dedup_key)

    def render_digest(self, events: Sequence[NotificationEvent], *, more: int = 0) -> str | None:
        """The Markdown of a digest listing ``events`` (already ordered and limited) and
        counting ``more`` others. Variables: ``events`` (each with the per-event variables of
        :meth:`render_event` except the top-level facts: use ``e.facts``), ``more`` and ``count``
        (integers: ``count`` = listed + more)."""
        items = [{**_common(e), "facts": _facts(e), "raw": _raw(e)} for e in events]
        context: dict[str, object] = {"events": items, "more": more, "count": len(items) + more}
        return self._render("digest", context, "digest")


@lru_cache(maxsize=1)
def _bundled_only() -> NotifyTemplates:
    return NotifyTemplates()


def load_templates(folder: Path | None = None) -> NotifyTemplates:
    """The bundled templates, each replaced by ``folder/<name>.md`` when that file exists
    (``folder`` None: the bundled ones only). Reads the files once; rendering does no I/O.

    Raises :class:`TemplateError` when ``folder`` is not a folder, holds a ``*.md`` file whose
    name is not one of :data:`TEMPLATE_NAMES` (a typo must not silently keep the bundled text),
    a file cannot be read as UTF-8, or a template has a syntax error (with its line).
    """
    if folder is None:
        return _bundled_only()
    return NotifyTemplates(_read_folder(folder.expanduser()))
