"""Chat turns with the real test model (Qwen2.5-Coder-0.5B via llama.cpp, ``cimedic.testing.llm_server``)
on the demo store: steps, tool calls, tokens and seconds per question.

Questions: a fixed list of five (:data:`QUESTIONS`), each in a fresh conversation, with the
chat defaults (the first step must call a tool) and budgets ``max_steps=3``, ``step_tokens=120``,
``max_seconds=600``. Baseline in the same run: the tool a person would pick for the question
(:data:`QUESTIONS`' second element), called directly without a model — the cost of the data
itself, against which the model's overhead shows. Also reported: whether the model chose that
tool, and citations that appear in no tool result (``unverified``).

``--tool-calls auto|native|json`` picks the loop's tool-call protocol (default ``auto``, the
``llm_tool_calls`` default; one client serves all questions, so what ``auto`` learns about the
server on the first question holds for the rest). The summary reports the protocol of each
question's last step.

Run: ``.venv/bin/python bench/agent_chat.py [--base-url URL --model NAME] [--questions N] [--tool-calls P]``
(without ``--base-url`` it starts the test server; needs the ``llm-test`` extra). Writes
``bench/out/agent_chat.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

#: (question, the tool a person would call for it)
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("Which CI runs failed recently?", "search_runs"),
    ("What are the most common failures this week?", "search_failures"),
    ("Are there flaky tests?", "flaky_tests"),
    ("What is the failure rate of our pipelines?", "stats"),
    ("Which commit broke the build?", "culprits"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="an OpenAI-compatible server (default: start the test model)")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct-q4_k_m")
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--tool-calls", choices=["auto", "native", "json"], default="auto")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "agent_chat.json")
    args = parser.parse_args()

    from cimedic.agent.chat import chat_turn
    from cimedic.agent.llm.openai_compat import OpenAICompatClient
    from cimedic.agent.loop import Budgets
    from cimedic.agent.tools import default_registry
    from cimedic.services.demo import run_demo
    from cimedic.services.diagnose import make_diagnoser
    from cimedic.store.engine import sqlite_url
    from cimedic.store.repository import Store

    budgets = Budgets(
        max_steps=3,
        max_tokens=12000,
        max_seconds=600,
        context_tokens=4096,
        step_tokens=120,
        tool_protocol=args.tool_calls,
    )
    rows: list[dict[str, Any]] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        if args.base_url:
            base_url, model = args.base_url, args.model
        else:
            from cimedic.testing.llm_server import LocalLLMServer

            server = stack.enter_context(LocalLLMServer())
            base_url, model = server.base_url, server.model
        store = Store(sqlite_url(Path(tmp) / "demo.db"))
        stack.callback(store.close)
        run_demo(store, make_diagnoser()[0])
        llm = OpenAICompatClient(base_url, model, timeout=600)
        tools = default_registry()
        for question, expected in QUESTIONS[: args.questions]:
            t0 = time.perf_counter()
            tool = tools.get(expected)
            assert tool is not None
            tool.run(store)
            direct = time.perf_counter() - t0
            answer = chat_turn(store, llm, None, question, budgets, tools)
            called = [s.tool for s in answer.steps if s.status != "refused"]
            rows.append(
                {
                    "question": question,
                    "expected_tool": expected,
                    "tools": called,
                    "arguments": [s.arguments for s in answer.steps],
                    "first_result_line": [s.output.splitlines()[0] if s.output else "" for s in answer.steps],
                    "chose_expected": expected in called,
                    "steps": answer.calls,
                    "tool_calls": len(answer.steps),
                    "prompt_tokens": answer.prompt_tokens,
                    "completion_tokens": answer.completion_tokens,
                    "seconds": round(answer.seconds, 2),
                    "direct_tool_seconds": round(direct, 3),
                    "answered": answer.exhausted is None,
                    "unverified_citations": list(answer.unverified),
                    "answer": answer.answer[:200],
                    "protocol": answer.protocol,
                }
            )
            print(f"  done: {question} ({answer.seconds:.1f} s)", file=sys.stderr)

    header = (
        f"{'question':<46} {'steps':>5} {'tools':>5} {'tokens':>7} {'sec':>7} {'direct s':>8}  tool chosen"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        tokens = r["prompt_tokens"] + r["completion_tokens"]
        chosen = ",".join(r["tools"]) or "-"
        mark = "=" if r["chose_expected"] else "≠"
        print(
            f"{r['question'][:46]:<46} {r['steps']:>5} {r['tool_calls']:>5} {tokens:>7} "
            f"{r['seconds']:>7.1f} {r['direct_tool_seconds']:>8.3f}  {chosen} {mark} {r['expected_tool']}"
        )
    n = len(rows) or 1
    summary = {
        "questions": len(rows),
        "answered": sum(r["answered"] for r in rows),
        "chose_expected_tool": sum(r["chose_expected"] for r in rows),
        "mean_seconds": round(sum(r["seconds"] for r in rows) / n, 2),
        "mean_tokens": round(sum(r["prompt_tokens"] + r["completion_tokens"] for r in rows) / n, 1),
        "mean_direct_tool_seconds": round(sum(r["direct_tool_seconds"] for r in rows) / n, 4),
        "unverified_citations": sum(len(r["unverified_citations"]) for r in rows),
        "tool_calls_setting": args.tool_calls,
        "protocols": [r["protocol"] for r in rows],
        "tools_supported": getattr(llm, "tools_supported", None),
    }
    print(json.dumps(summary))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"model": model, "budgets": budgets.__dict__, "rows": rows, "summary": summary}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
