"""The CI-provider registry (entry-point group ``cimedic.providers``) and each provider's
settings, taken from the flat ``<id>_<name>`` settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cimedic.settings import ConfigError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from cimedic.model.providers import ProviderPlugin
    from cimedic.plugins import Registry
    from cimedic.settings import Settings

__all__ = ["provider_config", "provider_registry"]


def provider_registry() -> Registry[ProviderPlugin]:
    """The installed providers (loaded once per process; broken plug-ins in ``problems``)."""
    from cimedic.plugins import provider_registry as load

    return load()


def provider_config(settings: Settings, plugin: ProviderPlugin) -> BaseModel:
    """``plugin.config_model`` from the settings named ``<id>_<name>`` (given as ``<name>``).
    Raises :class:`ConfigError` when they do not fit the model."""
    from pydantic import ValidationError

    prefix = f"{plugin.id}_"
    values = {
        name[len(prefix) :]: getattr(settings, name)
        for name in type(settings).model_fields
        if name.startswith(prefix)
    }
    try:
        return plugin.config_model.model_validate(values)
    except ValidationError as exc:
        detail = "; ".join(f"{prefix}{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{plugin.name} settings: {detail}") from exc
