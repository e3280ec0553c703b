"""Escaping of untrusted text and the one rule for links (pure).

It lives in the model layer because every layer that writes text for people uses it:
notification templates (``cimedic.inputs``), the notify policy (``cimedic.analysis``), the
senders (``cimedic.actions``) and the reports (``cimedic.services``); the import-linter layers
keep those siblings from importing each other.

Job, test, branch and workflow names, log lines, cluster and commit titles come from build
logs and provider payloads: whoever can push a commit or name a job writes them. Before such
text enters a notification or a report it goes through one of these functions, so it prints
as text and never as markup, a mention or a link:

- :func:`neutralise_mentions`: ``@channel``, ``@here``, ``@everyone`` (Slack, Discord,
  Mattermost, Teams) and any other ``@name`` that starts a word (GitHub's user and team
  mentions in issues and pull-request comments; ``user@example.com`` is left alone), Slack's special ``<!channel>`` / ``<!here>`` / ``<!everyone>`` /
  ``<!subteam^…>`` and user mentions ``<@U…>`` get a ZERO WIDTH SPACE (U+200B) after their
  ``@`` / ``!``, so no chat service resolves them and the text still reads the same.
  (apprise's Slack plugin re-creates ``<!name>`` from ``!name>`` even without the ``<``, hence
  the space after ``!``.)
- :func:`markdown`: CommonMark inline text; the characters that open inline markup are
  backslash-escaped (CommonMark 0.31 §2.4 "Backslash escapes": any ASCII punctuation may be
  escaped), line-start block markers too, line breaks become spaces.
- :func:`markdown_code`: the text as one CommonMark code span (§6.1: a backtick string longer
  than any run of backticks inside it), where nothing is interpreted.
- :func:`slack`: Slack mrkdwn text: ``&``, ``<``, ``>`` as ``&amp;``, ``&lt;``, ``&gt;`` (Slack
  "Formatting text for app surfaces: escaping text",
  https://api.slack.com/reference/surfaces/formatting#escaping).
- :func:`html`: HTML text and attribute values, by :func:`markupsafe.escape` (the escaper of
  Jinja2).

Every function neutralises mentions first. :func:`safe_link` is the rule for links: only
``http``/``https`` URLs on the provider's web host are ever linked; :func:`run_link` builds a
run's page from the provider's web base URL and ids (never from a payload URL).
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from markupsafe import escape as _markupsafe_escape

__all__ = [
    "GITHUB_WEB",
    "html",
    "http_link",
    "markdown",
    "markdown_code",
    "neutralise_mentions",
    "plain",
    "run_link",
    "safe_link",
    "slack",
    "web_base_of",
]

GITHUB_WEB = "https://github.com"
"""The web base URL of github.com (the default provider)."""

_ZWSP = "\u200b"
_AT_NAME = re.compile(r"(?<![\w@.])@(?=[\w-])")  # @everyone, @here, @channel, @user, @org/team
_SPECIAL = re.compile(r"(?<=<)(!)")  # <!channel>, <!here>, <!subteam^ID> (<@U123>: _AT_NAME)
_BARE_SPECIAL = re.compile(r"([!@])(?!\u200b)(?=[^\s|<>]+(?:>|&gt;))")  # "!channel>" (apprise adds the "<")
_INLINE = re.compile(r"([\\`*_\[\]<>|~])")
_LINE_START = re.compile(r"^(\s*)(#{1,6}(?=\s|$)|[-+=>](?=\s|[-+=>])|\d{1,9}(?=[.)](?:\s|$)))")
_BREAKS = re.compile(r"[\r\n\t\v\f\u0085\u2028\u2029]+")


def neutralise_mentions(text: str) -> str:
    """``text`` with every chat mention made inert by a U+200B after its ``@`` or ``!``
    (``@everyone`` -> ``@\u200beveryone``, ``@octocat`` -> ``@\u200boctocat``,
    ``<!channel>`` -> ``<!\u200bchannel>``, ``<@U123>`` -> ``<@\u200bU123>``); an ``@`` inside a
    word (``user@example.com``) and other text unchanged. Existing U+200B are removed first,
    so the result is the same for any input (idempotent)."""
    text = text.replace(_ZWSP, "")
    text = _AT_NAME.sub("@" + _ZWSP, text)
    text = _SPECIAL.sub(r"\1" + _ZWSP, text)
    return _BARE_SPECIAL.sub(r"\1" + _ZWSP, text)


def markdown(text: str) -> str:
    """``text`` as inert CommonMark inline text (one line): mentions neutralised, line breaks
    and tabs as one space, the inline markup characters ``\\ ` * _ [ ] < > | ~`` backslash-escaped
    (so no emphasis, code, link, image, autolink, raw HTML, table cell or strikethrough can
    start), and a block marker at its start (``#``, ``-``, ``+``, ``=``, ``>``, ``1.``) escaped.
    Characters that only matter after an escaped one (``( ) !``) and ``.`` inside a line are
    kept, so ordinary names (``go.mod``, ``build (ubuntu-latest)``) print unchanged."""
    one_line = _BREAKS.sub(" ", neutralise_mentions(text))
    escaped = _INLINE.sub(r"\\\1", one_line)
    return _LINE_START.sub(
        lambda m: (
            f"{m.group(1)}\\{m.group(2)}" if not m.group(2)[0].isdigit() else f"{m.group(1)}{m.group(2)}\\"
        ),
        escaped,
    )


_BACKSLASH_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def plain(text: str) -> str:
    """The plain text of Markdown-escaped ``text``: every CommonMark backslash escape (a
    backslash before ASCII punctuation, §2.4) replaced by the character, so
    ``plain(markdown(x))`` is ``x`` with mentions neutralised and on one line. For targets
    that show text as is (a GitHub issue title)."""
    return _BACKSLASH_ESCAPE.sub(r"\1", text)


def markdown_code(text: str) -> str:
    """``text`` as one CommonMark code span: mentions neutralised, line breaks as spaces, a
    U+200B between ``]`` and ``(`` (chat services that turn ``[text](url)`` into a link do not
    all honour code spans), wrapped in a backtick string one longer than the longest run of
    backticks inside (padded with a space when the text starts or ends with a backtick).
    ``""`` stays ``""``."""
    one_line = _BREAKS.sub(" ", neutralise_mentions(text)).replace("](", "]" + _ZWSP + "(")
    if not one_line:
        return ""
    runs = [len(r) for r in re.findall(r"`+", one_line)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{fence}{pad}{one_line}{pad}{fence}"


