"""Failure clustering on CiDiff and LogChunks (a measurement, not a test).

Usage::

    .venv/bin/python bench/clustering.py [--data DIR] [--dataset cidiff|logchunks|all]
        [--limit N] [--json-out FILE]

1. **Clusters per repository.** Every log is diagnosed with the real engine
   (``make_diagnoser`` + ``diagnose_bytes``, the path a stored job log takes). The failures
   (CiDiff ``fail.log``, every LogChunks log; diagnoses whose category is not ``none``) are
   clustered with ``cimedic.analysis.clustering.cluster_failures`` across all repositories, in
   time order (LogChunks: Travis build id; CiDiff: case order). Per repository: logs, failures
   found, distinct signatures, clusters (ours), and for comparison the groups of exact
   signatures, of LUCI Analysis's plain masking of the primary line, and of Drain3 templates
   (default configuration) of the primary line.
2. **Stability across synthetic re-runs.** Every log (CiDiff ``fail.log`` and ``pass.log``,
   LogChunks logs) is rewritten twice (seeds 1 and 2) as a re-run of the same commit would
   print it, changing only volatile tokens (``VOLATILE`` below: timestamps, clock times,
   durations, hex ids, UUIDs, PIDs, temp names, IPs and ports; line numbers in stack traces,
   test counts and versions stay, because a re-run of the same code prints the same). Each
   re-run is diagnosed again; reported: the share whose signature is unchanged, whose cluster
   (placing the re-run in the clusters of the originals) is unchanged, and, for the same
   primary lines, the share stable under LUCI's plain masking, under Drain3 template matching
   and under no masking (raw text), with ratios ours / baseline.
3. **Prefilter.** For all pairs of distinct normalised texts of one category: how many the
   length rule and the 4-gram bound reject before an exact edit distance is computed.

JSON results go to ``bench/out/clustering.json``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
OUT_JSON = REPO / "bench" / "out" / "clustering.json"
sys.path.insert(0, str(REPO / "src"))

from cimedic.analysis.cluster_text import (  # noqa: E402
    edit_limit,
    near_duplicate_distance,
    ngram_counts,
    ngram_lower_bound,
    normalise,
)
from cimedic.analysis.clustering import ClusterIndex, cluster_failures, exact_signature  # noqa: E402
from cimedic.model.clusters import FailureRecord, MatchKind  # noqa: E402
from cimedic.services.diagnose import diagnose_bytes, make_diagnoser  # noqa: E402

# LUCI Analysis failurereason masking (field notes), the plain-masking baseline.
LUCI_MASK = re.compile(r"[/+0-9a-zA-Z]{10,}=+|[\-0-9a-fA-F \t]{16,}|[0-9a-fA-Fx]{8,}|[0-9]+")


@dataclass
class Log:
    """One log of the benchmark: dataset, repository, role (fail/pass), time order, path."""

    dataset: str
    repo: str
    role: str
    order: int
    path: Path


# ------------------------------------------------------------------------------------ data
def cidiff_repo(case: str) -> str:
    """Repository of a CiDiff case: ``breakages_dump/*`` are hashicorp/terraform; else the case
    name without its trailing number (``breakages/astor_400`` -> ``astor``); the three
    ``breakages/cidiff_N`` cases come from unnamed repositories and stay one each."""
    if case.startswith("breakages_dump/"):
        return "hashicorp/terraform"
    name = case.rsplit("/", 1)[-1]
    if name.startswith("cidiff_"):
        return name
    return name.rsplit("_", 1)[0]


def load_logs(data: Path, dataset: str, limit: int | None) -> list[Log]:
    logs: list[Log] = []
    if dataset in ("cidiff", "all"):
        with (data / "cidiff" / "index.csv").open() as fh:
            cases = [row["case"] for row in csv.DictReader(fh)]
        for n, case in enumerate(cases[:limit]):
            for role in ("fail", "pass"):
                path = data / "cidiff" / case / f"{role}.log"
                if path.is_file():
                    logs.append(Log("cidiff", cidiff_repo(case), role, n, path))
    if dataset in ("logchunks", "all"):
        rows = [json.loads(line) for line in (data / "logchunks" / "labels.jsonl").open()]
        rows.sort(key=lambda r: int(r["log_id"]))
        for n, row in enumerate(rows[:limit]):
            logs.append(Log("logchunks", row["repo"], "fail", n, data / "logchunks" / row["log_path"]))
    return logs


# ------------------------------------------------------------------------------------ re-runs
def _digits(rng: random.Random, n: int) -> bytes:
    return "".join(rng.choice("0123456789") for _ in range(n)).encode()


def _hex(rng: random.Random, n: int) -> bytes:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n)).encode()


def _alnum(rng: random.Random, n: int) -> bytes:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n)).encode()


_ISO = re.compile(rb"(\d{4})-(\d\d)-(\d\d)([T ])(\d\d):(\d\d):(\d\d)([.,]\d+)?")
_CLOCK = re.compile(rb"(?<![\d:.])(\d\d):(\d\d):(\d\d)([.,]\d+)?(?![\d:])")
_DURATION = re.compile(rb"(?<![\w.])(\d+)(\.\d+)?(\s?)(ms|s|sec|secs|seconds|min|minutes)\b")
_TRAVIS_TIME = re.compile(rb"(start|finish|duration)=(\d+)")
_UUID = re.compile(rb"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_HEXID = re.compile(rb"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,64}\b")
_PID = re.compile(rb"(==)(\d+)(==)|(\b[Pp][Ii][Dd][ =:]\s?)(\d+)")
_TMP = re.compile(rb"(/tmp/|/var/tmp/|/var/folders/[^/\s]+/[^/\s]+/T/)([A-Za-z0-9._-]+)")
_IP = re.compile(rb"\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(:\d{2,5})?\b")
_LOCALPORT = re.compile(rb"\b(localhost|127\.0\.0\.1):(\d{2,5})\b")

VOLATILE: tuple[str, ...] = (
    "ISO date-times (2022-04-12T19:19:37.99Z, '2019-05-01 12:00:00'): shifted by a random 1-40 days "
    "and seconds, fraction digits redrawn",
    "clock times hh:mm:ss[.fff] not part of a date: redrawn",
    "durations N[.N] ms|s|sec|secs|seconds|min|minutes: redrawn, same number of digits",
    "Travis travis_time start=/finish=/duration= values: redrawn",
    "UUIDs: redrawn",
    "hex ids (0x..., 7-64 lowercase hex digits with a digit and a letter: SHAs, addresses, container "
    "ids): redrawn, same length",
    "PIDs (==N== of sanitizers, pid N / pid=N): redrawn, same length",
    "temp names (the first component under /tmp/, /var/tmp/, /var/folders/*/*/T/): redrawn",
    "IPv4 addresses and their ports, localhost/127.0.0.1 ports: redrawn",
    "identifiers (UUIDs, hex ids, PIDs, temp names, IPs, ports) are renamed consistently within a log",
)


