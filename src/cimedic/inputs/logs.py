"""Reading CI logs: files, stdin, ``.gz``, ``.zip``; streamed in batches of whole lines.

A *line* ends at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (Java ``readLine`` semantics, the ground
truth of CiDiff is numbered so). ``str.splitlines`` is never used: it also breaks on
``\\x0b \\x0c \\x1c-\\x1e \\x85 \\u2028 \\u2029``, which occur in real logs.
Each batch also says which of its lines ended at a lone ``\\r``
(:attr:`~cimedic.model.batches.LineBatch.lone_cr`), from which the analyzer derives the
*LF line* numbers of editors and CI web pages (only ``\\n`` ends a line there).

The reader never decodes: it hands :class:`~cimedic.model.batches.LineBatch`
objects (raw bytes of whole lines plus the number of the first line) to the analyzer, so
invalid UTF-8 and NUL bytes cannot break it, and memory stays bounded by the batch size
(a line longer than ``max_batch`` bytes is cut into pieces that keep the same line number)
plus the few batches a member remembers from its re-reads (``_RECENT_BYTES``).
"""

from __future__ import annotations

import codecs
import gzip
import io
import shutil
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol, cast

from cimedic.model.batches import LineBatch, LoneCrRuns, lone_cr_runs, normalize_text_breaks

BATCH_BYTES = 8 * 1024 * 1024
MAX_BATCH_BYTES = 32 * 1024 * 1024
HEAD_BYTES = 64 * 1024

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_ZIP_EMPTY = b"PK\x05\x06"


class LogReadError(Exception):
    """The log could not be opened or decompressed; ``str(exc)`` is a one-line reason."""


@dataclass(slots=True)
class _Cursor:
    """Where a batch stream stands: everything needed to go on reading from there."""

    pos: int = 0  # bytes consumed from the (decompressed) stream
    offset: int = 0  # stream offset of the next batch's first byte
    line: int = 1  # number of the next batch's first line
    carry: bytes = b""  # bytes read but not yet yielded (the start of a line)
    last_byte: bytes = b""  # last byte read so far
    eof: bool = False  # the stream is exhausted (nothing more to yield)


# A member remembers the batches of its re-reads (up to this many bytes): the analyzer's
# second pass reads the lines around each of a few anchors, often in the same batches.
_RECENT_BYTES = 3 * BATCH_BYTES


