"""Load the re-run policy from YAML (see ``docs/remediation.md``).

The bundled default is ``cimedic/actions/default_policy.yaml`` (dry run, transient categories
only). Unknown keys are errors, so a typo cannot silently widen or disable a guard.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from cimedic.model.remediation import RerunPolicy


class PolicyError(Exception):
    """A policy file that cannot be read or is invalid; the message names the file and key."""


def default_policy_path() -> Path:
    """Path of the bundled default policy."""
    return Path(str(resources.files("cimedic") / "actions" / "default_policy.yaml"))


def load_policy(path: Path | None = None) -> RerunPolicy:
    """The policy in ``path`` (default: the bundled one).

    Raises :class:`PolicyError` (``<file>: <key>: <problem>``) when the file is missing, is not
    YAML, is not a mapping, or has an unknown key or a bad value.
    """
    source = path or default_policy_path()
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{source}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}".replace("\n", " ")) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: the policy must be a mapping of keys to values")
    if "version" in data:
        data["version"] = str(data["version"])
    try:
        return RerunPolicy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(f"{source}: {problems}") from None