def rerun(data: bytes, seed: int) -> bytes:
    """The log as a re-run of the same commit would print it (``VOLATILE``); same lines.

    Identifiers (UUIDs, hex ids, PIDs, temp names, IPs, ports) are renamed consistently: the
    same value in the original gets the same new value everywhere in the re-run, as one
    process, container or connection keeps its id through a log.
    """
    rng = random.Random(seed)
    shift = timedelta(days=rng.randint(1, 40), seconds=rng.randint(1, 86_399))
    renamed: dict[tuple[str, bytes], bytes] = {}

    def same(kind: str, old: bytes, make: Callable[[], bytes]) -> bytes:
        key = (kind, old)
        if key not in renamed:
            renamed[key] = make()
        return renamed[key]

    def iso(m: re.Match[bytes]) -> bytes:
        try:
            t = datetime(*(int(m.group(i)) for i in (1, 2, 3, 5, 6, 7))) + shift  # type: ignore[misc]
        except ValueError:
            return m.group(0)
        frac = m.group(8) or b""
        frac = frac[:1] + _digits(rng, len(frac) - 1) if frac else b""
        return t.strftime("%Y-%m-%d").encode() + m.group(4) + t.strftime("%H:%M:%S").encode() + frac

    def clock(m: re.Match[bytes]) -> bytes:
        frac = m.group(4) or b""
        frac = frac[:1] + _digits(rng, len(frac) - 1) if frac else b""
        return b"%02d:%02d:%02d" % (rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)) + frac

    def duration(m: re.Match[bytes]) -> bytes:
        whole = str(rng.randint(0, 10 ** len(m.group(1)) - 1)).encode()
        frac = b"." + _digits(rng, len(m.group(2)) - 1) if m.group(2) else b""
        return whole + frac + m.group(3) + m.group(4)

    def hexid(m: re.Match[bytes]) -> bytes:
        old = m.group(0)
        if old[:2] == b"0x":
            return same("hex", old, lambda: b"0x" + _hex(rng, len(old) - 2))
        return same("hex", old, lambda: _hex(rng, len(old)))

    def pid(m: re.Match[bytes]) -> bytes:
        if m.group(2):
            return m.group(1) + same("pid", m.group(2), lambda: _digits(rng, len(m.group(2)))) + m.group(3)
        return m.group(4) + same("pid", m.group(5), lambda: str(rng.randint(100, 99_999)).encode())

    def ip(m: re.Match[bytes]) -> bytes:
        host = same(
            "ip",
            m.group(0).split(b":")[0],
            lambda: b"10.%d.%d.%d" % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)),
        )
        port = same("port", m.group(5), lambda: b":%d" % rng.randint(1024, 65535)) if m.group(5) else b""
        return host + port

    out = _ISO.sub(iso, data)
    out = _CLOCK.sub(clock, out)
    out = _DURATION.sub(duration, out)
    out = _TRAVIS_TIME.sub(lambda m: m.group(1) + b"=" + _digits(rng, len(m.group(2))), out)
    out = _UUID.sub(
        lambda m: same("uuid", m.group(0), lambda: str(uuid.UUID(int=rng.getrandbits(128))).encode()), out
    )
    out = _HEXID.sub(hexid, out)
    out = _PID.sub(pid, out)
    out = _TMP.sub(lambda m: m.group(1) + same("tmp", m.group(2), lambda: _alnum(rng, len(m.group(2)))), out)
    out = _LOCALPORT.sub(
        lambda m: m.group(1) + same("port", b":" + m.group(2), lambda: b":%d" % rng.randint(1024, 65535)), out
    )
    out = _IP.sub(ip, out)
    return out


