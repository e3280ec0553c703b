"""Deterministic evidence: the lines of a failure that a re-run would print again.

One rule, used for the diagnosis's ``transient`` flag and category
(:mod:`cimedic.analysis.diagnosis.engine`) and by the re-run policy, which refuses a run whose
diagnosis has such evidence (:mod:`cimedic.analysis.remediation`, ``docs/remediation.md``):

* **Deterministic evidence** is an assertion message, a compiler, type-checker, linker or
  linter diagnostic, a panic or named exception that is not a network error, or a
  formatter's diff. A runner's summary or per-test marker alone (``FAIL pkg 0.1s``,
  ``3 failed``, ``Tests run: 5, Failures: 1``, ``--- FAIL: TestX``, ``FAILED a.py::t``) is
  not: it says *that* something failed, not *what*.
* A line that names a network, DNS, TLS, rate-limit or registry error (``ECONNRESET``,
  ``Connection reset by peer``, ``Could not resolve host``, ``TLS handshake timeout``,
  ``toomanyrequests``...) is never assertion or exception evidence, whatever its form
  (``E   requests.exceptions.ConnectionError``, a Go ``t.Errorf`` of ``dial tcp ...``).
  An exception whose message block (the lines after it, up to the first blank line, at most
  ``BLOCK_LINES``) names one is a wrapped network error (Jenkins' ``GitException ... stderr:
  fatal: unable to access ...: error: 503``) and no evidence either. Compiler, linter and
  formatter lines are evidence even then.
* A failure whose cause lines are only network/DNS/TLS/registry errors is transient; a
  failure with any deterministic evidence is not, whatever else the log prints
  (:func:`is_transient`).

Sources: issue 11 ("ECONNRESET after a real assertion failure made the failure transient");
the error formats are those of the line patterns in :mod:`.patterns` (pytest, JUnit/Surefire,
go test, jest, RSpec, rustc, gcc/clang, javac, tsc, mypy, eslint, flake8/ruff, rubocop,
checkstyle, black, gofmt, rustfmt, prettier, Erlang xref's
``calls undefined function``). All patterns are plain Python ``re``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cimedic.model.diagnosis import Category, Evidence, EvidenceKind

# A network, DNS, TLS, rate-limit or registry error named on the line.
NETWORK_ERROR = re.compile(
    r"ECONNRESET|ECONNREFUSED|ECONNABORTED|ETIMEDOUT|ESOCKETTIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH"
    r"|ENETUNREACH|ENETDOWN|EPIPE|ERR_SOCKET|socket hang up|Connection (reset|refused|timed out|closed|aborted)"
    r"|connection reset by peer|Broken pipe|unexpected EOF|Network is unreachable|No route to host"
    r"|Could not resolve host|Temporary failure in name resolution|Name or service not known"
    r"|no such host|Unknown ?host|getaddrinfo|NameResolutionError|dial tcp|i/o timeout|read tcp |write tcp "
    r"|Failed to connect to|Read timed out|connect timed out|read operation timed out|socket\.timeout"
    r"|SocketTimeoutException|ConnectTimeout|ReadTimeout|ConnectException|ConnectionError"
    r"|ConnectionResetError|ConnectionRefusedError|ConnectionAbortedError|RemoteDisconnected"
    r"|MaxRetryError|NewConnectionError|UnknownHostException|NoRouteToHostException|SocketException"
    r"|ClientConnectorError|ServerDisconnectedError|SSLError|SSL_ERROR|SSL routines|SSLHandshakeException"
    r"|SSLException|CERTIFICATE_VERIFY_FAILED|certificate verify failed|TLS handshake|tls: |x509: "
    r"|toomanyrequests|Too Many Requests|rate limit|(HTTP|status|code|error)[ :/]*(429|50[234])\b"
    r"|\b(502 Bad Gateway|503 Service Unavailable|504 Gateway Time-?out)\b|npm ERR! network"
    r"|manifest unknown|error pulling image|net/http: ",
    re.IGNORECASE,
)

_ASSERTION = re.compile(
    r"AssertionError|AssertionFailedError|ComparisonFailure|\bassert(ion)? ?(failed|failure)\b"
    r"|Assertion failed|Assert\.\w+\(\) Failure|\bassert\w*\(.*\) failed|assertion `left == right` failed"
    r"|expected:? ?<.*> but was:? ?<|\bexpected\b.{0,120}\b(but (was|got|found|received)|, got)\b"
    r"|^\s*(Expected|Received|Actual)( value)?:\s|Failure/Error:|^E {2,}\S|^\s+\S+_test\.go:\d+: "
    r"|panicked at .*(assert|left|right)",
)

_COMPILER = re.compile(
    r"\S+:\d+:(\d+:)? (fatal )?error:|\S+\(\d+(,\d+)?\): (fatal )?error( [A-Z]+\d+)?:|error TS\d+:"
    r"|: error [A-Z]{2,}\d+:|^error\[E\d+\]:|undefined reference to|Undefined symbols for architecture"
    r"|(^|\s)(ld|collect2)(\.exe)?: error|cannot find symbol|incompatible types"
    r"|^\[ERROR\] \S+\.(java|kt|scala|groovy):(\[\d+,\d+\]|\d+)|^e: \S+\.kts?:"
    r"|^\S+\.(java|scala|groovy|kt):\d+: error|^(\./|\.\./)?[\w./-]+\.go:\d+:\d+: "
    r"|\.swift:\d+:\d+: error:|\b(SyntaxError|IndentationError|TabError): |\.hs:\d+:\d+: error"
    r"|(PHP )?Parse error: |^\[error\] \S+\.(scala|java):\d+|^\S+\.pyi?:\d+: error: "
    r"|calls undefined function ",
)

_LINTER = re.compile(
    r"^\s+\d+:\d+\s+error\s+\S|^\S+\.py:\d+:\d+: [A-Z]{1,3}\d{2,4}\b|^\S+\.rb:\d+:\d+: [CWEF]: "
    r"|\[checkstyle\]|^\[(ERROR|WARN)\] \S+\.java:\d+(:\d+)?: .*\[\w+\]$|\bSC\d{4}\b.*:"
    r"|^\S+:\d+:\d+: \[(error|warning)\] ",
)

_FORMATTER = re.compile(
    r"^would reformat |files? would be reformatted|^Would reformat: |^diff --git |^Diff in \S+ at line \d+"
    r"|Code style issues found|clang-format-violations|^(---|\+\+\+) \S+\.go(\.orig)?\b"
    r"|\b(gofmt|goimports|rustfmt|prettier|black|isort|clang-format)\b.*\b(would|needs?|differ|not formatted)",
)

# A named exception class: ``ValueError: x`` at the start, or a qualified one anywhere
# (``java.lang.IllegalStateException``). The bare word (``Error: Process completed with exit
# code 1``, a CI runner's message) is not one, nor a traceback header or goroutine dump,
# which precede the exception line that is classified itself.
_EXCEPTION = re.compile(
    r"^\s*(Uncaught |Unhandled )?(\w+\.)*[A-Z]\w*(Error|Exception)(: |$)"
    r"|(^|[\s:])([a-z_]\w*\.)+[A-Z]\w*(Error|Exception)\b|^Exception in thread |^panic: "
    r"|^thread '.*' panicked at|\*\* \((\w+\.)*\w+(Error|Exception)\)",
)

_ORDER = (
    (EvidenceKind.COMPILER, _COMPILER, False),
    (EvidenceKind.LINTER, _LINTER, False),
    (EvidenceKind.FORMATTER, _FORMATTER, False),
    (EvidenceKind.ASSERTION, _ASSERTION, True),
    (EvidenceKind.EXCEPTION, _EXCEPTION, True),
)
"""(kind, pattern, whether a network error on the line cancels it), first match wins."""
EVIDENCE_CATEGORY: dict[EvidenceKind, Category] = {
    EvidenceKind.ASSERTION: Category.TEST,
    EvidenceKind.COMPILER: Category.COMPILATION,
    EvidenceKind.LINTER: Category.LINT,
    EvidenceKind.FORMATTER: Category.LINT,
    EvidenceKind.EXCEPTION: Category.UNKNOWN,
}
"""Category a kind of evidence implies when its line gives no better hint (the engine uses
it when a transient category was chosen but deterministic evidence exists)."""
BLOCK_LINES = 40
"""Most lines after an exception line that are read as its message block."""


@dataclass(frozen=True, slots=True)
class CauseLine:
    """A line the diagnosis takes as a cause of the failure: 1-based ``line``, cleaned
    ``text`` (no ANSI codes, no timestamp) and ``network``: true when the caller already
    knows the line reports a transient (network, DNS, TLS, registry) error, e.g. from a
    matching knowledge-base cause. ``block``: the cleaned lines after it that continue its
    message (see :func:`block_after`); read only for exception lines."""

    line: int
    text: str
    network: bool = False
    block: tuple[str, ...] = ()


def is_network_error(text: str) -> bool:
    """True when ``text`` names a network, DNS, TLS, rate-limit or registry error."""
    return NETWORK_ERROR.search(text) is not None


def block_after(line: int, texts: Mapping[int, str]) -> tuple[str, ...]:
    """The lines after ``line`` up to the first blank or unknown one, at most ``BLOCK_LINES``."""
    out: list[str] = []
    for n in range(line + 1, line + 1 + BLOCK_LINES):
        text = texts.get(n, "")
        if not text.strip():
            break
        out.append(text)
    return tuple(out)


def classify(text: str, network: bool = False, block: Iterable[str] = ()) -> EvidenceKind | None:
    """The kind of deterministic evidence ``text`` is, or None (see the module rule).

    ``network`` (or a network error named in ``text``) cancels assertion and exception
    evidence, not compiler, linter or formatter diagnostics; a network error in ``block``
    cancels exception evidence.
    """
    net: bool | None = True if network else None
    for kind, pattern, cancelled_by_network in _ORDER:
        if not pattern.search(text):
            continue
        if cancelled_by_network:
            if net is None:
                net = is_network_error(text)
            if net:
                continue
        if kind is EvidenceKind.EXCEPTION and any(is_network_error(b) for b in block):
            continue
        return kind
    return None


def deterministic_evidence(lines: Iterable[CauseLine]) -> tuple[Evidence, ...]:
    """Deterministic evidence among ``lines``, in their order (pass them strongest first).

    Pure; never raises. An empty result means the failure's cause lines are all transient
    (or unknown) errors.
    """
    out: list[Evidence] = []
    for cl in lines:
        kind = classify(cl.text, cl.network, cl.block)
        if kind is not None:
            out.append(Evidence(line=cl.line, kind=kind))
    return tuple(out)


def is_transient(cause_is_transient: bool, evidence: Iterable[Evidence]) -> bool:
    """The diagnosis's ``transient`` flag: the cause (KB cause, else category) is a transient
    one and there is no deterministic evidence."""
    return cause_is_transient and not any(True for _ in evidence)
