"""Secret redaction: build-log text is cleaned before it reaches a model, a notification or
cimedic's own logs.

:func:`redact` replaces every secret it finds by ``[REDACTED:<kind>]`` and reports how many it
replaced and of which kinds. Two sources of rules, in this order:

1. **Our patterns** (:data:`PATTERNS`, plus the multi-line private-key block): GitHub tokens
   (prefixes ``ghp_ gho_ ghu_ ghs_ ghr_ github_pat_``, GitHub docs "About authentication to
   GitHub", token formats), AWS access key ids (``AKIA``/``ASIA``... + 16, AWS IAM docs "IAM
   identifiers") and secret access keys (40 base64 characters after an ``aws_secret...`` name),
   Google API keys (``AIza`` + 35) and OAuth tokens (``ya29.``), Azure storage ``AccountKey=``
   and SAS ``sig=``, Slack tokens (``xox[abposr]-``) and incoming webhooks, JWTs (RFC 7519:
   three base64url parts, the first two JSON objects starting ``eyJ``), ``Authorization:
   Bearer/Basic/token`` headers, credentials in URLs (RFC 3986 ``userinfo``), npm tokens
   (``npm_`` + 36, ``_authToken=``) and PyPI API tokens (``pypi-`` macaroons), and
   ``password=``/``secret:``/``token=``/``api_key:``-style assignments.
   Then the vendor token formats of :data:`~cimedic.analysis.secret_formats.VENDOR_PATTERNS`
   (GitLab ``glpat-``/``gldt-``/``glrt-``/``glptt-``/``GR1348941``..., OpenAI ``sk-proj-``/
   ``sk-svcacct-``/``sk-admin-``/``...T3BlbkFJ...``, Anthropic, Hugging Face, Docker Hub,
   Terraform Cloud, Vault, DigitalOcean, Atlassian, Stripe ``sk_test_``, ... ~65 formats after
   gitleaks' rules, gitleaks/gitleaks ``cmd/generate/config/rules/*.go``, each named there),
   run only when one of their literal anchors is in a run of token characters of the text;
   and the command-line passwords of
   :data:`~cimedic.analysis.secret_formats.COMMAND_PATTERNS` (``docker login -p``,
   ``mysql -pSECRET``, ``sshpass -p``, ``curl -u user:SECRET``), run only when their command
   name is in the text. Recall, redactions on real CI logs and cost: ``bench/redaction.py``.
2. **detect-secrets** (Yelp, ``detect-secrets`` 1.x): its regex plugins (Stripe, Twilio,
   SendGrid, Discord, Telegram, OpenAI, GitLab, Mailchimp, Artifactory, IBM, ...) run on each
   line that holds a token-like run of at least :data:`DS_MIN_RUN` characters, and only the
   plugins whose own regexes (``denylist``) match somewhere in the text (one search each over
   the whole text keeps the per-line cost off ordinary logs). Its entropy plugins are
   not used (on log lines they flag commit SHAs, paths and hashes), nor its IPv4 plugin (an
   address is not a secret), nor its keyword plugin (needs file context; our assignment
   pattern does that job), nor the keyword-driven IBM/Cloudant/SoftLayer plugins and the
   Artifactory one (each costs ~0.5 s per 7 MB of log, and Artifactory's ``AP[0-9A-F]...``
   matches ordinary upper-case words). A plugin's finding is the whole regex match, or its
   groups when they hold a value after a keyword (:func:`_ds_values`: the plugins' own
   ``analyze_string`` yields GitHub's and GitLab's prefix group, ``ghp``/``glpat``, not the
   token). detect-secrets is imported lazily; when it is missing only our patterns run.

What is never touched: GitHub's own ``***`` masks, ``${{ ... }}``/``$VAR`` references, values
that name a variable (``server-password: GITHUB_TOKEN``) or are code (``token = ref1[j]``,
``{token:this.token}``), words such as ``required``, and values shorter than
:data:`MIN_SECRET_CHARS`. Pure: no I/O, no settings.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cimedic.analysis.secret_formats import COMMAND_PATTERNS, VENDOR_PATTERNS

if TYPE_CHECKING:
    from cimedic.model.diagnosis import Diagnosis

__all__ = [
    "COMMAND_PATTERNS",
    "DS_MIN_RUN",
    "MIN_SECRET_CHARS",
    "PATTERNS",
    "VENDOR_PATTERNS",
    "WHOLE_PATTERNS",
    "RedactingFilter",
    "RedactionResult",
    "redact",
]

# Shortest value an assignment pattern or a detect-secrets finding may redact: shorter values
# are flags or placeholders (``token=1``), not credentials (NIST SP 800-63B sets 8 characters
# as the minimum memorised secret; 4 keeps short test passwords of logs redacted too).
MIN_SECRET_CHARS = 4
# detect-secrets runs only on lines holding a run of this many token characters: its regex
# plugins all match 20+ character runs (Twilio SK+32, Stripe sk_live_+24, SendGrid SG.+66).
DS_MIN_RUN = 20


@dataclass(frozen=True)
class RedactionResult:
    """``text`` with secrets replaced, ``count`` replacements, ``kinds`` the sorted distinct kinds."""

    text: str
    count: int
    kinds: tuple[str, ...]


_PRIVATE_KEY = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----"
    r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
    re.DOTALL,
)

# Names whose assigned value is a secret (the name may carry any prefix: DB_PASSWORD=...).
_ASSIGN_WORDS = (
    r"password|passwd|passphrase|secret|token|api[_-]?key|apikey|"
    r"access[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?key|credentials?"
)

# Whole-match patterns (kind, regex): compiled into one alternation, one scan of the text.
WHOLE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
    ("slack_webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+"),
    ("slack_token", r"\bxox[abposr]-[0-9A-Za-z-]{10,}"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),
    ("aws_access_key", r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b"),
    ("gcp_api_key", r"\bAIza[0-9A-Za-z_-]{35}"),
    ("gcp_oauth_token", r"\bya29\.[0-9A-Za-z_-]{20,}"),
    ("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("pypi_token", r"\bpypi-[A-Za-z0-9_-]{50,}"),
)

# Value patterns (kind, pattern, group): only ``group`` (the value) is replaced.
PATTERNS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    (
        "aws_secret_key",
        re.compile(
            r"(?i)(aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?)([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
        2,
    ),
    ("azure_storage_key", re.compile(r"(?i)(AccountKey=)([A-Za-z0-9+/]{40,}={0,2})"), 2),
    ("azure_sas_signature", re.compile(r"(?i)([?&]sig=)([A-Za-z0-9%+/=]{20,})"), 2),
    ("npm_token", re.compile(r"(_authToken\s*=\s*)([^\s\"'$][^\s\"']{3,})"), 2),
    (
        "auth_header",
        re.compile(
            r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token|bot|digest)\s+)([A-Za-z0-9._~+/=:-]{6,})"
        ),
        2,
    ),
    ("auth_header", re.compile(r"(?i)(bearer\s+)([A-Za-z0-9._~+/-]{20,}=*)"), 2),
    ("url_credentials", re.compile(r"(://[^\s:/@\"'<>]+:)([^\s@/\"'<>]+)(@)"), 2),
    (
        "password",
        re.compile(
            r"(?i)((?:" + _ASSIGN_WORDS + r")[\"']?\s*[:=]\s*[\"']?)"
            r"(?![$*<%{\[(/:]|\[REDACTED)([^\s\"',;&)]{4,})"
        ),
        2,
    ),
    (
        "password",
        re.compile(
            r"(?i)(\s--?(?:password|passwd|token|api-key|secret|client-secret)\s+[\"']?)(?![$*<%{\[-])([^\s\"']{4,})"
        ),
        2,
    ),
)

_WHOLE_RE = re.compile("|".join(f"(?P<k{i}>{rx})" for i, (_kind, rx) in enumerate(WHOLE_PATTERNS)))
_VENDOR_ANCHORS: tuple[tuple[int, str], ...] = tuple(
    (i, anchor) for i, (_kind, anchors, _rx) in enumerate(VENDOR_PATTERNS) for anchor in anchors
)


# Runs of token characters at least as long as the shortest vendor token (sm_pat_ + 16): each
# vendor match, and its anchor, lies inside one; the anchors are searched in these runs only.
_VENDOR_RUN = re.compile(r"[A-Za-z0-9_.~+/=%-]{16,}")


@lru_cache(maxsize=256)
def _vendor_re(indices: tuple[int, ...]) -> re.Pattern[str]:
    """One alternation of the vendor patterns ``indices`` (group ``v<i>`` for pattern ``i``)."""
    return re.compile("|".join(f"(?P<v{i}>{VENDOR_PATTERNS[i][2]})" for i in indices))


_NOT_SECRETS = frozenset(
    {
        "true",
        "false",
        "null",
        "none",
        "required",
        "optional",
        "redacted",
        "undefined",
        "empty",
        "string",
        "masked",
        # Rails migration progress ("== 2013... RemoveAccessPassword: migrating ====")
        "migrating",
        "migrated",
        "reverting",
        "reverted",
    }
)
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
# A value that is code, not a secret: a member (``this.token``) or an indexed name
# (``ref1[j]``); both were redacted in real CI logs by the assignment pattern (bench/redaction.py).
_CODE_REF = re.compile(r"(?:(?:this|self)\.[A-Za-z_][\w.]*|[A-Za-z_]\w*\[\w*\])[\]}]*")
_TOKEN_RUN = re.compile(rf"[A-Za-z0-9_-]{{{DS_MIN_RUN},}}")
_SKIPPED_PLUGINS = frozenset(
    {
        "Base64HighEntropyString",
        "HexHighEntropyString",
        "IPPublicDetector",
        "KeywordDetector",
        "PrivateKeyDetector",
        "CloudantDetector",
        "IbmCloudIamDetector",
        "IbmCosHmacDetector",
        "SoftlayerDetector",
        "ArtifactoryDetector",
    }
)


def redact(text: str) -> RedactionResult:
    """Replace every secret of ``text`` (any size, any number of lines) by ``[REDACTED:<kind>]``.

    Line breaks are kept except inside a private-key block, which becomes one marker (a block
    without its END line is redacted to the end of ``text``). Never raises.
    """
    kinds: Counter[str] = Counter()

    def _block(_m: re.Match[str]) -> str:
        kinds["private_key"] += 1
        return "[REDACTED:private_key]"

    def _whole(m: re.Match[str]) -> str:
        kind = WHOLE_PATTERNS[int((m.lastgroup or "k0")[1:])][0]
        kinds[kind] += 1
        return f"[REDACTED:{kind}]"

    out = _PRIVATE_KEY.sub(_block, text) if "PRIVATE KEY" in text else text
    out = _WHOLE_RE.sub(_whole, out)
    runs = " ".join(_VENDOR_RUN.findall(out))  # every vendor token lies in one such run
    present = tuple(sorted({i for i, anchor in _VENDOR_ANCHORS if anchor in runs})) if runs else ()
    if present:

        def _vendor(m: re.Match[str]) -> str:
            kind = VENDOR_PATTERNS[int((m.lastgroup or "v0")[1:])][0]
            kinds[kind] += 1
            return f"[REDACTED:{kind}]"

        out = _vendor_re(present).sub(_vendor, out)
    for kind, pattern, group in PATTERNS:
        out = pattern.sub(_replacer(kind, group, kinds), out)
    for kind, anchors, pattern, group in COMMAND_PATTERNS:
        if any(anchor in out for anchor in anchors):
            out = pattern.sub(_replacer(kind, group, kinds), out)
    # _ds_line skips lines without a token run: without one in the whole text, no plugin runs
    plugins = tuple(
        (kind, plugin)
        for kind, plugin in (_ds_plugins() if _TOKEN_RUN.search(out) else ())
        if not hasattr(plugin, "denylist") or any(rx.search(out) for rx in plugin.denylist)
    )
    if plugins:
        out = "".join(_ds_line(line, plugins, kinds) for line in out.splitlines(keepends=True))
    return RedactionResult(out, sum(kinds.values()), tuple(sorted(kinds)))


def _replacer(kind: str, group: int, kinds: Counter[str]) -> Any:
    marker = f"[REDACTED:{kind}]"

    def _sub(m: re.Match[str]) -> str:
        value = m.group(group)
        if group and (len(value) < MIN_SECRET_CHARS or value.lower().strip("\"'") in _NOT_SECRETS):
            return m.group(0)
        # a value naming a variable (server-password: GITHUB_TOKEN) is no secret
        if kind == "password" and (_ENV_NAME.fullmatch(value) or _CODE_REF.fullmatch(value)):
            return m.group(0)
        kinds[kind] += 1
        if group == 0:
            return marker
        start, end = m.span(group)
        base = m.start(0)
        whole = m.group(0)
        return whole[: start - base] + marker + whole[end - base :]

    return _sub


@lru_cache(maxsize=1)
def _ds_plugins() -> tuple[tuple[str, Any], ...]:
    """``(kind, plugin)`` for detect-secrets' regex plugins; empty when it is not installed."""
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    except Exception:  # pragma: no cover - detect-secrets is a dependency
        return ()
    found: list[tuple[str, Any]] = []
    mapping: dict[str, Any] = dict(get_mapping_from_secret_type_to_class())
    for secret_type, cls in mapping.items():
        if cls.__name__ in _SKIPPED_PLUGINS:
            continue
        try:
            found.append((_slug(str(secret_type)), cls()))
        except Exception:  # pragma: no cover - a plugin that needs configuration
            continue
    return tuple(found)


