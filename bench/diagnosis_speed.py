"""Speed and memory of a whole ``cimedic analyze`` process on big real logs (a measurement).

Usage::

    .venv/bin/python bench/diagnosis_speed.py [--mode distinct|cycle] [--data DIR] [--size-mb 100]
        [--out BIG.log] [--cimedic BIN] [--repeat 3] [--drain-mb 10] [--no-gzip] [--no-profile]

``--mode distinct`` (the default when ``--data`` holds the data sets; else the bundled
``tests/fixtures/logs``, said so in the output): one file per log format, built from DISTINCT
real logs, each file used once, never repeated (a file that repeats whole logs flatters the
engine's memo of identical lines): Travis = LogChunks ``logs/`` (labels.jsonl order), GitHub
Actions = CiDiff ``gha_*`` cases (``fail.log`` then ``pass.log``), Jenkins = CiDiff
``jenkins_console`` cases (both logs); no GitLab job logs are in the data (``github/`` holds
API payloads, not logs). Each file grows up to ``--size-mb`` MiB or until its logs run out. On
each: the whole ``cimedic analyze --format json`` process ``--repeat`` times (best/median MB/s,
the engine's own ``elapsed_ms``, peak RSS), ``LC_ALL=C grep -cE 'error|fail'`` on the same file
(the ratio to it) and a cProfile of the engine (``analyze_path`` in a child process), top 15 by
cumulative time. JSON to ``bench/out/diagnosis_speed_distinct.json``.

``--mode cycle`` (the measurement before): one big log assembled from real logs: LogChunks Travis logs interleaved with the CiDiff
GitHub Actions ``fail.log`` files (one of each in turn, both lists cycling) until it holds at
least ``--size-mb`` MiB. It is written to a temporary folder (deleted afterwards) or to ``--out``
(kept). MB below means MiB (2**20 bytes), throughput is over the uncompressed size.

Measured in the same run:

a. ``cimedic analyze BIG --format json`` as a child process, ``--repeat`` times: wall time of the
   whole process (interpreter start-up included), MB/s, and the child's peak RSS (``ru_maxrss`` of
   ``os.wait4`` on that child, so exact per run); best and median. The same again on a gzip copy.
b. Drain3 template mining (``TemplateMiner()`` with its default config, ``add_log_message`` per
   line) in a child process. Drain3 is slow, so by default it mines only the first ``--drain-mb``
   MiB and the MB/s is extrapolated to the whole file (said so in the output); ``--drain-mb 0``
   mines the whole file. Its MB/s counts only the mining loop (not start-up or imports), which
   favours Drain3. Drain3 slows down as its clusters grow (on one 100 MB run: 0.94 MB/s over the
   first 10 MB, 0.14 MB/s over the whole file), so the extrapolation overstates its speed and the
   extrapolated cimedic/Drain3 ratio is a lower bound.
c. ``LC_ALL=C grep -cE 'error|fail' BIG`` (best of ``--repeat``), the floor of a line scan.

Targets: cimedic >= 50 MB/s, >= 20x Drain3, peak RSS <= 300 MB. JSON results go to
``bench/out/diagnosis_speed.json``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_CIMEDIC = REPO / ".venv" / "bin" / "cimedic"
OUT_JSON = REPO / "bench" / "out" / "diagnosis_speed.json"
OUT_JSON_DISTINCT = REPO / "bench" / "out" / "diagnosis_speed_distinct.json"
FIXTURES = REPO / "tests" / "fixtures" / "logs"
MB = 1 << 20

TARGET_MBPS = 50.0
TARGET_VS_DRAIN = 20.0
TARGET_RSS_MB = 300.0

DRAIN_CHILD = r"""
import json, sys, time
from drain3 import TemplateMiner