# ------------------------------------------------------------------------------------ helpers
@dataclass
class Diag:
    category: str
    signature: str
    text: str
    transient: bool
    full: Any = None


def diagnose(diagnoser: Any, data: bytes, name: str) -> Diag:
    d = diagnose_bytes(data, name, diagnoser)
    primary = d.error_lines[0] if d.error_lines else None
    text = (primary.text if primary else d.summary)[:2000]  # as Store.save_diagnosis keeps it
    return Diag(d.category.value, d.signature, text, d.transient, d)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def luci(text: str) -> str:
    return sha(LUCI_MASK.sub("%", text.strip()))


class DrainBaseline:
    """Drain3 (default configuration: no masking, sim_th 0.4, depth 4) on primary lines."""

    def __init__(self) -> None:
        from drain3 import TemplateMiner
        from drain3.template_miner_config import TemplateMinerConfig

        cfg = TemplateMinerConfig()
        cfg.profiling_enabled = False
        self.miner = TemplateMiner(config=cfg)

    def add(self, text: str) -> int:
        return int(self.miner.add_log_message(text.strip())["cluster_id"])

    def match(self, text: str) -> int | None:
        c = self.miner.match(text.strip(), full_search_strategy="fallback")
        return None if c is None else int(c.cluster_id)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


