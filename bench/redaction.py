"""Secret redaction: recall on the vendor corpus, redactions on real CI logs (a measurement, not a
test).

Usage::

    .venv/bin/python bench/redaction.py [--data DIR] [--max-shared-files N] [--samples N]
        [--json-out FILE]

1. **Recall.** Every line of ``tests/fixtures/secrets/corpus.json`` (synthetic secrets of the
   vendor formats of gitleaks' rules, plus command-line passwords; see that folder's
   ``generate.py``) is redacted; a secret counts as found when no 8-character piece of it is
   left outside the ``[REDACTED:...]`` markers. Per vendor: found or missed.
2. **Redactions on real logs** (false positives, to be judged by a person): every log of
   ``tests/fixtures/logs`` and ``src/cimedic/testing/demo_data/logs`` (``.log.gz``) and, when
   present, the CI logs of ``DIR/cidiff`` and ``DIR/logchunks`` (``--data``, default
   ``../shared/data``; skipped with a message when absent; ``--max-shared-files`` caps them).
   These are public CI runs: they hold no live secret, but do hold test fixtures with
   credentials (a URL with a password in a URL-parser test, a test RSA key). Reported: the
   redactions per kind, the files with any, a sample of redacted lines (``--samples`` per kind)
   and the seconds per MB.

Baseline in the same run: **detect-secrets alone** -- the same detect-secrets 1.x regex
plugins cimedic runs (its entropy, keyword, IPv4 and keyword-driven IBM/Cloudant/SoftLayer/
Artifactory plugins excluded, as in :mod:`cimedic.analysis.redact`), each value its
``analyze_string`` yields replaced when it has 8 characters or more (cimedic's own floor for
detect-secrets findings; shorter ones, such as the ``p`` of ``http://a:p@host``, would be
replaced everywhere in the line), on the lines of the plugins whose regexes match somewhere in
the text. That is what cimedic's redactor adds its own patterns to.

JSON results go to ``bench/out/redaction.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
CORPUS = REPO / "tests" / "fixtures" / "secrets" / "corpus.json"
OUT_JSON = REPO / "bench" / "out" / "redaction.json"
sys.path.insert(0, str(REPO / "src"))

from cimedic.analysis.redact import _ds_plugins, redact  # noqa: E402

MARKER = re.compile(r"\[REDACTED:([a-z0-9_]+)\]")


def baseline_redact(text: str) -> tuple[str, Counter[str]]:
    """detect-secrets' regex plugins alone (see the module docstring)."""
    kinds: Counter[str] = Counter()
    plugins = [
        (kind, p)
        for kind, p in _ds_plugins()
        if not hasattr(p, "denylist") or any(rx.search(text) for rx in p.denylist)
    ]
    if not plugins:
        return text, kinds
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        for kind, plugin in plugins:
            for value in sorted({str(v) for v in plugin.analyze_string(line)}, key=len, reverse=True):
                if len(value) >= 8 and value in line and not value.startswith("[REDACTED"):
                    kinds[kind] += line.count(value)
                    line = line.replace(value, f"[REDACTED:{kind}]")
        out.append(line)
    return "".join(out), kinds


def ours(text: str) -> tuple[str, Counter[str]]:
    result = redact(text)
    return result.text, Counter(MARKER.findall(result.text))


REDACTORS = {"cimedic": ours, "detect-secrets alone": baseline_redact}


def leaked(secret: str, text: str, window: int = 8) -> bool:
    rest = MARKER.sub(" ", text)
    return any(secret[i : i + window] in rest for i in range(max(1, len(secret) - window + 1)))


def recall() -> dict[str, Any]:
    rows = json.loads(CORPUS.read_text(encoding="utf-8"))
    per: dict[str, dict[str, Any]] = {}
    for name, fn in REDACTORS.items():
        found = {r["vendor"]: not leaked(r["secret"], fn(r["line"])[0]) for r in rows}
        per[name] = {
            "found": sum(found.values()),
            "total": len(rows),
            "recall": round(sum(found.values()) / len(rows), 3),
            "missed": sorted(v for v, ok in found.items() if not ok),
        }
    return per


