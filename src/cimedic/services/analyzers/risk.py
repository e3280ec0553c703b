"""Built-in analyzer ``risk``: the failure-risk model (retrained when due,
:func:`cimedic.services.risk.retrain_if_due`) and the scores of the recent runs
(:func:`cimedic.services.risk.score_runs`); model and features in ``docs/risk.md``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cimedic.model.findings import AnalyzerResult, FindingCount, FindingsSection

if TYPE_CHECKING:
    from cimedic.services.analyzers import AnalyzerDeps
    from cimedic.store.repository import Store

__all__ = ["HIGH_RISK", "SCORE_WINDOW", "RiskAnalyzer", "make"]

HIGH_RISK = 0.5
"""Probability at or above which a scored run counts as high risk (the classifier's decision
threshold; the model is trained on the base rate of the store, see ``docs/risk.md``)."""
SCORE_WINDOW = timedelta(days=2)
"""Runs scored on each refresh: those created in the last two days (finished or not)."""


class RiskAnalyzer:
    """Refresh: retrain the pooled model when due, then score the runs of the last
    :data:`SCORE_WINDOW` (the ``window`` and ``repository`` of the refresh do not narrow the
    model: it learns from every repository). No model (too little history) is not a problem:
    the result says why. Summary: the newest pooled model, the runs of the window it scored and
    how many are at or above :data:`HIGH_RISK`."""

    name = "risk"

    def refresh(
        self, store: Store, *, window: timedelta, now: datetime, repository: str | None = None
    ) -> AnalyzerResult:
        from cimedic.services.risk import RiskModelMissing, retrain_if_due, score_runs

        retrain = retrain_if_due(store, now=now)
        try:
            scored = len(score_runs(store, since=SCORE_WINDOW, now=now))
        except RiskModelMissing:
            return AnalyzerResult(name=self.name, text=f"failure risk: {retrain.reason}")
        return AnalyzerResult(
            name=self.name,
            counts=(
                FindingCount(key="scored_runs", count=scored, singular="run scored", plural="runs scored"),
            ),
            text=f"failure risk: {retrain.reason}, {scored} {'run' if scored == 1 else 'runs'} scored",
        )

    def summary(
        self,
        store: Store,
        *,
        since: datetime | None,
        now: datetime,
        repository: str | None = None,
        top: int = 3,
    ) -> FindingsSection:
        from cimedic.store import risk as risk_store

        section = FindingsSection(name=self.name, title="failure risk", command="cimedic risk show")
        try:
            model = risk_store.latest_model(store)
        except ValueError:  # a damaged model row: report no model rather than fail the stats
            model = None
        if model is None:
            return section.model_copy(update={"note": "no model yet"})
        from cimedic.services.risk import judged

        info = judged(model.info)
        version = info.version
        if not info.usable:
            note = f"model {version} unusable: {info.unusable_reason}"
            return section.model_copy(
                update={
                    "counts": (
                        FindingCount(key="scored_runs", count=0, singular="scored run", plural="scored runs"),
                    ),
                    "note": note,
                }
            )
        scored, best = risk_store.top_scores(store, version, repository=repository, since=since, limit=1000)
        high = sum(1 for s in best if s.probability >= HIGH_RISK)
        return section.model_copy(
            update={
                "counts": (
                    FindingCount(
                        key="scored_runs", count=scored, singular="scored run", plural="scored runs"
                    ),
                    FindingCount(
                        key="high_risk_runs",
                        count=high,
                        singular=f"at >= {HIGH_RISK:.0%} risk",
                        plural=f"at >= {HIGH_RISK:.0%} risk",
                    ),
                ),
                "note": f"model {version}",
            }
        )


def make(deps: AnalyzerDeps) -> RiskAnalyzer:
    """The ``cimedic.analyzers`` entry point ``risk``."""
    return RiskAnalyzer()
