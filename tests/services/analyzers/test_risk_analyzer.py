"""The built-in ``risk`` analyzer: on an empty store (no model, and that is no problem) and on
the demo history (the pooled model the demo trained, the runs it scored)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cimedic.services.analyzers import AnalyzerDeps
from cimedic.services.analyzers.risk import HIGH_RISK, make
from cimedic.store import risk as risk_store
from cimedic.store.repository import Store


def test_an_empty_store_has_no_model_and_says_why(store: Store) -> None:
    analyzer = make(AnalyzerDeps())
    assert analyzer.name == "risk"
    now = datetime(2026, 3, 1, tzinfo=UTC)
    result = analyzer.refresh(store, window=timedelta(days=30), now=now)
    assert result.counts == () and result.line.startswith("failure risk: ")
    assert "runs" in result.line  # too little history: how many runs there are and how many it needs
    section = analyzer.summary(store, since=now - timedelta(days=30), now=now)
    assert (section.title, section.command, section.counts) == ("failure risk", "cimedic risk show", ())
    assert section.text == "no model yet"


def test_the_demo_model_and_its_scores(demo: Store, demo_now: datetime) -> None:
    analyzer = make(AnalyzerDeps())
    model = risk_store.latest_model(demo)
    assert model is not None  # the demo trained one
    since = demo_now - timedelta(days=30)
    scored, best = risk_store.top_scores(demo, model.info.version, since=since, limit=1000)
    high = sum(1 for s in best if s.probability >= HIGH_RISK)
    section = analyzer.summary(demo, since=since, now=demo_now)
    from cimedic.services.risk import judged

    info = judged(model.info)
    if not info.usable:  # a model that does not beat its baselines is kept, marked, and scores nothing
        assert scored == 0 and [(c.key, c.count) for c in section.counts] == [("scored_runs", 0)]
        assert section.note == f"model {info.version} unusable: {info.unusable_reason}"
    else:
        assert [(c.key, c.count) for c in section.counts] == [("scored_runs", scored), ("high_risk_runs", high)]
        assert section.note == f"model {model.info.version}"
        assert section.text == (
            f"{scored} scored {'run' if scored == 1 else 'runs'}, {high} at >= 50% risk; model {model.info.version}"
        )
    # a refresh within the model's max age keeps the model and scores the last two days
    result = analyzer.refresh(demo, window=timedelta(days=30), now=demo_now)
    assert result.line.startswith(f"failure risk: model {model.info.version} is younger than"), result.line
