"""Explanations with the real test model (Qwen2.5-Coder-0.5B via llama.cpp,
``cimedic.testing.llm_server``) on the demo store: prompt tokens, output tokens and seconds per
explanation, how many answers were accepted (grounded) or rejected, and the cache hit rate when
every diagnosed failed job of a replayed week of the demo history is explained in time order
(a recurring failure has the signature of an earlier one and is served from the cache).

Week: the failed jobs created in the 7 days up to the newest demo failure (``--days``).
Baseline in the same run: the deterministic explanation of the same jobs (no model), the
number of model calls the same replay needs without the cache (one per job), and the same
replay with a stub that always answers grounded (``stub_cache_hit_rate``: the cache alone,
whatever the model; only accepted answers are cached, so a model whose answers are rejected
gets fewer hits).

Run: ``.venv/bin/python bench/llm_explain.py [--base-url URL --model NAME] [--days 7] [--limit N]``
(without ``--base-url`` it starts the test server; needs the ``llm-test`` extra). Writes
``bench/out/llm_explain.json``. The data is the demo history shipped with cimedic
(``cimedic.testing.demo_data``), so there is no ``--data`` option.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any


class _GroundedStub:
    """An LLM stand-in that answers with the last excerpt line: measures the cache alone."""

    def __init__(self) -> None:
        self.calls = 0

    def health(self) -> Any:
        raise NotImplementedError

    def complete_text(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def complete_json(self, messages: Any, schema: Any, **kwargs: Any) -> Any:
        from cimedic.agent.llm.base import LLMResult

        self.calls += 1
        block = messages[1].content.split("<<<UNTRUSTED_LOG\n", 1)[1].split("\nUNTRUSTED_LOG>>>", 1)[0]
        last = int(block.splitlines()[-1].split("|", 1)[0])
        data = {"root_cause": "stub", "evidence_lines": [last], "fix": "stub", "confidence": 0.5}
        return LLMResult(json.dumps(data), data, 0, 0, 0.0, "grounded-stub")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--base-url", help="an OpenAI-compatible server (default: start the test model)")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct-q4_k_m")
    parser.add_argument(
        "--days", type=float, default=7.0, help="replayed window, days back from the newest failure"
    )
    parser.add_argument("--limit", type=int, default=0, help="explain at most N jobs (0: all)")
    parser.add_argument("--max-tokens", type=int, default=200)
    args = parser.parse_args()

    from sqlalchemy import select

    from cimedic.agent.explain import ExplainContext, explain_diagnosis, explain_job
    from cimedic.agent.llm.openai_compat import OpenAICompatClient
    from cimedic.agent.usage import usage_summary
    from cimedic.services.demo import run_demo
    from cimedic.services.diagnose import make_diagnoser
    from cimedic.store import schema as t
    from cimedic.store.engine import sqlite_url
    from cimedic.store.llm import failed_jobs_in_order
    from cimedic.store.repository import Store

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        base_url, model = args.base_url, args.model
        if base_url is None:
            from cimedic.testing.llm_server import LocalLLMServer

            server = stack.enter_context(LocalLLMServer())
            base_url, model = server.base_url, server.model
        store = Store(sqlite_url(tmp / "demo.db"))
        stack.callback(store.close)
        run_demo(store, make_diagnoser()[0])

        jobs = failed_jobs_in_order(store)
        with store.engine.connect() as conn:
            created = dict(
                conn.execute(select(t.jobs.c.id, t.jobs.c.created_at).where(t.jobs.c.id.in_(jobs))).all()
            )
        newest = max(created.values())
        week = [j for j in jobs if created[j] >= newest - timedelta(days=args.days)]
        if args.limit:
            week = week[: args.limit]

        # baseline: the deterministic explanation of the same jobs
        t0 = time.perf_counter()
        for job_id in week:
            d = store.get_diagnosis(job_id)
            assert d is not None
            explain_diagnosis(d, None, ExplainContext(), None)
        baseline_s = time.perf_counter() - t0

        client = OpenAICompatClient(base_url, model, timeout=600)
        rows: list[dict[str, Any]] = []
        for job_id in week:
            t0 = time.perf_counter()
            e = explain_job(store, job_id, client, model=model, max_tokens=args.max_tokens)
            wall = time.perf_counter() - t0
            rows.append(
                {
                    "job_id": job_id,
                    "signature": e.signature,
                    "source": e.source,
                    "rejected": e.rejected,
                    "reason": e.fallback_reason,
                    "prompt_tokens": e.prompt_tokens,
                    "completion_tokens": e.completion_tokens,
                    "model_seconds": e.seconds,
                    "wall_seconds": round(wall, 3),
                    "redactions": e.redactions,
                }
            )
            print(
                f"job {job_id:>5} {e.source:<13} rejected={e.rejected!s:<5} "
                f"prompt={e.prompt_tokens:>5} out={e.completion_tokens:>4} {wall:6.1f} s {e.fallback_reason or ''}"[
                    :240
                ],
                file=sys.stderr,
            )
        usage = usage_summary(store)

        # the cache mechanism alone: the same replay with a stub that always answers grounded
        # (cites the excerpt's last line), so every recurring signature is a hit
        stub = _GroundedStub()
        stub_sources = [explain_job(store, j, stub, model="grounded-stub").source for j in week]

    called = [r for r in rows if r["source"] != "cache" and r["prompt_tokens"] > 0]
    accepted = [r for r in rows if r["source"] == "llm"]
    cached = [r for r in rows if r["source"] == "cache"]

    def _stats(values: list[float]) -> dict[str, float]:
        if not values:
            return {}
        return {
            "mean": round(statistics.fmean(values), 2),
            "median": round(statistics.median(values), 2),
            "max": round(max(values), 2),
        }

    result = {
        "model": model,
        "jobs_in_window": len(week),
        "distinct_signatures": len({r["signature"] for r in rows if r["signature"]}),
        "model_calls": len(called),
        "calls_without_cache": len(week),
        "accepted": len(accepted),
        "rejected": sum(1 for r in rows if r["rejected"]),
        "cache_hits": len(cached),
        "cache_hit_rate": round(len(cached) / len(rows), 3) if rows else 0.0,
        "prompt_tokens": _stats([float(r["prompt_tokens"]) for r in called]),
        "output_tokens": _stats([float(r["completion_tokens"]) for r in called]),
        "seconds_per_call": _stats([float(r["wall_seconds"]) for r in called]),
        "seconds_per_cache_hit": _stats([float(r["wall_seconds"]) for r in cached]),
        "stub_calls": stub.calls,
        "stub_cache_hit_rate": round(stub_sources.count("cache") / len(stub_sources), 3)
        if stub_sources
        else 0.0,
        "baseline_deterministic_seconds_per_job": round(baseline_s / max(1, len(week)), 4),
        "usage_total": usage.model_dump(mode="json", exclude={"rows"}),
        "rows": rows,
    }
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "llm_explain.json").write_text(json.dumps(result, indent=2, default=str))
    summary = {k: v for k, v in result.items() if k not in ("rows", "usage_total")}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