# ------------------------------------------------------------------------------------ main parts
def cluster_part(logs: list[Log], diags: dict[int, Diag]) -> dict[str, Any]:
    base = datetime(2020, 1, 1, tzinfo=UTC)
    records: list[FailureRecord] = []
    for i, log in enumerate(logs):
        d = diags[i]
        if log.role != "fail" or d.category == "none":
            continue
        when = base + timedelta(days=0 if log.dataset == "cidiff" else 1000, seconds=log.order)
        records.append(
            FailureRecord(
                i,
                i,
                str(i),
                1,
                log.repo,
                log.dataset,
                log.path.name,
                None,
                when,
                d.category,
                d.signature,
                d.text,
                d.transient,
            )
        )
    t0 = time.perf_counter()
    placed = cluster_failures(records)
    elapsed = time.perf_counter() - t0
    cluster_of = {f.job_id: p.cluster_id for f, p in placed}
    drain = DrainBaseline()
    drain_of = {f.job_id: drain.add(f.summary) for f in records}
    per_repo: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    sets: dict[str, dict[str, set[Any]]] = defaultdict(lambda: defaultdict(set))
    for log in logs:
        if log.role != "fail":
            continue
        per_repo[log.repo]["logs"] += 1
    for f in records:
        r = per_repo[f.repository]
        r["failures"] += 1
        s = sets[f.repository]
        s["signatures"].add(f.signature)
        s["clusters"].add(cluster_of[f.job_id])
        s["luci"].add(luci(f.summary))
        s["drain"].add(drain.match(f.summary) or drain_of[f.job_id])
    repos_of_cluster: dict[str, set[str]] = defaultdict(set)
    for f in records:
        repos_of_cluster[cluster_of[f.job_id]].add(f.repository)
    rows = []
    for repo in sorted(per_repo):
        r, s = per_repo[repo], sets[repo]
        rows.append(
            {
                "repository": repo,
                "logs": r["logs"],
                "failures": r["failures"],
                "signatures": len(s["signatures"]),
                "clusters": len(s["clusters"]),
                "luci_groups": len(s["luci"]),
                "drain_templates": len(s["drain"]),
            }
        )
    untrusted = sum(1 for f in records if exact_signature(f.signature, f.summary) is None)
    return {
        "failures": len(records),
        "signatures": len({f.signature for f in records}),
        "clusters": len({p.cluster_id for _, p in placed}),
        "luci_groups": len({luci(f.summary) for f in records}),
        "drain_templates": len({drain.match(f.summary) or drain_of[f.job_id] for f in records}),
        "cross_repo_clusters": sum(1 for v in repos_of_cluster.values() if len(v) > 1),
        "cross_repo_examples": sorted(
            {
                f"{', '.join(sorted(repos_of_cluster[p.cluster_id]))}: {f.summary.strip()[:90]}"
                for f, p in placed
                if p.match is MatchKind.NEW and len(repos_of_cluster[p.cluster_id]) > 1
            }
        ),
        "untrusted_signatures": untrusted,
        "by_match": dict(Counter(p.match.value for _, p in placed)),
        "cluster_seconds": round(elapsed, 4),
        "merged_examples": [
            {"distance": p.distance, "text": f.summary[:160], "repository": f.repository}
            for f, p in placed
            if p.match is MatchKind.SIMILAR
        ][:20],
        "per_repo": rows,
        "_placed": placed,
    }


