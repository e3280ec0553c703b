"""Accuracy of ``cimedic analyze`` on LogChunks and CiDiff (a measurement, not a test).

Usage::

    .venv/bin/python bench/diagnosis_accuracy.py [--data DIR] [--dataset logchunks|cidiff|all]
        [--limit N] [--jobs 2] [--per-log FILE.tsv] [--check-scorer]

The cases and the per-log scores are built exactly as in ``../shared/tools/score_diagnosis.py``
(the scorer used on the held-out data):

- LogChunks: every row of ``labels.jsonl`` whose chunk occurs in its log; the chunk's non-empty
  lines are joined by ``\\n+`` into a regex and every match is one occurrence (a set of 1-based line
  numbers). Rows whose chunk is not found are not cases.
- CiDiff: every ``groundtruth`` file; the lines of its ``E a-b`` / ``E n`` ranges (``C`` lines
  are not scored) in ``fail.log``.
- Line numbers split at ``\\r\\n``, ``\\r`` and ``\\n`` (Java ``readLine``).
- Per log: precision P, recall R and F1 of the inclusive ``excerpt`` range against the ground
  truth lines, hit@1 / hit@5 = a ground-truth line among the first 1 / 5 ``error_lines``. With
  several occurrences the best one by (F1, hit@5, hit@1) counts. A run that fails scores 0.
  Figures are means over all cases.

The diagnosis runs in-process (``analyze_path`` + ``contract``, one diagnoser per worker of a
multiprocessing pool), which gives the same JSON as the CLI without a process start per log;
``--check-scorer`` additionally runs the real scorer on the CLI and checks that both agree.

Also reported, from the same run: a naive baseline (excerpt = last 20 lines; error_lines = lines
containing "error" or "fail", case-insensitive, newest first) and the ratio ours / baseline;
breakdowns by detected ``log.format`` and by language (LogChunks, top 10) or by the
``log_format`` column of ``index.csv`` (CiDiff); and, for CiDiff, a second run with ``pass.log``
given as ``--baseline``. JSON results go to ``bench/out/diagnosis_accuracy.json``.

Every case is put in one of two parts **by repository** (LogChunks: ``repo`` of ``labels.jsonl``;
CiDiff: the case directory without its trailing run number, e.g. ``breakages/astor``):
``holdout`` when the first 8 hex digits of SHA-256 of the repository name, as an integer, are
divisible by 3 (about a third of the repositories, as issue 12 asks), else ``tune``. Rules are tuned on ``tune``
only; both parts are reported (``### <dataset>: by split part``), so a change can be checked not
to lower accuracy on data it was not fitted to. The diagnosed ``category`` and ``transient`` flag
of each log are counted per part too (the data sets have no cause labels: these counts show what
a change moved, not whether it is right).
"""

from __future__ import annotations

import argparse
import bisect
import csv
import hashlib
import json
import multiprocessing
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_SCORER = REPO.parent / "shared" / "tools" / "score_diagnosis.py"
DEFAULT_CIMEDIC = REPO / ".venv" / "bin" / "cimedic"
OUT_JSON = REPO / "bench" / "out" / "diagnosis_accuracy.json"

METRICS = ("F1", "P", "R", "hit@1", "hit@5")
NAIVE_TAIL = 20
NAIVE_ERROR = re.compile(r"error|fail", re.IGNORECASE)
HOLDOUT_MODULUS = 3
CIDIFF_RUN = re.compile(r"(_\d+|/run\d+)$")


def split_part(repository: str) -> str:
    """``holdout`` or ``tune``: a deterministic split by repository (see the module docstring)."""
    h = int(hashlib.sha256(repository.encode("utf-8")).hexdigest()[:8], 16)
    return "holdout" if h % HOLDOUT_MODULUS == 0 else "tune"


# --------------------------------------------------------------------------- ground truth
# Same construction as score_diagnosis.py (norm, line_of, logchunks_cases, cidiff_cases).


def norm(s: str) -> str:
    """One ``\\n`` per line break; keeps the readLine line count of the original."""
    return s.replace("\r\n", "\n").replace("\r", "\n")


def line_of(starts: list[int], offset: int) -> int:
    return bisect.bisect_right(starts, offset)  # 1-based


