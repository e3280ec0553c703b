"""cimedic: a self-hosted AIOps teammate for CI/CD.

The public surface is small; see ``docs/architecture.md`` for the layers.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
