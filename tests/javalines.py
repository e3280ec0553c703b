"""Reference line splitting for the tests, written independently of the reader.

``BufferedReader.readLine`` semantics (the numbering of CiDiff's ground truth): a line ends
at ``\\n``, ``\\r\\n`` or a lone ``\\r``.
"""

from __future__ import annotations


def java_readlines(data: bytes) -> list[bytes]:
    """Lines as ``BufferedReader.readLine`` returns them (without their breaks)."""
    out: list[bytes] = []
    pos, n = 0, len(data)
    while pos < n:
        ends = [i for i in (data.find(b"\n", pos), data.find(b"\r", pos)) if i >= 0]
        if not ends:
            out.append(data[pos:])
            break
        end = min(ends)
        out.append(data[pos:end])
        pos = end + 1
        if data[end] == 0x0D and pos < n and data[pos] == 0x0A:
            pos += 1
    return out