def logchunks_cases(d: Path) -> Iterator[dict[str, Any]]:
    with open(d / "labels.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    for row in rows:
        p = d / row["log_path"]
        raw = norm(p.read_bytes().decode("utf-8", errors="replace"))
        chunk = norm(row["chunk"]).strip("\n")
        parts = [x for x in chunk.split("\n") if x]
        if not parts:
            continue
        pat = re.compile(r"\n+".join(re.escape(x) for x in parts))  # tolerate blank-line differences
        starts = [0] + [m.end() for m in re.finditer("\n", raw)]
        occ = [
            set(range(line_of(starts, m.start()), line_of(starts, max(m.start(), m.end() - 1)) + 1))
            for m in pat.finditer(raw)
        ]
        if occ:
            repo = str(row.get("repo", "?"))
            yield {"path": p, "occurrences": occ, "group": row.get("language", "?"), "repository": repo}


def cidiff_cases(d: Path) -> Iterator[dict[str, Any]]:
    index: dict[str, str] = {}
    if (d / "index.csv").is_file():
        with open(d / "index.csv", newline="", encoding="utf-8") as fh:
            index = {r["case"]: r["log_format"] for r in csv.DictReader(fh)}
    for gt in sorted(d.rglob("groundtruth")):
        lines: set[int] = set()
        for text in gt.read_text().splitlines()[1:]:
            m = re.match(r"E\s+(\d+)(?:-(\d+))?", text.strip())
            if m:
                a = int(m.group(1))
                b = int(m.group(2) or a)
                lines.update(range(a, b + 1))
        if lines:
            case = gt.parent.relative_to(d).as_posix()
            fmt = index.get(case, "?").split(" (")[0]
            repo = CIDIFF_RUN.sub("", case)
            yield {"path": gt.parent / "fail.log", "occurrences": [lines], "group": fmt, "repository": repo}


def score(res: dict[str, Any], gt: set[int]) -> tuple[float, float, float, bool, bool]:
    """P, R, F1, hit@1, hit@5 of one contract dict against one ground-truth line set."""
    ex = res.get("excerpt") or {}
    pred = set(range(int(ex["start_line"]), int(ex["end_line"]) + 1)) if ex else set()
    inter = len(pred & gt)
    p = inter / len(pred) if pred else 0.0
    r = inter / len(gt)
    f = 2 * p * r / (p + r) if p + r else 0.0
    top = [int(e["line"]) for e in (res.get("error_lines") or [])]
    return p, r, f, bool(set(top[:1]) & gt), bool(set(top[:5]) & gt)


def best_score(res: dict[str, Any], occurrences: list[set[int]]) -> tuple[tuple[Any, ...], set[int]]:
    """The best occurrence by (F1, hit@5, hit@1), as the scorer picks it."""
    return max(((score(res, gt), gt) for gt in occurrences), key=lambda x: (x[0][2], x[0][4], x[0][3]))


# --------------------------------------------------------------------------- naive baseline


def naive(path: Path) -> dict[str, Any]:
    """Excerpt = the last 20 lines; error_lines = lines matching error|fail, newest first."""
    lines = norm(path.read_bytes().decode("utf-8", errors="replace")).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # a final line break does not start another line
    n = len(lines)
    hits = [i + 1 for i in range(n - 1, -1, -1) if NAIVE_ERROR.search(lines[i])]
    return {
        "excerpt": {"start_line": max(1, n - NAIVE_TAIL + 1), "end_line": n} if n else None,
        "error_lines": [{"line": i} for i in hits],
    }


# --------------------------------------------------------------------------- workers

_DIAGNOSER: Any = None
_INIT_ERROR: str | None = None


def _init_worker() -> None:
    """Build this worker's diagnoser; an error is kept and reported per log (no respawn loop)."""
    global _DIAGNOSER, _INIT_ERROR
    try:
        from cimedic.services.diagnose import make_diagnoser

        _DIAGNOSER, _ = make_diagnoser()
    except Exception as exc:
        _INIT_ERROR = f"cannot build the diagnoser: {type(exc).__name__}: {exc}"


def _evaluate(task: tuple[str, dict[str, Any], bool]) -> dict[str, Any]:
    """Diagnose one case in-process, score it, and score the naive baseline on it."""
    dataset, case, with_baseline = task
    path: Path = case["path"]
    repo = case["repository"]
    row: dict[str, Any] = {"dataset": dataset, "path": str(path), "group": case["group"]}
    row.update(repository=repo, part=split_part(repo), category="failed", transient=False)
    t0 = time.perf_counter()
    try:
        if _INIT_ERROR is not None:
            raise RuntimeError(_INIT_ERROR)
        from cimedic.interfaces.cli.render import contract
        from cimedic.services.diagnose import analyze_path

        baseline = None
        if with_baseline:
            pass_log = path.with_name("pass.log")
            baseline = str(pass_log) if pass_log.is_file() else None
            row["baseline_used"] = baseline is not None
        res = contract(analyze_path(str(path), baseline=baseline, diagnoser=_DIAGNOSER).diagnosis)
        (p, r, f, h1, h5), gt = best_score(res, case["occurrences"])
        row.update(P=p, R=r, F1=f, hit1=h1, hit5=h5, failed=False, format=res["log"]["format"])
        row.update(category=res.get("category", "?"), transient=bool(res.get("transient")))
        ex = res.get("excerpt") or {}
        row["excerpt"] = [ex.get("start_line"), ex.get("end_line")]
        row["gt_first"] = min(gt)
        top = res.get("error_lines") or []
        row["top_line"] = top[0]["line"] if top else None
        row["top_text"] = top[0]["text"] if top else ""
    except Exception as exc:  # a failed run scores 0, as in the scorer
        row.update(P=0.0, R=0.0, F1=0.0, hit1=False, hit5=False, failed=True, format="failed")
        row.update(excerpt=[None, None], gt_first=min(min(o) for o in case["occurrences"]))
        row.update(top_line=None, top_text="", error=f"{type(exc).__name__}: {exc}"[:300])
    row["seconds"] = time.perf_counter() - t0
    if not with_baseline:
        (p, r, f, h1, h5), _ = best_score(naive(path), case["occurrences"])
        row["naive"] = {"P": p, "R": r, "F1": f, "hit1": h1, "hit5": h5}
    return row


# --------------------------------------------------------------------------- aggregation


def summarize(rows: list[dict[str, Any]], key: str | None = None) -> dict[str, Any]:
    """Means of the five metrics (of ``row[key]`` when given, e.g. the naive scores)."""
    n = len(rows)
    src = [r[key] if key else r for r in rows]
    out: dict[str, Any] = {"n": n}
    for name, field in zip(METRICS, ("F1", "P", "R", "hit1", "hit5"), strict=True):
        out[name] = sum(float(s[field]) for s in src) / n if n else 0.0
    if key is None:
        out["failed"] = sum(1 for r in rows if r["failed"])
    return out


def ratio(ours: dict[str, Any], base: dict[str, Any]) -> dict[str, float | None]:
    return {m: (ours[m] / base[m] if base[m] else None) for m in METRICS}


def breakdown(rows: list[dict[str, Any]], field: str, top: int | None = None) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r[field]].append(r)
    names = [g for g, _ in Counter({g: len(v) for g, v in groups.items()}).most_common(top)]
    out = []
    for g in names:
        s = summarize(groups[g])
        s["naive F1"] = summarize(groups[g], "naive")["F1"] if "naive" in groups[g][0] else None
        out.append({"group": g, **s})
    return out


