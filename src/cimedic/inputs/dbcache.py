"""On-disk cache of compiled pattern databases (Hyperscan ``dumpb`` blobs).

Compiling the line patterns and the knowledge base takes about a second; the serialized
databases load in milliseconds. Files live in ``<user_cache_dir>/cimedic/patterns`` (or a
given directory), named by the SHA-256 of the patterns and flags, so a changed knowledge
base simply compiles (and stores) a new database. Every I/O error is ignored: the cache is
an optimisation, never a failure.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from platformdirs import user_cache_dir


class FileDatabaseCache:
    """Implements ``cimedic.analysis.diagnosis.matcher.DatabaseCache`` with files."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or Path(user_cache_dir("cimedic")) / "patterns"

    def get(self, key: str) -> bytes | None:
        """The blob stored under ``key``, or None."""
        try:
            return (self.directory / f"{key}.hsdb").read_bytes()
        except OSError:
            return None

    def put(self, key: str, blob: bytes) -> None:
        """Store atomically (write to a temp file, then rename); errors are ignored."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, self.directory / f"{key}.hsdb")
        except OSError:
            pass