def slack(text: str) -> str:
    """``text`` as Slack mrkdwn text: mentions neutralised, then ``&``, ``<``, ``>`` replaced by
    ``&amp;``, ``&lt;``, ``&gt;`` (the three characters Slack asks apps to escape; a ``<...>``
    is otherwise a link or mention)."""
    return neutralise_mentions(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html(text: str) -> str:
    """``text`` as HTML text or a quoted attribute value: mentions neutralised, then
    ``& < > ' "`` escaped by :func:`markupsafe.escape`."""
    return str(_markupsafe_escape(neutralise_mentions(text)))


def web_base_of(api_url: str | None) -> str:
    """The provider's web base URL from its REST API URL: ``https://api.github.com`` (or None)
    -> ``https://github.com``; a GitHub Enterprise Server API ``https://ghe.example/api/v3`` ->
    ``https://ghe.example`` (GitHub docs "REST API endpoints ... GitHub Enterprise Server":
    the API lives under ``/api/v3`` of the web host). Raises ``ValueError`` for a URL that is
    not ``http(s)`` with a host."""
    if not api_url:
        return GITHUB_WEB
    parts = urlsplit(api_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"invalid provider API URL {api_url!r}: expected an http(s) URL")
    if parts.hostname == "api.github.com":
        return GITHUB_WEB
    host = parts.netloc.removeprefix("api.") if parts.netloc.startswith("api.") else parts.netloc
    return f"{parts.scheme}://{host}"


def http_link(url: str | None) -> str | None:
    """``url`` when it is an absolute ``http``/``https`` URL with a host, no user info, and no
    whitespace, control character, quote, backslash or angle bracket (which could end a
    Markdown link or an HTML attribute); else None (``javascript:``, ``data:``, relative
    URLs, ...). Any host: :func:`safe_link` also checks the host."""
    if not url or any(c.isspace() or ord(c) < 32 or ord(c) == 127 or c in "<>\"'`\\" for c in url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    return url


def safe_link(url: str | None, web_base: str = GITHUB_WEB) -> str | None:
    """``url`` when it may be linked, else None: an :func:`http_link` whose host and port are
    those of ``web_base`` (the provider's web base URL, e.g. ``https://github.com`` or a GHES
    host from :func:`web_base_of`). ``javascript:``, ``data:``, relative URLs and other hosts
    give None."""
    if http_link(url) is None:
        return None
    assert url is not None
    try:
        parts, base = urlsplit(url), urlsplit(web_base)
        same = parts.hostname == base.hostname and parts.port == base.port
    except ValueError:
        return None
    return url if same and base.hostname else None


def run_link(
    web_base: str, repository: str, run_id: str | int | None = None, *, suffix: str = ""
) -> str | None:
    """The web page of run ``run_id`` of ``repository`` (``owner/name``):
    ``<web_base>/<owner>/<name>/actions/runs/<run_id>`` (``…/actions`` without a run id; then
    ``suffix``, e.g. ``/attempts/2``), every part percent-encoded; None when the result is not
    a :func:`safe_link` of ``web_base`` (e.g. ``web_base`` is not http(s))."""
    path = "/" + quote(repository.strip("/"), safe="/") + "/actions"
    if run_id is not None and str(run_id):
        path += "/runs/" + quote(str(run_id), safe="")
    return safe_link(web_base.rstrip("/") + path + quote(suffix, safe="/"), web_base)