@dataclass
class LogMember:
    """One log to analyse: a plain file, a decompressed stream or one member of a zip.

    ``display_path`` is ``-`` for stdin and ``ARCHIVE!MEMBER`` for a zip member. After
    :meth:`batches` is exhausted, ``bytes_read`` holds the decompressed size in bytes and
    ``lines`` the line count.
    """

    display_path: str
    _opener: object
    max_bytes: int | None = None
    truncated: bool = False
    bytes_read: int = 0
    lines: int = 0
    head: bytes = b""
    in_zip: bool = False
    _head_loaded: bool = field(default=False, repr=False)
    _read_before: bool = field(default=False, repr=False)
    # (batch size, start of the read, offset, first line) -> (batch, cursor after it), oldest first
    _recent: dict[tuple[int, int, int, int], tuple[LineBatch, _Cursor]] = field(
        default_factory=dict, repr=False
    )

    def _open(self) -> BinaryIO:
        opener = self._opener
        assert callable(opener)
        stream: BinaryIO = opener()
        if self.max_bytes is None:
            return stream
        return cast(BinaryIO, _Capped(stream, self.max_bytes, self))

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

    def batches(
        self, batch_bytes: int = BATCH_BYTES, start: tuple[int, int] | None = None
    ) -> Iterator[LineBatch]:
        """Yield the log as :class:`LineBatch` es of whole lines, in order.

        ``start`` = ``(offset, first_line)`` of an earlier batch resumes reading there (a
        seek for plain files; compressed streams are decompressed up to it). Raises
        :class:`LogReadError` when the stream cannot be read or decompressed.

        Batches are cut the same way whenever a read starts at the same place. Re-reads
        (all reads but the first) remember their batches: a later read from the same start
        gets them again without reading (and goes on from where they ended). A read resumed at
        ``start`` does not look for lone ``\\r`` (its batches' ``lone_cr`` is empty): the
        analyzer numbers LF lines in its first, whole read.
        """
        remember = self._read_before
        self._read_before = True
        origin = start[0] if start is not None else 0
        cur = _Cursor() if start is None else _Cursor(start[0], start[0], start[1])
        while True:  # remembered batches first
            hit = self._recent.get((batch_bytes, origin, cur.offset, cur.line))
            if hit is None:
                break
            batch, after = hit
            cur = replace(after)  # ``cur`` moves on, the remembered cursor stays
            yield batch
            if cur.eof:
                self._done(start, cur)
                return
        try:
            with self._open() as fh:
                if cur.pos > 0:
                    fh.seek(cur.pos)
                for batch, after in _split_batches(fh, batch_bytes, cur, mark=start is None):
                    if remember:
                        self._remember((batch_bytes, origin, batch.offset, batch.first_line), batch, after)
                    yield batch
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
            raise LogReadError(f"cannot read {self.display_path}: {exc}") from exc
        self._done(start, cur)

    def _remember(self, key: tuple[int, int, int, int], batch: LineBatch, after: _Cursor) -> None:
        recent = self._recent
        size = len(batch.data)
        recent.pop(key, None)
        held = sum(len(b.data) for b, _ in recent.values())
        while recent and held + size > _RECENT_BYTES:
            oldest, _ = recent.pop(next(iter(recent)))
            held -= len(oldest.data)
        if size <= _RECENT_BYTES:
            recent[key] = (batch, after)

    def _done(self, start: tuple[int, int] | None, cur: _Cursor) -> None:
        if start is not None:
            return  # a partial re-read says nothing about the whole log
        self.bytes_read = cur.pos
        # lines = number of line breaks, plus a last line without a break
        self.lines = cur.line - 1 + (1 if cur.pos and cur.last_byte not in (b"\n", b"\r") else 0)


def _split_batches(
    fh: BinaryIO, batch_bytes: int, cur: _Cursor, mark: bool = True
) -> Iterator[tuple[LineBatch, _Cursor]]:
    """Batches from ``fh`` (positioned at ``cur.pos``), each with a copy of the cursor after it
    (and, with ``mark``, its :attr:`~cimedic.model.batches.LineBatch.lone_cr`).

    Reads ``batch_bytes`` at a time into one reused buffer, after the bytes carried over
    from the last read (a line's start); cuts after the last ``\\n`` of the new bytes (else
    after a lone ``\\r``; a line without breaks is cut at ``MAX_BATCH_BYTES``). ``cur``
    follows the reading; at the end of the stream it has ``eof`` set, and so has the cursor
    yielded with the last batch.
    """
    readinto = cast(_ReadInto, fh).readinto
    step: _Step | None = None
    held = len(cur.carry)  # carried bytes at the start of ``buf``
    buf = bytearray(held + batch_bytes)
    buf[:held] = cur.carry
    while True:
        want = held + batch_bytes
        if len(buf) < want:
            buf.extend(bytes(want - len(buf)))
        with memoryview(buf) as view, view[held:want] as free:
            got = readinto(free)
        if not got:
            break
        cur.pos += got
        end = held + got
        cur.last_byte = bytes(buf[end - 1 : end])
        cut = buf.rfind(b"\n", held, end) + 1
        if cut == 0:
            cut = buf.rfind(b"\r", 0, end - 1) + 1  # a final \r may be the first half of \r\n
            if cut == 0:
                if end < MAX_BATCH_BYTES:
                    held = end
                    continue
                cut = end - 1 if buf[end - 1] == 0x0D else end
        rest = bytes(buf[cut:end])
        step = _yield_batch(cur, *_normalized(buf, cut, mark), cut, rest)
        buf[: len(rest)] = rest
        held = len(rest)
        yield step.batch, step.cursor
    if held:
        step = _yield_batch(cur, *_normalized(buf, held, mark), held, b"")
        step.cursor.eof = True
        yield step.batch, step.cursor
    cur.eof = True
    if step is not None:
        step.cursor.eof = True  # the cursor remembered with the last batch