def real_logs(data: Path, max_shared: int) -> tuple[list[tuple[str, str]], list[str]]:
    notes: list[str] = []
    logs = [
        (f"fixtures/{p.name}", p.read_text(encoding="utf-8", errors="replace"))
        for p in sorted((REPO / "tests" / "fixtures" / "logs").glob("*.log"))
    ]
    for p in sorted((REPO / "src" / "cimedic" / "testing" / "demo_data" / "logs").glob("*.log.gz")):
        logs.append((f"demo/{p.name}", gzip.decompress(p.read_bytes()).decode("utf-8", errors="replace")))
    shared: list[Path] = []
    for sub in ("cidiff", "logchunks"):
        root = data / sub
        if root.is_dir():
            shared.extend(sorted(root.rglob("*.log")))
        else:
            notes.append(f"{root} not found: its logs are skipped")
    for p in shared[:max_shared]:
        logs.append((str(p.relative_to(data)), p.read_text(encoding="utf-8", errors="replace")))
    if len(shared) > max_shared:
        notes.append(f"shared logs capped at {max_shared} of {len(shared)} (--max-shared-files)")
    return logs, notes


def on_logs(logs: list[tuple[str, str]], samples: int) -> dict[str, Any]:
    size_mb = sum(len(t.encode("utf-8")) for _, t in logs) / 1e6
    per: dict[str, Any] = {}
    for name, fn in REDACTORS.items():
        kinds: Counter[str] = Counter()
        files: Counter[str] = Counter()
        shown: dict[str, list[str]] = defaultdict(list)
        t0 = time.perf_counter()
        outputs = [(f, fn(text)) for f, text in logs]
        seconds = time.perf_counter() - t0
        for f, (out, counted) in outputs:
            if not counted:
                continue
            kinds.update(counted)
            files[f] += sum(counted.values())
            for line in out.splitlines():
                for kind in set(MARKER.findall(line)):
                    if len(shown[kind]) < samples:
                        shown[kind].append(f"{f}: {_around(_plain(line), kind)}")
        per[name] = {
            "redactions": sum(kinds.values()),
            "by_kind": dict(kinds.most_common()),
            "files_with_redactions": len(files),
            "seconds": round(seconds, 2),
            "seconds_per_mb": round(seconds / size_mb, 3) if size_mb else None,
            "samples": dict(shown),
        }
    return {"logs": len(logs), "megabytes": round(size_mb, 1), "redactors": per}


def _around(line: str, kind: str, width: int = 90) -> str:
    """``line`` cut to ``width`` characters on each side of its first ``kind`` marker."""
    at = line.find(f"[REDACTED:{kind}]")
    start = max(0, at - width)
    return ("…" if start else "") + line[start : at + width] + ("…" if at + width < len(line) else "")


def _plain(line: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", line).strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--max-shared-files", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--json-out", type=Path, default=OUT_JSON)
    args = ap.parse_args()

    redact("warm-up")  # imports detect-secrets' plugins once
    r = recall()
    print("Recall on the vendor corpus (synthetic secrets, tests/fixtures/secrets/corpus.json)")
    for name, x in r.items():
        print(f"  {name:<22} {x['found']:>4}/{x['total']}  recall {x['recall']:.3f}")
        print(f"  {'':<22} missed: {', '.join(x['missed']) or 'none'}")

    logs, notes = real_logs(args.data, args.max_shared_files)
    for note in notes:
        print(f"note: {note}")
    fp = on_logs(logs, args.samples)
    print(f"\nRedactions on real CI logs ({fp['logs']} logs, {fp['megabytes']} MB; each is to be judged)")
    for name, x in fp["redactors"].items():
        print(
            f"  {name:<22} {x['redactions']:>5} redactions in {x['files_with_redactions']} files, "
            f"{x['seconds']} s ({x['seconds_per_mb']} s/MB)"
        )
        for kind, n in x["by_kind"].items():
            print(f"      {kind:<24} {n}")
    print("\nSample of what cimedic redacted:")
    for kind, lines in fp["redactors"]["cimedic"]["samples"].items():
        print(f"  [{kind}]")
        for line in lines:
            print(f"    {line}")

    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps({"recall": r, "real_logs": fp, "notes": notes}, indent=1) + "\n")
    print(f"\nwrote {args.json_out}")


if __name__ == "__main__":
    main()
