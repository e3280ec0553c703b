"""Text side of failure clustering: normalise a primary error line, and decide whether two
normalised texts are near-duplicates (pure functions).

Sources (``shared/docs/field-notes.md``, "Clustering failures across runs"):

- **Kubernetes triage** (kubernetes/test-infra ``triage/summarize/text.go``): ``normalize``
  blanks dates (RFC 1123 and syslog forms) to ``TIME``, renames hex constants, IPs, UUIDs and
  hex garbage, sorts the contents of Go ``map[...]`` (random iteration order) and cuts long
  output at 10,000 characters; ``findMatch`` puts a failure in an existing cluster when the
  edit distance to the cluster's key text is below 10% of the two texts' mean length, after a
  cheap lower bound from hashed 4-gram counts (64 buckets, CRC-32).
- **LUCI Analysis** (luci/luci-go ``analysis/internal/clustering/algorithms/failurereason``):
  long base64 and hex runs and all numbers become wildcards; a cluster id is the first bytes of
  SHA-256 of the masked text.

The engine's :func:`cimedic.analysis.diagnosis.text.mask` already applies both sets of token
rules to compute the diagnosis signature; :func:`normalise` runs it after a few rules of its
own that only matter for comparing texts (listed in :data:`NORMALISATION_RULES`).
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein

from cimedic.analysis.diagnosis.text import mask

__all__ = [
    "DISPLAY_CHARS",
    "MAX_DISTANCE_FRACTION",
    "MAX_TEXT_CHARS",
    "NGRAM",
    "NGRAM_BUCKETS",
    "NORMALISATION_RULES",
    "edit_limit",
    "length_window",
    "near_duplicate_distance",
    "ngram_counts",
    "ngram_lower_bound",
    "normalise",
    "readable_line",
]

# Kubernetes triage text.go: "allow up to 10% differences" (of the mean length, strict <).
MAX_DISTANCE_FRACTION = 0.10
# Kubernetes triage text.go: makeNgramCounts hashes 4-grams into 64 buckets with CRC-32.
NGRAM = 4
NGRAM_BUCKETS = 64
# Kubernetes triage text.go longOutputLen; the engine's mask cuts at the same length.
MAX_TEXT_CHARS = 10_000
# One edit (insertion, deletion, substitution) changes at most NGRAM n-grams on each side, so
# at most 2 * NGRAM bucket counts: ceil(L1 / (2 * NGRAM)) never exceeds the edit distance.
# (Triage divides by 4, a heuristic that can reject true matches; see ngram_lower_bound.)
_EDIT_NGRAM_SPAN = 2 * NGRAM

# Longest example line kept for display (the engine cuts a primary line at 500 characters).
DISPLAY_CHARS = 500
# GitHub Actions annotation prefixes: how the line was shown, not what it says.
_ANNOTATION = re.compile(r"^\s*(?:##\[(?:error|warning|notice)\]|::(?:error|warning|notice)(?: [^:]*)?::)")
# After Kubernetes triage flakeReasonDateRE, first two alternatives (the ISO form is in
# mask()): RFC 1123 dates with a numeric or named zone, and syslog dates. Triage's
# "[\d.-: ]*" also swallows the space after a negative zone; here the zone is explicit.
_DATES = re.compile(
    r"\b[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d(?:\.\d+)?(?: ?(?:[-+]\d{4}|[A-Z]{2,4}\b))?"
    r"|\b[A-Z][a-z]{2}\s+\d{1,2} \d\d:\d\d:\d\d(?:\.\d+)?"
)
# Kubernetes triage normalize: Go maps print in random order; sort the space-separated items.
_GO_MAP = re.compile(r"map\[([^\[\]]*)\]")
# URL query strings carry signatures, tokens and cache-busters (signed download URLs).
_URL_QUERY = re.compile(r"(https?://[^\s?#\"'<>]+)\?[^\s\"'<>)\]]*")

NORMALISATION_RULES: tuple[str, ...] = (
    "secrets are replaced by [REDACTED:<kind>] (cimedic.analysis.redact) before any other rule: "
    "a mask that turns a secret's digits into N would hide it from the secret patterns and leave "
    "the rest of it in the text",
    "GitHub Actions annotation prefixes (##[error], ::error file=...::) are dropped",
    "RFC 1123 and syslog dates become TIME (Kubernetes triage)",
    "the items of Go map[...] are sorted (Kubernetes triage)",
    "URL query strings become ?QUERY",
    "engine mask: ISO times, UUIDs, temp paths, CI workspaces, durations, IPs, base64, hex ids and "
    "numbers become placeholders; white space is collapsed (LUCI Analysis, Kubernetes triage)",
    "the text is cut at 10,000 characters (Kubernetes triage)",
)


def _sort_map(m: re.Match[str]) -> str:
    return "map[" + " ".join(sorted(m.group(1).split(" "))) + "]"


def normalise(text: str) -> str:
    """Normalise a primary error line for clustering (the rules of :data:`NORMALISATION_RULES`,
    in that order). Deterministic; returns '' for blank input. Secrets are redacted first
    (:func:`cimedic.analysis.redact.redact`), so the masks below never see one: a partly
    masked secret (``DkrWLuqIANidNVwND``) no longer matches its pattern and would leak."""
    from cimedic.analysis.redact import redact

    out = redact(text[: MAX_TEXT_CHARS * 2]).text
    out = _ANNOTATION.sub("", out, count=1)
    out = _DATES.sub("TIME", out)
    if "map[" in out:
        out = _GO_MAP.sub(_sort_map, out)
    if "://" in out and "?" in out:
        out = _URL_QUERY.sub(r"\1?QUERY", out)
    return mask(out)[:MAX_TEXT_CHARS]


def readable_line(text: str, limit: int = DISPLAY_CHARS) -> str:
    """A log line as a user reads it in a title or an example: the GitHub Actions annotation
    prefix dropped, white space collapsed, secrets replaced by
    :func:`cimedic.analysis.redact.redact`, cut at ``limit`` characters (an ellipsis marks the
    cut). Unlike :func:`normalise` it keeps numbers, versions, paths and hosts as they were
    (``k8s.io/client-go@v0.23.4``, not ``kNs.io/client-go@vN.N.N``). '' for blank input."""
    from cimedic.analysis.redact import redact

    out = " ".join(redact(_ANNOTATION.sub("", text, count=1)).text.split()) if text.strip() else ""
    return out if len(out) <= limit else out[: limit - 1].rstrip() + "…"


def ngram_counts(text: str) -> tuple[int, ...]:
    """Counts of the text's character 4-grams hashed (CRC-32 of their UTF-8) into 64 buckets,
    as Kubernetes triage's ``makeNgramCounts``."""
    counts = [0] * NGRAM_BUCKETS
    mask_ = NGRAM_BUCKETS - 1
    for i in range(len(text) - NGRAM + 1):
        counts[zlib.crc32(text[i : i + NGRAM].encode("utf-8")) & mask_] += 1
    return tuple(counts)