def stability_part(
    logs: list[Log], diags: dict[int, Diag], diagnoser: Any, placed: list[Any]
) -> dict[str, Any]:
    index = ClusterIndex()
    for f, _ in placed:
        index.assign(f.category, f.signature, f.summary)
    drain = DrainBaseline()
    for d in diags.values():
        if d.category != "none":
            drain.add(d.text)
    counts: Counter[str] = Counter()
    pairs: dict[tuple[str, int, str], bool] = {}
    unstable: list[dict[str, Any]] = []
    for i, log in enumerate(logs):
        orig = diags[i]
        data = log.path.read_bytes()
        ok_all = True
        for seed in (1, 2):
            mutated = rerun(data, seed)
            d = diagnose(diagnoser, mutated, str(log.path))
            counts["reruns"] += 1
            counts["log_changed"] += mutated != data
            same_sig = d.signature == orig.signature and d.category == orig.category
            counts["signature_same"] += same_sig
            ok_all &= same_sig
            if orig.category == "none":
                continue
            counts["with_failure"] += 1
            counts["signature_same_failure"] += same_sig
            same_line = d.text == orig.text
            counts["raw_same"] += same_line
            counts["luci_same"] += luci(d.text) == luci(orig.text)
            a, b = drain.match(orig.text), drain.match(d.text)
            counts["drain_same"] += a is not None and a == b
            pa = index.place(orig.category, orig.signature, orig.text).cluster_id
            pb = index.place(d.category, d.signature, d.text).cluster_id
            counts["cluster_same"] += pa == pb and d.category != "none"
            if not same_sig and len(unstable) < 10:
                unstable.append(
                    {"log": str(log.path), "seed": seed, "before": orig.text[:160], "after": d.text[:160]}
                )
        if log.dataset == "cidiff":
            pairs[(log.dataset, log.order, log.role)] = ok_all
    n, nf = counts["reruns"], counts["with_failure"] or 1
    cases = {o for (_, o, _) in pairs}
    pair_ok = sum(
        1 for o in cases if pairs.get(("cidiff", o, "fail"), True) and pairs.get(("cidiff", o, "pass"), True)
    )
    return {
        "logs": len(logs),
        "reruns": n,
        "logs_changed": counts["log_changed"] / n if n else 0.0,
        "signature_stable": counts["signature_same"] / n if n else 0.0,
        "reruns_with_failure": counts["with_failure"],
        "signature_stable_failures": counts["signature_same_failure"] / nf,
        "cluster_stable_failures": counts["cluster_same"] / nf,
        "luci_stable_failures": counts["luci_same"] / nf,
        "drain_stable_failures": counts["drain_same"] / nf,
        "raw_stable_failures": counts["raw_same"] / nf,
        "cidiff_pairs": len(cases),
        "cidiff_pairs_stable": pair_ok,
        "unstable_examples": unstable,
        "volatile_tokens": list(VOLATILE),
    }


def prefilter_part(placed: list[Any]) -> dict[str, Any]:
    by_cat: dict[str, set[str]] = defaultdict(set)
    for f, _ in placed:
        by_cat[f.category].add(normalise(f.summary))
    c: Counter[str] = Counter()
    t0 = time.perf_counter()
    for texts in by_cat.values():
        items = sorted(texts)
        grams = [ngram_counts(x) for x in items]
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                a, b = items[i], items[j]
                c["pairs"] += 1
                limit = edit_limit(len(a), len(b))
                if limit <= 1 or abs(len(a) - len(b)) >= limit:
                    c["length_rejected"] += 1
                    continue
                if ngram_lower_bound(grams[i], grams[j]) >= limit:
                    c["ngram_rejected"] += 1
                    continue
                c["exact_computed"] += 1
                c["near_duplicates"] += near_duplicate_distance(a, b, grams[i], grams[j]) is not None
    c_out: dict[str, Any] = dict(c)
    c_out["seconds"] = round(time.perf_counter() - t0, 3)
    return c_out


