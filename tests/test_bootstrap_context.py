"""The composition root: one :class:`AppContext` per set of settings, parts built on first use,
configuration problems as :class:`ConfigError` with the user's message, links from the provider's
configured base URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from cimedic.bootstrap import build
from cimedic.settings import ConfigError, Settings


def test_parts_are_built_on_first_use_and_only_then(tmp_path: Path) -> None:
    ctx = build(Settings(remediation_policy=tmp_path / "missing.yaml"), str(tmp_path / "c.db"), create=True)
    assert "store" not in ctx.__dict__ and "_diagnoser" not in ctx.__dict__  # nothing opened yet
    assert ctx.health_thresholds.degraded_rate == 0.2 and ctx.budgets.max_steps == 6
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        ctx.rerun_policy  # noqa: B018  (a bad policy surfaces where it is used)
    assert ctx.store.ping() is None
    ctx.close()


def test_links_come_from_the_configured_provider_url() -> None:
    assert build(Settings()).web_base == "https://github.com"
    assert build(Settings(github_api_url="https://ghe.example/api/v3")).web_base == "https://ghe.example"
    with pytest.raises(ConfigError, match="github_api_url"):
        build(Settings(github_api_url="javascript:alert(1)")).web_base  # noqa: B018


def test_half_a_github_app_is_a_configuration_error() -> None:
    ctx = build(Settings(github_app_id="123"), "sqlite:///:memory:")
    with pytest.raises(ConfigError, match="GitHub Actions: GitHub App auth needs both"):
        ctx.provider("github")


def test_repositories_name_their_provider() -> None:
    ctx = build(Settings())
    assert ctx.repo_ref("acme/app").provider == "github"
    assert str(ctx.repo_ref("github:acme/app")) == "github:acme/app"
    for bad in ("acme", "gitlab:group/sub/project", "Git Hub:a/b", "github:a/b/c"):
        with pytest.raises(ValueError):
            ctx.repo_ref(bad)
