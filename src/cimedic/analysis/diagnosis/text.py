"""Line cleaning, format detection and volatile-token masking (pure functions).

Masking follows LUCI Analysis (``failurereason`` clustering: long base64/hex runs and
numbers become wildcards) and Kubernetes triage (``triage/summarize/text.go``: dates,
UUIDs, hex, IPs and temporary names become placeholders) so that the same failure in two
runs yields the same text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from cimedic.model import LogFormat

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[ -/]*[0-Z\\\]^-~]")
# 2022-04-12T19:19:37.9988416Z (GitHub Actions), optionally bracketed (Jenkins timestamper),
# optionally followed by GitLab's stream marker ("00O+ ").
TS_PREFIX_RE = re.compile(
    r"^\[?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\]?\s(?:[0-9a-f]{2}[OE]\+?\s)?"
)
_PARTIAL_ANSI_RE = re.compile(r"\x1b(\[[0-9;?]*[ -/]*)?")
GH_RUN_VIEW_RE = re.compile(r"^([^\t]*)\t([^\t]*)\t(.*)$", re.S)
MAX_LINE_CHARS = 4000
_GH_RUN_VIEW = LogFormat.GH_RUN_VIEW


def clean_line(raw: bytes, fmt: LogFormat) -> tuple[str, str, str | None]:
    """Decode and clean one raw line.

    Returns ``(text, timestamp, step)``: ``text`` without ANSI escapes, timestamp prefix or
    ``gh run view`` columns, cut to ``MAX_LINE_CHARS`` characters; ``timestamp`` the ISO
    prefix ('' when absent); ``step`` the step column of ``gh run view --log`` lines.
    """
    text = raw[: MAX_LINE_CHARS * 2].decode("utf-8", "replace")
    step: str | None = None
    if fmt is _GH_RUN_VIEW:
        m = GH_RUN_VIEW_RE.match(text)
        if m:
            step = m.group(2)
            text = m.group(3)
    if "\x1b" in text:
        text = ANSI_RE.sub("", text)
        if "\x1b" in text:  # a sequence cut at the end of the line, or a stray ESC
            text = _PARTIAL_ANSI_RE.sub("", text)
    ts = ""
    if text:
        head = text[0]
        if head == "[" or head.isdigit():
            m2 = TS_PREFIX_RE.match(text)
            if m2:
                ts = m2.group(1)
                text = text[m2.end() :]
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text[:MAX_LINE_CHARS].rstrip(), ts, step


def parse_ts(ts: str) -> datetime | None:
    """Parse an ISO timestamp prefix to an aware UTC datetime (fractions cut to microseconds)."""
    if not ts:
        return None
    m = re.match(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)?$", ts)
    if not m:
        return None
    frac = (m.group(3) or "0")[:6].ljust(6, "0")
    tz = m.group(4) or "Z"
    tz = "+00:00" if tz == "Z" else tz
    try:
        return datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}.{frac}{tz}").astimezone(UTC)
    except ValueError:
        return None


_DETECT = (
    (LogFormat.GITLAB, re.compile(rb"section_start:\d+:|Running with gitlab-runner")),
    (LogFormat.TRAVIS, re.compile(rb"travis_fold:|travis_time:|Worker information|travis-ci")),
    (
        LogFormat.JENKINS,
        re.compile(
            rb"\[Pipeline\]|^Started by |Building in workspace|\[EnvInject\]|Running as SYSTEM|^Building on |Jenkins",
            re.M,
        ),
    ),
)
_GH_TSV = re.compile(rb"^[^\t\n]+\t[^\t\n]+\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", re.M)
_GH_TS = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ", re.M)
_GH_MARK = re.compile(rb"##\[(group|endgroup|error|warning|section)\]|^::(error|warning|group)", re.M)


def detect_format(head: bytes) -> LogFormat:
    """Guess the dialect of a log from its first bytes (64 KiB are plenty).

    Rules, in order: ``gh run view --log`` TSV rows; GitHub Actions timestamps or
    ``##[group]`` markers; GitLab ``section_start:``; Travis ``travis_fold:``; Jenkins
    ``[Pipeline]``/``Started by``; otherwise ``plain``.
    """
    sample = head[:65536]
    lines = max(1, sample.count(b"\n"))
    if len(_GH_TSV.findall(sample)) >= max(1, lines // 2):
        return LogFormat.GH_RUN_VIEW
    for fmt, rx in _DETECT[:2]:
        if rx.search(sample):
            return fmt
    if len(_GH_TS.findall(sample)) >= max(1, lines // 2) or _GH_MARK.search(sample):
        return LogFormat.GITHUB_ACTIONS
    if _DETECT[2][1].search(sample):
        return LogFormat.JENKINS
    return LogFormat.PLAIN


_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"), "TIME"),
    (re.compile(r"\b\d\d:\d\d:\d\d(?:[.,]\d+)?\b"), "TIME"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "UUID"),
    (
        re.compile(
            r"(/tmp|/var/folders|/private/var/folders|/var/tmp|[A-Za-z]:\\[^\s]*\\Temp)[/\\][^\s:'\"]*"
        ),
        "TMPPATH",
    ),
    (
        re.compile(
            r"(/home/runner/work/[^/\s]+/[^/\s]+|/home/travis/build/[^/\s]+/[^/\s]+|/builds/[^/\s]+/[^/\s]+"
            r"|/var/lib/jenkins/workspace/[^/\s]+|/Users/runner/work/[^/\s]+/[^/\s]+|[A-Za-z]:\\a\\[^\\\s]+\\[^\\\s]+)"
        ),
        "WORKSPACE",
    ),
    (re.compile(r"\b\d+(\.\d+)?\s?(ms|s|sec|secs|seconds|m|min|minutes|h|hours)\b"), "DUR"),
    (re.compile(r"\b(\d{1,3}\.){3}\d{1,3}(:\d+)?\b"), "IP"),
    (re.compile(r"[/+0-9a-zA-Z]{10,}=+"), "B64"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{7,}\b"), "HEX"),
    (re.compile(r"\d+"), "N"),
    (re.compile(r"\s+"), " "),
)


def mask(text: str) -> str:
    """Replace volatile tokens (times, UUIDs, temp paths, workspaces, durations, IPs, hex
    ids, numbers) by placeholders and collapse white space; cut at 10,000 characters."""
    out = text[:10000]
    for rx, repl in _MASKS:
        out = rx.sub(repl, out)
    return out.strip()