def ngram_lower_bound(a: Sequence[int], b: Sequence[int]) -> int:
    """A lower bound of the edit distance of two texts from their :func:`ngram_counts`:
    ``ceil(L1 / 8)``. An edit touches at most 4 n-grams of each text, so it changes the L1
    distance of the bucket counts by at most 8 (hash collisions only lower L1)."""
    l1 = sum(abs(x - y) for x, y in zip(a, b, strict=True))
    return -(-l1 // _EDIT_NGRAM_SPAN)


def edit_limit(len_a: int, len_b: int) -> int:
    """The triage limit: ``int(0.10 * mean length)``; texts match when their edit distance is
    strictly below it, so a limit of 1 or less admits only identical texts."""
    return int((len_a + len_b) / 2.0 * MAX_DISTANCE_FRACTION)


def length_window(length: int) -> tuple[int, int]:
    """The lengths ``[lo, hi]`` a near-duplicate of a text of ``length`` characters can have:
    the length difference is below the limit, i.e. at most 5% of the sum of both lengths."""
    half = MAX_DISTANCE_FRACTION / 2.0
    return math.floor(length * (1.0 - half) / (1.0 + half)), math.ceil(length * (1.0 + half) / (1.0 - half))


def near_duplicate_distance(
    a: str,
    b: str,
    counts_a: Sequence[int] | None = None,
    counts_b: Sequence[int] | None = None,
) -> int | None:
    """Edit distance of two normalised texts when they are near-duplicates, else None.

    Near-duplicate (Kubernetes triage ``findMatch``): Levenshtein distance (unit costs,
    ``rapidfuzz``) strictly below :func:`edit_limit` of their lengths; identical texts are
    always near-duplicates (distance 0). Cheap rejections first: the length difference, then
    the 4-gram lower bound (pass ``counts_*`` to reuse :func:`ngram_counts`).
    """
    if a == b:
        return 0
    limit = edit_limit(len(a), len(b))
    if limit <= 1 or abs(len(a) - len(b)) >= limit:
        return None
    ca = counts_a if counts_a is not None else ngram_counts(a)
    cb = counts_b if counts_b is not None else ngram_counts(b)
    if ngram_lower_bound(ca, cb) >= limit:
        return None
    dist = int(Levenshtein.distance(a, b, score_cutoff=limit - 1))
    return dist if dist < limit else None
