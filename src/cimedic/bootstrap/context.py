"""The composition root: :func:`build` turns :class:`~cimedic.settings.Settings` into one
:class:`AppContext` that every interface (CLI, REST API, and next the MCP server, the dashboard
and the operator) receives; interfaces only parse, call services and render.

Parts are built on first use (``functools.cached_property``), so a command pays only for what
it needs (``cimedic stats`` never compiles the knowledge base) and reports a problem of a part
it does not use never. Configuration problems of a part (a bad re-run policy, a notify template
with a syntax error, unusable quiet hours or apprise URLs, incomplete GitHub App settings) raise
:class:`~cimedic.settings.ConfigError` with the message the user reads; an unusable store raises
:class:`~cimedic.store.engine.StoreError`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from cimedic.settings import ConfigError, Settings

if TYPE_CHECKING:
    from pydantic import BaseModel

    from cimedic.actions.notify import Notifier
    from cimedic.agent.llm.base import LLMClient
    from cimedic.agent.loop import Budgets
    from cimedic.agent.tools import ToolRegistry
    from cimedic.analysis.diagnosis import Diagnoser
    from cimedic.inputs.templates import NotifyTemplates
    from cimedic.model.ci import CommitRef
    from cimedic.model.notify import HealthThresholds, QuietHours
    from cimedic.model.providers import CIProvider, ProviderPlugin, RepoRef, WebhookReceiver
    from cimedic.model.remediation import RerunPolicy
    from cimedic.plugins import Registry
    from cimedic.services.collect import CollectOptions
    from cimedic.store.repository import Store

__all__ = ["AppContext", "build"]

_UNSET: object = object()


class AppContext:
    """Everything an interface needs, built from ``settings``.

    ``db`` (a URL or SQLite path, the ``--db`` option) overrides ``database_url``; ``create``
    allows creating a SQLite file in a directory that does not exist yet (``--create``).
    ``llm`` replaces the configured LLM client (``None``: none), ``transport`` (an ``httpx``
    transport) replaces the network of every provider client (replays, tests), ``providers``
    the installed provider registry and ``store`` an already opened store.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        db: str | None = None,
        create: bool = False,
        llm: object = _UNSET,
        transport: object | None = None,
        providers: Registry[ProviderPlugin] | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        if store is not None:
            self.__dict__["store"] = store  # an opened store replaces the settings' one
        self.db = db
        self.create = create
        self._llm_override = llm
        self._transport = transport
        self._providers_override = providers
        self._clients: dict[str, CIProvider] = {}

    # ------------------------------------------------------------------ store
    @cached_property
    def store(self) -> Store:
        """The history store, opened and migrated (``StoreError`` when it cannot be)."""
        from cimedic.bootstrap.store import open_store

        return open_store(self.settings, self.db, create=self.create)

    def close(self) -> None:
        """Release the store's connections (when it was opened)."""
        if "store" in self.__dict__:
            self.store.close()

    # ------------------------------------------------------------------ providers
    @cached_property
    def providers(self) -> Registry[ProviderPlugin]:
        """The CI providers registered through the ``cimedic.providers`` entry points."""
        if self._providers_override is not None:
            return self._providers_override
        from cimedic.bootstrap.providers import provider_registry

        return provider_registry()

    def repo_ref(self, text: str) -> RepoRef:
        """Parse ``PROVIDER:FULL_NAME`` or a bare ``OWNER/NAME`` (GitHub) against the registry;
        raises ``ValueError`` naming the problem (unknown provider, malformed name)."""
        from cimedic.model.providers import RepoRef

        ref = RepoRef.parse(text, known=self.providers.ids)
        self.providers[ref.provider].check_full_name(ref.full_name)
        return ref

    def provider_config(self, provider: str) -> BaseModel:
        """The provider's settings (``<id>_<name>`` → ``<name>``) in its ``config_model``."""
        from cimedic.bootstrap.providers import provider_config

        return provider_config(self.settings, self.providers[provider])

    def provider_configured(self, provider: str) -> bool:
        """Whether credentials for ``provider`` are configured."""
        return self.providers[provider].configured(self.provider_config(provider))

    def provider(self, provider: str = "github") -> CIProvider:
        """The client of ``provider`` (one per context; ETags kept in the store). Raises
        :class:`ConfigError` when its settings are unusable (e.g. half a GitHub App)."""
        if provider not in self._clients:
            from cimedic.bootstrap.store import StoreEtags

            plugin = self.providers[provider]
            try:
                self._clients[provider] = plugin.create(
                    self.provider_config(provider), etags=StoreEtags(self.store), transport=self._transport
                )
            except ValueError as exc:
                raise ConfigError(f"{plugin.name}: {exc}") from exc
        return self._clients[provider]

    def provider_hint(self, error: Exception, provider: str = "github") -> str:
        """What to do about a provider error (token, URL), or ``""``."""
        from cimedic.model.providers import ProviderError

        if not isinstance(error, ProviderError) or provider not in self.providers:
            return ""
        return self.providers[provider].hint(error, self.provider_config(provider))

    def compare(self) -> Callable[[str, str, str], list[CommitRef]] | None:
        """``compare(full_name, base, head)`` of the GitHub provider when it has credentials
        (culprit analysis asks it for the commits between the last green and first red run),
        else None (culprits then use the stored runs only)."""
        return self.provider("github").compare_commits if self.provider_configured("github") else None

    @cached_property
    def webhook_receivers(self) -> dict[str, WebhookReceiver]:
        """One webhook receiver per registered provider, by provider id."""
        return {p.id: p.webhook_receiver(self.provider_config(p.id)) for p in self.providers}

    def configured_providers(self) -> dict[str, CIProvider]:
        """Clients of the providers that have credentials (log downloads after webhooks)."""
        return {p.id: self.provider(p.id) for p in self.providers if self.provider_configured(p.id)}

    # ------------------------------------------------------------------ diagnosis
    @cached_property
    def _diagnoser(self) -> tuple[Diagnoser, list[str]]:
        from cimedic.services.diagnose import make_diagnoser

        return make_diagnoser(self.settings.kb_dirs)

    @property
    def diagnoser(self) -> Diagnoser:
        """The failure diagnoser (bundled causes plus ``kb_dirs``)."""
        return self._diagnoser[0]

    @property
    def kb_problems(self) -> list[str]:
        """Problems found while loading the knowledge bases (entries skipped)."""
        return self._diagnoser[1]

    def collect_options(self, *, fetch_logs: bool = True, all_reports: bool = False) -> CollectOptions:
        """Collection knobs from ``log_max_bytes``, ``github_max_concurrency``,
        ``test_artifact_patterns`` and ``test_report_budget``; ``all_reports``: download every
        missing test report now, ignoring the budget (``cimedic sync --reports``)."""
        from cimedic.services.collect import CollectOptions

        s = self.settings
        return CollectOptions(
            log_max_bytes=s.log_max_bytes,
            max_workers=s.github_max_concurrency,
            fetch_logs=fetch_logs,
            test_artifact_patterns=tuple(s.test_artifact_patterns),
            fetch_test_reports=bool(s.test_artifact_patterns),
            test_report_budget=s.test_report_budget,
            fetch_all_reports=all_reports,
        )

    # ------------------------------------------------------------------ LLM and agent
    @cached_property
    def llm(self) -> LLMClient | None:
        """The LLM client of ``llm_base_url``, or ``None`` (every feature but chat works without)."""
        if self._llm_override is not _UNSET:
            return self._llm_override  # type: ignore[return-value]
        from cimedic.bootstrap import llm

        return llm.llm_client(self.settings)

    @property
    def llm_model(self) -> str:
        """The model name of ``llm_model`` (also the key of the explanation cache)."""
        return self.settings.llm_model

    @cached_property
    def budgets(self) -> Budgets:
        """Agent turn budgets: ``agent_max_steps``, ``agent_max_tokens``, ``agent_max_seconds``
        (seconds), ``llm_context_tokens`` and ``llm_tool_calls``."""
        from cimedic.bootstrap.wiring import budgets_from

        return budgets_from(self.settings)

    @cached_property
    def health_thresholds(self) -> HealthThresholds:
        """Repository-health thresholds: ``health_window_hours`` (hours) and
        ``health_degraded_rate`` (a share in (0, 1])."""
        from cimedic.bootstrap.wiring import thresholds_from

        return thresholds_from(self.settings)

    @cached_property
    def rerun_policy(self) -> RerunPolicy:
        """The re-run policy of ``remediation_policy`` (default: the bundled dry-run one)."""
        from cimedic.bootstrap.wiring import policy_from

        return policy_from(self.settings.remediation_policy)

    def rerun_action(self) -> CIProvider | None:
        """The provider that executes re-runs, or ``None`` without credentials."""
        return self.provider("github") if self.provider_configured("github") else None

    def propose_rerun(self, run_id: str) -> str:
        """The chat ``rerun`` tool's executor on every door: the policy decides for that run and
        the decision is audited as a proposal (``would_rerun``); nothing is executed (re-runs
        from chat need a confirmation step, not there yet)."""
        from cimedic.services.remediate import request_rerun

        return request_rerun(self.store, self.rerun_policy, None, run_id, now=datetime.now(UTC), apply=False)

    @cached_property
    def tools(self) -> ToolRegistry:
        """The chat tools (the same on every door), ``rerun`` wired to :meth:`propose_rerun`."""
        from cimedic.agent.tools import default_registry

        self.rerun_policy  # noqa: B018  (a bad policy is reported before the first question)
        return default_registry(
            rerun_executor=self.propose_rerun, repositories=[r.full_name for r in self.store.repositories()]
        )

    def approve_tool(self, tool: str, _arguments: dict[str, object]) -> bool:
        """The approval gate of side-effecting tools: ``rerun`` may run because it only
        proposes (see :meth:`propose_rerun`)."""
        return tool == "rerun"

    # ------------------------------------------------------------------ notifications
    @cached_property
    def notify_templates(self) -> NotifyTemplates:
        """The notification templates, ``notify_templates_dir`` overriding the bundled ones
        (``ConfigError`` naming the file and line for a template that cannot be used)."""
        from cimedic.bootstrap.wiring import templates_from

        return templates_from(self.settings.notify_templates_dir)

    @cached_property
    def quiet_hours(self) -> QuietHours | None:
        """``notify_quiet_hours`` (``HH:MM-HH:MM``, UTC) or None."""
        from cimedic.bootstrap.wiring import quiet_hours_from

        return quiet_hours_from(self.settings.notify_quiet_hours)

    @cached_property
    def notifiers(self) -> list[Notifier]:
        """The configured channels: apprise, GitHub issues, pull request comments (empty when
        none is configured)."""
        from cimedic.bootstrap.wiring import notifiers_from

        return notifiers_from(self.settings, lambda: self.provider("github"))

    # ------------------------------------------------------------------ misc
    @cached_property
    def web_base(self) -> str:
        """The provider's web base URL links are built from (``https://github.com``, or the
        GitHub Enterprise Server host of ``github_api_url``); never a URL from a payload."""
        from cimedic.model.escape import web_base_of

        try:
            return web_base_of(self.settings.github_api_url)
        except ValueError as exc:
            raise ConfigError(f"github_api_url: {exc}") from exc

    def deployment_patterns(self) -> tuple[str, ...]:
        """The ``deployment_workflows`` globs (workflows whose runs are deployments for DORA)."""
        return tuple(self.settings.deployment_workflows)


def build(
    settings: Settings,
    db: str | None = None,
    *,
    create: bool = False,
    llm: object = _UNSET,
    transport: object | None = None,
    providers: Registry[ProviderPlugin] | None = None,
    store: Store | None = None,
) -> AppContext:
    """The :class:`AppContext` of ``settings`` (see the class for the keyword arguments)."""
    return AppContext(
        settings, db=db, create=create, llm=llm, transport=transport, providers=providers, store=store
    )
