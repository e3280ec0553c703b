"""Failure-risk features and model (pure): no leakage on a crafted history, a learnable signal
beats the baselines, explanations, determinism, and the evaluation helpers."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cimedic.analysis.risk_features import FEATURE_NAMES, FeatureRow, extract_features
from cimedic.analysis.risk_model import (
    RiskModel,
    bootstrap_aucs,
    evaluate_scores,
    fit_risk_model,
    percentile_interval,
    precision_at_top,
    roc_auc,
)
from cimedic.model.risk import ChurnStats, RiskRun

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)  # a Monday


def _run(
    key: str, start_h: float, dur_h: float | None = 1.0, failed: bool | None = False, **kw: object
) -> RiskRun:
    created = T0 + timedelta(hours=start_h)
    fields: dict[str, object] = {
        "repository": "o/r",
        "workflow": "CI",
        "pull_request": "7",
        "base_branch": "main",
        "head_sha": f"sha-{key}",
        "event": "pull_request",
        "completed_at": created + timedelta(hours=dur_h) if dur_h is not None else None,
        "failed": failed if dur_h is not None else None,
        "duration": dur_h * 3600 if dur_h is not None else None,
    }
    fields.update(kw)
    return RiskRun(key=key, created_at=created, **fields)  # type: ignore[arg-type]


def _v(row: FeatureRow, name: str) -> float:
    return row.values[FEATURE_NAMES.index(name)]


def _rows(runs: list[RiskRun]) -> dict[str, FeatureRow]:
    return {r.key: r for r in extract_features(runs)}


# ------------------------------------------------------------------------------ features


def test_an_outcome_counts_only_once_it_finished_before_the_start() -> None:
    runs = [
        _run("a", 0, dur_h=2, failed=True, failed_tests=4),  # finishes at 2h
        _run("b", 1),  # starts while a runs
        _run("c", 3),  # starts after a finished (b finished at 2h too)
    ]
    rows = _rows(runs)
    b, c = rows["b"], rows["c"]
    assert math.isnan(_v(b, "job_prev_failed")) and math.isnan(_v(b, "job_fail_rate"))
    assert _v(b, "job_in_flight") == 1.0
    assert _v(b, "job_started_runs") == pytest.approx(math.log1p(1))
    assert b.previous_outcome == 0.5 and b.recent_failure_rate == 0.5  # nothing known anywhere
    # at 3h both a (failed, 2h) and b (passed, 2h) are known; the last one released is b
    assert _v(c, "job_known_runs") == pytest.approx(math.log1p(2))
    assert _v(c, "job_fail_rate") == 0.5
    assert _v(c, "job_in_flight") == 0.0
    assert _v(c, "job_last_duration") == pytest.approx(math.log1p(3600))


def test_a_run_never_sees_its_own_outcome_duration_or_tests() -> None:
    rng = random.Random(3)
    runs = [
        _run(
            f"r{i}",
            i * 0.7,
            dur_h=rng.uniform(0.1, 3),
            failed=rng.random() < 0.4,
            pull_request=str(i % 4),
            failed_tests=rng.randrange(5),
        )
        for i in range(40)
    ]
    base = _rows(runs)
    for i, run in enumerate(runs):
        flipped = replace(run, failed=not run.failed, duration=1.0, failed_tests=99)
        other = _rows([*runs[:i], flipped, *runs[i + 1 :]])
        assert other[run.key].values == pytest.approx(base[run.key].values, nan_ok=True)
        assert other[run.key].previous_outcome == base[run.key].previous_outcome
        assert other[run.key].recent_failure_rate == base[run.key].recent_failure_rate


def test_runs_triggered_at_the_same_instant_do_not_see_each_other() -> None:
    rows = _rows([_run("a", 0), _run("b", 0, workflow="CI")])
    for key in ("a", "b"):
        assert _v(rows[key], "job_started_runs") == 0.0
        assert _v(rows[key], "commit_seen") == 0.0
        assert _v(rows[key], "project_runs_24h") == 0.0


def test_scopes_and_baseline_fallbacks() -> None:
    runs = [
        _run("old", 0, failed=True, pull_request="1"),  # other PR, same line
        _run("other-line", 0.5, failed=False, pull_request="2", base_branch="release"),
        _run("new", 3, pull_request="3"),  # no job history: falls back to the line
        _run("again", 6, pull_request="1", head_sha="sha-old"),  # rebuild of the same commit
    ]
    rows = _rows(runs)
    new, again = rows["new"], rows["again"]
    assert math.isnan(_v(new, "job_prev_failed"))
    assert _v(new, "line_prev_failed") == 1.0
    assert new.previous_outcome == 1.0 and new.recent_failure_rate == 1.0
    assert _v(new, "project_fail_rate") == 0.5
    assert _v(again, "commit_seen") == 1.0 and _v(again, "commit_prev_failed") == 1.0
    assert _v(again, "job_prev_failed") == 1.0 and _v(again, "job_fail_streak") == 1.0


def test_unlabelled_runs_are_history_but_not_outcomes() -> None:
    rows = _rows([_run("cancelled", 0, failed=None), _run("next", 2)])
    nxt = rows["next"]
    assert _v(nxt, "job_prev_unlabelled") == 1.0
    assert math.isnan(_v(nxt, "job_prev_failed"))
    assert _v(nxt, "job_started_runs") == pytest.approx(math.log1p(1))


def test_optional_inputs_churn_and_flaky_tests() -> None:
    rows = _rows(
        [
            _run("none", 0),
            _run(
                "some", 1, churn=ChurnStats(changed_files=3, additions=30, deletions=10), open_flaky_tests=2
            ),
        ]
    )
    for name in ("churn_files", "churn_lines", "churn_deleted_share", "open_flaky_tests"):
        assert math.isnan(_v(rows["none"], name))
    some = rows["some"]
    assert _v(some, "churn_files") == pytest.approx(math.log1p(3))
    assert _v(some, "churn_lines") == pytest.approx(math.log1p(40))
    assert _v(some, "churn_deleted_share") == pytest.approx(0.25)
    assert _v(some, "open_flaky_tests") == pytest.approx(math.log1p(2))
    assert math.isnan(_v(some, "churn_files_rel"))  # no earlier churn in the project


def test_targets_select_rows_but_history_stays_complete() -> None:
    runs = [_run("a", 0, failed=True), _run("b", 2)]
    only_b = extract_features(runs, targets={"b"})
    assert [r.key for r in only_b] == ["b"]
    assert _v(only_b[0], "job_prev_failed") == 1.0


# ------------------------------------------------------------------------------ model


def _synthetic(n: int, seed: int = 0) -> list[RiskRun]:
    """PR runs whose failure depends on churn (a signal the baselines cannot see) and not on
    earlier outcomes."""
    rng = random.Random(seed)
    runs = []
    for i in range(n):
        lines = int(math.exp(rng.uniform(0, 8)))
        p = 1 / (1 + math.exp(-(math.log1p(lines) - 4.5) * 1.5))
        runs.append(
            _run(
                f"s{i:04d}",
                i * 0.5,
                dur_h=0.3,
                failed=rng.random() < p,
                pull_request=str(rng.randrange(60)),
                churn=ChurnStats(changed_files=max(1, lines // 40), additions=lines, deletions=lines // 3),
            )
        )
    return runs


def _split(rows: list[FeatureRow]) -> tuple[list[FeatureRow], list[FeatureRow]]:
    labelled = [r for r in rows if r.label is not None]
    cut = int(len(labelled) * 0.7)
    return labelled[:cut], labelled[cut:]


@pytest.fixture(scope="module")
def synthetic() -> tuple[RiskModel, list[FeatureRow]]:
    train, test = _split(extract_features(_synthetic(900)))
    model = fit_risk_model([r.values for r in train], [bool(r.label) for r in train], FEATURE_NAMES)
    return model, test


def test_a_learnable_signal_beats_both_baselines(synthetic: tuple[RiskModel, list[FeatureRow]]) -> None:
    model, test = synthetic
    labels = [bool(r.label) for r in test]
    methods = {
        m.method: m
        for m in evaluate_scores(
            labels,
            {
                "model": model.predict([r.values for r in test]),
                "previous_outcome": [r.previous_outcome for r in test],
                "recent_failure_rate": [r.recent_failure_rate for r in test],
            },
            resamples=200,
        )
    }
    model_auc = methods["model"].auc.auc
    assert model_auc is not None and model_auc > 0.75
    for base in ("previous_outcome", "recent_failure_rate"):
        base_auc = methods[base].auc.auc
        assert base_auc is not None and model_auc > base_auc + 0.15
    ci = methods["model"].auc
    assert ci.ci_low is not None and ci.ci_high is not None and ci.ci_low <= model_auc <= ci.ci_high
    assert (methods["model"].precision_at_10 or 0) > (methods["previous_outcome"].precision_at_10 or 0)


def test_explanations_name_the_signal(synthetic: tuple[RiskModel, list[FeatureRow]]) -> None:
    model, test = synthetic
    rows = [r.values for r in test[:20]]
    explained = model.explain(rows, top=3)
    assert len(explained) == 20 and all(len(e) == 3 for e in explained)
    for e in explained:
        assert all(f.name in FEATURE_NAMES for f in e)
        sizes = [abs(f.contribution) for f in e]
        assert sizes == sorted(sizes, reverse=True)
    # the riskiest run is explained by its (large) churn pushing towards failure
    probs = model.predict(rows)
    top = explained[probs.index(max(probs))]
    churn = [f for f in top if f.name.startswith("churn_")]
    assert churn and churn[0].contribution > 0
    every = model.explain(rows[:1], top=0)[0]
    assert {f.name for f in every} <= set(FEATURE_NAMES) and len(every) == len(model.columns)


def test_fitting_is_deterministic_and_survives_serialisation() -> None:
    train, test = _split(extract_features(_synthetic(300, seed=5)))
    x, y = [r.values for r in train], [bool(r.label) for r in train]
    a = fit_risk_model(x, y, FEATURE_NAMES, candidates=("hist_gradient_boosting",), random_state=7)
    b = fit_risk_model(x, y, FEATURE_NAMES, candidates=("hist_gradient_boosting",), random_state=7)
    rows = [r.values for r in test]
    assert a.predict(rows) == b.predict(rows)
    assert RiskModel.from_bytes(a.to_bytes()).predict(rows) == a.predict(rows)
    # churn_files_rel etc. are present; open_flaky_tests (never given) is left out
    assert FEATURE_NAMES.index("open_flaky_tests") not in a.columns


def test_model_selection_keeps_logistic_on_a_tiny_validation() -> None:
    train, _ = _split(extract_features(_synthetic(60, seed=2)))
    model = fit_risk_model([r.values for r in train], [bool(r.label) for r in train], FEATURE_NAMES)
    assert model.estimator_name == "logistic"
    assert [c.estimator for c in model.candidates] == ["logistic", "hist_gradient_boosting"]


def test_fit_refuses_a_single_class_and_foreign_bytes() -> None:
    with pytest.raises(ValueError, match="failures and successes"):
        fit_risk_model([[0.0] * len(FEATURE_NAMES)] * 5, [False] * 5, FEATURE_NAMES)
    import pickle

    with pytest.raises(ValueError, match="another format"):
        RiskModel.from_bytes(pickle.dumps({"not": "a model"}))


# ------------------------------------------------------------------------------ evaluation


def test_roc_auc_matches_scikit_learn_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    rng = random.Random(1)
    labels = [rng.random() < 0.4 for _ in range(300)]
    for scores in ([rng.random() for _ in labels], [float(rng.randrange(3)) for _ in labels]):
        assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))
    assert roc_auc([True, True], [0.1, 0.2]) is None


def test_precision_at_top_averages_ties_at_the_cut() -> None:
    labels = [True, False, True, False, False, False, False, False, False, False]
    # top 10% of 10 = 1 run; the two highest are tied, one failed: expected precision 0.5
    assert precision_at_top(labels, [0.9, 0.9, 0.1, 0, 0, 0, 0, 0, 0, 0]) == pytest.approx(0.5)
    assert precision_at_top(labels, [0.9, 0.1, 0.8, 0, 0, 0, 0, 0, 0, 0], fraction=0.2) == pytest.approx(1.0)
    assert precision_at_top([], []) is None


def test_bootstrap_is_paired_and_reproducible() -> None:
    rng = random.Random(4)
    labels = [rng.random() < 0.5 for _ in range(200)]
    scores = {"a": [rng.random() for _ in labels], "b": [float(v) for v in labels]}
    one = bootstrap_aucs(labels, scores, resamples=100, seed=3)
    two = bootstrap_aucs(labels, scores, resamples=100, seed=3)
    assert one == two and len(one["a"]) == len(one["b"]) == 100
    assert all(v == 1.0 for v in one["b"])
    lo, hi = percentile_interval(one["a"])
    point = roc_auc(labels, scores["a"])
    assert lo is not None and hi is not None and point is not None and lo < point < hi
