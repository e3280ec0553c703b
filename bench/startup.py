"""Start-up cost of the ``cimedic`` command: CPU seconds of ``cimedic --help`` and of
``cimedic stats`` on the 125-run demo store, against the bare imports of the CLI framework.

Baseline in the same run: ``python -c 'import typer, rich.console'`` (what any Typer + Rich CLI
pays before doing anything). Also shown: ``python -c pass`` (the interpreter alone). Each
command runs ``--repeat`` times as a child process after one warm-up run; the figure is the
child's CPU time (user + sys, from ``os.wait4`` on that very child), median and minimum, and the
wall time. Target (not a test): ``cimedic --help`` within 1.5x the baseline.

Children get no ``CIMEDIC_*`` variable from the caller, ``CIMEDIC_CONFIG=/dev/null`` (no user
settings) and a temporary data directory. Python bytecode is cached in a temporary folder
(``PYTHONPYCACHEPREFIX``, ``PYTHONDONTWRITEBYTECODE`` removed), as an installed package has its
``.pyc`` files; the warm-up run fills it. ``--no-bytecode-cache`` keeps the caller's setting
instead (with ``PYTHONDONTWRITEBYTECODE=1`` every start compiles every module: 2-3x slower).

Run: ``.venv/bin/python bench/startup.py [--repeat 7] [--imports 15]``. Writes
``bench/out/startup.json``. ``--imports N`` also prints the N slowest imports (cumulative,
``-X importtime``) of ``cimedic --help`` and ``cimedic stats``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_RATIO = 1.5


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """(CPU seconds user+sys, wall seconds, exit status, stderr) of one child."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    return usage.ru_utime + usage.ru_stime, wall, proc.returncode, err.decode(errors="replace")


def measure(name: str, cmd: list[str], env: dict[str, str], repeat: int) -> dict[str, Any]:
    """Warm-up once, then ``repeat`` runs; raises SystemExit when the command fails."""
    _, _, code, err = _run(cmd, env)
    if code != 0:
        raise SystemExit(f"{name}: exit status {code}\n{err}")
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(repeat):
        c, w, code, err = _run(cmd, env)
        if code != 0:
            raise SystemExit(f"{name}: exit status {code}\n{err}")
        cpu.append(c)
        wall.append(w)
    return {
        "name": name,
        "cmd": cmd,
        "cpu_median": statistics.median(cpu),
        "cpu_min": min(cpu),
        "wall_median": statistics.median(wall),
        "cpu": cpu,
    }


def slowest_imports(cmd: list[str], env: dict[str, str], top: int) -> list[tuple[int, str]]:
    """The ``top`` imports with the largest cumulative time (microseconds) under ``-X importtime``."""
    proc = subprocess.run(
        [cmd[0], "-X", "importtime", *cmd[1:]], env=env, capture_output=True, text=True, check=False
    )
    rows: list[tuple[int, str]] = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, module = line[len("import time:") :].split("|")
        rows.append((int(cumulative), module.rstrip()))
    return sorted(rows, reverse=True)[:top]


def build_demo_store(python: str, cimedic: str, db: Path, env: dict[str, str]) -> str:
    """The 125-run demo store at ``db`` (``cimedic demo --db``); how it was built."""
    proc = subprocess.run([cimedic, "demo", "--db", str(db)], env=env, capture_output=True, text=True)
    if proc.returncode == 0:
        return "cimedic demo"
    # the CLI may be broken mid-change: build the same store in-process (as bench/agent_chat.py)
    last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
    print(f"cimedic demo failed ({last}); building the store in-process", file=sys.stderr)
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from cimedic.services.demo import run_demo\n"
        "from cimedic.services.diagnose import make_diagnoser\n"
        "from cimedic.store.engine import sqlite_url\n"
        "from cimedic.store.repository import Store\n"
        "store = Store(sqlite_url(Path(sys.argv[1])))\n"
        "run_demo(store, make_diagnoser()[0])\n"
        "store.close()\n"
    )
    subprocess.run([python, "-c", code, str(db)], env=env, check=True)
    return "cimedic.services.demo.run_demo (in-process fallback)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--python", default=str(Path(sys.executable)))
    parser.add_argument("--cimedic", default=str(Path(sys.executable).with_name("cimedic")))
    parser.add_argument(
        "--no-bytecode-cache", action="store_true", help="keep the caller's PYTHONDONTWRITEBYTECODE"
    )
    parser.add_argument("--imports", type=int, default=0, metavar="N", help="print the N slowest imports")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "startup.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cimedic-startup-") as tmp_dir:
        tmp = Path(tmp_dir)
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CIMEDIC_")}
        env.update(CIMEDIC_CONFIG=os.devnull, CIMEDIC_DATA_DIR=str(tmp / "data"))
        if not args.no_bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        db = tmp / "demo.db"
        built_by = build_demo_store(args.python, args.cimedic, db, env)

        commands = [
            ("python -c pass", [args.python, "-c", "pass"]),
            ("import typer, rich.console (baseline)", [args.python, "-c", "import typer, rich.console"]),
            ("cimedic --help", [args.cimedic, "--help"]),
            ("cimedic stats (demo store)", [args.cimedic, "stats", "--db", str(db)]),
        ]
        load_start = os.getloadavg()
        rows = [measure(name, cmd, env, args.repeat) for name, cmd in commands]
        load_end = os.getloadavg()
        imports: dict[str, list[tuple[int, str]]] = {}
        if args.imports:
            app = "from cimedic.interfaces.cli.app import main; main()"
            imports["cimedic --help"] = slowest_imports([args.python, "-c", app, "--help"], env, args.imports)
            imports["cimedic stats"] = slowest_imports(
                [args.python, "-c", app, "stats", "--db", str(db)], env, args.imports
            )

    baseline = rows[1]["cpu_median"]
    print(
        f"{args.repeat} runs each after a warm-up; bytecode cache: {'caller' if args.no_bytecode_cache else 'on'}; "
        f"demo store by {built_by}; load average {load_start[0]:.1f} -> {load_end[0]:.1f} on {os.cpu_count()} CPUs"
    )
    header = f"{'command':<40} {'CPU s median':>12} {'CPU s min':>10} {'wall s':>8} {'x baseline':>11}"
    print(header)
    print("-" * len(header))
    for row in rows:
        row["ratio"] = row["cpu_median"] / baseline
        print(
            f"{row['name']:<40} {row['cpu_median']:>12.3f} {row['cpu_min']:>10.3f} "
            f"{row['wall_median']:>8.3f} {row['ratio']:>10.2f}x"
        )
    help_ratio = rows[2]["ratio"]
    verdict = "met" if help_ratio <= TARGET_RATIO else "not met"
    print(f"cimedic --help / baseline = {help_ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict})")
    for name, top in imports.items():
        print(f"\nslowest imports of {name} (cumulative ms):")
        for micros, module in top:
            print(f"  {micros / 1000:8.1f}  {module}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "repeat": args.repeat,
                "bytecode_cache": not args.no_bytecode_cache,
                "demo_store": built_by,
                "loadavg": [load_start, load_end],
                "rows": rows,
                "help_ratio": help_ratio,
                "target_ratio": TARGET_RATIO,
                "imports": imports,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
