"""The CI-provider conformance suite: one set of checks, parametrised over every provider in the
``cimedic.providers`` registry, run against the replay its kit ships (entry-point group
``cimedic.provider_kits``, see :mod:`cimedic.testing.conformance`): the recorded payloads map
into the domain types, listings paginate, errors are raised as ``ProviderError`` with the HTTP
status, a re-sync changes nothing, a re-run makes a new attempt, and webhook deliveries verify
and parse."""

from __future__ import annotations

from typing import Any

import pytest

from cimedic.model import Conclusion, Status
from cimedic.model.providers import CIProvider, ProviderError, WebhookRejected
from cimedic.plugins import load_registry, provider_registry
from cimedic.settings import Settings
from cimedic.store.repository import Store

pytestmark = pytest.mark.timeout(300)

PROVIDERS = provider_registry().ids


def _kit(provider: str) -> Any:
    kits = load_registry("cimedic.provider_kits", lambda _name, factory: factory)
    assert not kits.problems, kits.problems
    factory = kits.get(provider)
    assert factory is not None, f"provider {provider!r} ships no conformance kit (entry point cimedic.provider_kits)"
    return factory()


def _context(kit: Any, store: Store | None = None) -> Any:
    from cimedic.bootstrap import build

    return build(Settings(**kit.settings), store=store, llm=None, transport=kit.transport())


def test_every_registered_provider_is_checked() -> None:
    assert "github" in PROVIDERS
    assert not provider_registry().problems


@pytest.fixture(params=PROVIDERS)
def kit(request: pytest.FixtureRequest) -> Any:
    return _kit(request.param)


def test_client_is_a_ci_provider_with_its_registry_id(kit: Any) -> None:
    client = _context(kit).provider(kit.provider)
    assert isinstance(client, CIProvider)
    assert client.id == kit.provider


def test_recorded_payloads_map_into_the_domain_and_listings_paginate(kit: Any) -> None:
    client = _context(kit).provider(kit.provider)
    since, until = kit.window()
    for full_name in kit.repositories():
        repo = client.get_repository(full_name)
        assert repo.full_name == full_name and repo.provider == kit.provider
        runs = list(client.list_runs(full_name, created_from=since, created_to=until))
        ids = [r.provider_id for r in runs]
        assert len(ids) == len(set(ids)), "a run was listed twice"
        assert set(ids) == kit.run_ids(full_name)
        assert len(ids) > kit.page_size(), "the replay must hold more than one page of runs"
        for run in runs[:20]:
            assert run.repository == full_name and isinstance(run.status, Status)
            assert run.conclusion is None or isinstance(run.conclusion, Conclusion)
            jobs = client.list_jobs(full_name, run.provider_id)
            assert jobs and all(j.run_provider_id == run.provider_id for j in jobs)
            attempts = client.run_attempts(run, jobs)
            assert [a.attempt for a in attempts] == list(range(1, len(attempts) + 1))
            assert attempts[-1].attempt == run.run_attempt == kit.attempts(full_name, run.provider_id)


@pytest.mark.parametrize("status", [401, 403, 404])
def test_errors_are_provider_errors_with_the_http_status(kit: Any, status: int) -> None:
    ctx = _context(kit)
    client = ctx.provider(kit.provider)
    full_name = kit.repositories()[0]
    kit.inject(".", status)
    with pytest.raises(ProviderError) as raised:
        client.get_repository(full_name)
    assert raised.value.status == status and raised.value.provider == kit.provider
    assert ctx.provider_hint(raised.value, kit.provider), "every refusal comes with what to do"


def test_a_network_error_is_a_provider_error_with_status_0(kit: Any) -> None:
    from cimedic.bootstrap import build

    settings = {k: v for k, v in kit.settings.items() if not k.endswith("_api_url")}
    # nothing listens on port 9 of loopback; no replay transport: a real connection is refused
    prefix = kit.provider
    ctx = build(Settings(**settings, **{f"{prefix}_api_url": "http://127.0.0.1:9"}), llm=None)
    client = ctx.provider(kit.provider)
    with pytest.raises(ProviderError) as raised:
        client.get_repository(kit.repositories()[0])
    assert raised.value.status == 0
    assert "api_url" in ctx.provider_hint(raised.value, kit.provider)


def test_a_resync_is_idempotent(kit: Any, tmp_path: Any) -> None:
    from cimedic.services.collect import Collector

    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        ctx = _context(kit, store)
        since, until = kit.window()
        collector = Collector(store, ctx.provider(kit.provider), None, ctx.collect_options(fetch_logs=False))
        full_name = kit.repositories()[0]
        first = collector.sync(full_name, since=since, until=until)
        counts = store.counts()
        again = collector.sync(full_name, since=since, until=until)
        assert first.runs_ingested == len(kit.run_ids(full_name))
        assert again.runs_ingested == 0 and again.runs_unchanged == first.runs_seen
        assert store.counts() == counts
    finally:
        store.close()


def test_a_rerun_makes_a_new_attempt(kit: Any) -> None:
    client = _context(kit).provider(kit.provider)
    full_name, run_id = kit.rerun_target()
    before = kit.attempts(full_name, run_id)
    client.rerun_failed_jobs(full_name, run_id)
    assert kit.attempts(full_name, run_id) == before + 1
    since, until = kit.window()
    (run,) = [r for r in client.list_runs(full_name, created_from=since, created_to=until) if r.provider_id == run_id]
    assert run.run_attempt == before + 1


def test_webhook_deliveries_verify_and_parse(kit: Any) -> None:
    receiver = _context(kit).webhook_receivers[kit.provider]
    deliveries = kit.deliveries()
    assert deliveries
    for d in deliveries:
        headers = {k.lower(): v for k, v in d.headers.items()}
        delivery = receiver.verify(headers, d.body)
        event = receiver.parse(delivery.event, d.body)
        if d.repository is not None and event.repository is not None:
            assert event.repository.full_name == d.repository
    tampered = {k.lower(): v for k, v in deliveries[0].headers.items()}
    with pytest.raises(WebhookRejected) as rejected:
        receiver.verify(tampered, deliveries[0].body + b" ")
    assert rejected.value.status == 401