class _ReadInto(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


def _normalized(buf: bytearray, end: int, mark: bool) -> tuple[bytes, LoneCrRuns]:
    """``normalize_breaks(bytes(buf[:end]))`` without copying the bytes first, and (with
    ``mark``) the :func:`~cimedic.model.batches.lone_cr_runs` of those bytes.

    Every ``\\r\\n`` loses one byte to normalization, so the lone ``\\r`` are found only
    when there are more ``\\r`` than lost bytes (one byte count a batch, no search otherwise).
    """
    with memoryview(buf) as view, view[:end] as part:
        if buf.find(b"\r", 0, end) < 0:
            return bytes(part), ((), ())
        text = codecs.latin_1_decode(part)[0]
    out = normalize_text_breaks(text).encode("latin-1")
    if not mark or buf.count(b"\r", 0, end) == end - len(out):
        return out, ((), ())
    return out, lone_cr_runs(buf, end)


@dataclass(slots=True)
class _Step:
    batch: LineBatch
    cursor: _Cursor


def _yield_batch(cur: _Cursor, data: bytes, lone_cr: LoneCrRuns, raw_len: int, rest: bytes) -> _Step:
    """Make the batch of ``data`` (whole lines, ``raw_len`` bytes in the stream, ``lone_cr``
    as :attr:`LineBatch.lone_cr`) and advance ``cur`` past it."""
    batch = LineBatch(cur.line, data, cur.offset, lone_cr)
    cur.offset += raw_len
    cur.line += data.count(b"\n")
    cur.carry = rest
    return _Step(batch, _Cursor(cur.pos, cur.offset, cur.line, rest, cur.last_byte))


def _sniff(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(4)


def _spool_stdin() -> Path:
    tmp = tempfile.NamedTemporaryFile(prefix="cimedic-stdin-", delete=False)  # noqa: SIM115
    with tmp:
        shutil.copyfileobj(sys.stdin.buffer, tmp, 1024 * 1024)
    return Path(tmp.name)


def open_log(path: str, max_decompressed: int | None = None) -> tuple[list[LogMember], Path | None]:
    """Open ``path`` (a file path or ``-`` for stdin) as one or more :class:`LogMember` s.

    A gzip file (detected by its magic bytes) is decompressed on the fly; a zip archive (a
    GitHub run-log zip) gives one member per non-empty file, job-level files first. With
    ``max_decompressed`` (bytes), a decompressed stream ends after that many bytes and its
    member is marked ``truncated`` (a 22 MB archive can expand to gigabytes). Returns
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
        return [LogMember(display, lambda: gzip.open(real, "rb"), max_bytes=max_decompressed)], tmp
    if magic.startswith(_ZIP_MAGIC) or magic.startswith(_ZIP_EMPTY):
        members = _zip_members(real, display)
        for member in members:
            member.max_bytes = max_decompressed
        return members, tmp
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
        members.append(LogMember(f"{display}!{info.filename}", _zip_opener(real, info.filename), in_zip=True))
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

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        return self._inner.seek(pos, whence)

    def close(self) -> None:
        self._inner.close()
        self._archive.close()
        super().close()


class _Capped(io.RawIOBase):
    """A decompressed stream that ends after ``limit`` bytes; when more was there, it marks
    ``member.truncated``."""

    def __init__(self, inner: BinaryIO, limit: int, member: LogMember) -> None:
        self._inner = inner
        self._limit = limit
        self._member = member
        self._pos = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        left = self._limit - self._pos
        if left <= 0:
            if self._inner.read(1):
                self._member.truncated = True
            return b""
        data = self._inner.read(left if size is None or size < 0 else min(size, left))
        self._pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = self._inner.seek(pos, whence)
        return self._pos

    def close(self) -> None:
        self._inner.close()
        super().close()


def _natural_key(name: str) -> tuple[object, ...]:
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))