path, limit = sys.argv[1], int(sys.argv[2])
miner = TemplateMiner()  # default config (no drain3.ini in the working directory)
t0 = time.perf_counter()
nbytes = nlines = 0
with open(path, "rb") as fh:
    for raw in fh:
        if limit and nbytes >= limit:
            break
        nbytes += len(raw)
        nlines += 1
        miner.add_log_message(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
secs = time.perf_counter() - t0
print(json.dumps({"bytes": nbytes, "lines": nlines, "seconds": secs, "clusters": len(miner.drain.clusters)}))
"""


# --------------------------------------------------------------------------- input


def source_logs(data: Path) -> tuple[list[Path], list[Path]]:
    """LogChunks logs (labels.jsonl order) and CiDiff GitHub Actions fail logs (index.csv order)."""
    lc_dir = data / "logchunks"
    with open(lc_dir / "labels.jsonl", encoding="utf-8") as fh:
        lc = [lc_dir / json.loads(line)["log_path"] for line in fh]
    cd_dir = data / "cidiff"
    with open(cd_dir / "index.csv", newline="", encoding="utf-8") as fh:
        cd = [
            cd_dir / r["case"] / "fail.log" for r in csv.DictReader(fh) if r["log_format"].startswith("gha_")
        ]
    return [p for p in lc if p.is_file()], [p for p in cd if p.is_file()]


def assemble(data: Path, target: int, out: Path) -> dict[str, Any]:
    """Write LogChunks and CiDiff GHA logs, interleaved and cycling, until ``target`` bytes."""
    lc, cd = source_logs(data)
    if not lc or not cd:
        raise SystemExit(f"no LogChunks or CiDiff GitHub Actions logs under {data}")
    written = {"logchunks": 0, "cidiff": 0}
    pieces = 0
    with open(out, "wb") as fh:
        i = 0
        while sum(written.values()) < target:
            for name, files in (("logchunks", lc), ("cidiff", cd)):
                blob = files[i % len(files)].read_bytes()
                if not blob.endswith((b"\n", b"\r")):
                    blob += b"\n"  # keep the next log's first line a line of its own
                fh.write(blob)
                written[name] += len(blob)
                pieces += 1
            i += 1
    size = out.stat().st_size
    return {
        "path": str(out),
        "bytes": size,
        "mb": size / MB,
        "pieces": pieces,
        "logchunks_bytes": written["logchunks"],
        "cidiff_gha_bytes": written["cidiff"],
        "distinct_logs": len(lc) + len(cd),
    }


# --------------------------------------------------------------------------- child processes


def run_child(
    cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> dict[str, Any]:
    """Run ``cmd``; wall time, exit code, stdout and the child's own peak RSS (MiB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd)} exited {proc.returncode}: {stderr.decode(errors='replace')[-2000:]}"
        )
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "stdout": stdout.decode(errors="replace"),
    }


def bench_cimedic(cimedic: str, path: Path, size: int, repeat: int) -> dict[str, Any]:
    runs = []
    for i in range(repeat):
        r = run_child([cimedic, "analyze", str(path), "--format", "json"])
        res = json.loads(r["stdout"])
        runs.append(
            {"wall": r["wall"], "cpu": r["cpu"], "rss_mb": r["rss_mb"], "elapsed_ms": res.get("elapsed_ms")}
        )
        print(
            f"  run {i + 1}: {r['wall']:.2f} s (cpu {r['cpu']:.2f} s, engine {res.get('elapsed_ms')} ms), "
            f"{size / MB / r['wall']:.1f} MB/s, peak RSS {r['rss_mb']:.0f} MB",
            flush=True,
        )
    walls = [r["wall"] for r in runs]
    best, median = min(walls), statistics.median(walls)
    top = (res.get("error_lines") or [{}])[0]
    return {
        "runs": runs,
        "best_s": best,
        "median_s": median,
        "best_mbps": size / MB / best,
        "median_mbps": size / MB / median,
        "best_cpu_s": min(r["cpu"] for r in runs),
        "cpu_mbps": size / MB / min(r["cpu"] for r in runs),
        "peak_rss_mb": max(r["rss_mb"] for r in runs),
        "last_result": {
            "format": res["log"]["format"],
            "lines": res["log"]["lines"],
            "bytes": res["log"]["bytes"],
            "category": res.get("category"),
            "excerpt": res.get("excerpt"),
            "top_error_line": top.get("line"),
        },
    }


