"""Use case: is the configured LLM server usable, and how (``cimedic llm check``, ``/healthz``)?

Three levels, each costlier than the last:

1. reachability: ``GET /models`` (no tokens; :meth:`LLMClient.health`);
2. ``probe``: one tiny structured-output call (a JSON object under a two-key schema, 24 tokens
   at most) that tells which structured-output protocol the server accepts (``json_schema``, or
   ``json_object`` + schema for llama-cpp-python, see ``shared/docs/local-llm.md``) and how long
   a call takes;
3. with ``probe``, for a client that can make native tool calls: one call offering a single
   ``ping`` tool with ``tool_choice="required"``: ``native_tools`` is True when the reply carries
   a proper ``tool_calls`` entry, False when the server rejects ``tools`` or the model answers in
   text (small models often do: then the agent loop's ``auto`` mode uses JSON).

Never raises for a server problem: every failure is in the result's ``problems``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from cimedic.agent.llm.base import LLMClient, LLMError, Message, ToolCallingLLM, ToolSpec

__all__ = ["LLMCheck", "check_llm"]

_PROBE_SCHEMA = {
    "type": "object",
    "properties": {"status": {"type": "string", "enum": ["ok"]}, "n": {"type": "integer"}},
    "required": ["status", "n"],
    "additionalProperties": False,
}
_PING = ToolSpec(
    name="ping",
    description="Answer a connectivity check. Always call this tool.",
    parameters={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
)


@dataclass
class LLMCheck:
    """What :func:`check_llm` found. ``ok``: reachable (and, with a probe, structured output
    works). ``model_served``: None when the server lists no models. ``protocol``: the
    structured-output protocol that worked (None without a probe or when it failed);
    ``native_tools``: None when not tried. ``seconds``: wall clock of the probe calls;
    ``tokens``: prompt + completion tokens they used."""

    configured: bool
    base_url: str | None = None
    model: str | None = None
    reachable: bool = False
    models: tuple[str, ...] = ()
    model_served: bool | None = None
    protocol: str | None = None
    native_tools: bool | None = None
    seconds: float = 0.0
    tokens: int = 0
    message: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.configured and self.reachable and not self.problems


def check_llm(client: LLMClient | None, *, model: str | None = None, probe: bool = False) -> LLMCheck:
    """Check ``client`` (None: no ``llm_base_url`` configured). ``model``: the configured model
    name, compared with the served ones. See the module docstring for what ``probe`` adds."""
    if client is None:
        return LLMCheck(
            configured=False,
            message="no LLM configured (llm_base_url is unset): every feature but chat works without one",
        )
    health = client.health()
    base_url = health.base_url
    out = LLMCheck(configured=True, base_url=base_url, model=model or health.model, message=health.message)
    if not health.ok:
        out.problems.append(health.message)
        return out
    out.reachable = True
    names = health.models
    out.models = names
    if names and out.model:
        out.model_served = out.model in names
        if not out.model_served:
            out.message += f"; the configured model {out.model!r} is not among them" + (
                " (a server with one model, like llama.cpp's, answers to any name)"
                if len(names) == 1
                else " (Ollama and vLLM need the exact name: set llm_model)"
            )
    if not probe:
        return out
    t0 = time.perf_counter()
    try:
        result = client.complete_json(
            [Message("user", 'Reply with the JSON object {"status": "ok", "n": 1}.')],
            _PROBE_SCHEMA,
            max_tokens=24,
        )
        out.protocol = result.protocol
        out.tokens += result.prompt_tokens + result.completion_tokens
    except LLMError as exc:
        out.problems.append(f"structured output failed: {exc}")
    if isinstance(client, ToolCallingLLM):
        try:
            tooled = client.complete_tools(
                [Message("user", "Call the ping tool with n=1.")],
                [_PING],
                max_tokens=48,
                tool_choice="required",
            )
            out.native_tools = any(c.name == "ping" for c in tooled.tool_calls)
            out.tokens += tooled.prompt_tokens + tooled.completion_tokens
        except LLMError:
            out.native_tools = False
    out.seconds = round(time.perf_counter() - t0, 3)
    return out
