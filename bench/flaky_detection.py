"""Flaky-test detection from CI history (``cimedic flaky``'s verdicts; a measurement, not a test).

Usage::

    .venv/bin/python bench/flaky_detection.py [--data DIR] [--lengths 10,30,100,300]
        [--policies rerun,half,none] [--seed 2021] [--issre-windows 5] [--targeted 2]
        [--negatives all|balanced]

Histories (one per test, per history length N and re-run policy), replayed through
``cimedic.analysis.flaky.assess`` exactly as the store would hand them over:

- **Flaky tests (positives).** FlakeFlagger (``flakeflagger_test_results.csv``, ``IsFlaky=1``):
  each execution fails independently with the test's observed rate
  ``NumFailingRuns / (NumFailingRuns + NumPassingRuns)``. ISSRE'20
  (``issre20_test_reruns/derived_isolation_outcome_sequences.csv``): the test's real per-run
  sequence (machine batches concatenated in ``machine_id`` order), read from a random offset
  (``--issre-windows`` windows per test); all 107 tests are flaky (in test-suite runs).
- **Negatives.** Every non-flaky test gets a *genuine breakage*: green until a random execution,
  then red on ``1 + Geometric(1/3)`` consecutive commits (mean 3; a third of the breakages last one
  commit), then green again after the fix commit (or red until the end of the history). Tests
  that never passed (FlakeFlagger ``NumPassingRuns = 0``, ISSRE ``error``/``failure``) are red
  throughout. Negatives come from FlakeFlagger's non-flaky tests and ISSRE's
  ``azure-data/all_tests/test-summaries`` (``--negatives balanced``: as many as positives).
- **Commits and re-runs.** Every execution is on a new commit, except that a red first attempt
  is re-run once on the same commit (a GitHub re-run attempt) with probability 1 (``rerun``),
  0.5 (``half``) or 0 (``none``). Flaky and broken histories get the same policy: the
  breakages "with and without re-run attempts on the red commits".

Measures per dataset, policy and N: precision of the ``flaky`` verdict over positives and
negatives; recall against all flaky tests and against the *physical limit* (the flaky tests
whose sampled history shows both outcomes); the verdicts of the negatives; the median number of
executions until the verdict is ``flaky`` (runs-to-verdict, the shortest prefix); and the same
after **targeted re-runs**: for every finding that lists re-run requests (``FlakyFinding.rerun``:
red commits never re-run, green commits between two red stretches, a breakage's last red commit
until it failed 3 times), up to ``--targeted`` re-runs of each requested commit, stopping at the
first outcome other than the recorded one, drawn from the same process (Bernoulli at the rate,
the next outcomes of the ISSRE sequence; a broken commit stays red and a green one green).
Also: how many runs a flaky test needs before it fails once (95%), from FlakeFlagger's rates.
Baselines in the same run: *both outcomes* (flags any history with a pass and a failure) and
LUCI's thresholds (>= 2 commits with both outcomes and >= 1% flake rate over
>= 100 executions; field notes). Anchor: FlakeFlagger's static predictor, P 0.62 / R 0.73
(published; it predicts from code, not history). JSON goes to ``bench/out/flaky_detection.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from cimedic.analysis.flaky import assess  # noqa: E402
from cimedic.analysis.flaky_stats import runs_to_observe  # noqa: E402
from cimedic.model.flaky import Execution, FlakyFinding, Outcome, OutcomeHistory, Verdict  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data"
OUT_JSON = REPO / "bench" / "out" / "flaky_detection.json"
POLICIES = {"rerun": 1.0, "half": 0.5, "none": 0.0}
BREAK_FIX_P = 1 / 3  # per red commit, the chance that the next commit fixes it: mean 3 commits
ANCHOR = {"precision": 0.62, "recall": 0.73, "source": "FlakeFlagger (ICSE'21), static features, published"}

Draw = Callable[[str], bool]  # commit -> True = failed


@dataclass
class Subject:
    """A test of a dataset: its ground truth and how to draw its outcomes."""

    dataset: str
    name: str
    flaky: bool
    kind: str  # flaky | breakage | always-red
    rate: float | None = None  # FlakeFlagger failure rate
    sequence: str | None = None  # ISSRE outcome string (P/F/E)


@dataclass
class Built:
    subject: Subject
    history: OutcomeHistory
    both: bool  # shows both outcomes
    more: Draw  # draws for targeted re-runs of a red commit
    red_commits: set[str] = field(default_factory=set)  # breakage: the red commits


# ------------------------------------------------------------------------------ data


def load(data: Path, windows: int) -> list[Subject]:
    base = data / "flaky"
    out: list[Subject] = []
    with open(base / "flakeflagger_test_results.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            fails, passes = int(row["NumFailingRuns"]), int(row["NumPassingRuns"])
            name = f"{row['Project']}:{row['Test']}"
            if row["IsFlaky"] == "1":
                out.append(Subject("flakeflagger", name, True, "flaky", rate=fails / (fails + passes)))
            else:
                out.append(Subject("flakeflagger", name, False, "always-red" if passes == 0 else "breakage"))
    seqs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with open(
        base / "issre20_test_reruns" / "derived_isolation_outcome_sequences.csv", encoding="utf-8"
    ) as fh:
        for row in csv.DictReader(fh):
            seqs[row["test_name"]].append((row["machine_id"], row["outcomes_by_run_num"]))
    for name, parts in sorted(seqs.items()):
        seq = "".join(s for _, s in sorted(parts))
        for w in range(windows):
            out.append(Subject("issre20", f"{name}#{w}", True, "flaky", sequence=seq))
    summaries = base / "issre20_test_reruns" / "azure-data" / "all_tests" / "test-summaries"
    for path in sorted(summaries.glob("*.csv")):
        with open(path, encoding="utf-8") as fh:
            for row in csv.reader(fh):
                if len(row) < 9 or row[4] == "flaky":
                    continue
                kind = "breakage" if row[4] == "pass" else "always-red"
                out.append(Subject("issre20", f"{row[0]}:{row[2]}", False, kind))
    return out


# ------------------------------------------------------------------------------ histories


def _source(subject: Subject, rng: random.Random) -> Iterator[bool]:
    if subject.rate is not None:
        p = subject.rate
        while True:
            yield rng.random() < p
    assert subject.sequence is not None
    seq, i = subject.sequence, rng.randrange(len(subject.sequence))
    while True:
        yield seq[i] != "P"
        i = (i + 1) % len(seq)


def build(subject: Subject, n: int, q: float, rng: random.Random) -> Built:
    """A history of ``n`` executions; a red first attempt is re-run once with probability ``q``."""
    if subject.flaky:
        src = _source(subject, rng)
        outcomes: Callable[[int], bool] = lambda _commit: next(src)  # noqa: E731
        more: Draw = lambda _commit: next(src)  # noqa: E731
        red: set[str] = set()
    else:
        if subject.kind == "always-red":
            start, length = 0, n + 1
        else:
            start = rng.randrange(n)
            length = 1
            while rng.random() >= BREAK_FIX_P:
                length += 1
        red_range = range(start, start + length)  # commit indexes (commit i = i-th commit)
        outcomes = lambda commit: commit in red_range  # noqa: E731
        red = set()
        more = lambda commit: commit in red  # noqa: E731  # a commit keeps its outcome
    execs: list[Execution] = []
    commit, attempt = 0, 1
    while len(execs) < n:
        failed = outcomes(commit)
        sha = f"c{commit}"
        if failed and not subject.flaky:
            red.add(sha)
        execs.append(
            Execution(commit=sha, outcome=Outcome.FAIL if failed else Outcome.PASS, run=sha, attempt=attempt)
        )
        if failed and attempt == 1 and q > 0 and rng.random() < q:
            attempt = 2
        else:
            commit, attempt = commit + 1, 1
    fails = sum(e.outcome is Outcome.FAIL for e in execs)
    history = OutcomeHistory(subject=subject.name, executions=tuple(execs))
    return Built(subject, history, 0 < fails < len(execs), more, red)


def with_targeted(b: Built, f: FlakyFinding, per_commit: int) -> tuple[OutcomeHistory, int]:
    """The history after re-running each requested commit up to ``per_commit`` times (stopping at
    the first outcome other than the recorded one); returns it and the number of re-runs."""
    execs = list(b.history.executions)
    used = 0
    for req in f.rerun:
        attempt = max((e.attempt or 1) for e in execs if e.commit == req.commit)
        for _ in range(per_commit):
            attempt += 1
            used += 1
            failed = b.more(req.commit)
            execs.append(
                Execution(
                    commit=req.commit,
                    outcome=Outcome.FAIL if failed else Outcome.PASS,
                    run=req.run,
                    attempt=attempt,
                )
            )
            if failed != (req.outcome is Outcome.FAIL):
                break
    return OutcomeHistory(subject=b.history.subject, executions=tuple(execs)), used


def runs_to_verdict(history: OutcomeHistory) -> int:
    """Shortest prefix (executions) with a ``flaky`` verdict (the verdict is monotone in the prefix)."""
    lo, hi = 1, len(history.executions)
    while lo < hi:
        mid = (lo + hi) // 2
        prefix = OutcomeHistory(subject=history.subject, executions=history.executions[:mid])
        if assess(prefix).verdict is Verdict.FLAKY:
            hi = mid
        else:
            lo = mid + 1
    return lo


# ------------------------------------------------------------------------------ baselines


def both_outcomes(h: OutcomeHistory) -> bool:
    out = {e.outcome for e in h.executions}
    return Outcome.PASS in out and Outcome.FAIL in out


def luci(h: OutcomeHistory, f: FlakyFinding) -> bool:
    return len(h.executions) >= 100 and f.flaky_commits >= 2 and f.flaky_commits / f.commits >= 0.01


# ------------------------------------------------------------------------------ scoring


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _score(rows: list[dict[str, Any]], flag: str) -> dict[str, Any]:
    pos = [r for r in rows if r["flaky"]]
    neg = [r for r in rows if not r["flaky"]]
    tp = sum(r[flag] for r in pos)
    fp = sum(r[flag] for r in neg)
    limit = [r for r in pos if r["both"]]
    tp_limit = sum(r[flag] for r in limit)
    return {
        "tp": tp,
        "fp": fp,
        "positives": len(pos),
        "negatives": len(neg),
        "limit": len(limit),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, len(pos)),
        "limit_share": _ratio(len(limit), len(pos)),
        "recall_of_limit": _ratio(tp_limit, len(limit)),
        "fp_rate": _ratio(fp, len(neg)),
    }


def evaluate(subjects: list[Subject], n: int, policy: str, seed: int, targeted: int) -> dict[str, Any]:
    q = POLICIES[policy]
    rows: list[dict[str, Any]] = []
    for s in subjects:
        rng = random.Random(zlib.crc32(f"{seed}|{n}|{policy}|{s.dataset}|{s.name}".encode()))
        b = build(s, n, q, rng)
        f = assess(b.history)
        flagged = f.verdict is Verdict.FLAKY
        row: dict[str, Any] = {
            "dataset": s.dataset,
            "flaky": s.flaky,
            "kind": s.kind,
            "both": b.both,
            "ours": flagged,
            "verdict": f.verdict.value,
            "both_outcomes": both_outcomes(b.history),
            "luci": luci(b.history, f),
            "rtv": runs_to_verdict(b.history) if flagged and s.flaky else None,
            "reruns": 0,
            "more_runs": _more_runs(s, b) if s.flaky and not b.both else None,
            "targeted": flagged,
            "verdict_targeted": f.verdict.value,
        }
        if not flagged and f.rerun and targeted:
            h2, used = with_targeted(b, f, targeted)
            f2 = assess(h2)
            row.update(reruns=used, targeted=f2.verdict is Verdict.FLAKY, verdict_targeted=f2.verdict.value)
        rows.append(row)
    out: dict[str, Any] = {"n": n, "policy": policy, "by_dataset": {}}
    for name, part in (("all", rows), *sorted(_split(rows).items())):
        neg_verdicts = Counter(r["verdict"] for r in part if not r["flaky"])
        neg_targeted = Counter(r["verdict_targeted"] for r in part if not r["flaky"])
        pos_missed = Counter(r["verdict"] for r in part if r["flaky"] and r["both"] and not r["ours"])
        rtv = [r["rtv"] for r in part if r["rtv"] is not None]
        reran_pos = [r["reruns"] for r in part if r["reruns"] and r["flaky"]]
        reran_neg = [r["reruns"] for r in part if r["reruns"] and not r["flaky"]]
        more = [r["more_runs"] for r in part if r["more_runs"] is not None]
        out["by_dataset"][name] = {
            "ours": _score(part, "ours"),
            "ours_with_targeted_reruns": _score(part, "targeted"),
            "baseline_both_outcomes": _score(part, "both_outcomes"),
            "baseline_luci": _score(part, "luci"),
            "median_runs_to_verdict": statistics.median(rtv) if rtv else None,
            "negatives_verdicts": dict(neg_verdicts),
            "negatives_verdicts_after_reruns": dict(neg_targeted),
            "limit_missed_verdicts": dict(pos_missed),
            "targeted_reruns": {
                "positives_rerun": len(reran_pos),
                "positives_reruns_mean": _mean(reran_pos),
                "negatives_rerun": len(reran_neg),
                "negatives_reruns_mean": _mean(reran_neg),
                "reruns_per_history": _ratio(sum(reran_pos) + sum(reran_neg), len(part)),
            },
            "beyond_limit": {
                "flaky_tests": len(more),
                "median_more_runs_95": statistics.median(more) if more else None,
            },
        }
    return out


def _mean(xs: list[int]) -> float | None:
    return round(sum(xs) / len(xs), 2) if xs else None


def _more_runs(s: Subject, b: Built) -> int | None:
    """FlakeFlagger: further runs for a 95% chance to see the missing outcome (``None`` for ISSRE)."""
    if s.rate is None:
        return None
    failed = any(e.outcome is Outcome.FAIL for e in b.history.executions)
    return runs_to_observe(1.0 - s.rate if failed else s.rate, 0.95)


def _split(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    parts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        parts[r["dataset"]].append(r)
    return parts


def runs_needed(subjects: list[Subject]) -> dict[str, Any]:
    rates = [s.rate for s in subjects if s.rate is not None]
    need = [runs_to_observe(p, 0.95) or 10**9 for p in rates]
    return {
        "flaky_tests": len(rates),
        "median_failure_rate": statistics.median(rates),
        "median_runs_to_first_failure_95": statistics.median(need),
        "share_needing_over_300_runs": round(sum(x > 300 for x in need) / len(need), 4),
        "share_needing_over_1000_runs": round(sum(x > 1000 for x in need) / len(need), 4),
    }


# ------------------------------------------------------------------------------ main


def _opt(x: float | None) -> str:
    return f"{'-' if x is None else f'{x:g}':>5}"


def _fmt(x: float | None) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data directory")
    ap.add_argument("--lengths", default="10,30,100,300", help="history lengths N (executions)")
    ap.add_argument("--policies", default="rerun,half,none", help="re-run policies: rerun, half, none")
    ap.add_argument("--seed", type=int, default=2021)
    ap.add_argument("--issre-windows", type=int, default=5, help="windows per ISSRE'20 test")
    ap.add_argument("--targeted", type=int, default=2, help="targeted re-runs per requested commit (0: off)")
    ap.add_argument("--negatives", choices=("all", "balanced"), default="all")
    ap.add_argument("--out", type=Path, default=OUT_JSON)
    args = ap.parse_args(argv)
    if not (args.data / "flaky" / "flakeflagger_test_results.csv").is_file():
        print(f"no flaky data under {args.data / 'flaky'}", file=sys.stderr)
        return 2
    subjects = load(args.data, args.issre_windows)
    if args.negatives == "balanced":
        rng = random.Random(args.seed)
        pos = [s for s in subjects if s.flaky]
        neg = [s for s in subjects if not s.flaky]
        subjects = pos + rng.sample(neg, min(len(neg), len(pos)))
    counts = Counter((s.dataset, s.kind) for s in subjects)
    print("subjects:", ", ".join(f"{d}/{k} {c}" for (d, k), c in sorted(counts.items())))
    results: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for policy in args.policies.split(","):
        print(f"\npolicy {policy!r} (a red first attempt is re-run with probability {POLICIES[policy]})")
        print(
            f"{'N':>4} {'data':<13} {'P':>6} {'R':>6} {'R/lim':>6} {'limit':>6} {'rtv':>5} | "
            f"{'P+rr':>6} {'R+rr':>6} {'R/l+rr':>6} {'rr/h':>5} {'rr+':>5} | {'both P':>6} {'both R':>6} | "
            f"{'luci P':>6} {'luci R':>6} | {'more':>5}"
        )
        for n in (int(x) for x in args.lengths.split(",")):
            res = evaluate(subjects, n, policy, args.seed, args.targeted)
            results.append(res)
            for name, d in res["by_dataset"].items():
                o, t, b, lu = (
                    d["ours"],
                    d["ours_with_targeted_reruns"],
                    d["baseline_both_outcomes"],
                    d["baseline_luci"],
                )
                rtv = d["median_runs_to_verdict"]
                rr = d["targeted_reruns"]
                more = d["beyond_limit"]["median_more_runs_95"]
                print(
                    f"{n:>4} {name:<13} {_fmt(o['precision'])} {_fmt(o['recall'])} {_fmt(o['recall_of_limit'])} "
                    f"{_fmt(o['limit_share'])} {rtv if rtv is not None else '-':>5} | "
                    f"{_fmt(t['precision'])} {_fmt(t['recall'])} {_fmt(t['recall_of_limit'])} "
                    f"{rr['reruns_per_history'] or 0:>5.2f} {_opt(rr['positives_reruns_mean'])} | "
                    f"{_fmt(b['precision'])} {_fmt(b['recall'])} | {_fmt(lu['precision'])} {_fmt(lu['recall'])} | "
                    f"{_opt(more)}"
                )
    elapsed = time.perf_counter() - t0
    need = runs_needed(subjects)
    print(
        f"\nFlakeFlagger: median failure rate {need['median_failure_rate']:.4f}; a flaky test needs a median "
        f"{need['median_runs_to_first_failure_95']} runs to fail once (95%); "
        f"{need['share_needing_over_300_runs']:.0%} need more than 300, {need['share_needing_over_1000_runs']:.0%} "
        "more than 1,000."
    )
    print(f"anchor: {ANCHOR['source']}: P {ANCHOR['precision']}, R {ANCHOR['recall']}")
    print(
        "columns: P/R = precision/recall of the flaky verdict, R/lim = recall of the flaky tests whose "
        "history shows both outcomes, limit = their share, rtv = median executions to the verdict; "
        "+rr = after targeted re-runs, rr/h = targeted re-runs per history, rr+ = per flaky test re-run; "
        "both = baseline 'both outcomes', luci = LUCI thresholds; more = median further runs (95%) a "
        "FlakeFlagger flaky test beyond the limit needs to show its other outcome"
    )
    print(f"elapsed {elapsed:.1f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "args": {k: str(v) for k, v in vars(args).items()},
                "subjects": {f"{d}/{k}": c for (d, k), c in sorted(counts.items())},
                "results": results,
                "runs_needed": need,
                "anchor": ANCHOR,
                "elapsed_seconds": round(elapsed, 1),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
