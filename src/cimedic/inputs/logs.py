"""Reading CI logs: files, stdin, ``.gz``, ``.zip``; streamed in batches of whole lines.

A *line* ends at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (Java ``readLine`` semantics, the ground
truth of CiDiff is numbered so). ``str.splitlines`` is never used: it also breaks on
``\\x0b \\x0c \\x1c-\\x1e \\x85 \\u2028 \\u2029``, which occur in real logs.

The reader never decodes: it hands :class:`~cimedic.model.batches.LineBatch`
objects (raw bytes of whole lines plus the number of the first line) to the analyzer, so
invalid UTF-8 and NUL bytes cannot break it, and memory stays bounded by the batch size
(a line longer than ``max_batch`` bytes is cut into pieces that keep the same line number).
"""

from __future__ import annotations

import gzip
import io
import shutil
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, cast

from cimedic.model.batches import LineBatch, normalize_breaks

BATCH_BYTES = 8 * 1024 * 1024
MAX_BATCH_BYTES = 32 * 1024 * 1024
HEAD_BYTES = 64 * 1024

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_ZIP_EMPTY = b"PK\x05\x06"


class LogReadError(Exception):
    """The log could not be opened or decompressed; ``str(exc)`` is a one-line reason."""


@dataclass
class LogMember:
    """One log to analyse: a plain file, a decompressed stream or one member of a zip.

    ``display_path`` is ``-`` for stdin and ``ARCHIVE!MEMBER`` for a zip member. After
    :meth:`batches` is exhausted, ``bytes_read`` holds the decompressed size in bytes and
    ``lines`` the line count.
    """

    display_path: str
    _opener: object
    bytes_read: int = 0
    lines: int = 0
    head: bytes = b""
    in_zip: bool = False
    _head_loaded: bool = field(default=False, repr=False)

    def _open(self) -> BinaryIO:
        opener = self._opener
        assert callable(opener)
        stream: BinaryIO = opener()
        return stream

    def load_head(self) -> bytes:
        """First ``HEAD_BYTES`` bytes (for format detection); raises :class:`LogReadError`."""
        if not self._head_loaded:
            try:
                with self._open() as fh:
                    self.head = fh.read(HEAD_BYTES)
            except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
                raise LogReadError(f"cannot read {self.display_path}: {exc}") from exc
            self._head_loaded = True
        return self.head

    def batches(self, batch_bytes: int = BATCH_BYTES, start: tuple[int, int] | None = None) -> Iterator[LineBatch]:
        """Yield the log as :class:`LineBatch` es of whole lines, in order.

        ``start`` = ``(offset, first_line)`` of an earlier batch resumes reading there (a
        seek for plain files; compressed streams are decompressed up to it). Raises
        :class:`LogReadError` when the stream cannot be read or decompressed.
        """
        try:
            with self._open() as fh:
                if start is not None and start[0] > 0:
                    fh.seek(start[0])
                yield from _split_batches(fh, batch_bytes, self, start)
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
            raise LogReadError(f"cannot read {self.display_path}: {exc}") from exc


def _split_batches(
    fh: BinaryIO, batch_bytes: int, member: LogMember, start: tuple[int, int] | None = None
) -> Iterator[LineBatch]:
    offset, line = start if start is not None else (0, 1)
    carry = b""
    total = 0
    last_byte = b""
    while True:
        chunk = fh.read(batch_bytes)
        if chunk:
            total += len(chunk)
            last_byte = chunk[-1:]
        buf = carry + chunk if carry else chunk
        if not chunk:
            if buf:
                norm = normalize_breaks(buf)
                yield LineBatch(line, norm, offset)
                line += norm.count(b"\n")
            break
        cut = buf.rfind(b"\n") + 1
        if cut == 0:
            cr = buf.rfind(b"\r", 0, len(buf) - 1)  # a final \r may be the first half of \r\n
            cut = cr + 1
        if cut == 0:
            if len(buf) < MAX_BATCH_BYTES:
                carry = buf
                continue
            cut = len(buf) - 1 if buf.endswith(b"\r") else len(buf)
        data, carry = normalize_breaks(buf[:cut]), buf[cut:]
        yield LineBatch(line, data, offset)
        offset += cut
        line += data.count(b"\n")
    if start is not None:
        return  # a partial re-read says nothing about the whole log
    member.bytes_read = total
    # lines = number of line breaks, plus a last line without a break
    member.lines = line - 1 + (1 if total and last_byte not in (b"\n", b"\r") else 0)


def _sniff(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(4)


def _spool_stdin() -> Path:
    tmp = tempfile.NamedTemporaryFile(prefix="cimedic-stdin-", delete=False)  # noqa: SIM115
    with tmp:
        shutil.copyfileobj(sys.stdin.buffer, tmp, 1024 * 1024)
    return Path(tmp.name)


def open_log(path: str) -> tuple[list[LogMember], Path | None]:
    """Open ``path`` (a file path or ``-`` for stdin) as one or more :class:`LogMember` s.

    A gzip file (detected by its magic bytes) is decompressed on the fly; a zip archive (a
    GitHub run-log zip) gives one member per non-empty file, job-level files first. Returns
    the members and a temporary file to delete afterwards (stdin is spooled to disk so
    that it can be read twice in bounded memory). Raises :class:`LogReadError`.
    """
    tmp: Path | None = None
    if path == "-":
        tmp = _spool_stdin()
        real = tmp
        display = "-"
    else:
        real = Path(path)
        display = path
        if not real.exists():
            raise LogReadError(f"no such file: {path}")
        if real.is_dir():
            raise LogReadError(f"is a directory: {path}")
    try:
        magic = _sniff(real)
    except OSError as exc:
        raise LogReadError(f"cannot open {path}: {exc.strerror or exc}") from exc
    if magic.startswith(_GZIP_MAGIC):
        return [LogMember(display, lambda: gzip.open(real, "rb"))], tmp
    if magic.startswith(_ZIP_MAGIC) or magic.startswith(_ZIP_EMPTY):
        return _zip_members(real, display), tmp
    return [LogMember(display, lambda: real.open("rb"))], tmp


def _zip_members(real: Path, display: str) -> list[LogMember]:
    try:
        with zipfile.ZipFile(real) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir() and i.file_size > 0]
    except (zipfile.BadZipFile, OSError) as exc:
        raise LogReadError(f"cannot open zip {display}: {exc}") from exc
    # GitHub run-log zips hold "N_job.txt" at the top level (whole job logs) and
    # "job/N_step.txt" per step; whole job logs are preferred when present.
    top = [i for i in infos if "/" not in i.filename.strip("/")]
    chosen = top or infos
    chosen.sort(key=lambda i: _natural_key(i.filename))
    members = []
    for info in chosen:
        members.append(
            LogMember(f"{display}!{info.filename}", _zip_opener(real, info.filename), in_zip=True)
        )
    return members


def _zip_opener(real: Path, name: str) -> object:
    def opener() -> BinaryIO:
        zf = zipfile.ZipFile(real)
        inner = zf.open(name)
        return cast(BinaryIO, _ClosingStream(inner, zf))

    return opener


class _ClosingStream(io.RawIOBase):
    """A zip member stream that also closes its archive."""

    def __init__(self, inner: IO[bytes], archive: zipfile.ZipFile) -> None:
        self._inner = inner
        self._archive = archive

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        return self._inner.seek(pos, whence)

    def close(self) -> None:
        self._inner.close()
        self._archive.close()
        super().close()


def _natural_key(name: str) -> tuple[object, ...]:
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))