def bench_drain(path: Path, size: int, limit_mb: float, workdir: Path) -> dict[str, Any]:
    limit = int(limit_mb * MB)
    r = run_child([sys.executable, "-c", DRAIN_CHILD, str(path.resolve()), str(limit)], cwd=workdir)
    res = json.loads(r["stdout"].strip().splitlines()[-1])
    mbps = res["bytes"] / MB / res["seconds"]
    partial = res["bytes"] < size
    return {
        "mined_bytes": res["bytes"],
        "mined_mb": res["bytes"] / MB,
        "lines": res["lines"],
        "clusters": res["clusters"],
        "mining_s": res["seconds"],
        "process_wall_s": r["wall"],
        "peak_rss_mb": r["rss_mb"],
        "mbps": mbps,
        "extrapolated": partial,
        "full_file_s_estimate": size / MB / mbps,
    }


def bench_grep(path: Path, size: int, repeat: int) -> dict[str, Any]:
    env = {**os.environ, "LC_ALL": "C"}
    walls = []
    count = None
    for _ in range(repeat):
        r = run_child(["grep", "-cE", "error|fail", str(path)], env=env)
        walls.append(r["wall"])
        count = int(r["stdout"].strip())
    best = min(walls)
    return {
        "best_s": best,
        "median_s": statistics.median(walls),
        "mbps": size / MB / best,
        "matching_lines": count,
    }


# --------------------------------------------------------------------------- distinct logs

PROFILE_CHILD = r"""
import cProfile, io, pstats, sys
from cimedic.services.diagnose import analyze_path
analyze_path(sys.argv[2])  # warm: imports, compiled pattern databases
prof = cProfile.Profile()
prof.enable()
analyze_path(sys.argv[1])
prof.disable()
out = io.StringIO()
pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(15)
print(out.getvalue())
"""