def store_part(placed: list[Any], diags: dict[int, Diag]) -> dict[str, Any]:
    """The same failures through a SQLite store: ingest (``ingest_run`` + ``save_diagnosis``),
    ``assign_cluster`` per job in time order (what ingest does), then ``recluster``; the share
    of jobs whose cluster id is the same both ways, and the costs."""
    import tempfile

    from sqlalchemy import select

    from cimedic.model import Conclusion, Job, Repository, Status, WorkflowRun
    from cimedic.services.failures import assign_cluster, list_clusters, recluster
    from cimedic.store import clusters as cdb
    from cimedic.store import schema as t
    from cimedic.store.engine import sqlite_url
    from cimedic.store.repository import Store

    with tempfile.TemporaryDirectory() as tmp:
        st = Store(sqlite_url(Path(tmp) / "bench.db"))
        jobs: list[int] = []
        for f, _ in placed:
            owner, _, name = f.repository.rpartition("/")
            repo_id = st.upsert_repository(Repository(owner=owner or "bench", name=name))
            pid = str(f.job_id)
            run = WorkflowRun(
                provider_id=pid,
                repository=f.repository,
                head_sha="0" * 40,
                status=Status.COMPLETED,
                conclusion=Conclusion.FAILURE,
                created_at=f.created_at,
            )
            job = Job(
                provider_id=pid,
                run_provider_id=pid,
                name=f.job_name,
                status=Status.COMPLETED,
                conclusion=Conclusion.FAILURE,
                created_at=f.created_at,
            )
            st.ingest_run(repo_id, run, [], [job])
            with st.engine.connect() as conn:
                jid = conn.execute(
                    select(t.jobs.c.id).where(t.jobs.c.repo_id == repo_id, t.jobs.c.provider_id == pid)
                ).scalar_one()
            st.save_diagnosis(jid, diags[f.job_id].full, engine_version="bench")
            jobs.append(int(jid))
        t0 = time.perf_counter()
        for jid in jobs:
            assign_cluster(st, jid)
        t_assign = time.perf_counter() - t0

        def members() -> dict[int, str]:
            return {
                m.failure.job_id: m.cluster_id
                for c in cdb.stored_clusters(st.engine)
                for m in cdb.cluster_members(st.engine, c.cluster_id)
            }

        at_ingest = members()
        t0 = time.perf_counter()
        report = recluster(st)
        t_recluster = time.perf_counter() - t0
        rebuilt = members()
        t0 = time.perf_counter()
        listed = list_clusters(st, since=None, top=20)
        t_list = time.perf_counter() - t0
        st.close()
    return {
        "jobs": len(jobs),
        "clusters": report.clusters,
        "listed_total": listed.total,
        "same_cluster_share": sum(at_ingest.get(j) == rebuilt.get(j) for j in jobs) / len(jobs)
        if jobs
        else 0.0,
        "assign_ms_per_job": round(1000 * t_assign / len(jobs), 2) if jobs else 0.0,
        "recluster_seconds": round(t_recluster, 3),
        "list_seconds": round(t_list, 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--dataset", choices=("cidiff", "logchunks", "all"), default="all")
    ap.add_argument("--limit", type=int, default=None, help="first N cases of each dataset")
    ap.add_argument("--json-out", type=Path, default=OUT_JSON)
    a = ap.parse_args()
    if not (a.data / "cidiff").is_dir() and not (a.data / "logchunks").is_dir():
        print(f"no data under {a.data} (expected cidiff/ and logchunks/)", file=sys.stderr)
        return 2
    logs = load_logs(a.data, a.dataset, a.limit)
    diagnoser, _ = make_diagnoser()
    t0 = time.perf_counter()
    diags = {i: diagnose(diagnoser, log.path.read_bytes(), str(log.path)) for i, log in enumerate(logs)}
    t_diag = time.perf_counter() - t0

    clusters = cluster_part(logs, diags)
    placed = clusters.pop("_placed")
    print(
        f"{len(logs)} logs diagnosed in {t_diag:.1f} s; {clusters['failures']} failures clustered in {clusters['cluster_seconds'] * 1000:.1f} ms"
    )
    print()
    head = f"{'repository':<34} {'logs':>5} {'fail':>5} {'sigs':>5} {'clust':>5} {'luci':>5} {'drain':>5}"
    print(head)
    print("-" * len(head))
    for r in clusters["per_repo"]:
        print(
            f"{r['repository'][:34]:<34} {r['logs']:>5} {r['failures']:>5} {r['signatures']:>5} {r['clusters']:>5} {r['luci_groups']:>5} {r['drain_templates']:>5}"
        )
    print("-" * len(head))
    print(
        f"{'all (clustered across repositories)':<34} {'':>5} {clusters['failures']:>5} {clusters['signatures']:>5} "
        f"{clusters['clusters']:>5} {clusters['luci_groups']:>5} {clusters['drain_templates']:>5}"
    )
    print(
        f"placements: {clusters['by_match']}; clusters spanning repositories: {clusters['cross_repo_clusters']}; "
        f"untrusted (CI-marker) signatures: {clusters['untrusted_signatures']}"
    )
    for line in clusters["cross_repo_examples"]:
        print(f"  across repositories: {line}")
    if clusters["merged_examples"]:
        print("near-duplicate merges (distance, repository, text):")
        for m in clusters["merged_examples"]:
            print(f"  {m['distance']:>3}  {m['repository']}: {m['text'][:110]}")

    t1 = time.perf_counter()
    stab = stability_part(logs, diags, diagnoser, placed)
    t_stab = time.perf_counter() - t1
    print()
    print(f"Stability over {stab['reruns']} synthetic re-runs of {stab['logs']} logs ({t_stab:.1f} s)")
    print(f"  re-runs whose log text changed:                      {pct(stab['logs_changed'])}")
    print(f"  signature (and category) unchanged, all logs:       {pct(stab['signature_stable'])}")
    nf = stab["reruns_with_failure"]
    print(f"  re-runs of logs with a failure:                      {nf}")
    print(f"  signature unchanged:                                 {pct(stab['signature_stable_failures'])}")
    print(f"  cluster unchanged:                                   {pct(stab['cluster_stable_failures'])}")
    print(
        f"  baseline, LUCI plain masking of the same line:       {pct(stab['luci_stable_failures'])}  "
        f"(ours {ratio(stab['signature_stable_failures'], stab['luci_stable_failures'])})"
    )
    print(
        f"  baseline, Drain3 template of the same line:          {pct(stab['drain_stable_failures'])}  "
        f"(ours {ratio(stab['signature_stable_failures'], stab['drain_stable_failures'])})"
    )
    print(f"  primary line itself changed:                         {pct(1 - stab['raw_stable_failures'])}")
    print(
        f"  baseline, raw line (no masking):                     {pct(stab['raw_stable_failures'])}  "
        f"(ours {ratio(stab['signature_stable_failures'], stab['raw_stable_failures'])})"
    )
    print(
        f"  CiDiff fail/pass pairs stable in both re-runs:       {stab['cidiff_pairs_stable']} of {stab['cidiff_pairs']}"
    )
    for u in stab["unstable_examples"]:
        print(
            f"  unstable: {u['log']} seed {u['seed']}\n     {u['before'][:120]!r}\n  -> {u['after'][:120]!r}"
        )

    sto = store_part(placed, diags)
    print()
    print(
        f"Store (SQLite): {sto['jobs']} failed jobs placed at ingest in {sto['assign_ms_per_job']} ms/job; "
        f"recluster {sto['recluster_seconds']} s ({sto['clusters']} clusters), listing {sto['list_seconds']} s; "
        f"same cluster at ingest and after recluster: {pct(sto['same_cluster_share'])}"
    )

    pre = prefilter_part(placed)
    print()
    print(
        f"Prefilter over {pre.get('pairs', 0):,} pairs of distinct normalised texts (same category): "
        f"{pre.get('length_rejected', 0):,} rejected by length, {pre.get('ngram_rejected', 0):,} by the 4-gram bound, "
        f"{pre.get('exact_computed', 0):,} exact edit distances, {pre.get('near_duplicates', 0):,} near-duplicates ({pre['seconds']} s)"
    )
    results = {
        "diagnose_seconds": round(t_diag, 2),
        "clustering": clusters,
        "stability": stab,
        "store": sto,
        "prefilter": pre,
    }
    a.json_out.parent.mkdir(parents=True, exist_ok=True)
    a.json_out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nJSON: {a.json_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
