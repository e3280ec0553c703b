"""Peak memory of ``cimedic ingest junit`` on a large JUnit report, vs the whole-file path.

Usage::

    .venv/bin/python bench/junit_memory.py [--mb 200] [--shape both|surefire|pytest] [--keep DIR]

For each report shape, a JUnit XML file of about ``--mb`` MB is generated in a temporary folder
(deterministic, seed 7):

- ``surefire``: ``<testsuites>`` of Maven Surefire-like ``<testsuite>`` elements, one per test
  class (20-80 cases each), each with ~40 ``<properties>`` and a suite ``<system-out>``; cases
  with ``classname`` / ``time``, ~4% ``<failure>`` with a 30-60 line Java stack trace and
  ``<system-out>``, ~1% ``<error>``, ~3% ``<skipped>``, ~1% ``<flakyFailure>`` reruns.
- ``pytest``: pytest's single ``<testsuite name="pytest">`` holding every case (the worst case
  for the incremental parser, which holds one suite's case records until the suite closes);
  parametrised names, ~5% failures with a Python traceback, ``<system-out>`` / ``<system-err>``
  on most cases, some cases repeated (pytest-rerunfailures) so that the merge rule runs.

Then, each in a fresh child process with a fresh SQLite store (peak RSS = ``ru_maxrss`` of
``os.wait4`` on that very child):

1. **cimedic**: ``cimedic ingest junit FILE --repo bench/junit --run 1 --db ... --create``, the
   command as a user runs it (incremental parse, batched inserts, raw copy by reference).
2. **baseline**: the whole-file path ``ingest junit`` took before, in the same run: the file
   read whole (``path.read_bytes()``), its raw copy stored zlib-compressed in ``raw_events``,
   ``parse_junit(data)`` building the whole ``TestReport``, then ``Store.save_test_report``.

Printed and written to ``bench/out/junit_memory.json``: file size, cases stored, seconds and
peak RSS (MB) of each. ``--mb 20`` runs in well under a minute. Target: peak RSS < 300 MB on
a 200 MB report.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

REPO = Path(__file__).resolve().parent.parent
OUT_JSON = REPO / "bench" / "out" / "junit_memory.json"
CIMEDIC = Path(sys.executable).with_name("cimedic")
TARGET_MB = 300

BASELINE = """
import hashlib, sys, zlib
from pathlib import Path
from cimedic.inputs.junit import parse_junit
from cimedic.model import Repository, Status, WorkflowRun
from cimedic.store.repository import Store