def _slug(secret_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", secret_type.lower()).strip("_")


def _ds_line(line: str, plugins: tuple[tuple[str, Any], ...], kinds: Counter[str]) -> str:
    if not _TOKEN_RUN.search(line):
        return line
    for kind, plugin in plugins:
        try:
            values = _ds_values(plugin, line)
        except Exception:  # pragma: no cover - a plugin bug must not break redaction
            continue
        for value in sorted(values, key=len, reverse=True):
            if len(value) < 8 or value.startswith("[REDACTED") or value not in line:
                continue
            kinds[kind] += line.count(value)
            line = line.replace(value, f"[REDACTED:{kind}]")
    return line


def _ds_values(plugin: Any, line: str) -> set[str]:
    """The secrets a detect-secrets plugin finds in ``line``. For a regex plugin, each match of
    its ``denylist``: the whole match when the regex has no group or its first group starts
    the match (GitLab's ``(glpat|gldt|...)-...``: ``analyze_string`` would yield only the
    prefix, ``glpat``), else the groups (the value after a keyword: AWS, basic auth)."""
    denylist = getattr(plugin, "denylist", None)
    if not denylist:
        return {str(v) for v in plugin.analyze_string(line)}
    values: set[str] = set()
    for rx in denylist:
        for m in rx.finditer(line):
            if not rx.groups or m.start(1) == m.start(0):
                values.add(m.group(0))
                continue
            end = -1
            for g in range(1, rx.groups + 1):
                if m.group(g) and m.start(g) >= end:  # outermost groups only
                    values.add(m.group(g))
                    end = m.end(g)
    return values


class RedactingFilter(logging.Filter):
    """A :mod:`logging` filter that redacts each record before any handler writes it: the
    formatted message (``msg % args``) and the text of an attached exception go through
    :func:`redact`, so a secret quoted in an error (a log line, a URL with credentials) never
    reaches our own logs. Attach it to handlers (``handler.addFilter(RedactingFilter())``).
    Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the raw parts, redacted
            message = f"{record.msg} {record.args}"
        record.msg = redact(message).text
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text).text  # formatters use it as is
        return True


def redact_diagnosis(diagnosis: Diagnosis) -> Diagnosis:
    """``diagnosis`` with every text that came from the log redacted (:func:`redact`): the
    summary, the error lines, the excerpt lines, the failed step's name and the names of the
    log's sections (a GitHub Actions step is named after its command: ``Run docker login -p
    ...``). Line numbers, category, signature (computed from the unredacted line, so it stays
    stable) and the knowledge-base cause (not log text) are kept."""

    step = diagnosis.failed_step
    return diagnosis.model_copy(
        update={
            "summary": redact(diagnosis.summary).text,
            "error_lines": tuple(
                e.model_copy(update={"text": redact(e.text).text}) for e in diagnosis.error_lines
            ),
            "excerpt_lines": tuple((n, redact(t).text) for n, t in diagnosis.excerpt_lines),
            "failed_step": step.model_copy(update={"name": redact(step.name).text}) if step else None,
            "sections": tuple(
                sec.model_copy(update={"name": redact(sec.name).text}) for sec in diagnosis.sections
            ),
        }
    )
