"""The side effect of notifications: deliver a :class:`~cimedic.model.notify.Notification`.

One Protocol, :class:`Notifier`; two implementations: :class:`AppriseNotifier` (any apprise
URL: Slack, Discord, Teams, email, PagerDuty, JSON webhooks, ...) and
:class:`GitHubIssueNotifier` (opens an issue through anything with ``create_issue``, e.g.
:class:`cimedic.connectors.github_actions.client.GitHubClient`). Nothing here decides *whether*
to notify, nor redacts: :mod:`cimedic.services.notify` does both before calling a sender.
Bodies arrive as escaped Markdown (:mod:`cimedic.model.escape`); what a sender adds itself
(a pull-request comment's heading, the dedup key in an HTML comment) it escapes here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cimedic.model.escape import html, plain
from cimedic.model.notify import EventKind, Notification, SendResult

__all__ = [
    "AppriseNotifier",
    "CommentCreator",
    "GitHubIssueNotifier",
    "GitHubPRCommentNotifier",
    "IssueCreator",
    "Notifier",
    "RecordingNotifier",
]


def _trace(notification: Notification) -> str:
    """The dedup key as an HTML comment; HTML-escaped so a key holding ``-->`` (it may carry a
    test name) cannot end the comment early."""
    return f"<!-- cimedic:{html(notification.dedup_key)} -->"


class Notifier(Protocol):
    """Delivers notifications on one channel; never raises for a delivery failure (the
    :class:`SendResult` carries it)."""

    channel: str

    def send(self, notification: Notification) -> SendResult: ...


class AppriseNotifier:
    """Sends through apprise (https://github.com/caronc/apprise/wiki) to every URL of ``urls``.

    The body is sent as Markdown (``NotifyFormat.MARKDOWN``: apprise converts it for each
    service, e.g. HTML for email); ``ok`` when every URL accepted the message; ``error`` holds
    apprise's warnings and errors. Raises ``ValueError`` at construction for a URL apprise does
    not understand (the URL itself is left out of the message: it may hold a token).
    """

    channel = "apprise"

    def __init__(self, urls: Sequence[str]) -> None:
        import apprise

        self._apprise = apprise.Apprise()
        for i, url in enumerate(urls):
            if not self._apprise.add(url):
                raise ValueError(f"notify URL #{i + 1} is not a valid apprise URL")

    def send(self, notification: Notification) -> SendResult:
        import logging

        import apprise

        with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
            ok = bool(
                self._apprise.notify(
                    title=notification.title,
                    body=notification.body,
                    body_format=apprise.NotifyFormat.MARKDOWN,
                    notify_type=_apprise_type(notification),
                )
            )
            text = captured.getvalue().strip()
        return SendResult(
            channel=self.channel, ok=ok, error=None if ok else (text or "apprise refused the message")
        )


def _apprise_type(notification: Notification) -> str:
    import apprise

    return {
        "critical": apprise.NotifyType.FAILURE,
        "warning": apprise.NotifyType.WARNING,
        "info": apprise.NotifyType.INFO,
    }[notification.severity.value]


class IssueCreator(Protocol):
    """What :class:`GitHubIssueNotifier` needs of a GitHub client: ``create_issue`` returning the
    issue's web URL (raises on refusal)."""

    def create_issue(self, full_name: str, title: str, body: str, labels: Sequence[str] = ()) -> str: ...


class GitHubIssueNotifier:
    """Opens a GitHub issue in the notification's repository for the event kinds of ``kinds``
    (default: new failure clusters); other notifications are answered ``ok`` with no action.

    The title is sent as plain text (:func:`cimedic.model.escape.plain`: the Markdown escapes
    removed, the mentions kept neutral); the dedup key is written at the end of the body (an
    HTML comment) so a human can trace it.
    """

    channel = "github"

    def __init__(
        self,
        client: IssueCreator,
        *,
        kinds: Sequence[EventKind] = (EventKind.NEW_CLUSTER,),
        labels: Sequence[str] = ("ci-failure", "cimedic"),
    ) -> None:
        self._client = client
        self._kinds = frozenset(kinds)
        self._labels = tuple(labels)

    def send(self, notification: Notification) -> SendResult:
        if notification.kind not in self._kinds or not notification.repository:
            return SendResult(channel=self.channel, ok=True, reference=None)
        body = f"{notification.body}\n\n{_trace(notification)}"
        try:
            title = plain(notification.title)  # an issue title is shown as is, not as Markdown
            url = self._client.create_issue(notification.repository, title, body, self._labels)
        except Exception as exc:
            return SendResult(channel=self.channel, ok=False, error=f"{type(exc).__name__}: {exc}")
        return SendResult(channel=self.channel, ok=True, reference=url)


class CommentCreator(Protocol):
    """What :class:`GitHubPRCommentNotifier` needs of a GitHub client: ``create_issue_comment``
    returning the comment's web URL (raises on refusal)."""

    def create_issue_comment(self, full_name: str, number: int, body: str) -> str: ...


class GitHubPRCommentNotifier:
    """Comments on each pull request of the notification (``Notification.pull_requests``) for
    the event kinds of ``kinds`` (default: new failure clusters), so the author sees the
    diagnosis where they work; a notification without pull requests is answered ``ok`` with no
    action. The title (Markdown text, escaped like the body) is the comment's heading. Every comment ends with the dedup key (an HTML comment). One failed comment makes
    the result failed (the error names the pull request); the others are still attempted.
    """

    channel = "github-pr"

    def __init__(
        self, client: CommentCreator, *, kinds: Sequence[EventKind] = (EventKind.NEW_CLUSTER,)
    ) -> None:
        self._client = client
        self._kinds = frozenset(kinds)

    def send(self, notification: Notification) -> SendResult:
        if notification.kind not in self._kinds or not notification.repository:
            return SendResult(channel=self.channel, ok=True)
        body = f"### {notification.title}\n\n{notification.body}\n\n{_trace(notification)}"
        urls: list[str] = []
        errors: list[str] = []
        for number in notification.pull_requests:
            try:
                urls.append(self._client.create_issue_comment(notification.repository, number, body))
            except Exception as exc:
                errors.append(f"#{number}: {type(exc).__name__}: {exc}")
        return SendResult(
            channel=self.channel,
            ok=not errors,
            error="; ".join(errors) or None,
            reference=" ".join(urls) or None,
        )


class RecordingNotifier:
    """Keeps what it is asked to send (``sent``) and answers ``ok``: the ``--dry-run`` sender."""

    channel = "dry-run"

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> SendResult:
        self.sent.append(notification)
        return SendResult(channel=self.channel, ok=True)