def category_counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per split part: how many logs were diagnosed transient, and each category's count."""
    out: dict[str, Any] = {}
    for part in ("tune", "holdout"):
        rs = [r for r in rows if r["part"] == part]
        out[part] = {
            "n": len(rs),
            "transient": sum(1 for r in rs if r["transient"]),
            "categories": dict(Counter(r["category"] for r in rs).most_common()),
        }
    return out


def summary_line(dataset: str, s: dict[str, Any]) -> str:
    """The scorer's summary line format."""
    return (
        f"{dataset} n={s['n']} F1={s['F1']:.3f} P={s['P']:.3f} R={s['R']:.3f} "
        f"hit@1={s['hit@1']:.3f} hit@5={s['hit@5']:.3f} failed={s['failed']}"
    )


def fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def md_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def print_breakdown(title: str, groups: list[dict[str, Any]]) -> None:
    print(f"\n{title}\n")
    cols = ["n", *METRICS, "failed", "naive F1"]
    print(md_table(["group", *cols], [[g["group"], *(g[c] for c in cols)] for g in groups]))


# --------------------------------------------------------------------------- scorer check


def run_scorer(scorer: Path, dataset: str, d: Path, cimedic: str, limit: int, jobs: int) -> str:
    cmd = [sys.executable, str(scorer), dataset, str(d), "--cimedic", cimedic, "--jobs", str(jobs)]
    if limit:
        cmd += ["--limit", str(limit)]
    print(f"running: {' '.join(cmd)}", flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise SystemExit(f"scorer failed (exit {out.returncode}): {out.stderr[-2000:]}")
    return lines[-1]


def parse_summary(line: str) -> dict[str, float]:
    return {k: float(v) for k, v in re.findall(r"(\S+)=([0-9.]+)", line)}


# --------------------------------------------------------------------------- main


def _check_engine() -> None:
    """Fail fast when the engine cannot be imported or built (e.g. while someone edits it).

    ``cimedic`` is taken from ``src/`` when the script runs outside the project venv.
    """
    try:
        import cimedic  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(REPO / "src"))
    try:
        from cimedic.interfaces.cli.render import contract  # noqa: F401
        from cimedic.services.diagnose import make_diagnoser

        make_diagnoser()
    except Exception as exc:
        raise SystemExit(f"cannot load the cimedic engine: {type(exc).__name__}: {exc}") from exc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding logchunks/ and cidiff/")
    ap.add_argument("--dataset", choices=["logchunks", "cidiff", "all"], default="all")
    ap.add_argument("--limit", type=int, default=0, help="first N cases of each dataset (0 = all)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--per-log", type=Path, help="write per-log rows to this TSV file")
    ap.add_argument(
        "--check-scorer", action="store_true", help="also run score_diagnosis.py on the CLI and compare"
    )
    ap.add_argument("--scorer", type=Path, default=DEFAULT_SCORER)
    ap.add_argument("--cimedic", default=str(DEFAULT_CIMEDIC), help="CLI binary for --check-scorer")
    ap.add_argument("--json-out", type=Path, default=OUT_JSON)
    a = ap.parse_args()
    _check_engine()

    datasets = ["logchunks", "cidiff"] if a.dataset == "all" else [a.dataset]
    builders = {"logchunks": logchunks_cases, "cidiff": cidiff_cases}
    cases: dict[str, list[dict[str, Any]]] = {}
    for ds in datasets:
        d = a.data / ds
        if not d.is_dir():
            ap.error(f"no such directory: {d}")
        t0 = time.perf_counter()
        cases[ds] = list(builders[ds](d))
        if a.limit:
            cases[ds] = cases[ds][: a.limit]
        print(f"{ds}: {len(cases[ds])} cases from {d} ({time.perf_counter() - t0:.1f} s)", flush=True)
        if not cases[ds]:
            ap.error(f"no {ds} cases found under {d}")

    runs = [(ds, ds, False) for ds in datasets]
    if "cidiff" in datasets:
        runs.append(("cidiff+baseline", "cidiff", True))
    tasks = [(name, c, wb) for name, ds, wb in runs for c in cases[ds]]

    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with multiprocessing.Pool(a.jobs, initializer=_init_worker) as pool:
        for i, row in enumerate(pool.imap(_evaluate, tasks, chunksize=1), 1):
            rows.append(row)
            if row["failed"]:
                print(f"FAIL {row['path']}: {row['error']}", file=sys.stderr)
            if i % 50 == 0 or i == len(tasks):
                print(f"  {i}/{len(tasks)} logs, {time.perf_counter() - t0:.1f} s", flush=True)
    wall = time.perf_counter() - t0

    results: dict[str, Any] = {
        "data": str(a.data.resolve()),
        "limit": a.limit,
        "jobs": a.jobs,
        "wall_seconds": round(wall, 2),
        "engine_commit": _git_head(),
        "datasets": {},
    }
    table: list[list[Any]] = []
    for name, _ds, wb in runs:
        rs = [r for r in rows if r["dataset"] == name]
        ours = summarize(rs)
        entry: dict[str, Any] = {
            "summary": ours,
            "summary_line": summary_line(name, ours),
            "analyze_seconds": round(sum(r["seconds"] for r in rs), 2),
            "by_detected_format": breakdown(rs, "format"),
            "by_part": breakdown(rs, "part"),
            "categories_by_part": category_counts(rs),
        }
        print_breakdown(f"### {name}: by split part (by repository)", entry["by_part"])
        for part, c in entry["categories_by_part"].items():
            print(f"{name} {part}: n={c['n']} transient={c['transient']} categories={c['categories']}")
        table.append([name, "cimedic", *(ours[c] for c in ("n", *METRICS, "failed"))])
        if wb:
            entry["pass_log_used"] = sum(1 for r in rs if r.get("baseline_used"))
            print_breakdown(f"### {name}: by detected log.format", entry["by_detected_format"])
        else:
            base = summarize(rs, "naive")
            entry["naive"] = base
            entry["ratio_vs_naive"] = ratio(ours, base)
            table.append(
                [name, "naive (last 20 lines, error/fail)", *(base[c] for c in ("n", *METRICS)), "-"]
            )
            table.append([name, "ratio cimedic/naive", "-", *entry["ratio_vs_naive"].values(), "-"])
            print_breakdown(f"### {name}: by detected log.format", entry["by_detected_format"])
            if name == "logchunks":
                entry["by_language_top10"] = breakdown(rs, "group", top=10)
                print_breakdown(f"### {name}: by language (top 10)", entry["by_language_top10"])
            else:
                entry["by_index_log_format"] = breakdown(rs, "group")
                print_breakdown(f"### {name}: by index.csv log_format", entry["by_index_log_format"])
        results["datasets"][name] = entry

    if a.per_log:
        write_per_log(a.per_log, rows)
        print(f"\nper-log rows: {a.per_log}")

    mismatch = False
    if a.check_scorer:
        print("\n### scorer check (score_diagnosis.py on the CLI vs in-process)\n", flush=True)
        results["scorer_check"] = {}
        for ds in datasets:
            theirs = run_scorer(a.scorer, ds, a.data / ds, a.cimedic, a.limit, a.jobs)
            ours_line = results["datasets"][ds]["summary_line"]
            pa, pb = parse_summary(theirs), parse_summary(ours_line)
            agree = pa.keys() == pb.keys() and all(abs(pa[k] - pb[k]) < 5e-4 for k in pa)
            mismatch |= not agree
            print(f"scorer:     {theirs}\nin-process: {ours_line}\n-> {'AGREE' if agree else 'MISMATCH'}\n")
            results["scorer_check"][ds] = {"scorer": theirs, "in_process": ours_line, "agree": agree}

    print("\n### summary\n")
    for name, _ds, _wb in runs:
        print(results["datasets"][name]["summary_line"])
        for g in results["datasets"][name]["by_part"]:
            print(f"  {g['group']}: {summary_line(name, g)}")
    print(f"(wall {wall:.1f} s for {len(tasks)} diagnoses with {a.jobs} workers)\n")
    print(md_table(["dataset", "system", "n", *METRICS, "failed"], table))

    a.json_out.parent.mkdir(parents=True, exist_ok=True)
    a.json_out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nJSON: {a.json_out}")
    if mismatch:
        print("scorer check FAILED: in-process and CLI scores differ at 3 decimals", file=sys.stderr)
        return 1
    return 0


def write_per_log(path: Path, rows: list[dict[str, Any]]) -> None:
    def clean(s: str) -> str:
        return re.sub(r"[\t\r\n]", " ", s)[:300]

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(
            "dataset\tpath\trepository\tpart\tcategory\ttransient\tformat\tP\tR\tF1\thit1\thit5\texcerpt_start\texcerpt_end\tgt_first\ttop_line\ttop_text\n"
        )
        for r in rows:
            cells = [
                r["dataset"],
                r["path"],
                r["repository"],
                r["part"],
                r["category"],
                int(r["transient"]),
                r["format"],
                f"{r['P']:.3f}",
                f"{r['R']:.3f}",
                f"{r['F1']:.3f}",
                int(r["hit1"]),
                int(r["hit5"]),
                fmt(r["excerpt"][0]),
                fmt(r["excerpt"][1]),
                fmt(r["gt_first"]),
                fmt(r["top_line"]),
                clean(r["top_text"] or r.get("error", "")),
            ]
            fh.write("\t".join(str(c) for c in cells) + "\n")


def _git_head() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "src"], capture_output=True, text=True
        )
        return (
            out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "") if out.returncode == 0 else None
        )
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
