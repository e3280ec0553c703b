"""The CI-provider extension point: what services ask of a CI provider (:class:`CIProvider`),
how a provider's webhook deliveries come in (:class:`WebhookReceiver`), the plug-in that builds
both (:class:`ProviderPlugin`, entry-point group ``cimedic.providers``), the errors they raise,
and :class:`RepoRef`, a repository of a provider.

Provider ids are registry ids (``[a-z0-9_]{1,16}``), never a closed enum: a new provider is a
package under ``cimedic.connectors`` (or any installed distribution) registered through the
entry point, with no central edit. The built-in ids are :data:`BUILTIN_PROVIDERS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from cimedic.model.ci import CommitRef, Job, PullRequestRef, Repository, RunAttempt, Workflow, WorkflowRun
    from cimedic.model.events import WebhookEvent

__all__ = [
    "BUILTIN_PROVIDERS",
    "DEFAULT_PROVIDER",
    "PROVIDER_ID",
    "ArtifactRef",
    "CIProvider",
    "Delivery",
    "EtagStore",
    "LogDownload",
    "PollResult",
    "ProviderError",
    "ProviderPlugin",
    "RepoRef",
    "WebhookError",
    "WebhookReceiver",
    "WebhookRejected",
    "check_provider",
]

PROVIDER_ID = re.compile(r"[a-z0-9_]{1,16}")
"""A provider's registry id."""
DEFAULT_PROVIDER = "github"
"""The provider of a bare ``OWNER/NAME``."""
BUILTIN_PROVIDERS = ("github", "gitlab", "jenkins", "bitbucket", "azure", "buildbot")
"""The ids the bundled providers use (those not shipped yet are reserved for them)."""


# ------------------------------------------------------------------------------- errors
class ProviderError(Exception):
    """A provider request failed: HTTP ``status`` (0 for a network error), the ``url`` and a
    ``message`` (the provider's own error text when it sent one). ``provider`` is the registry
    id. Subclasses (``GitHubError``) keep their own message format."""

    def __init__(self, status: int, url: str, message: str, *, provider: str = "") -> None:
        self.status = status
        self.url = url
        self.message = message
        self.provider = provider
        super().__init__(f"{provider or 'provider'} {status} for {url}: {message}")


class WebhookError(ValueError):
    """A stored delivery could not be parsed: the message says which event and what is wrong."""


class WebhookRejected(Exception):
    """A delivery refused before it is stored: ``status`` is the HTTP answer (400 missing
    header, 401 bad signature, 503 no secret configured), ``message`` says why."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"{status}: {message}")


# ------------------------------------------------------------------------------- values
class RepoRef(BaseModel):
    """A repository of a CI provider: ``provider`` (registry id) and ``full_name`` (path parts
    separated by ``/``, at least two; GitLab subgroups give more). Text form
    ``PROVIDER:FULL_NAME``; a bare ``FULL_NAME`` means :data:`DEFAULT_PROVIDER`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str = DEFAULT_PROVIDER
    full_name: str

    @classmethod
    def parse(cls, text: str, known: Collection[str] | None = None) -> RepoRef:
        """``github:owner/name``, ``gitlab:group/sub/project`` or a bare ``owner/name``.

        Raises ``ValueError`` naming the problem: an empty part, fewer than two path parts, a
        provider id that is not ``[a-z0-9_]{1,16}``, or (with ``known``, the registered ids) an
        unregistered provider.
        """
        value = text.strip()
        provider, sep, rest = value.partition(":")
        if not sep:
            provider, rest = DEFAULT_PROVIDER, value
        if not PROVIDER_ID.fullmatch(provider):
            raise ValueError(f"repository {text!r}: provider {provider!r} is not [a-z0-9_]{{1,16}}")
        if known is not None and provider not in known:
            raise ValueError(
                f"repository {text!r}: unknown provider {provider!r}; registered: {', '.join(sorted(known)) or 'none'}"
            )
        parts = rest.split("/")
        if len(parts) < 2 or any(not p.strip() or p != p.strip() for p in parts):
            raise ValueError(f"repository must be OWNER/NAME or PROVIDER:FULL_NAME, got {text!r}")
        return cls(provider=provider, full_name=rest)

    def __str__(self) -> str:
        return f"{self.provider}:{self.full_name}"

    @property
    def display(self) -> str:
        """``full_name`` for the default provider, else ``PROVIDER:FULL_NAME``."""
        return self.full_name if self.provider == DEFAULT_PROVIDER else str(self)


@dataclass(frozen=True)
class PollResult:
    """Result of a conditional poll: ``changed`` False (and ``runs`` empty) when the provider
    said nothing changed (GitHub: 304)."""

    changed: bool
    runs: list[WorkflowRun] = field(default_factory=list)


@dataclass(frozen=True)
class LogDownload:
    """Downloaded content: ``size`` is the full size in bytes, ``content`` at most the last
    ``max_bytes`` of it (``truncated`` when that cut something)."""

    content: bytes
    size: int
    truncated: bool


@dataclass(frozen=True)
class ArtifactRef:
    """An artifact of a workflow run: ``id`` (string), ``size_in_bytes`` in bytes, ``run_id``
    the provider id of the run that uploaded it (``None`` when not given); ``expired`` artifacts
    can no longer be downloaded. Times are aware UTC datetimes."""

    id: str
    name: str
    size_in_bytes: int
    expired: bool
    run_id: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    """A verified webhook delivery: the provider's ``event`` name and ``delivery_id`` (the
    provider's idempotency key: GitHub ``X-GitHub-Delivery``)."""

    event: str
    delivery_id: str


