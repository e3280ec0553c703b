"""Loading the knowledge base of failure causes from YAML files.

Bundled causes live in ``cimedic/kb/*.yaml``; user directories (``--kb DIR``, setting
``kb_dirs``) are loaded after them, and a user cause with the same ``id`` replaces the
bundled one. A file holds either one cause (a mapping) or a list of causes, or a mapping
with a ``causes:`` list. Schema: ``id``, ``name``, ``category``, ``description``,
``patterns`` (list of regexes; one string is accepted), ``transient``, ``fix``,
``references``, ``priority``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cimedic.model import FailureCause

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KBError(Exception):
    """A knowledge-base file could not be read; the message names the file and the entry."""


@dataclass
class KBLoad:
    """Loaded causes plus the problems found (bad entries are skipped, not fatal)."""

    causes: list[FailureCause] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def bundled_dir() -> Path:
    """Directory of the bundled YAML causes."""
    return Path(str(resources.files("cimedic") / "kb"))


def _entries(doc: Any) -> list[Any]:
    if doc is None:
        return []
    if isinstance(doc, dict) and "causes" in doc:
        doc = doc["causes"]
    if isinstance(doc, dict):
        return [doc]
    if isinstance(doc, list):
        return doc
    raise KBError("top level must be a mapping, a list, or a mapping with 'causes'")


def load_file(path: Path, source: str) -> KBLoad:
    """Causes in one YAML file; invalid entries are reported in ``problems`` with their index."""
    out = KBLoad()
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
        entries = _entries(doc)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KBError) as exc:
        out.problems.append(f"{path}: {exc}".replace("\n", " "))
        return out
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            out.problems.append(f"{path}: entry {i}: not a mapping")
            continue
        data = dict(entry)
        if isinstance(data.get("patterns"), str):
            data["patterns"] = [data["patterns"]]
        if "pattern" in data and "patterns" not in data:
            data["patterns"] = [data.pop("pattern")]
        data.setdefault("source", source)
        try:
            out.causes.append(FailureCause.model_validate(data))
        except ValidationError as exc:
            ident = data.get("id", f"#{i}")
            msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            out.problems.append(f"{path}: cause {ident}: {msg}")
    return out


def load_kb(extra_dirs: Iterable[Path] = (), include_bundled: bool = True) -> KBLoad:
    """Bundled causes, then every ``*.yaml``/``*.yml`` of ``extra_dirs`` (sorted), later ids winning.

    A missing directory is reported in ``problems``.
    """
    merged: dict[str, FailureCause] = {}
    problems: list[str] = []
    dirs: list[tuple[Path, str]] = []
    if include_bundled:
        dirs.append((bundled_dir(), "bundled"))
    dirs.extend((Path(d), str(d)) for d in extra_dirs)
    for directory, source in dirs:
        if not directory.is_dir():
            problems.append(f"{directory}: knowledge-base directory not found")
            continue
        files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
        for f in files:
            loaded = load_file(f, source)
            problems.extend(loaded.problems)
            for cause in loaded.causes:
                merged[cause.id] = cause
    return KBLoad(list(merged.values()), problems)
