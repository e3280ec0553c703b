"""Change points of build durations on the LRTS Jenkins builds: cimedic's detector vs a naive one.

For each project of ``<data>/build_histories_lrts/builds/`` (training and testing splits joined,
in ``build_timestamp`` order), one value per build (``build_duration`` seconds; rows of one
build share it), leaving out builds with an ``ABORTED`` row (cut short). Failed builds stay in:
on LRTS a FAILURE or UNSTABLE build still ran its test suite (its median duration equals the
successful builds'), unlike a failed GitHub job, which stops at the failing step.

Detectors, run on the same series in the same process:

- **cimedic**: :func:`cimedic.analysis.changepoints.detect_shifts` with its module defaults (PELT on
  winsorised robust z-scores of log durations, BIC penalty, pruning by Mann-Whitney U, effect
  size and noise; the thresholds are the product's, not tuned per project);
- **rolling mean** (baseline): the mean of the next ``W`` builds against the mean of the previous
  ``W`` (``W = 10``, twice the minimum segment), a change where ``|ratio - 1| >= 20 %`` (the same
  minimum relative change) and ``|ratio - 1|`` is the largest within ``±W`` builds.

Figures: change points per project with their sizes (relative change of the median across the
change, for both directions), how many of each detector's change points the other confirms
(within ``±TOL`` builds, same direction), false alarms on shuffled series (a permutation has no
change: every one found is false), and, on series with an injected step (``x[p:] *= 1.5`` or
``1.25`` at random quiet positions, seeded), recall (a detected increase within ``±TOL`` of
``p``) and the onset error. A PNG plot of one project goes to ``bench/out/``.

Run: ``.venv/bin/python bench/anomalies_lrts.py [--data DIR] [--plot-project tvm]``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cimedic.analysis.changepoints import MIN_RELATIVE_CHANGE, MIN_SEGMENT, detect_shifts  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"
W = 2 * MIN_SEGMENT
TOL = 10
TRIALS = 20
STEPS = (1.5, 1.25)


@dataclass(frozen=True)
class Build:
    when: datetime
    duration: float
    result: str
    sha: str


@dataclass(frozen=True)
class Change:
    index: int
    relative: float  # median after / median before - 1


def load(project_dir: Path) -> list[Build]:
    """One value per build of a project, oldest first; builds with an ABORTED row left out."""
    rows: dict[tuple[str, str], list[dict[str, str]]] = {}
    for name in ("training_builds.csv", "testing_builds.csv"):
        path = project_dir / name
        if not path.is_file():
            continue
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                rows.setdefault((row["pr_name"], row["build_id"]), []).append(row)
    builds = []
    for group in rows.values():
        results = {r["build_result"] for r in group}
        first = group[0]
        if "ABORTED" in results or not first["build_duration"]:
            continue
        worst = next((r for r in ("FAILURE", "UNSTABLE", "SUCCESS") if r in results), sorted(results)[0])
        builds.append(
            Build(
                datetime.fromtimestamp(float(first["build_timestamp"]), UTC),
                float(first["build_duration"]),
                worst,
                first["build_head_sha"],
            )
        )
    builds.sort(key=lambda b: b.when)
    return builds


def ours(values: list[float]) -> list[Change]:
    return [Change(s.index, s.relative) for s in detect_shifts(values).shifts]


def rolling(values: list[float]) -> list[Change]:
    """The naive baseline: rolling means of W builds on each side, local maxima of |ratio - 1|."""
    n = len(values)
    ratio: dict[int, float] = {}
    for i in range(W, n - W + 1):
        before = sum(values[i - W : i]) / W
        after = sum(values[i : i + W]) / W
        if before > 0:
            ratio[i] = after / before - 1
    out = []
    for i, r in ratio.items():
        if abs(r) < MIN_RELATIVE_CHANGE:
            continue
        near = [abs(ratio[j]) for j in range(i - W, i + W + 1) if j in ratio]
        if abs(r) >= max(near) and not any(abs(c.index - i) <= W for c in out):
            out.append(Change(i, r))
    return out


def confirmed(a: list[Change], b: list[Change]) -> int:
    return sum(
        1 for x in a if any(abs(x.index - y.index) <= TOL and (x.relative > 0) == (y.relative > 0) for y in b)
    )


def injected(
    values: list[float], seed: int, orig: dict[str, list[Change]]
) -> dict[str, dict[str, float | int | None]]:
    """Recall and onset error of both detectors on steps injected at random *quiet* positions
    (no change of either detector within ``±TOL`` on the original series, so a hit is not a
    natural change point found by chance)."""
    rng = random.Random(seed)
    n = len(values)
    out: dict[str, dict[str, float | int | None]] = {}
    quiet = [
        p for p in range(40, n - 40) if not any(abs(c.index - p) <= TOL for cs in orig.values() for c in cs)
    ]
    if not quiet:
        return out
    positions = rng.sample(quiet, min(TRIALS, len(quiet)))
    for factor in STEPS:
        for name, fn in (("cimedic", ours), ("rolling_mean", rolling)):
            errs = []
            for p in positions:
                x = values[:p] + [v * factor for v in values[p:]]
                found = [c for c in fn(x) if c.relative > 0 and abs(c.index - p) <= TOL]
                if found:
                    errs.append(min(abs(c.index - p) for c in found))
            out[f"{name}@{factor}"] = {
                "hits": len(errs),
                "trials": len(positions),
                "recall": len(errs) / len(positions),
                "median_onset_error": statistics.median(errs) if errs else None,
            }
    return out


def shuffled(values: list[float], seed: int, rounds: int = 5) -> dict[str, float]:
    """On randomly permuted series (no time structure left: every change found there is a false
    alarm), mean over ``rounds`` permutations: change points per 1,000 builds, and the chance
    that a ``±TOL`` window at a random position holds a detected increase (what "recall" on an
    injected step would be for a detector that ignores the step)."""
    rng = random.Random(seed)
    counts = {"cimedic": 0.0, "rolling_mean": 0.0}
    chance = {"cimedic": 0.0, "rolling_mean": 0.0}
    n = len(values)
    for _ in range(rounds):
        x = values[:]
        rng.shuffle(x)
        positions = [rng.randrange(40, n - 40) for _ in range(TRIALS)] if n > 80 else []
        for name, fn in (("cimedic", ours), ("rolling_mean", rolling)):
            found = fn(x)
            counts[name] += len(found)
            if positions:
                near = sum(
                    1 for p in positions if any(c.relative > 0 and abs(c.index - p) <= TOL for c in found)
                )
                chance[name] += near / len(positions)
    out = {f"{k}_per_1000": 1000 * v / rounds / n for k, v in counts.items()}
    out.update({f"{k}_chance_hit": v / rounds for k, v in chance.items()})
    return out


def spread(values: list[float]) -> dict[str, float]:
    """Run-to-run spread of the log durations: robust CV (1.4826 MAD) and the MAD of differences."""
    y = [math.log(max(v, 1.0)) for v in values]
    med = statistics.median(y)
    mad = statistics.median(abs(v - med) for v in y)
    d = [b - a for a, b in itertools.pairwise(y)]
    dm = statistics.median(d)
    mad_d = statistics.median(abs(v - dm) for v in d)
    return {"robust_cv": 1.4826 * mad, "sigma_diff": 1.4826 * mad_d / math.sqrt(2)}


def plot(project: str, builds: list[Build], mine: list[Change], base: list[Change], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = list(range(len(builds)))  # build index: dense weeks are not squeezed
    y = [b.duration / 3600 for b in builds]
    top = min(max(y), statistics.quantiles(y, n=100)[98] * 1.6)
    fig, ax = plt.subplots(figsize=(12, 5), dpi=110)
    ax.scatter(x, y, s=6, color="#8a8a8a", alpha=0.55, label="build duration")
    bounds = [0, *[c.index for c in mine], len(builds)]
    for k, (a, b) in enumerate(itertools.pairwise(bounds)):
        med = statistics.median(y[a:b])
        ax.plot(
            [x[a], x[b - 1]],
            [med, med],
            color="#1f5fbf",
            lw=2.4,
            label="segment median (cimedic)" if k == 0 else None,
        )
    for c in mine:
        ax.axvline(x[c.index], color="#c0392b" if c.relative > 0 else "#27ae60", lw=1.2, ls="--")
        ax.annotate(f"{c.relative * 100:+.0f}%", (x[c.index], top * 0.9), rotation=90, fontsize=8,
                    color="#c0392b" if c.relative > 0 else "#27ae60", ha="right")  # fmt: skip
    if base:
        ax.scatter([x[c.index] for c in base], [top * 1.01] * len(base), marker="v", color="#e67e22", s=36,
                   label="rolling-mean baseline change")  # fmt: skip
    ax.set_ylim(0, top * 1.04)
    ax.set_title(f"LRTS {project}: build duration change points (red: slower, green: faster)")
    ax.set_ylabel("hours")
    ticks = [round(i * (len(builds) - 1) / 8) for i in range(9)]
    ax.set_xticks(ticks, [f"#{i}\n{builds[i].when:%Y-%m-%d}" for i in ticks], fontsize=8)
    ax.set_xlabel("build (in time order)")
    ax.legend(loc="center left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def synthetic() -> dict[str, object]:
    """The simulations behind the constants (``docs/anomalies.md``): false change points and
    recall of :func:`detect_shifts` with the BIC (2 log n) and the modified BIC (3 log n, the
    default) penalties on 200-run series of heavy-tailed noise (log durations ~ t(4) * noise,
    four runs x5 as outliers), a step at run 120 for recall; and false bursts per 100 runs and
    recall of the failure-burst detector."""
    from datetime import timedelta

    import numpy as np

    from cimedic.analysis.anomalies import detect_failure_bursts
    from cimedic.analysis.changepoints import ShiftParams
    from cimedic.model.anomalies import AnomalyScope, ScopeLevel, SeriesPoint

    out: dict[str, object] = {}
    for factor in (2.0, 3.0):
        params = ShiftParams(penalty_factor=factor)
        for noise in (0.15, 0.3):
            false = 0
            for seed in range(200):
                rng = np.random.default_rng(seed)
                x = 400 * np.exp(rng.standard_t(4, 200) * noise)
                x[rng.integers(0, 200, 4)] *= 5
                false += len(detect_shifts(x.tolist(), params).shifts)
            recall = {}
            for step in STEPS:
                hits = 0
                for seed in range(100):
                    rng = np.random.default_rng(1000 + seed)
                    x = 400 * np.exp(rng.standard_t(4, 200) * noise)
                    x[120:] *= step
                    hits += any(
                        abs(c.index - 120) <= TOL and c.increase
                        for c in detect_shifts(x.tolist(), params).shifts
                    )
                recall[str(step)] = hits / 100
            key = f"penalty {factor:g} log n, noise {noise}"
            out[key] = {"false_per_series": false / 200, "recall": recall}
            print(f"  {key:<32} false change points per 200-run series {false / 200:.3f}  recall "
                  + "  ".join(f"x{k}: {v:.2f}" for k, v in recall.items()))  # fmt: skip
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    scope = AnomalyScope(repository="sim", level=ScopeLevel.JOB, job="sim")

    def points(v: list[float]) -> list[SeriesPoint]:
        return [SeriesPoint(i + 1, t0 + timedelta(hours=i), x) for i, x in enumerate(v)]

    for rate in (0.05, 0.15, 0.35):
        false = 0
        for seed in range(100):
            rng2 = random.Random(seed)
            false += len(
                detect_failure_bursts(
                    points([1.0 if rng2.random() < rate else 0.0 for _ in range(100)]), scope
                )
            )
        out[f"bursts, steady {rate}"] = {"false_per_100_runs": false / 100}
        print(f"  failure bursts at a steady {rate:.0%} failure rate: {false / 100:.2f} false per 100 runs")
    for length in (3, 4, 6):
        hits = 0
        for seed in range(100):
            rng2 = random.Random(1000 + seed)
            v = [1.0 if rng2.random() < 0.1 else 0.0 for _ in range(30)] + [1.0] * length + [0.0] * 10
            hits += any(abs(a.onset_run_id - 31) <= 2 for a in detect_failure_bursts(points(v), scope))
        out[f"bursts, {length} in a row"] = {"recall": hits / 100}
        print(f"  {length} failures in a row after a 10% baseline: found {hits}% of the time")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    ap.add_argument("--plot-project", default="tvm", help="project plotted to bench/out/")
    ap.add_argument("--json-out", type=Path, default=OUT / "anomalies_lrts.json")
    ap.add_argument("--no-synthetic", action="store_true", help="skip the simulations behind the constants")
    args = ap.parse_args()
    builds_dir = args.data / "build_histories_lrts" / "builds"
    if not builds_dir.is_dir():
        print(f"LRTS builds not found at {builds_dir}", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    detect_shifts([1.0] * 20)  # import ruptures once, outside the timings
    report: dict[str, object] = {"window": W, "tolerance": TOL, "trials": TRIALS, "projects": {}}
    projects = report["projects"]
    assert isinstance(projects, dict)
    head = f"{'project':<15}{'builds':>7}{'cv':>6}  {'cimedic':>7} {'conf':>5}  {'rolling':>7} {'conf':>5}  {'ms ours':>8} {'ms roll':>8}  change points (cimedic: +slower / -faster)"
    print(head)
    print("-" * len(head))
    totals = {"ours": 0, "ours_conf": 0, "roll": 0, "roll_conf": 0, "builds": 0}
    plotted = None
    for pdir in sorted(p for p in builds_dir.iterdir() if p.is_dir()):
        builds = load(pdir)
        if len(builds) < 2 * MIN_SEGMENT:
            continue
        values = [b.duration for b in builds]
        t0 = time.perf_counter()
        mine = ours(values)
        t1 = time.perf_counter()
        base = rolling(values)
        t2 = time.perf_counter()
        c_ours, c_base = confirmed(mine, base), confirmed(base, mine)
        sp = spread(values)
        sizes = " ".join(f"{c.relative * 100:+.0f}%@{builds[c.index].when:%Y-%m}" for c in mine)
        print(f"{pdir.name:<15}{len(builds):>7}{sp['robust_cv']:>6.2f}  {len(mine):>7} {c_ours:>5}  {len(base):>7} {c_base:>5}"
              f"  {(t1 - t0) * 1000:>8.1f} {(t2 - t1) * 1000:>8.1f}  {sizes}")  # fmt: skip
        for k, v in (("ours", len(mine)), ("ours_conf", c_ours), ("roll", len(base)), ("roll_conf", c_base),
                     ("builds", len(builds))):  # fmt: skip
            totals[k] += v
        projects[pdir.name] = {
            "builds": len(builds),
            "spread": sp,
            "cimedic": [
                {
                    "index": c.index,
                    "onset": builds[c.index].when.isoformat(),
                    "onset_sha": builds[c.index].sha,
                    "relative_change": round(c.relative, 4),
                    "median_before_s": statistics.median(values[max(0, c.index - 50) : c.index]),
                }
                for c in mine
            ],
            "rolling_mean": [
                {
                    "index": c.index,
                    "onset": builds[c.index].when.isoformat(),
                    "relative_change": round(c.relative, 4),
                }
                for c in base
            ],
            "cimedic_confirmed_by_rolling": c_ours,
            "rolling_confirmed_by_cimedic": c_base,
            "ms": {"cimedic": round((t1 - t0) * 1000, 2), "rolling_mean": round((t2 - t1) * 1000, 2)},
            "injected": injected(values, len(builds), {"cimedic": mine, "rolling_mean": base}),
            "shuffled": shuffled(values, seed=len(builds)),
        }
        if pdir.name == args.plot_project:
            plotted = OUT / f"anomalies_lrts_{pdir.name}.png"
            plot(pdir.name, builds, mine, base, plotted)
    print("-" * len(head))
    print(
        f"{'all':<15}{totals['builds']:>7}{'':>6}  {totals['ours']:>7} {totals['ours_conf']:>5}  {totals['roll']:>7} {totals['roll_conf']:>5}"
    )
    print(
        "\nFalse alarms on shuffled series (mean of 5 permutations): change points per 1,000 builds, and the"
    )
    print(f"chance that a ±{TOL} window at a random position holds a detected increase:")
    keys = ("cimedic_per_1000", "rolling_mean_per_1000", "cimedic_chance_hit", "rolling_mean_chance_hit")
    for name, proj in projects.items():
        sh = proj["shuffled"]
        print(f"{name:<15}" + "".join(f"{k}={sh[k]:.2f}  " for k in keys))
    means = {k: statistics.mean(proj["shuffled"][k] for proj in projects.values()) for k in keys}
    print(f"{'mean':<15}" + "".join(f"{k}={v:.2f}  " for k, v in means.items()))
    report["shuffled_mean"] = means
    print(
        f"\nInjected steps (x[p:] *= factor at quiet random p; hit = an increase found within ±{TOL} builds):"
    )
    print(
        f"{'project':<15}" + "".join(f"{f'{d}@{f}':>22}" for f in STEPS for d in ("cimedic", "rolling_mean"))
    )
    agg: dict[str, list[int]] = {}
    for name, proj in projects.items():
        inj = proj["injected"]
        if not inj:
            continue
        cells = []
        for f in STEPS:
            for d in ("cimedic", "rolling_mean"):
                r = inj[f"{d}@{f}"]
                agg.setdefault(f"{d}@{f}", [0, 0])
                agg[f"{d}@{f}"][0] += int(r["hits"] or 0)
                agg[f"{d}@{f}"][1] += int(r["trials"] or 0)
                err = r["median_onset_error"]
                cells.append(f"{r['hits']:>3}/{r['trials']} err {'-' if err is None else f'{err:.0f}'}")
        print(f"{name:<15}" + "".join(f"{c:>22}" for c in cells))
    print(f"{'all':<15}" + "".join(f"{f'{h}/{n} = {h / n:.2f}':>22}" for h, n in agg.values()))
    report["injected_total"] = {k: {"hits": h, "trials": n, "recall": h / n} for k, (h, n) in agg.items()}
    report["totals"] = totals
    if not args.no_synthetic:
        print("\nSimulations behind the constants (seeded):")
        report["synthetic"] = synthetic()
    args.json_out.write_text(json.dumps(report, indent=1, default=str))
    print(f"\nJSON: {args.json_out}")
    if plotted:
        print(f"plot: {plotted}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