# ------------------------------------------------------------------------------- protocols
class EtagStore(Protocol):
    """Where ETags of conditional GETs are kept, by full request URL."""

    def get(self, url: str) -> str | None: ...

    def put(self, url: str, etag: str) -> None: ...


@runtime_checkable
class CIProvider(Protocol):
    """What services ask of a CI provider's API. Every method raises :class:`ProviderError`
    (HTTP status, URL, message) when the provider refuses or cannot be reached, and
    ``ValueError`` for a ``full_name`` the provider cannot have. Times are aware UTC."""

    @property
    def id(self) -> str:
        """The registry id (``github``)."""
        ...

    @property
    def requests(self) -> int:
        """API requests answered so far (every status), for reports and benchmarks."""
        ...

    def get_repository(self, full_name: str) -> Repository: ...

    def list_workflows(self, full_name: str) -> list[Workflow]: ...

    def list_runs(
        self,
        full_name: str,
        *,
        created_from: datetime | None,
        created_to: datetime | None,
        workflow: str | None = None,
        on_window: Callable[[datetime, datetime, int], None] | None = None,
    ) -> Iterator[WorkflowRun]:
        """Runs created in ``[created_from, created_to)``, each once."""
        ...

    def poll_runs(self, full_name: str) -> PollResult:
        """The newest runs, conditionally (an unchanged repository should cost no rate limit)."""
        ...

    def list_jobs(self, full_name: str, run_id: str) -> list[Job]:
        """The jobs of every attempt of a run, with their steps."""
        ...

    def run_attempts(self, run: WorkflowRun, jobs: list[Job]) -> tuple[RunAttempt, ...]:
        """The attempts of ``run`` (derived from its ``jobs`` where the provider allows it)."""
        ...

    def download_job_log(self, full_name: str, job_id: str, max_bytes: int | None = None) -> LogDownload: ...

    def list_repo_artifacts(self, full_name: str, *, since: datetime | None = None) -> list[ArtifactRef]:
        """The repository's artifacts, newest first; with ``since``, at least those created at or
        after it (a provider may stop listing there)."""
        ...

    def download_artifact(self, full_name: str, artifact_id: str) -> bytes: ...

    def rerun_failed_jobs(self, full_name: str, run_id: str) -> None:
        """Re-run the failed jobs of a run as a new attempt (a side effect)."""
        ...

    def compare_commits(self, full_name: str, base: str, head: str) -> list[CommitRef]:
        """Commits in ``base..head``, oldest first."""
        ...

    def pulls_for_commit(self, full_name: str, sha: str) -> list[PullRequestRef]: ...


class WebhookReceiver(Protocol):
    """How a provider's webhook deliveries are checked and read (``POST /webhooks/{provider}``).

    :meth:`verify` runs before anything is stored and raises :class:`WebhookRejected`;
    :meth:`parse` runs later, on the stored body, and raises :class:`WebhookError`."""

    @property
    def provider(self) -> str: ...

    @property
    def handled_events(self) -> frozenset[str]:
        """Event names worth storing; others are answered 200 and dropped."""
        ...

    def verify(self, headers: Mapping[str, str], body: bytes) -> Delivery: ...

    def parse(self, event: str, body: bytes) -> WebhookEvent: ...


class ProviderPlugin(Protocol):
    """The object a ``cimedic.providers`` entry point names (its ``id`` equals the entry
    point's name). ``config_model`` is a pydantic model of the provider's settings: the flat
    settings ``<id>_<name>`` are given to it as ``<name>`` (``github_token`` → ``token``)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str:
        """For people: ``GitHub Actions``."""
        ...

    @property
    def config_model(self) -> type[BaseModel]: ...

    def configured(self, config: BaseModel) -> bool:
        """Whether ``config`` has credentials to read the provider's API (a token, an app)."""
        ...

    def check_full_name(self, full_name: str) -> None:
        """Raise ``ValueError`` when the provider cannot have a repository of that name."""
        ...

    def create(
        self, config: BaseModel, *, etags: EtagStore | None = None, transport: object | None = None
    ) -> CIProvider:
        """A client; ``transport`` (an ``httpx`` transport) replaces the network (replays)."""
        ...

    def webhook_receiver(self, config: BaseModel) -> WebhookReceiver: ...

    def hint(self, error: ProviderError, config: BaseModel) -> str:
        """What the user can do about ``error`` (one short sentence; may be empty)."""
        ...


_PLUGIN_ATTRS = (
    "id",
    "name",
    "config_model",
    "configured",
    "check_full_name",
    "create",
    "webhook_receiver",
    "hint",
)


def check_provider(name: str, obj: object) -> ProviderPlugin:
    """What a ``cimedic.providers`` entry point loaded, checked: it has the
    :class:`ProviderPlugin` attributes and its ``id`` is the entry point's name. Raises
    ``TypeError`` or ``ValueError`` saying what is wrong."""
    missing = [a for a in _PLUGIN_ATTRS if not hasattr(obj, a)]
    if missing:
        raise TypeError(f"{type(obj).__name__} is not a ProviderPlugin: no {', '.join(missing)}")
    plugin_id = getattr(obj, "id", None)
    if plugin_id != name:
        raise ValueError(f"its id {plugin_id!r} differs from the entry point name {name!r}")
    return obj  # type: ignore[return-value]
