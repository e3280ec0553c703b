"""Use case: diagnose a CI log file (or stdin, .gz, a GitHub run-log zip)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cimedic.analysis.diagnosis import Diagnoser, detect_format
from cimedic.inputs.dbcache import FileDatabaseCache
from cimedic.inputs.logs import LogMember, LogReadError, open_log
from cimedic.model import Category, Diagnosis, FailureCause, LogFormat

__all__ = ["AnalyzeResult", "LogReadError", "analyze_path", "diagnose_bytes", "make_diagnoser"]


@dataclass
class AnalyzeResult:
    """The diagnosis plus warnings for stderr (knowledge-base problems and the like)."""

    diagnosis: Diagnosis
    warnings: list[str] = field(default_factory=list)


def make_diagnoser(kb_dirs: Iterable[Path] = ()) -> tuple[Diagnoser, list[str]]:
    """A :class:`Diagnoser` with the bundled and user causes; returns it with KB problems."""
    use_cache = not os.environ.get("CIMEDIC_NO_PATTERN_CACHE")
    causes, problems = _knowledge_base(list(kb_dirs), use_cache)
    return Diagnoser(causes, FileDatabaseCache() if use_cache else None), problems


def load_causes(kb_dirs: Iterable[Path] = ()) -> tuple[list[FailureCause], list[str]]:
    """Bundled plus user causes (user ids override) and the problems found loading them."""
    from cimedic.inputs.kb import load_kb

    kb = load_kb(kb_dirs)
    return kb.causes, kb.problems


_KB_CACHE_FORMAT = 1
_KB_CACHE_ENTRIES = 8  # the most recently written ones are kept


def _knowledge_base(kb_dirs: list[Path], use_cache: bool) -> tuple[list[FailureCause], list[str]]:
    """:func:`load_causes`, from a cache when no knowledge-base file changed.

    Reading the YAML files costs about 0.08 s a run (importing PyYAML included). The cache
    holds the loaded causes as JSON (validated again when read), under a key made of the
    listing of every knowledge-base directory (names, sizes, modification times) and of
    the code that loads and validates them; any problem with it means reading the files.
    """
    import json

    entry: Path | None = None
    if use_cache:
        try:
            entry = _kb_cache_folder() / f"{_kb_cache_key(kb_dirs)}.json"
            doc = json.loads(entry.read_bytes())
            return [FailureCause.model_validate(c) for c in doc["causes"]], [str(p) for p in doc["problems"]]
        except Exception:  # no usable entry: load the files (and store them)
            pass
    causes, problems = load_causes(kb_dirs)
    if entry is not None:
        blob = json.dumps({"causes": [c.model_dump(mode="json") for c in causes], "problems": problems})
        _write_atomically(entry, blob.encode("utf-8"))
        _prune(entry.parent, keep=_KB_CACHE_ENTRIES)
    return causes, problems


def _kb_cache_folder() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("cimedic")) / "kb"


def _kb_cache_key(kb_dirs: list[Path]) -> str:
    """What ``load_kb(kb_dirs)`` depends on: its code, the model, every file it may read."""
    import hashlib
    from importlib import resources

    import cimedic

    package = Path(cimedic.__file__).parent
    h = hashlib.sha256(f"{_KB_CACHE_FORMAT} {cimedic.__version__}".encode())
    for source in ("inputs/kb.py", "model/diagnosis.py", "model/__init__.py"):
        h.update((package / source).read_bytes())
    bundled = Path(str(resources.files("cimedic") / "kb"))  # as cimedic.inputs.kb.bundled_dir()
    for directory in [bundled, *(Path(d) for d in kb_dirs)]:
        h.update(f"\0dir {directory}".encode())
        if not directory.is_dir():
            continue
        with os.scandir(directory) as listing:
            for item in sorted(listing, key=lambda e: e.name):
                st = item.stat()
                h.update(f"\0{item.name} {st.st_size} {st.st_mtime_ns} {item.is_file()}".encode())
    return h.hexdigest()[:32]


def _prune(folder: Path, keep: int) -> None:
    """Delete all but the ``keep`` most recently modified ``*.json`` files of ``folder``."""
    try:
        entries = sorted(folder.glob("*.json"), key=lambda f: f.stat().st_mtime_ns, reverse=True)
        for old in entries[keep:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def _write_atomically(path: Path, blob: bytes) -> None:
    """Write ``blob`` to ``path`` through a temporary file; errors are ignored (a cache)."""
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


def _resolve_format(member: LogMember, forced: LogFormat | None) -> LogFormat:
    if forced is not None and forced is not LogFormat.GITHUB_ZIP:
        return forced
    fmt = detect_format(member.load_head())
    return fmt


def analyze_path(
    path: str,
    *,
    baseline: str | None = None,
    log_format: LogFormat | None = None,
    kb_dirs: Iterable[Path] = (),
    diagnoser: Diagnoser | None = None,
    decompressed_max_bytes: int | None = None,
) -> AnalyzeResult:
    """Diagnose the log at ``path`` (``-`` for stdin).

    A gzip file or zip member is read up to ``decompressed_max_bytes`` decompressed bytes (the
    setting of that name; None: no cap); past it the rest is not read, and one warning says so.

    For a zip archive every member is analysed and the one holding the failure (highest
    top error score) is returned, with ``log.path`` = ``ARCHIVE!MEMBER`` and its
    ``log.format`` = ``github-zip``. Raises :class:`LogReadError` when the input cannot be
    opened or decompressed.
    """
    warnings: list[str] = []
    if diagnoser is None:
        diagnoser, problems = make_diagnoser(kb_dirs)
        warnings.extend(f"knowledge base: {p}" for p in problems)
    members, tmp = open_log(path, decompressed_max_bytes)
    base_members: list[LogMember] = []
    base_tmp = None
    try:
        if baseline is not None:
            base_members, base_tmp = open_log(baseline, decompressed_max_bytes)
        if not members:
            raise LogReadError(f"no log files in archive {path}")
        best: Diagnosis | None = None
        for member in members:
            fmt = _resolve_format(member, log_format)
            base_src = None
            base_fmt = None
            if base_members:
                bm = _matching_member(member, base_members)
                base_src = bm.batches
                base_fmt = _resolve_format(bm, log_format)
            diag = diagnoser.diagnose(member.batches, fmt, member.display_path, base_src, base_fmt)
            if member.truncated:
                warnings.append(
                    f"{member.display_path}: decompressed size over decompressed_max_bytes "
                    f"({decompressed_max_bytes} bytes): only the first {decompressed_max_bytes} bytes were analysed"
                )
            # the analyzer sees batches with normalized line breaks; the size is the reader's
            diag = diag.model_copy(update={"log": diag.log.model_copy(update={"bytes": member.bytes_read})})
            if member.in_zip:
                diag = diag.model_copy(
                    update={"log": diag.log.model_copy(update={"format": LogFormat.GITHUB_ZIP})}
                )
            if best is None or _rank_key(diag) > _rank_key(best):
                best = diag
        assert best is not None
        return AnalyzeResult(best, warnings)
    finally:
        for t in (tmp, base_tmp):
            if t is not None:
                t.unlink(missing_ok=True)


def _matching_member(member: LogMember, candidates: list[LogMember]) -> LogMember:
    name = member.display_path.rsplit("!", 1)[-1]
    for c in candidates:
        if c.display_path.rsplit("!", 1)[-1] == name:
            return c
    return candidates[0]


def _rank_key(d: Diagnosis) -> tuple[int, float]:
    found = 0 if d.category is Category.NONE else 1
    top = d.error_lines[0].score if d.error_lines else 0.0
    return found, top


def diagnose_bytes(
    data: bytes, name: str, diagnoser: Diagnoser, log_format: LogFormat | None = None
) -> Diagnosis:
    """Diagnose an in-memory log (e.g. a stored job log); ``name`` becomes ``log.path``.

    The format is detected from the first 64 KiB unless ``log_format`` is given. Never raises on
    malformed content (the engine's contract).
    """
    from cimedic.model.batches import batches_from_bytes

    fmt = log_format or detect_format(data[:65536])
    diag = diagnoser.diagnose(lambda: batches_from_bytes(data), fmt, name)
    return diag.model_copy(update={"log": diag.log.model_copy(update={"bytes": len(data)})})
