"""Tables of failure risk models (migration 0005); they share :data:`cimedic.store.schema.metadata`.

``risk_models`` holds one row per trained model: its ``version`` (public id), the repository
it was trained on (``NULL``: every repository), when and on which window (``created_at`` of the
training runs, naive UTC), how many runs and failures, the estimator picked, the evaluation
and model-selection figures (``metrics``: the JSON of
:class:`cimedic.model.risk.RiskModelInfo` without the scalar columns), the feature names in
column order, the scikit-learn version, and the pickled model (``model``) with its SHA-256.

The pickled bytes are only ever written by ``cimedic risk train`` and read back by cimedic
(pickle runs code on load): never put a model from elsewhere into this table. The SHA-256 is
checked on load to catch corruption, not tampering: whoever can write the store can run code
as cimedic, as whoever can write its code.

``risk_scores`` holds one probability per (run, model version), with the top features
(``[{"name", "value", "contribution"}]``, log-odds) and the scoring time.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)

from cimedic.store.schema import metadata

risk_models = Table(
    "risk_models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", String(64), nullable=False),
    Column("repository", String(255)),
    Column("trained_at", DateTime, nullable=False),
    Column("window_start", DateTime),
    Column("window_end", DateTime),
    Column("n_samples", Integer, nullable=False),
    Column("n_failures", Integer, nullable=False),
    Column("estimator", String(64), nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("features", JSON, nullable=False),
    Column("library", String(64)),
    Column("model", LargeBinary, nullable=False),
    Column("model_sha256", String(64), nullable=False),
    UniqueConstraint("version", name="uq_risk_models_version"),
    Index("ix_risk_models_repository_trained", "repository", "trained_at"),
)

risk_scores = Table(
    "risk_scores",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("workflow_runs.id", ondelete="CASCADE"), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("probability", Float, nullable=False),
    Column("top_features", JSON, nullable=False),
    Column("scored_at", DateTime, nullable=False),
    UniqueConstraint("run_id", "model_version", name="uq_risk_scores_run_model"),
    Index("ix_risk_scores_scored_at", "scored_at"),
)
