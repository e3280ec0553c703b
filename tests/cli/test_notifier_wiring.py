"""The notification channels come from the settings, the same for `cimedic notify` and the agent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cimedic.actions.notify import AppriseNotifier, GitHubIssueNotifier, GitHubPRCommentNotifier
from cimedic.bootstrap import notifiers
from cimedic.settings import Settings


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIMEDIC_CONFIG", os.devnull)
    monkeypatch.setenv("CIMEDIC_DATA_DIR", str(tmp_path))


def test_no_channel_configured_gives_none() -> None:
    assert notifiers(Settings()) == []


def test_every_channel_in_order() -> None:
    cfg = Settings(
        notify_urls=["json://127.0.0.1:9/hook"],
        notify_github_issues=True,
        notify_github_pr_comments=True,
        github_token="ghp_" + "x" * 36,
    )
    got = notifiers(cfg)
    assert [type(n) for n in got] == [AppriseNotifier, GitHubIssueNotifier, GitHubPRCommentNotifier]
    assert [n.channel for n in got] == ["apprise", "github", "github-pr"]


def test_pr_comments_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIMEDIC_NOTIFY_GITHUB_PR_COMMENTS", "true")
    assert [type(n) for n in notifiers(Settings())] == [GitHubPRCommentNotifier]


def test_unusable_apprise_url_is_a_configuration_error() -> None:
    from cimedic.settings import ConfigError

    with pytest.raises(ConfigError, match="notify_urls: notify URL #1 is not a valid apprise URL"):
        notifiers(Settings(notify_urls=["nosuchscheme://x"]))
