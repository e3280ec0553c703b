"""Tables of llm usage and explanations (migration 0006); they share :data:`cimedic.store.schema.metadata`.

``llm_usage`` holds one row per LLM call (or cache hit) of a feature (``explain``, ...): the
model, prompt and completion tokens as the server reported them, wall-clock ``seconds``,
whether it succeeded (``ok``, else ``error`` says why), whether it was served from the cache
(``cached``: no model call, zero tokens), and when (``created_at``, naive UTC).

``explanations`` caches one explanation per (diagnosis ``signature``, cimedic
``engine_version``, ``model``): ``result`` is the JSON of
:class:`cimedic.model.explanations.Explanation`; ``hits`` counts the times it was served again.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from cimedic.store.schema import metadata

llm_usage = Table(
    "llm_usage",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feature", String(32), nullable=False),
    Column("model", String(255), nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("cached", Boolean, nullable=False),
    Column("error", Text),
    Column("created_at", DateTime, nullable=False),
    Index("ix_llm_usage_feature_created", "feature", "created_at"),
    Index("ix_llm_usage_created", "created_at"),
)

explanations = Table(
    "explanations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("signature", String(64), nullable=False),
    Column("engine_version", String(32), nullable=False),
    Column("model", String(255), nullable=False),
    Column("result", JSON, nullable=False),
    Column("hits", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("signature", "engine_version", "model", name="uq_explanations_signature_engine_model"),
)