path, db = Path(sys.argv[1]), sys.argv[2]
store = Store(f"sqlite:///{db}")
repo_id = store.upsert_repository(Repository(provider="github", owner="bench", name="junit"))
run_id = store.upsert_run(repo_id, WorkflowRun(provider_id="1", repository="bench/junit", head_sha="", status=Status.UNKNOWN))
data = path.read_bytes()
key = hashlib.sha256(data).hexdigest()
raw_id, _ = store.add_raw_event("junit", f"bench/junit#1#{key}", "junit", data, meta={"path": str(path)})
report = parse_junit(data, path.name)
store.save_test_report(run_id, report)
store.mark_raw_event(raw_id, "done")
print(len(report.cases))
"""

JAVA_FRAMES = [
    "org.junit.jupiter.api.AssertionFailureBuilder.build(AssertionFailureBuilder.java:151)",
    "org.junit.jupiter.api.AssertEquals.failNotEqual(AssertEquals.java:197)",
    "org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:727)",
    "org.junit.jupiter.engine.execution.MethodInvocation.proceed(MethodInvocation.java:60)",
    "org.apache.maven.surefire.junitplatform.JUnitPlatformProvider.invoke(JUnitPlatformProvider.java:184)",
    "java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
    "java.base/java.util.ArrayList.forEach(ArrayList.java:1596)",
]


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _java_trace(rng: random.Random, cls: str, method: str) -> str:
    lines = [
        f"org.opentest4j.AssertionFailedError: expected: <{rng.randint(0, 999)}> but was: <{rng.randint(0, 999)}>"
    ]
    lines.append(f"\tat {cls}.{method}({cls.rsplit('.', 1)[-1]}.java:{rng.randint(20, 900)})")
    lines += [f"\tat {rng.choice(JAVA_FRAMES)}" for _ in range(rng.randint(30, 60))]
    return "\n".join(lines)


def _log_lines(rng: random.Random, n: int) -> str:
    return "\n".join(
        f"2026-12-07 10:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d} "
        f"[main] {rng.choice(['INFO', 'DEBUG', 'WARN'])} c.e.Service - request {rng.getrandbits(48):x} "
        f"handled in {rng.randint(1, 900)} ms"
        for _ in range(n)
    )


def write_surefire(out: TextIO, target: int, rng: random.Random) -> int:
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n')
    written, suites = 0, 0
    while written < target:
        suites += 1
        cls = f"com.example.module{suites % 97}.service.Component{suites}Test"
        parts = [
            f'<testsuite name="{cls}" tests="0" failures="0" errors="0" skipped="0" '
            f'time="{rng.uniform(0.1, 30):.3f}" timestamp="2026-12-07T10:00:00">\n<properties>\n'
        ]
        parts += [
            f'<property name="sys.prop.{i}" value="/usr/lib/jvm/java-21/value-{i}-{rng.getrandbits(32):x}"/>\n'
            for i in range(40)
        ]
        parts.append("</properties>\n")
        for i in range(rng.randint(20, 80)):
            method = f"test{i}_handles_case_{rng.getrandbits(24):x}"
            head = f'<testcase name="{method}" classname="{cls}" time="{rng.uniform(0, 2):.3f}"'
            roll = rng.random()
            if roll < 0.04:
                trace = _esc(_java_trace(rng, cls, method))
                parts.append(
                    f'{head}>\n<failure message="expected: &lt;1&gt; but was: &lt;2&gt;" '
                    f'type="org.opentest4j.AssertionFailedError">{trace}</failure>\n'
                    f"<system-out><![CDATA[{_log_lines(rng, 20)}]]></system-out>\n</testcase>\n"
                )
            elif roll < 0.05:
                parts.append(
                    f'{head}>\n<error message="Connection refused" type="java.net.ConnectException">'
                    f"{_esc(_java_trace(rng, cls, method))}</error>\n</testcase>\n"
                )
            elif roll < 0.08:
                parts.append(f'{head}>\n<skipped message="disabled on CI"/>\n</testcase>\n')
            elif roll < 0.09:
                parts.append(
                    f'{head}>\n<flakyFailure message="timeout" type="java.util.concurrent.TimeoutException">'
                    f"{_esc(_java_trace(rng, cls, method))}</flakyFailure>\n</testcase>\n"
                )
            else:
                parts.append(f"{head}/>\n")
        parts.append(
            f"<system-out><![CDATA[{_log_lines(rng, rng.randint(5, 60))}]]></system-out>\n</testsuite>\n"
        )
        chunk = "".join(parts)
        out.write(chunk)
        written += len(chunk)
    out.write("</testsuites>\n")
    return written


def write_pytest(out: TextIO, target: int, rng: random.Random) -> int:
    out.write(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" '
        'failures="0" skipped="0" tests="0" time="1234.5" timestamp="2026-12-07T10:00:00.000000" '
        'hostname="runner">\n'
    )
    written, n = 0, 0
    while written < target:
        n += 1
        module = f"tests.unit.pkg{n % 53}.test_module{n % 997}"
        name = f"test_feature_{n % 5000}[param-{n}-{rng.getrandbits(20):x}]"
        head = f'<testcase classname="{module}" name="{name}" time="{rng.uniform(0, 1.5):.3f}"'
        roll = rng.random()
        out_text = f"<system-out>{_esc(_log_lines(rng, rng.randint(0, 8)))}</system-out>"
        if roll < 0.05:
            trace = "\n".join(
                f'  File "/src/pkg/module{rng.randint(0, 99)}.py", line {rng.randint(1, 999)}, in f{k}\n    value = call(x)'
                for k in range(rng.randint(8, 25))
            )
            case = (
                f'{head}><failure message="AssertionError: assert 1 == 2">Traceback (most recent call last):\n'
                f"{_esc(trace)}\nAssertionError: assert 1 == 2</failure>{out_text}"
                f"<system-err>{_esc(_log_lines(rng, 4))}</system-err></testcase>\n"
            )
            if rng.random() < 0.3:  # pytest-rerunfailures: the same test again, passing
                case += f'<testcase classname="{module}" name="{name}" time="0.2"/>\n'
        elif roll < 0.08:
            case = f'{head}><skipped type="pytest.skip" message="needs GPU">/src/x.py:10: needs GPU</skipped></testcase>\n'
        else:
            case = f"{head}>{out_text}</testcase>\n"
        out.write(case)
        written += len(case)
    out.write("</testsuite></testsuites>\n")
    return written


def generate(path: Path, shape: str, mb: float) -> int:
    rng = random.Random(7)
    with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
        (write_surefire if shape == "surefire" else write_pytest)(out, int(mb * 1_000_000), rng)
    return path.stat().st_size


def measure(argv: list[str], env: dict[str, str]) -> dict[str, float | int | str]:
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed ({proc.returncode}): {stderr[-2000:]}")
    return {
        "seconds": round(seconds, 2),
        "rss_mb": round(usage.ru_maxrss / 1024, 1),
        "stdout": stdout.strip(),
    }


def run_shape(shape: str, mb: float, work: Path) -> dict[str, object]:
    report = work / f"{shape}-{mb:g}mb.xml"
    t0 = time.perf_counter()
    size = generate(report, shape, mb)
    gen_s = time.perf_counter() - t0
    env = {**os.environ, "CIMEDIC_CONFIG": os.devnull, "CIMEDIC_DATA_DIR": str(work / "data")}
    env.pop("CIMEDIC_DATABASE_URL", None)
    new_db = work / f"{shape}-cimedic.db"
    argv = [str(CIMEDIC), "ingest", "junit", str(report), "--repo", "bench/junit", "--run", "1"]
    ours = measure([*argv, "--db", str(new_db), "--create", "--format", "json"], env)
    ours_cases = json.loads(str(ours.pop("stdout")))["cases"]
    base = measure([sys.executable, "-c", BASELINE, str(report), str(work / f"{shape}-baseline.db")], env)
    base_cases = int(str(base.pop("stdout")).splitlines()[-1])
    for db in work.glob(f"{shape}-*.db*"):
        db.unlink()
    report.unlink()
    return {
        "shape": shape,
        "file_mb": round(size / 1e6, 1),
        "generate_s": round(gen_s, 1),
        "cimedic": {**ours, "cases": ours_cases},
        "baseline_whole_file": {**base, "cases": base_cases},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=float, default=200.0, help="report size in MB (default 200)")
    parser.add_argument("--shape", choices=["both", "surefire", "pytest"], default="both")
    parser.add_argument("--keep", type=Path, help="work folder to use and keep (default: a temporary one)")
    parser.add_argument("--json-out", type=Path, default=OUT_JSON)
    args = parser.parse_args()
    shapes = ["surefire", "pytest"] if args.shape == "both" else [args.shape]
    results = []
    with tempfile.TemporaryDirectory(prefix="cimedic-junit-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for shape in shapes:
            row = run_shape(shape, args.mb, work)
            results.append(row)
            ours, base = row["cimedic"], row["baseline_whole_file"]
            assert isinstance(ours, dict) and isinstance(base, dict)
            print(
                f"{shape:8} {row['file_mb']:7.1f} MB  cases {ours['cases']:>8}  "
                f"cimedic ingest junit: {ours['rss_mb']:7.1f} MB peak RSS, {ours['seconds']:6.1f} s | "
                f"baseline whole-file: {base['rss_mb']:7.1f} MB peak RSS, {base['seconds']:6.1f} s "
                f"({base['cases']} cases)"
            )
    worst = max(float(str(r["cimedic"]["rss_mb"])) for r in results)  # type: ignore[index]
    verdict = "under" if worst < TARGET_MB else "OVER"
    print(f"worst cimedic peak RSS {worst:.1f} MB: {verdict} the {TARGET_MB} MB target")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(
        json.dumps({"mb": args.mb, "target_rss_mb": TARGET_MB, "results": results}, indent=2) + "\n"
    )
    print(f"wrote {args.json_out}")


if __name__ == "__main__":
    main()
