"""Failure-risk prediction on LRTS (a measurement, not a test): ``cimedic risk``'s features and
model against the two baselines, per project and pooled.

Usage::

    .venv/bin/python bench/failure_risk.py [--data DIR] [--resamples 1000] [--projects a,b,...]
        [--estimator auto|logistic|hist_gradient_boosting] [--no-per-project]

Data: ``<data>/build_histories_lrts/builds/<project>/{training,testing}_builds.csv`` and
``change_stats.csv`` (``--data`` defaults to ``../shared/data``). Every project folder that has
both splits is used (the 8 development projects; Kafka has no training split).

- **Unit**: one Jenkins build = one ``(project, pr_name, build_id)``. The stages of a
  multi-stage build (hbase, james, log4j, tvm) are rows with the same timestamp, result and
  duration; they are one build, scored once (its stage rows are known at start only as "the
  build was triggered", which is the build itself).
- **Label**: ``build_result`` FAILURE or UNSTABLE = failed, SUCCESS = passed; ABORTED and
  NOT_BUILT builds have no label: they are not scored, and later builds see them only as
  finished-without-outcome (``job_prev_unlabelled``) and in the in-flight counts.
- **Known at start**: a build's features come from :func:`cimedic.analysis.risk_features.
  extract_features`, the same code the product runs on the store: outcomes of earlier builds
  only when they *finished* (timestamp + build_duration) strictly before this build's
  timestamp; the build's own duration, ts_duration and test counts are never read. Churn from
  ``change_stats.csv`` (joined on project, pr_name, build_id; missing when absent). No
  workflow (one PR pipeline per project), no author (LRTS has none), no open-flaky-test count
  (``flaky_tests.csv`` gives only fix dates: when a test became known as flaky is not in it).
  The history of the testing builds includes the training builds before them and the earlier
  testing builds that had finished, as it would online.
- **Split**: the provided training/testing split. One pooled model is trained on the labelled
  training builds of every project (time-ordered model selection inside them, see
  ``cimedic.analysis.risk_model``) and evaluated on each project's testing builds and on all of
  them pooled. The per-project-trained variant (same code, each project's training builds
  only) is reported apart and clearly labelled.
- **Baselines** (same known-at-start rules): ``previous_outcome`` (last known outcome of the
  same PR, else the base branch's, else the project's) and ``recent_failure_rate`` (failure
  rate of the PR's last 5 known builds, else the base branch's last 20, else the project's
  last 50).
- **Metrics**: ROC AUC with a percentile bootstrap 95% interval (paired resamples of the
  testing builds, 1000 by default) and precision at the top 10% (ties averaged). Pooled: the
  model's AUC minus each baseline's, with its paired bootstrap interval.

Target (the issue): model AUC above both baselines pooled and on at least 6 of the 8 projects.
JSON results go to ``bench/out/failure_risk.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from cimedic.analysis.risk_features import FEATURE_NAMES, FeatureRow, extract_features  # noqa: E402
from cimedic.analysis.risk_model import (  # noqa: E402
    ESTIMATORS,
    bootstrap_aucs,
    fit_risk_model,
    percentile_interval,
    permutation_importances,
    precision_at_top,
    roc_auc,
)
from cimedic.model.risk import ChurnStats, RiskRun  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data"
OUT_JSON = REPO / "bench" / "out" / "failure_risk.json"
FAILED = {"FAILURE": True, "UNSTABLE": True, "SUCCESS": False}
METHODS = ("model", "previous_outcome", "recent_failure_rate")
TARGET_PROJECTS = 6


@dataclass(frozen=True)
class Build:
    run: RiskRun
    split: str  # training | testing
    straddles: bool = False  # stages of the build in both splits (counted as testing)


def _int(text: str) -> int:
    try:
        return int(float(text))
    except ValueError:
        return 0


def load_project(root: Path, project: str, churn: dict[tuple[str, str, str], ChurnStats]) -> list[Build]:
    """One :class:`Build` per (pr_name, build_id) of both splits of ``project``."""
    builds: dict[tuple[str, str], Build] = {}
    for split in ("training", "testing"):
        with open(root / "builds" / project / f"{split}_builds.csv", newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                key = (row["pr_name"], row["build_id"])
                if key in builds:  # another stage of the same build: same time, result, duration
                    if split == "testing" and builds[key].split == "training":
                        builds[key] = Build(run=builds[key].run, split="testing", straddles=True)
                    continue
                start = datetime.fromtimestamp(float(row["build_timestamp"]), UTC)
                try:
                    duration: float | None = float(row["build_duration"])
                except ValueError:
                    duration = None
                builds[key] = Build(
                    run=RiskRun(
                        key=f"{project}/{row['pr_name']}#{row['build_id']}",
                        repository=project,
                        created_at=start,
                        pull_request=row["pr_name"],
                        base_branch=row["pr_base_branch"] or None,
                        head_sha=row["build_head_sha"] or None,
                        event="pull_request",
                        completed_at=start + timedelta(seconds=duration) if duration is not None else None,
                        failed=FAILED.get(row["build_result"]),
                        duration=duration,
                        failed_tests=_int(row["failcount"]) if row["failcount"] else None,
                        churn=churn.get((project, row["pr_name"], row["build_id"])),
                    ),
                    split=split,
                )
    return list(builds.values())


def load_churn(root: Path) -> dict[tuple[str, str, str], ChurnStats]:
    out = {}
    with open(root / "change_stats.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out[(row["project"], row["pr_name"], row["build_id"])] = ChurnStats(
                changed_files=_int(row["num_changed_files"]),
                additions=_int(row["num_addition"]),
                deletions=_int(row["num_deletion"]),
            )
    return out


def _labelled(rows: list[FeatureRow], keys: set[str]) -> list[FeatureRow]:
    return [r for r in rows if r.key in keys and r.label is not None]


def _metrics(labels: list[bool], scores: dict[str, list[float]], resamples: int, seed: int) -> dict[str, Any]:
    boots = bootstrap_aucs(labels, scores, resamples=resamples, seed=seed)
    out: dict[str, Any] = {
        "n": len(labels),
        "failures": sum(labels),
        "failure_rate": sum(labels) / len(labels) if labels else None,
    }
    for name, s in scores.items():
        lo, hi = percentile_interval(boots[name])
        out[name] = {"auc": roc_auc(labels, s), "ci": [lo, hi], "p@10": precision_at_top(labels, s)}
    for base in ("previous_outcome", "recent_failure_rate"):
        if "model" in boots and base in boots and len(boots["model"]) == len(boots[base]):
            diffs = [a - b for a, b in zip(boots["model"], boots[base], strict=True)]
            lo, hi = percentile_interval(diffs)
            m, b = out["model"]["auc"], out[base]["auc"]
            out[f"model_minus_{base}"] = {"delta": None if m is None or b is None else m - b, "ci": [lo, hi]}
    return out


def _fmt_auc(m: dict[str, Any]) -> str:
    if m["auc"] is None:
        return "-"
    lo, hi = m["ci"]
    return f"{m['auc']:.3f} [{lo:.2f},{hi:.2f}]" if lo is not None else f"{m['auc']:.3f}"


def _print_table(title: str, results: dict[str, dict[str, Any]]) -> None:
    print(f"\n## {title}\n")
    print(
        "| project | test builds | failure rate | model AUC [95% CI] | prev. outcome AUC | recent rate AUC "
        "| P@10% model / prev / rate | model > both |"
    )
    print("|---|---:|---:|---|---|---|---|:-:|")
    for name, m in results.items():
        beats = all(
            m["model"]["auc"] is not None and m[b]["auc"] is not None and m["model"]["auc"] > m[b]["auc"]
            for b in ("previous_outcome", "recent_failure_rate")
        )
        p10 = " / ".join("-" if m[k]["p@10"] is None else f"{m[k]['p@10']:.2f}" for k in METHODS)
        print(
            f"| {name} | {m['n']} | {m['failure_rate']:.2f} | {_fmt_auc(m['model'])} | "
            f"{_fmt_auc(m['previous_outcome'])} | {_fmt_auc(m['recent_failure_rate'])} | {p10} | "
            f"{'yes' if beats else 'no'} |"
        )


def _score(model_rows: list[FeatureRow], model: Any) -> dict[str, list[float]]:
    return {
        "model": model.predict([r.values for r in model_rows]),
        "previous_outcome": [r.previous_outcome for r in model_rows],
        "recent_failure_rate": [r.recent_failure_rate for r in model_rows],
    }


def _evaluate(
    test: dict[str, list[FeatureRow]], scores: dict[str, dict[str, list[float]]], resamples: int, seed: int
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    pooled_labels: list[bool] = []
    pooled: dict[str, list[float]] = {k: [] for k in METHODS}
    for project, rows in test.items():
        labels = [bool(r.label) for r in rows]
        results[project] = _metrics(labels, scores[project], resamples, seed)
        pooled_labels += labels
        for k in METHODS:
            pooled[k] += scores[project][k]
    results["pooled"] = _metrics(pooled_labels, pooled, resamples, seed)
    return results


def _verdict(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    def beats(m: dict[str, Any]) -> bool:
        return all(
            m["model"]["auc"] is not None and m[b]["auc"] is not None and m["model"]["auc"] > m[b]["auc"]
            for b in ("previous_outcome", "recent_failure_rate")
        )

    projects = [p for p in results if p != "pooled"]
    won = [p for p in projects if beats(results[p])]
    return {
        "pooled_above_both": beats(results["pooled"]),
        "projects_above_both": len(won),
        "projects": len(projects),
        "met": beats(results["pooled"]) and len(won) >= min(TARGET_PROJECTS, len(projects)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    ap.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    ap.add_argument("--projects", default="", help="comma-separated projects (default: all with both splits)")
    ap.add_argument("--estimator", default="auto", choices=["auto", *ESTIMATORS], help="force one estimator")
    ap.add_argument("--no-per-project", action="store_true", help="skip the per-project-trained variant")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    root = args.data / "build_histories_lrts"
    if not (root / "builds").is_dir():
        print(f"no LRTS data at {root}", file=sys.stderr)
        return 2
    projects = [p for p in args.projects.split(",") if p] or sorted(
        d.name
        for d in (root / "builds").iterdir()
        if (d / "training_builds.csv").is_file() and (d / "testing_builds.csv").is_file()
    )
    candidates = ESTIMATORS if args.estimator == "auto" else (args.estimator,)
    t0 = time.perf_counter()
    churn = load_churn(root)
    rows: dict[str, list[FeatureRow]] = {}
    train: dict[str, list[FeatureRow]] = {}
    test: dict[str, list[FeatureRow]] = {}
    counts: dict[str, dict[str, int]] = {}
    for project in projects:
        builds = load_project(root, project, churn)
        split = {b.run.key: b.split for b in builds}
        rows[project] = extract_features([b.run for b in builds])
        train[project] = _labelled(rows[project], {k for k, s in split.items() if s == "training"})
        test[project] = _labelled(rows[project], {k for k, s in split.items() if s == "testing"})
        counts[project] = {
            "builds": len(builds),
            "with_churn": sum(1 for b in builds if b.run.churn is not None),
            "straddling": sum(1 for b in builds if b.straddles),
            "train_labelled": len(train[project]),
            "test_labelled": len(test[project]),
        }
    t_features = time.perf_counter() - t0

    pooled_train = sorted((r for p in projects for r in train[p]), key=lambda r: (r.run.created_at, r.key))
    t1 = time.perf_counter()
    model = fit_risk_model(
        [r.values for r in pooled_train],
        [bool(r.label) for r in pooled_train],
        FEATURE_NAMES,
        groups=[r.run.repository for r in pooled_train],
        candidates=candidates,
        random_state=args.seed,
    )
    t_fit = time.perf_counter() - t1
    scores = {p: _score(test[p], model) for p in projects}
    results = _evaluate(test, scores, args.resamples, args.seed)
    verdict = _verdict(results)
    all_test = [r for p in projects for r in test[p]]
    importances = permutation_importances(
        model, [r.values for r in all_test], [bool(r.label) for r in all_test], random_state=args.seed
    )

    print(f"# Failure risk on LRTS ({len(projects)} projects, features {t_features:.1f}s, fit {t_fit:.1f}s)")
    print(
        f"\npooled model: {model.estimator_name}; time-ordered validation AUC: "
        + ", ".join(
            f"{c.estimator} {c.auc:.3f}" if c.auc is not None else c.estimator for c in model.candidates
        )
    )
    print(f"training builds (labelled): {len(pooled_train)}; testing builds (labelled): {len(all_test)}")
    _print_table("Pooled model (one model, all projects' training builds)", results)
    print("\nAUC difference model - baseline, paired bootstrap 95% CI:\n")
    print("| project | model - previous outcome | model - recent failure rate |")
    print("|---|---|---|")
    for name, m in results.items():
        cells = []
        for base in ("previous_outcome", "recent_failure_rate"):
            d = m[f"model_minus_{base}"]
            cells.append(f"{d['delta']:+.3f} [{d['ci'][0]:+.2f}, {d['ci'][1]:+.2f}]")
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    straddling = {p: c["straddling"] for p, c in counts.items() if c["straddling"]}
    if straddling:
        print(f"\nbuilds whose stages straddle the split (scored as testing builds): {straddling}")
    print(
        f"\nTarget (pooled above both, and >= {TARGET_PROJECTS} of {verdict['projects']} projects): "
        f"pooled {'yes' if verdict['pooled_above_both'] else 'no'}, "
        f"projects {verdict['projects_above_both']}/{verdict['projects']} -> "
        f"{'MET' if verdict['met'] else 'NOT MET'}"
    )
    print(
        "\ntop permutation importances (pooled test, AUC drop): "
        + ", ".join(f"{i.name} {i.importance:.3f}" for i in importances[:8])
    )

    per_project: dict[str, Any] = {}
    if not args.no_per_project:
        pp_scores: dict[str, dict[str, list[float]]] = {}
        chosen = {}
        for p in projects:
            ordered = sorted(train[p], key=lambda r: (r.run.created_at, r.key))
            m = fit_risk_model(
                [r.values for r in ordered],
                [bool(r.label) for r in ordered],
                FEATURE_NAMES,
                candidates=candidates,
                random_state=args.seed,
            )
            chosen[p] = m.estimator_name
            pp_scores[p] = _score(test[p], m)
        pp_results = _evaluate(test, pp_scores, args.resamples, args.seed)
        _print_table(
            "Variant (for information): one model per project, trained on that project only", pp_results
        )
        pp_verdict = _verdict(pp_results)
        print(
            f"\nper-project variant: projects above both {pp_verdict['projects_above_both']}/"
            f"{pp_verdict['projects']}, pooled {'yes' if pp_verdict['pooled_above_both'] else 'no'}; "
            f"estimators {chosen}"
        )
        per_project = {"results": pp_results, "verdict": pp_verdict, "estimators": chosen}

    OUT_JSON.parent.mkdir(parents=True, exist_ok=True)
    OUT_JSON.write_text(
        json.dumps(
            {
                "projects": projects,
                "counts": counts,
                "features": list(FEATURE_NAMES),
                "model": {
                    "estimator": model.estimator_name,
                    "candidates": [c.model_dump() for c in model.candidates],
                    "library": model.library,
                },
                "pooled_model": {"results": results, "verdict": verdict},
                "importances": [i.model_dump() for i in importances],
                "per_project_model": per_project,
                "seconds": {"features": t_features, "fit": t_fit, "total": time.perf_counter() - t0},
                "resamples": args.resamples,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nJSON: {OUT_JSON.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
