"""Escaping of untrusted text and the link rule (:mod:`cimedic.model.escape`)."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from cimedic.model.escape import (
    GITHUB_WEB,
    html,
    http_link,
    markdown,
    markdown_code,
    neutralise_mentions,
    run_link,
    safe_link,
    slack,
    web_base_of,
)

ZWSP = "\u200b"
HOSTILE = "<!channel> @everyone [click](https://evil.example)"


def test_mentions_are_neutralised_and_idempotent() -> None:
    text = "<!channel> <!here> <!everyone> <@U0123> @channel @Here @everyone @octocat !here> ok"
    out = neutralise_mentions(text)
    for mention in ("<!channel>", "<!here>", "<!everyone>", "<@U0123>", "@channel", "@Here", "@everyone"):
        assert mention not in out
    assert "!here>" not in out  # apprise's Slack plugin would add the missing "<"
    assert out.replace(ZWSP, "") == text  # reads the same
    assert neutralise_mentions(out) == out
    assert neutralise_mentions("mail user@example.com, build (ubuntu-latest)") == (
        "mail user@example.com, build (ubuntu-latest)"
    )


@pytest.mark.parametrize(
    "benign",
    [
        "dependency: go.mod is not tidy",
        "ERROR: go.mod/go.sum are not up-to-date",
        "build (ubuntu-latest, 3.12)",
        "-",
    ],
)
def test_benign_text_is_unchanged(benign: str) -> None:
    assert markdown(benign) == benign
    assert markdown_code(benign) == f"`{benign}`"


def test_markdown_renders_hostile_text_as_text() -> None:
    md = MarkdownIt("commonmark")
    for text in (
        HOSTILE,
        "**bold** _em_ `code` ![img](x) <b>raw</b> a|b ~~s~~",
        "# heading",
        "- item",
        "1. one",
    ):
        rendered = md.render(markdown(text))
        assert rendered.startswith("<p>") and rendered.count("<p>") == 1  # one plain paragraph
        for tag in ("<a ", "<strong>", "<em>", "<code>", "<img", "<b>", "<h1>", "<li>"):
            assert tag not in rendered, (text, rendered)
    assert "\n" not in markdown("line one\nline two\r\n# three")


def test_code_span_survives_backticks_and_keeps_text() -> None:
    md = MarkdownIt("commonmark")
    for text in ("a ` b", "``x``", "[click](https://evil.example)"):
        rendered = md.render(markdown_code(text))
        assert rendered.count("<code>") == 1 and "<a " not in rendered
    assert markdown_code("") == ""


def test_slack_and_html_escape_their_specials() -> None:
    assert slack("a & <b> @here") == f"a &amp; &lt;b&gt; @{ZWSP}here"
    assert html("<script>'\"&") == "&lt;script&gt;&#39;&#34;&amp;"
    assert "<!channel>" not in html(HOSTILE) and "&lt;!" in html(HOSTILE)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "https://evil.example/o/r/actions/runs/1",
        "https://github.com.evil.example/o/r",
        "https://user:pw@github.com/o/r",
        "//github.com/o/r",
        "/o/r/actions",
        "https://github.com/o/r) [x](https://evil.example",
        "https://github.com:8443/o/r",
        "",
        None,
    ],
)
def test_safe_link_refuses(url: str | None) -> None:
    assert safe_link(url) is None


def test_safe_link_accepts_the_provider_host() -> None:
    good = "https://github.com/o/r/actions/runs/42"
    assert safe_link(good) == good
    assert (
        safe_link("https://ghe.example/o/r/actions", "https://ghe.example")
        == "https://ghe.example/o/r/actions"
    )
    assert safe_link(good, "https://ghe.example") is None
    assert http_link("https://any.example/x") == "https://any.example/x" and http_link("javascript:x") is None


def test_run_link_and_web_base() -> None:
    assert run_link(GITHUB_WEB, "o/r", "42") == "https://github.com/o/r/actions/runs/42"
    assert run_link(GITHUB_WEB, "o/r") == "https://github.com/o/r/actions"
    hostile = run_link(GITHUB_WEB, "o/r) [x](javascript:alert(1)", "1")
    assert hostile is not None and hostile.startswith("https://github.com/") and " " not in hostile
    assert run_link("javascript:alert(1)//", "o/r", "1") is None
    assert web_base_of(None) == web_base_of("https://api.github.com") == GITHUB_WEB
    assert web_base_of("https://ghe.example/api/v3") == "https://ghe.example"
    with pytest.raises(ValueError, match="http"):
        web_base_of("ftp://ghe.example")
