"""The JSON reader the GitHub mapping uses: typed field access that raises
:class:`MappingError` naming the object kind, its id and the field (part of the ``mapping``
module, split for size; only :mod:`cimedic.connectors.github_actions.mapping` imports it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cimedic.model.ci import Conclusion, Provider, Status
from cimedic.model.vocab import conclusion_of, status_of


class MappingError(ValueError):
    """A GitHub object could not be mapped: says which object (kind and id) and which field."""

    def __init__(self, kind: str, obj_id: str | None, field: str | None, problem: str) -> None:
        self.kind = kind
        self.obj_id = obj_id
        self.field = field
        self.problem = problem
        where = f"{kind} {obj_id}" if obj_id is not None else kind
        what = f"field {field!r}: {problem}" if field is not None else problem
        super().__init__(f"GitHub {where}: {what}")


@dataclass(frozen=True)
class InstallationToken:
    """A GitHub App installation access token and its expiry (aware UTC datetime)."""

    token: str
    expires_at: datetime | None


# --------------------------------------------------------------------------- field readers

ID_MAX_CHARS = 64
"""Longest provider id accepted (the store's ``provider_id`` columns are ``String(64)``;
GitHub's ids are 64-bit integers, at most 20 digits)."""


def clean_text(value: str) -> str:
    """``value`` without NUL characters: PostgreSQL text cannot hold them (``DataError``), SQLite
    can, so they are removed here to keep both backends alike."""
    return value.replace("\x00", "") if "\x00" in value else value


def _is_sha(value: str) -> bool:
    return 0 < len(value) <= 64 and value.isprintable()


class _Reader:
    """Typed access to one JSON object, raising :class:`MappingError` with kind, id and field."""

    __slots__ = ("kind", "obj", "obj_id")

    def __init__(self, obj: object, kind: str, id_field: str | None = "id") -> None:
        self.kind = kind
        self.obj_id: str | None = None
        if not isinstance(obj, Mapping):
            raise MappingError(kind, None, None, f"expected a JSON object, got {_json_type(obj)}")
        self.obj: Mapping[str, Any] = obj
        if id_field is not None:
            raw = obj.get(id_field)
            if isinstance(raw, int | str) and not isinstance(raw, bool):
                self.obj_id = str(raw)

    def fail(self, field: str, problem: str) -> MappingError:
        return MappingError(self.kind, self.obj_id, field, problem)

    def id(self, field: str = "id") -> str:
        """A required id (integer or string) of at most :data:`ID_MAX_CHARS` printable characters."""
        value = self.obj.get(field)
        if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
            raise self.fail(field, f"required id, got {_show(value)}")
        text = str(value)
        if len(text) > ID_MAX_CHARS or not text.isprintable():
            raise self.fail(
                field, f"an id is at most {ID_MAX_CHARS} printable characters, got {_show(value)}"
            )
        return text

    def opt_id(self, field: str) -> str | None:
        if self.obj.get(field) is None:
            return None
        return self.id(field)

    def str_(self, field: str) -> str:
        """A required string, NUL characters removed (see :func:`clean_text`)."""
        value = self.obj.get(field)
        if not isinstance(value, str):
            raise self.fail(field, f"required string, got {_show(value)}")
        return clean_text(value)

    def opt_str(self, field: str) -> str | None:
        """A string or ``None``, NUL characters removed (see :func:`clean_text`)."""
        value = self.obj.get(field)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(field, f"expected a string or null, got {_show(value)}")
        return clean_text(value)

    def sha(self, field: str) -> str:
        """A required commit SHA: at most 64 printable characters (hex SHA-1 is 40, SHA-256 64)."""
        value = self.str_(field)
        if not _is_sha(value):
            raise self.fail(field, f"expected a commit SHA of at most 64 characters, got {_show(value)}")
        return value

    def opt_sha(self, field: str) -> str | None:
        """:meth:`sha`, or ``None`` when null, missing or empty."""
        if not self.obj.get(field):
            return None
        return self.sha(field)

    def int_(self, field: str, default: int | None = None) -> int:
        value = self.obj.get(field)
        if value is None and default is not None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, f"required integer, got {_show(value)}")
        return value

    def opt_int(self, field: str) -> int | None:
        if self.obj.get(field) is None:
            return None
        return self.int_(field)

    def bool_(self, field: str, default: bool = False) -> bool:
        value = self.obj.get(field)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(field, f"expected a boolean, got {_show(value)}")
        return value

    def time(self, field: str) -> datetime | None:
        value = self.obj.get(field)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.fail(field, f"expected an ISO 8601 timestamp, got {_show(value)}")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(field, f"not an ISO 8601 timestamp: {value!r}") from None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)

    def sub(self, field: str, kind: str, id_field: str | None = "id") -> _Reader | None:
        """The nested object at ``field`` (``None`` when null or missing)."""
        value = self.obj.get(field)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self.fail(field, f"expected a JSON object or null, got {_json_type(value)}")
        return _Reader(value, kind, id_field)

    def list_(self, field: str) -> Sequence[Any]:
        value = self.obj.get(field)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(field, f"expected a JSON array or null, got {_json_type(value)}")
        return value

    def status(self, field: str = "status") -> Status:
        return status_of(Provider.GITHUB, self.opt_str(field))

    def conclusion(self, field: str = "conclusion") -> Conclusion | None:
        return conclusion_of(Provider.GITHUB, self.opt_str(field))

    def login(self, field: str) -> str | None:
        user = self.sub(field, "user")
        return None if user is None else user.opt_str("login")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _show(value: object) -> str:
    if value is None:
        return "null or missing"
    text = repr(value)
    return f"{_json_type(value)} {text[:60]}"


def _items(reader: _Reader, field: str) -> list[tuple[int, object]]:
    return list(enumerate(reader.list_(field)))


def _nested_fail(parent: _Reader, field: str, index: int, err: MappingError) -> MappingError:
    """Re-raise an error of a nested element as an error of ``parent.field[index]``."""
    inner = f"{err.kind} {err.obj_id}" if err.obj_id else err.kind
    where = f"{field}[{index}]" + (f".{err.field}" if err.field else "")
    return parent.fail(where, f"{err.problem} (in {inner})")


# --------------------------------------------------------------------------- objects