def distinct_sources(data: Path) -> dict[str, list[Path]]:
    """Real logs per format, each file once: Travis (LogChunks), GitHub Actions and Jenkins
    (CiDiff fail.log and pass.log)."""
    out: dict[str, list[Path]] = {"travis": [], "github-actions": [], "jenkins": []}
    lc_dir = data / "logchunks"
    with open(lc_dir / "labels.jsonl", encoding="utf-8") as fh:
        out["travis"] = [lc_dir / "logs" / json.loads(line)["log_path"] for line in fh]
    if not all(p.is_file() for p in out["travis"][:5]):  # log_path relative to logchunks/ itself
        with open(lc_dir / "labels.jsonl", encoding="utf-8") as fh:
            out["travis"] = [lc_dir / json.loads(line)["log_path"] for line in fh]
    cd_dir = data / "cidiff"
    with open(cd_dir / "index.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            fmt = "github-actions" if r["log_format"].startswith("gha_") else "jenkins"
            out[fmt] += [cd_dir / r["case"] / name for name in ("fail.log", "pass.log")]
    seen: set[Path] = set()
    for fmt, files in out.items():
        kept = []
        for p in files:
            if p.is_file() and p.resolve() not in seen:
                seen.add(p.resolve())
                kept.append(p)
        out[fmt] = kept
    return {k: v for k, v in out.items() if v}


def fixture_sources() -> dict[str, list[Path]]:
    """The bundled fixtures per format (by file-name prefix), each file once."""
    prefixes = {
        "travis": ("travis_",),
        "github-actions": ("gha_", "gh_run_view"),
        "jenkins": ("jenkins_", "synthetic_jenkins"),
        "gitlab": ("synthetic_gitlab",),
    }
    files = sorted(FIXTURES.glob("*.log"))
    return {
        fmt: [p for p in files if p.name.startswith(pre)]
        for fmt, pre in prefixes.items()
        if any(p.name.startswith(pre) for p in files)
    }


def assemble_distinct(files: list[Path], target: int, out: Path) -> dict[str, Any]:
    """Concatenate ``files`` in order, each once, until ``target`` bytes or the files run out."""
    used = 0
    with open(out, "wb") as fh:
        for path in files:
            if fh.tell() >= target:
                break
            blob = path.read_bytes()
            if not blob.endswith((b"\n", b"\r")):
                blob += b"\n"
            fh.write(blob)
            used += 1
    size = out.stat().st_size
    return {"path": str(out), "bytes": size, "mb": size / MB, "logs": used, "available": len(files)}


def profile_engine(path: Path, warm: Path) -> str:
    """cProfile top 15 (cumulative) of ``analyze_path`` on ``path`` in a child process."""
    r = run_child([sys.executable, "-c", PROFILE_CHILD, str(path), str(warm)])
    text: str = r["stdout"]
    return text.strip()


def main_distinct(a: argparse.Namespace, sources: dict[str, list[Path]], origin: str) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="cimedic-speed-"))
    results: dict[str, Any] = {"origin": origin, "cpus": os.cpu_count(), "formats": {}}
    try:
        warm = tmp / "warm.log"
        warm.write_bytes(b"$ make\nerror: x\n")
        for fmt, files in sources.items():
            big = (a.out.parent / f"{a.out.stem}-{fmt}{a.out.suffix}") if a.out else tmp / f"{fmt}.log"
            big.parent.mkdir(parents=True, exist_ok=True)
            info = assemble_distinct(files, int(a.size_mb * MB), big)
            size = info["bytes"]
            print(
                f"\n## {fmt}: {info['mb']:.1f} MB from {info['logs']} distinct logs "
                f"(of {info['available']}; none repeated)",
                flush=True,
            )
            c = bench_cimedic(a.cimedic, big, size, a.repeat)
            g = bench_grep(big, size, a.repeat)
            engine_ms = min(r["elapsed_ms"] for r in c["runs"] if r["elapsed_ms"] is not None)
            row: dict[str, Any] = {
                "input": info,
                "cimedic": c,
                "grep": g,
                "engine_best_mbps": size / MB / (engine_ms / 1000),
                "ratio_to_grep": c["best_mbps"] / g["mbps"],
            }
            print(
                f"  cimedic {c['best_mbps']:.1f} MB/s best (median {c['median_mbps']:.1f}; engine alone "
                f"{row['engine_best_mbps']:.1f} MB/s), peak RSS {c['peak_rss_mb']:.0f} MB; grep -cE "
                f"{g['mbps']:.0f} MB/s; cimedic/grep = {row['ratio_to_grep']:.3f} (grep {1 / row['ratio_to_grep']:.0f}x faster)",
                flush=True,
            )
            if not a.no_profile:
                row["profile"] = profile_engine(big, warm)
                print("  cProfile of the engine (analyze_path), top 15 by cumulative time:")
                print("\n".join("    " + line for line in row["profile"].splitlines()), flush=True)
            results["formats"][fmt] = row
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n### speed on distinct real logs ({origin})\n")
    print(
        "| format | MB | logs | best MB/s | median MB/s | engine MB/s | peak RSS MB | grep MB/s | cimedic/grep |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for fmt, row in results["formats"].items():
        c, g = row["cimedic"], row["grep"]
        print(
            f"| {fmt} | {row['input']['mb']:.1f} | {row['input']['logs']} | {c['best_mbps']:.1f} | "
            f"{c['median_mbps']:.1f} | {row['engine_best_mbps']:.1f} | {c['peak_rss_mb']:.0f} | "
            f"{g['mbps']:.0f} | {row['ratio_to_grep']:.3f} |"
        )
    worst = min(row["cimedic"]["best_mbps"] for row in results["formats"].values())
    print(
        f"\nslowest format {worst:.1f} MB/s; target >= {TARGET_MBPS:.0f} MB/s on every format: "
        f"{'met' if worst >= TARGET_MBPS else 'NOT met'}"
    )
    out = a.json_out or OUT_JSON_DISTINCT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nJSON: {out}")
    return 0


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding logchunks/ and cidiff/")
    ap.add_argument("--size-mb", type=float, default=100.0, help="minimum size of the big log in MiB")
    ap.add_argument("--out", type=Path, help="write the big log here and keep it (default: temp dir)")
    ap.add_argument("--cimedic", default=str(DEFAULT_CIMEDIC))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--drain-mb", type=float, default=10.0, help="MiB mined by Drain3 (0 = whole file)")
    ap.add_argument("--no-gzip", action="store_true", help="skip the .gz measurement (cycle mode)")
    ap.add_argument("--json-out", type=Path, default=None)
    ap.add_argument(
        "--mode",
        choices=("distinct", "cycle"),
        default="distinct",
        help="distinct: one file per format of distinct real logs (default); cycle: the former "
        "big log that cycles LogChunks and CiDiff logs (repeats whole logs)",
    )
    ap.add_argument("--no-profile", action="store_true", help="skip the cProfile (distinct mode)")
    a = ap.parse_args()
    if not Path(a.cimedic).exists() and shutil.which(a.cimedic) is None:
        ap.error(f"cimedic binary not found: {a.cimedic}")
    have_data = (a.data / "logchunks" / "labels.jsonl").is_file() and (
        a.data / "cidiff" / "index.csv"
    ).is_file()
    if a.mode == "distinct":
        if have_data:
            return main_distinct(a, distinct_sources(a.data), f"data sets under {a.data}")
        print(
            f"no data sets under {a.data} (logchunks/, cidiff/): measuring the bundled fixtures "
            f"{FIXTURES} instead (a few small logs: start-up dominates)",
            flush=True,
        )
        return main_distinct(a, fixture_sources(), f"bundled fixtures {FIXTURES}")
    a.json_out = a.json_out or OUT_JSON

    tmp = Path(tempfile.mkdtemp(prefix="cimedic-speed-"))
    try:
        big = a.out or tmp / "big.log"
        big.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        info = assemble(a.data, int(a.size_mb * MB), big)
        size = info["bytes"]
        print(
            f"big log: {big} {info['mb']:.1f} MB, {info['pieces']} pieces "
            f"({info['logchunks_bytes'] / MB:.1f} MB LogChunks, {info['cidiff_gha_bytes'] / MB:.1f} MB CiDiff GHA), "
            f"built in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        results: dict[str, Any] = {
            "input": info,
            "cimedic_bin": a.cimedic,
            "cpus": os.cpu_count(),
            "loadavg_start": os.getloadavg(),
        }

        print(f"(a) cimedic analyze --format json, {a.repeat} runs", flush=True)
        results["cimedic"] = bench_cimedic(a.cimedic, big, size, a.repeat)

        if not a.no_gzip:
            gz = big.with_name(big.name + ".gz")
            with open(big, "rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            print(f"(a') same on {gz.name} ({gz.stat().st_size / MB:.1f} MB compressed)", flush=True)
            results["cimedic_gz"] = bench_cimedic(a.cimedic, gz, size, a.repeat)
            results["cimedic_gz"]["compressed_bytes"] = gz.stat().st_size
            if a.out is not None:
                gz.unlink()

        what = "whole file" if not a.drain_mb else f"first {a.drain_mb:g} MB"
        print(f"(b) Drain3 TemplateMiner, {what}", flush=True)
        results["drain3"] = bench_drain(big, size, a.drain_mb, tmp)
        d = results["drain3"]
        print(
            f"  {d['mined_mb']:.1f} MB, {d['lines']} lines in {d['mining_s']:.1f} s -> {d['mbps']:.2f} MB/s, "
            f"{d['clusters']} clusters, peak RSS {d['peak_rss_mb']:.0f} MB",
            flush=True,
        )

        print(f"(c) LC_ALL=C grep -cE 'error|fail', best of {a.repeat}", flush=True)
        results["grep"] = bench_grep(big, size, a.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    results["loadavg_end"] = os.getloadavg()
    c, g, d = results["cimedic"], results["grep"], results["drain3"]
    results["ratios"] = {
        "cimedic_vs_drain3": c["best_mbps"] / d["mbps"],
        "cimedic_vs_grep": c["best_mbps"] / g["mbps"],
    }
    results["targets"] = {
        "mbps": {"target": TARGET_MBPS, "value": c["best_mbps"], "met": c["best_mbps"] >= TARGET_MBPS},
        "vs_drain3": {
            "target": TARGET_VS_DRAIN,
            "value": results["ratios"]["cimedic_vs_drain3"],
            "met": results["ratios"]["cimedic_vs_drain3"] >= TARGET_VS_DRAIN,
        },
        "peak_rss_mb": {
            "target": TARGET_RSS_MB,
            "value": c["peak_rss_mb"],
            "met": c["peak_rss_mb"] <= TARGET_RSS_MB,
        },
    }
    print_summary(results, size)

    a.json_out.parent.mkdir(parents=True, exist_ok=True)
    a.json_out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nJSON: {a.json_out}")
    return 0


def print_summary(r: dict[str, Any], size: int) -> None:
    c, g, d, t = r["cimedic"], r["grep"], r["drain3"], r["targets"]
    ok = {True: "met", False: "NOT met"}
    drain_note = (
        f"first {d['mined_mb']:.0f} MB only, extrapolated (>= ~{d['full_file_s_estimate']:.0f} s for the whole file)"
        if d["extrapolated"]
        else "whole file"
    )
    rows = [
        [
            "cimedic analyze",
            f"{c['best_s']:.2f}",
            f"{c['median_s']:.2f}",
            f"{c['best_mbps']:.1f}",
            f"{c['median_mbps']:.1f}",
            f"{c['peak_rss_mb']:.0f}",
            "whole process",
        ],
    ]
    if "cimedic_gz" in r:
        z = r["cimedic_gz"]
        rows.append(
            [
                "cimedic analyze (.gz)",
                f"{z['best_s']:.2f}",
                f"{z['median_s']:.2f}",
                f"{z['best_mbps']:.1f}",
                f"{z['median_mbps']:.1f}",
                f"{z['peak_rss_mb']:.0f}",
                f"{z['compressed_bytes'] / MB:.1f} MB compressed; MB/s of uncompressed",
            ]
        )
    rows.append(
        [
            "Drain3 TemplateMiner",
            f"{d['mining_s']:.2f}",
            "-",
            f"{d['mbps']:.2f}",
            "-",
            f"{d['peak_rss_mb']:.0f}",
            drain_note,
        ]
    )
    rows.append(
        [
            "grep -cE 'error\\|fail'",
            f"{g['best_s']:.2f}",
            f"{g['median_s']:.2f}",
            f"{g['mbps']:.0f}",
            f"{size / MB / g['median_s']:.0f}",
            "-",
            f"{g['matching_lines']} matching lines",
        ]
    )
    print(
        f"\n### speed on {size / MB:.1f} MB ({r['cimedic']['last_result']['lines']} lines, "
        f"detected {r['cimedic']['last_result']['format']})\n"
    )
    print("| tool | best s | median s | best MB/s | median MB/s | peak RSS MB | note |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print(
        f"cimedic {c['best_mbps']:.1f} MB/s (median {c['median_mbps']:.1f}); target >= {TARGET_MBPS:.0f} MB/s: "
        f"{ok[t['mbps']['met']]}"
    )
    print(
        f"cimedic CPU time (user+sys) best {c['best_cpu_s']:.2f} s = {c['cpu_mbps']:.1f} MB per CPU second; "
        f"load average {r['loadavg_start'][0]:.1f} -> {r['loadavg_end'][0]:.1f} on {r['cpus']} CPUs"
    )
    print(
        f"cimedic / Drain3 = {r['ratios']['cimedic_vs_drain3']:.1f}x; target >= {TARGET_VS_DRAIN:.0f}x: "
        f"{ok[t['vs_drain3']['met']]}"
        + (
            " (Drain3 MB/s extrapolated from the start of the file: a lower bound on the ratio)"
            if d["extrapolated"]
            else ""
        )
    )
    print(f"cimedic / grep = {r['ratios']['cimedic_vs_grep']:.3f}x")
    print(
        f"cimedic peak RSS {c['peak_rss_mb']:.0f} MB; target <= {TARGET_RSS_MB:.0f} MB: {ok[t['peak_rss_mb']['met']]}"
    )


if __name__ == "__main__":
    sys.exit(main())
